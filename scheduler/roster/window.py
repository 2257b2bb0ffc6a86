"""A few days of a long roster as a roster problem of its own, exact for changes inside those days.

Re-rostering every nurse over a week of a year-long roster should not need a model of the whole year.
:func:`day_window` cuts out the days to change plus enough fixed days either side (the *context*) that
every sequence rule is decided inside the cut: with at least ``max_consecutive_shifts + 1``,
``min_consecutive_shifts`` and ``min_consecutive_days_off`` days of context (and more than the widest gap
at which a minimum rest can be broken), a run that reaches the cut's
edge from a changed day is long enough to break the maximum whatever lies beyond, and long enough to meet
the minimums, so treating the edge as the horizon's (runs touching it are exempt from the minimums) changes
nothing. The cut never splits a weekend. What the days outside the cut use of each nurse's horizon totals
(minutes, shifts of each type, weekends) is taken off her contract. Cover lines and requests outside the
cut are left out: their penalties cannot change, so the objective differs from the whole roster's by a
constant.

Fairness terms compare whole-horizon totals across nurses, so rosters with fairness weights are not cut.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from scheduler.roster.problem import SATURDAY, SUNDAY, Nurse, RosterProblem
from scheduler.roster.rules import forbidden_successions
from scheduler.roster.solution import AgencyBooking, Assignment, Roster

__all__ = ["DayWindow", "context_days", "day_window"]


def context_days(problem: RosterProblem) -> int:
    """Fixed days kept on each side of the changed days so that every sequence rule is decided inside.

    The runs' lengths (see the module), and the widest gap at which two shifts may clash (a forbidden
    succession, or rest below a contract's minimum: with long rests or long shifts, several days apart).
    """
    longest = 1
    seen_rests = set()
    for nurse in problem.nurses:
        contract = nurse.contract
        if contract.max_consecutive_shifts is not None:
            longest = max(longest, contract.max_consecutive_shifts + 1)
        longest = max(longest, contract.min_consecutive_shifts, contract.min_consecutive_days_off)
        if contract.min_rest_minutes not in seen_rests:
            seen_rests.add(contract.min_rest_minutes)
            gaps = [gap for _, _, gap in forbidden_successions(problem, nurse)]
            longest = max(longest, max(gaps, default=0) + 1)
    return longest + 1


@dataclass(frozen=True)
class DayWindow:
    """Days ``start`` to ``stop - 1`` of a roster problem, as a problem whose day 0 is ``start``."""

    problem: RosterProblem
    start: int
    stop: int

    def cut(self, roster: Roster) -> Roster:
        """The part of a whole-horizon ``roster`` inside the window, in the window's days."""
        return Roster(
            assignments=tuple(
                replace(a, day=a.day - self.start)
                for a in roster.assignments
                if self.start <= a.day < self.stop
            ),
            agency=tuple(
                replace(b, day=b.day - self.start) for b in roster.agency if self.start <= b.day < self.stop
            ),
        )

    def merge(self, roster: Roster, inside: Roster) -> Roster:
        """``roster`` with its window days replaced by ``inside`` (a roster of the window problem)."""
        assignments: list[Assignment] = [a for a in roster.assignments if not self.start <= a.day < self.stop]
        assignments.extend(replace(a, day=a.day + self.start) for a in inside.assignments)
        agency: list[AgencyBooking] = [b for b in roster.agency if not self.start <= b.day < self.stop]
        agency.extend(replace(b, day=b.day + self.start) for b in inside.agency)
        return Roster(assignments=tuple(assignments), agency=tuple(agency))


def _widen_to_whole_weekends(problem: RosterProblem, start: int, stop: int) -> tuple[int, int]:
    if start > 0 and problem.weekday(start) == SUNDAY:
        start -= 1
    if stop < problem.days and problem.weekday(stop - 1) == SATURDAY:
        stop += 1
    return start, stop


def _nurse_outside(
    problem: RosterProblem,
    nurse: Nurse,
    outside: list[Assignment],
    outside_weekends: list[tuple[int, ...]],
    start: int,
    stop: int,
) -> Nurse:
    """``nurse`` on the window's days, her contract less ``outside`` (what she works outside the window)."""
    lengths = {shift.shift_id: shift.length_minutes for shift in problem.shifts}
    shifts_out = Counter(a.shift_id for a in outside)
    minutes_out = sum(lengths[a.shift_id] for a in outside)
    days_out = {a.day for a in outside}
    weekends_out = sum(1 for weekend in outside_weekends if any(day in days_out for day in weekend))
    contract = nurse.contract
    window_contract = replace(
        contract,
        min_total_minutes=max(0, contract.min_total_minutes - minutes_out),
        max_total_minutes=(
            None if contract.max_total_minutes is None else max(0, contract.max_total_minutes - minutes_out)
        ),
        max_shifts={s: max(0, most - shifts_out[s]) for s, most in contract.max_shifts.items()},
        max_weekends=None if contract.max_weekends is None else max(0, contract.max_weekends - weekends_out),
    )
    return replace(
        nurse,
        contract=window_contract,
        days_off=frozenset(d - start for d in nurse.days_off if start <= d < stop),
        leave_days=frozenset(d - start for d in nurse.leave_days if start <= d < stop),
    )


def day_window(problem: RosterProblem, roster: Roster, first: int, last: int) -> DayWindow | None:
    """Days ``first`` to ``last`` (inclusive) of ``problem`` with their context, ``roster`` fixing the rest.

    Changing only days ``first``…``last`` of ``roster``, a change meets every rule of ``problem`` exactly
    when it meets every rule of the window's problem with its context days kept as in ``roster``, and the
    two objectives differ by a constant. ``roster`` must meet the rules (the totals taken off the
    contracts come from it). None when the problem has fairness weights or the window would be the whole
    horizon.
    """
    if problem.fairness.night_spread_weight or problem.fairness.weekend_spread_weight:
        return None
    margin = context_days(problem)
    start, stop = _widen_to_whole_weekends(
        problem, max(0, first - margin), min(problem.days, last + 1 + margin)
    )
    if start == 0 and stop == problem.days:
        return None
    outside: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in roster.assignments:
        if not start <= assignment.day < stop:
            outside[assignment.nurse_id].append(assignment)
    outside_weekends = [w for w in problem.weekends() if all(not start <= day < stop for day in w)]
    window = RosterProblem(
        days=stop - start,
        shifts=problem.shifts,
        nurses=tuple(
            _nurse_outside(problem, nurse, outside[nurse.nurse_id], outside_weekends, start, stop)
            for nurse in problem.nurses
        ),
        cover=tuple(
            replace(line, day=line.day - start) for line in problem.cover if start <= line.day < stop
        ),
        requests=tuple(replace(r, day=r.day - start) for r in problem.requests if start <= r.day < stop),
        agency=problem.agency,
        fairness=problem.fairness,
        start_weekday=problem.weekday(start),
        name=f"{problem.name} (days {start}-{stop - 1})",
    )
    return DayWindow(problem=window, start=start, stop=stop)
