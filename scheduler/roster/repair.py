"""Repair a published roster after a sick call or another change, with the fewest changes.

The days before ``from_day`` are kept exactly as published. From ``from_day`` on, the roster is solved
again with the usual objective plus ``change_weight`` for every nurse-day whose assignment differs from
the published one (a different shift, unit or skill, a shift added or a shift removed). The search starts
from the obvious repair (the published roster without the shifts that fall on leave now), and the answer
is never worse than it: when the obvious repair meets every rule and the search (on a short budget) ended
with a worse roster or none, the obvious repair is the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scheduler.roster.checker import check_roster
from scheduler.roster.model import ProgressCallback, build_roster_model, run_solver, solution_from_run
from scheduler.roster.problem import OBJECTIVE_TERMS, TERM_ROSTER_CHANGES, RosterInputError, RosterProblem
from scheduler.roster.rules import PenaltyTerm
from scheduler.roster.solution import Assignment, Roster, RosterSolution, RosterStatus

DEFAULT_CHANGE_WEIGHT = 10
"""Penalty per changed nurse-day: above a typical shift request, below a nurse short on a shift."""


@dataclass(frozen=True, order=True)
class RosterChange:
    """A nurse-day whose assignment differs between the published and the repaired roster."""

    nurse_id: str
    day: int
    published: Assignment | None
    repaired: Assignment | None


def roster_changes(published: Roster, repaired: Roster, *, from_day: int = 0) -> tuple[RosterChange, ...]:
    """Nurse-days on or after ``from_day`` whose assignment differs between two rosters."""
    cells = {
        (a.nurse_id, a.day) for a in (*published.assignments, *repaired.assignments) if a.day >= from_day
    }
    changes = []
    for nurse_id, day in sorted(cells):
        before = published.assignment(nurse_id, day)
        after = repaired.assignment(nurse_id, day)
        if before != after:
            changes.append(RosterChange(nurse_id=nurse_id, day=day, published=before, repaired=after))
    return tuple(changes)


def mark_absent(
    problem: RosterProblem, nurse_id: str, days: Iterable[int], *, published: Roster | None = None
) -> RosterProblem:
    """Record leave (e.g. a sick call) for a nurse.

    The days become leave days. When ``published`` is given, the minutes of the shifts the nurse was
    rostered on those days are credited: the contract's minimum total minutes drops by that amount, since
    leave counts as time worked and the nurse could otherwise not meet it.

    Parameters
    ----------
    problem
        The roster problem the published roster was made for.
    nurse_id
        The absent nurse.
    days
        Days of absence.
    published
        The published roster, to credit the minutes of the shifts lost.
    """
    nurse = problem.nurse(nurse_id)
    absent = frozenset(days)
    credited = 0
    if published is not None:
        lengths = {s.shift_id: s.length_minutes for s in problem.shifts}
        for day in sorted(absent):
            lost = published.assignment(nurse_id, day)
            if lost is not None:
                credited += lengths[lost.shift_id]
    contract = replace(nurse.contract, min_total_minutes=max(0, nurse.contract.min_total_minutes - credited))
    changed = replace(nurse, contract=contract, leave_days=nurse.leave_days | absent)
    return problem.replace_nurse(changed)


def repair_roster(
    problem: RosterProblem,
    published: Roster,
    from_day: int,
    *,
    time_limit_seconds: float,
    change_weight: int = DEFAULT_CHANGE_WEIGHT,
    workers: int = 2,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> RosterSolution:
    """Re-roster from ``from_day`` with the fewest changes to ``published``; earlier days stay fixed.

    Parameters
    ----------
    problem
        The problem as it is now (e.g. after :func:`mark_absent`).
    published
        The roster published before the change.
    from_day
        First day that may change; days before it are kept exactly as published.
    time_limit_seconds
        Wall-time limit [s].
    change_weight
        Penalty per changed nurse-day, the objective term ``roster_changes``.
    workers, seed, progress, cancel, parameters
        As for :func:`scheduler.roster.solve_roster`.

    Returns
    -------
    RosterSolution
        The repaired roster; ``objective_terms["roster_changes"]`` is ``change_weight`` times the number of
        changed nurse-days (see :func:`roster_changes`). When the changed problem is infeasible the status
        says so; use :func:`scheduler.roster.explain_infeasibility` on the problem for what to relax.

    Raises
    ------
    RosterInputError
        When ``from_day`` is outside the horizon or a published assignment before it is impossible in the
        changed problem.
    """
    if isinstance(from_day, bool) or not isinstance(from_day, int) or not 0 <= from_day <= problem.days:
        raise RosterInputError(f"from_day: must be a day from 0 to {problem.days}, got {from_day!r}")
    if isinstance(change_weight, bool) or not isinstance(change_weight, int) or change_weight < 0:
        raise RosterInputError(f"change_weight: must be a non-negative integer, got {change_weight!r}")
    built = build_roster_model(problem)
    model = built.model
    variables = built.variables
    change_terms: list[PenaltyTerm] = []
    for nurse in problem.nurses:
        n = nurse.nurse_id
        for day in range(problem.days):
            before = published.assignment(n, day)
            key = None if before is None else (n, day, before.shift_id, before.unit_id, before.skill)
            if day < from_day:
                if key is not None and day in nurse.unavailable_days:
                    raise RosterInputError(
                        f"published: {n} works on day {day}, before from_day {from_day}, but that day is now "
                        "a day off or leave; move from_day back to it"
                    )
                if key is None:
                    model.add(variables.works_day[(n, day)] == 0)
                elif key in variables.works:
                    model.add(variables.works[key] == 1)
                else:
                    raise RosterInputError(
                        f"published: {n} on day {day} ({before.shift_id}, {before.unit_id}, {before.skill}) "  # type: ignore[union-attr]
                        f"is before from_day {from_day} but impossible in the changed problem"
                    )
                continue
            if key is None:
                change_terms.append(
                    PenaltyTerm(TERM_ROSTER_CHANGES, change_weight, variables.works_day[(n, day)])
                )
            elif key in variables.works:
                change_terms.append(PenaltyTerm(TERM_ROSTER_CHANGES, change_weight, 1 - variables.works[key]))
            else:
                change_terms.append(PenaltyTerm(TERM_ROSTER_CHANGES, change_weight, 1))
    booked = {(b.day, b.shift_id, b.unit_id, b.skill): b.nurses for b in published.agency}
    for line_key, var in variables.agency.items():
        if line_key[0] < from_day:
            model.add(var == booked.get(line_key, 0))
    for line_key, nurses in booked.items():
        if line_key[0] < from_day and line_key not in variables.agency and nurses > 0:
            raise RosterInputError(f"published: agency booking {line_key} before from_day is impossible now")
    built.set_objective(change_terms)
    # Start from the obvious repair, the published roster less the shifts now on leave or days off: when it
    # meets the rules, the answer is never worse than it.
    obvious = Roster(
        tuple(a for a in published.assignments if a.day not in _unavailable(problem, a.nurse_id)),
        published.agency,
    )
    built.add_hint(obvious)
    run = run_solver(
        model,
        time_limit_seconds=time_limit_seconds,
        workers=workers,
        seed=seed,
        progress=progress,
        cancel=cancel,
        # Without repair_hint CP-SAT may drift from the hint before completing it (measured: a repair
        # worse than the obvious one on a 14-nurse ward); with it, the search begins at the obvious repair.
        parameters={"repair_hint": True, **(parameters or {})},
    )
    return _no_worse_than(solution_from_run(built, run), problem, published, obvious, from_day, change_weight)


def _no_worse_than(
    solution: RosterSolution,
    problem: RosterProblem,
    published: Roster,
    obvious: Roster,
    from_day: int,
    change_weight: int,
) -> RosterSolution:
    """``solution``, or the obvious repair when it meets every rule and costs less (changes included).

    CP-SAT on a short deterministic budget does not always complete the hint before drifting from it; the
    independent checker prices the obvious repair so that a repair is never worse than doing the least.
    """
    if solution.cancelled or solution.status in (RosterStatus.OPTIMAL, RosterStatus.INFEASIBLE):
        return solution
    check = check_roster(problem, obvious)
    if not check.feasible:
        return solution
    changes = change_weight * len(roster_changes(published, obvious, from_day=from_day))
    objective = check.objective + changes
    if solution.objective is not None and solution.objective <= objective:
        return solution
    terms = {name: 0 for name in OBJECTIVE_TERMS} | dict(check.penalties) | {TERM_ROSTER_CHANGES: changes}
    return replace(
        solution, status=RosterStatus.FEASIBLE, roster=obvious, objective=objective, objective_terms=terms
    )


def _unavailable(problem: RosterProblem, nurse_id: str) -> frozenset[int]:
    try:
        return problem.nurse(nurse_id).unavailable_days
    except KeyError:
        return frozenset()
