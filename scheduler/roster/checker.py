"""Independent roster checker: hard-rule violations and every penalty, from the problem and the roster alone.

Nothing here uses the solver or its variables; it is written from the rules as stated in
:mod:`scheduler.roster.problem`, so that it can catch mistakes in the model.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType

from scheduler.roster.problem import (
    MINUTES_PER_DAY,
    OBJECTIVE_TERMS,
    SATURDAY,
    SUNDAY,
    TERM_AGENCY_COST,
    TERM_COVER_SHORTFALL,
    TERM_COVER_SURPLUS,
    TERM_NIGHT_SPREAD,
    TERM_SHIFT_OFF_REQUESTS,
    TERM_SHIFT_ON_REQUESTS,
    TERM_WEEKEND_SPREAD,
    HardRule,
    Nurse,
    RosterProblem,
)
from scheduler.roster.solution import Assignment, Roster


@dataclass(frozen=True)
class RuleViolation:
    """A hard rule broken by a roster."""

    rule: HardRule
    subject: str
    message: str


@dataclass(frozen=True)
class RosterCheck:
    """Result of :func:`check_roster`.

    Attributes
    ----------
    violations
        Hard rules broken (empty for a feasible roster).
    penalties
        Objective by term (see :data:`scheduler.roster.problem.OBJECTIVE_TERMS`).
    """

    violations: tuple[RuleViolation, ...]
    penalties: Mapping[str, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "penalties", MappingProxyType(dict(self.penalties)))

    @property
    def feasible(self) -> bool:
        """Whether every hard rule holds."""
        return not self.violations

    @property
    def objective(self) -> int:
        """Total penalty."""
        return sum(self.penalties.values())

    def broken_rules(self) -> set[HardRule]:
        """The distinct hard rules broken."""
        return {v.rule for v in self.violations}


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) day of every maximal run of True."""
    runs = []
    start = None
    for day, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = day
        elif not flag and start is not None:
            runs.append((start, day - 1))
            start = None
    return runs


def _weekend_groups(problem: RosterProblem) -> list[list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for day in range(problem.days):
        weekday = (problem.start_weekday + day) % 7
        if weekday in (SATURDAY, SUNDAY):
            groups[(problem.start_weekday + day) // 7].append(day)
    return [groups[k] for k in sorted(groups)]


def _check_nurse(
    problem: RosterProblem, nurse: Nurse, worked: dict[int, Assignment], violations: list[RuleViolation]
) -> None:
    n = nurse.nurse_id
    contract = nurse.contract
    lengths = {s.shift_id: s.length_minutes for s in problem.shifts}

    def broken(rule: HardRule, message: str) -> None:
        violations.append(RuleViolation(rule, n, f"{n}: {message}"))

    for day in sorted(worked):
        if day in nurse.days_off:
            broken(HardRule.DAYS_OFF, f"works on day {day}, a fixed day off")
        if day in nurse.leave_days:
            broken(HardRule.LEAVE, f"works on day {day}, a leave day")

    per_shift = Counter(a.shift_id for a in worked.values())
    for shift_id, limit in contract.max_shifts.items():
        if per_shift[shift_id] > limit:
            broken(
                HardRule.MAX_SHIFTS_PER_TYPE,
                f"works {per_shift[shift_id]} {shift_id} shifts, most allowed {limit}",
            )

    minutes = sum(lengths[a.shift_id] for a in worked.values())
    if minutes < contract.min_total_minutes:
        broken(
            HardRule.MIN_TOTAL_MINUTES,
            f"works {minutes} minutes, fewest allowed {contract.min_total_minutes}",
        )
    if contract.max_total_minutes is not None and minutes > contract.max_total_minutes:
        broken(
            HardRule.MAX_TOTAL_MINUTES, f"works {minutes} minutes, most allowed {contract.max_total_minutes}"
        )

    on_duty = [day in worked for day in range(problem.days)]
    last_day = problem.days - 1
    for first, last in _runs(on_duty):
        length = last - first + 1
        if contract.max_consecutive_shifts is not None and length > contract.max_consecutive_shifts:
            broken(
                HardRule.MAX_CONSECUTIVE_SHIFTS,
                f"works {length} days in a row from day {first}, "
                f"most allowed {contract.max_consecutive_shifts}",
            )
        exempt = (
            first == 0
            or last == last_day
            or (first - 1) in nurse.leave_days
            or (last + 1) in nurse.leave_days
        )
        if not exempt and length < contract.min_consecutive_shifts:
            broken(
                HardRule.MIN_CONSECUTIVE_SHIFTS,
                f"works only {length} days in a row from day {first}, fewest allowed "
                f"{contract.min_consecutive_shifts}",
            )
    for first, last in _runs([not flag for flag in on_duty]):
        length = last - first + 1
        if first > 0 and last < last_day and length < contract.min_consecutive_days_off:
            broken(
                HardRule.MIN_CONSECUTIVE_DAYS_OFF,
                f"has only {length} days off in a row from day {first}, fewest allowed "
                f"{contract.min_consecutive_days_off}",
            )

    weekends = _weekend_groups(problem)
    weekends_worked = sum(1 for days in weekends if any(d in worked for d in days))
    if contract.max_weekends is not None and weekends_worked > contract.max_weekends:
        broken(
            HardRule.MAX_WEEKENDS, f"works {weekends_worked} weekends, most allowed {contract.max_weekends}"
        )
    if contract.complete_weekends:
        for days in weekends:
            exempt = len(days) < 2 or any(d in nurse.leave_days for d in days)
            if not exempt and (days[0] in worked) != (days[1] in worked):
                broken(HardRule.COMPLETE_WEEKENDS, f"works only one day of the weekend of day {days[0]}")

    shifts = {s.shift_id: s for s in problem.shifts}
    worked_days = sorted(worked)
    for earlier_day, later_day in pairwise(worked_days):
        earlier = shifts[worked[earlier_day].shift_id]
        later = shifts[worked[later_day].shift_id]
        if later_day == earlier_day + 1 and later.shift_id in earlier.forbidden_next:
            broken(
                HardRule.FORBIDDEN_SUCCESSION,
                f"works {later.shift_id} on day {later_day} right after {earlier.shift_id}",
            )
        if earlier.start_minute is not None and later.start_minute is not None:
            earlier_end = earlier_day * MINUTES_PER_DAY + earlier.start_minute + earlier.length_minutes
            later_start = later_day * MINUTES_PER_DAY + later.start_minute
            rest = later_start - earlier_end
            if rest < contract.min_rest_minutes or rest < 0:
                broken(
                    HardRule.MIN_REST,
                    f"rests {rest} minutes between {earlier.shift_id} on day {earlier_day} and "
                    f"{later.shift_id} on day {later_day}, least allowed {contract.min_rest_minutes}",
                )


def check_roster(problem: RosterProblem, roster: Roster) -> RosterCheck:
    """Check a roster against every hard rule and compute every penalty term.

    Parameters
    ----------
    problem
        The roster problem as stated.
    roster
        Assignments and agency bookings to check.

    Returns
    -------
    RosterCheck
        Violations of hard rules and the objective by term.
    """
    violations: list[RuleViolation] = []
    nurses = {n.nurse_id: n for n in problem.nurses}
    shift_ids = {s.shift_id for s in problem.shifts}
    cover_lines = {(c.day, c.shift_id, c.unit_id, c.skill): c for c in problem.cover}

    worked_by_nurse: dict[str, dict[int, Assignment]] = defaultdict(dict)
    staffed: Counter[tuple[int, str, str, str]] = Counter()
    for a in roster.assignments:
        where = f"{a.nurse_id} on day {a.day} ({a.shift_id}, {a.unit_id}, {a.skill})"
        nurse = nurses.get(a.nurse_id)
        if nurse is None or a.shift_id not in shift_ids or not 0 <= a.day < problem.days:
            violations.append(
                RuleViolation(HardRule.ELIGIBILITY, a.nurse_id, f"{where}: unknown nurse, shift or day")
            )
            continue
        if a.skill not in nurse.skills or a.unit_id not in nurse.units:
            violations.append(
                RuleViolation(
                    HardRule.ELIGIBILITY, a.nurse_id, f"{where}: the nurse lacks the unit or the skill"
                )
            )
        if (a.day, a.shift_id, a.unit_id, a.skill) not in cover_lines:
            violations.append(
                RuleViolation(HardRule.ELIGIBILITY, a.nurse_id, f"{where}: no cover line asks for it")
            )
        if a.day in worked_by_nurse[a.nurse_id]:
            violations.append(
                RuleViolation(
                    HardRule.ONE_SHIFT_PER_DAY, a.nurse_id, f"{where}: a second shift on the same day"
                )
            )
            continue
        worked_by_nurse[a.nurse_id][a.day] = a
        staffed[(a.day, a.shift_id, a.unit_id, a.skill)] += 1

    for nurse in problem.nurses:
        _check_nurse(problem, nurse, worked_by_nurse.get(nurse.nurse_id, {}), violations)

    penalties: dict[str, int] = dict.fromkeys(OBJECTIVE_TERMS, 0)

    agency_booked: Counter[tuple[int, str, str, str]] = Counter()
    for booking in roster.agency:
        key = (booking.day, booking.shift_id, booking.unit_id, booking.skill)
        agency_booked[key] += booking.nurses
    offers = {o.skill: o for o in problem.agency}
    for key, booked in sorted(agency_booked.items()):
        day, shift_id, unit_id, skill = key
        offer = offers.get(skill)
        label = f"day {day}, {shift_id}, {unit_id}, {skill}"
        if (
            booked < 0
            or offer is None
            or (offer.units and unit_id not in offer.units)
            or key not in cover_lines
        ):
            violations.append(RuleViolation(HardRule.AGENCY_LIMIT, label, f"{label}: no agency offer for it"))
            continue
        if booked > offer.max_nurses_per_shift:
            violations.append(
                RuleViolation(
                    HardRule.AGENCY_LIMIT,
                    label,
                    f"{label}: {booked} agency nurses booked, most allowed {offer.max_nurses_per_shift}",
                )
            )
        penalties[TERM_AGENCY_COST] += booked * offer.cost_per_shift

    for key, line in cover_lines.items():
        present = staffed[key] + max(agency_booked[key], 0)
        label = f"day {line.day}, {line.shift_id}, {line.unit_id}, {line.skill}"
        if present < line.minimum_nurses:
            violations.append(
                RuleViolation(
                    HardRule.COVER_MINIMUM,
                    label,
                    f"{label}: {present} nurses, hard minimum {line.minimum_nurses}",
                )
            )
        penalties[TERM_COVER_SHORTFALL] += line.under_weight * max(0, line.required_nurses - present)
        penalties[TERM_COVER_SURPLUS] += line.over_weight * max(0, present - line.required_nurses)

    for request in problem.requests:
        worked = worked_by_nurse.get(request.nurse_id, {}).get(request.day)
        if request.shift_id is None:
            matches = worked is not None
        else:
            matches = worked is not None and worked.shift_id == request.shift_id
        if request.wants_shift and not matches:
            penalties[TERM_SHIFT_ON_REQUESTS] += request.weight
        if not request.wants_shift and matches:
            penalties[TERM_SHIFT_OFF_REQUESTS] += request.weight

    fairness = problem.fairness
    nights = {s.shift_id for s in problem.shifts if s.night}
    if fairness.night_spread_weight and nights:
        sharing = [
            n for n in problem.nurses if any(n.contract.max_shifts.get(s, problem.days) > 0 for s in nights)
        ]
        if len(sharing) >= 2:
            counts = [
                sum(1 for a in worked_by_nurse.get(n.nurse_id, {}).values() if a.shift_id in nights)
                for n in sharing
            ]
            penalties[TERM_NIGHT_SPREAD] = fairness.night_spread_weight * (max(counts) - min(counts))
    weekends = _weekend_groups(problem)
    if fairness.weekend_spread_weight and weekends:
        sharing = [n for n in problem.nurses if n.contract.max_weekends != 0]
        if len(sharing) >= 2:
            counts = [
                sum(1 for days in weekends if any(d in worked_by_nurse.get(n.nurse_id, {}) for d in days))
                for n in sharing
            ]
            penalties[TERM_WEEKEND_SPREAD] = fairness.weekend_spread_weight * (max(counts) - min(counts))

    return RosterCheck(violations=tuple(violations), penalties=penalties)
