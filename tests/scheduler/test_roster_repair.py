"""Repair after a sick call: the past stays fixed and few assignments change."""

from __future__ import annotations

import pytest

from scheduler.roster import (
    Assignment,
    Contract,
    CoverRequirement,
    Nurse,
    Roster,
    RosterInputError,
    RosterProblem,
    RosterStatus,
    ShiftRequest,
    ShiftType,
    check_roster,
    mark_absent,
    repair_roster,
    roster_changes,
    solve_roster,
)

TIME_LIMIT = 20.0
WORKERS = 2


def _ward() -> RosterProblem:
    shifts = (
        ShiftType("early", 480, start_minute=7 * 60),
        ShiftType("late", 480, start_minute=15 * 60),
        ShiftType("night", 600, start_minute=22 * 60, night=True, forbidden_next={"early", "late"}),
    )
    contract = Contract(
        min_total_minutes=4 * 480,
        max_total_minutes=6 * 480,
        max_consecutive_shifts=4,
        min_consecutive_shifts=2,
        min_consecutive_days_off=2,
        max_weekends=1,
        min_rest_minutes=11 * 60,
    )
    nurses = tuple(Nurse(f"n{i}", contract, skills={"rn"}, units={"ward"}) for i in range(7))
    cover = tuple(
        CoverRequirement(d, s.shift_id, "ward", "rn", 1, under_weight=100, over_weight=5)
        for d in range(14)
        for s in shifts
    )
    requests = tuple(ShiftRequest(f"n{i}", (3 * i) % 14, None, 2, wants_shift=False) for i in range(7))
    return RosterProblem(days=14, shifts=shifts, nurses=nurses, cover=cover, requests=requests)


@pytest.fixture(scope="module")
def published() -> tuple[RosterProblem, Roster]:
    problem = _ward()
    solution = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert solution.roster is not None
    assert check_roster(problem, solution.roster).feasible
    return problem, solution.roster


def _sick_nurse(roster: Roster, from_day: int) -> tuple[str, list[int]]:
    """A nurse rostered on ``from_day`` and the days she works in the two days from then."""
    for a in roster.assignments:
        if a.day == from_day:
            days = [d for d in (from_day, from_day + 1) if roster.assignment(a.nurse_id, d) is not None]
            return a.nurse_id, days
    raise AssertionError("nobody works on from_day")


def test_repair_keeps_the_past_and_changes_few_assignments(published: tuple[RosterProblem, Roster]) -> None:
    problem, roster = published
    from_day = 6
    sick, days = _sick_nurse(roster, from_day)
    changed = mark_absent(problem, sick, days, published=roster)
    assert changed.nurse(sick).leave_days == frozenset(days)

    repaired = repair_roster(
        changed, roster, from_day, time_limit_seconds=TIME_LIMIT, change_weight=10, workers=WORKERS, seed=0
    )
    assert repaired.status in (RosterStatus.OPTIMAL, RosterStatus.FEASIBLE)
    assert repaired.roster is not None
    check = check_roster(changed, repaired.roster)
    assert check.feasible, check.violations

    past = [a for a in roster.assignments if a.day < from_day]
    assert [a for a in repaired.roster.assignments if a.day < from_day] == past
    assert roster_changes(roster, repaired.roster, from_day=0) == roster_changes(
        roster, repaired.roster, from_day=from_day
    )

    changes = roster_changes(roster, repaired.roster, from_day=from_day)
    assert repaired.objective_terms["roster_changes"] == 10 * len(changes)
    assert repaired.objective == check.objective + 10 * len(changes)
    # The sick nurse's shifts are gone; someone covers each: at most a few swaps per lost shift.
    assert all(repaired.roster.assignment(sick, d) is None for d in days)
    # Never worse than the obvious repair (strike the sick nurse's shifts, leave the gaps open), whatever
    # the machine's load: that roster is feasible and within reach of the search.
    gaps_left = _without(roster, sick, days)
    gaps_left_cost = check_roster(changed, gaps_left).objective + 10 * len(
        roster_changes(roster, gaps_left, from_day=from_day)
    )
    assert repaired.objective <= gaps_left_cost


def _without(roster: Roster, nurse_id: str, days: list[int]) -> Roster:
    return Roster(tuple(a for a in roster.assignments if not (a.nurse_id == nurse_id and a.day in days)))


def test_repair_without_a_change_changes_nothing(published: tuple[RosterProblem, Roster]) -> None:
    problem, roster = published
    repaired = repair_roster(
        problem, roster, 3, time_limit_seconds=TIME_LIMIT, change_weight=1000, workers=WORKERS, seed=0
    )
    assert repaired.roster is not None
    assert roster_changes(roster, repaired.roster) == ()
    assert repaired.objective_terms["roster_changes"] == 0


def test_sick_call_on_a_tiny_ward_has_the_obvious_repair() -> None:
    # ana works days 0-2, ben is spare; ana falls sick on day 1: ben takes days 1 and 2 (2 changes + ana's 2).
    day = ShiftType("day", 480)
    nurses = (
        Nurse("ana", Contract(min_total_minutes=3 * 480), skills={"rn"}, units={"ward"}),
        Nurse("ben", Contract(), skills={"rn"}, units={"ward"}),
    )
    cover = tuple(
        CoverRequirement(d, "day", "ward", "rn", 1, under_weight=100, over_weight=1) for d in range(3)
    )
    problem = RosterProblem(days=3, shifts=(day,), nurses=nurses, cover=cover)
    roster = Roster(tuple(Assignment("ana", d, "day", "ward", "rn") for d in range(3)))
    assert check_roster(problem, roster).objective == 0

    changed = mark_absent(problem, "ana", [1, 2], published=roster)
    assert changed.nurse("ana").contract.min_total_minutes == 480
    repaired = repair_roster(
        changed, roster, 1, time_limit_seconds=TIME_LIMIT, change_weight=10, workers=WORKERS, seed=0
    )
    assert repaired.status is RosterStatus.OPTIMAL
    assert repaired.roster is not None
    assert set(repaired.roster.assignments) == {
        Assignment("ana", 0, "day", "ward", "rn"),
        Assignment("ben", 1, "day", "ward", "rn"),
        Assignment("ben", 2, "day", "ward", "rn"),
    }
    assert repaired.objective == 4 * 10


def test_impossible_past_is_rejected() -> None:
    day = ShiftType("day", 480)
    problem = RosterProblem(
        days=2,
        shifts=(day,),
        nurses=(Nurse("ana", Contract(), skills={"rn"}, units={"ward"}, leave_days={0}),),
        cover=tuple(
            CoverRequirement(d, "day", "ward", "rn", 1, under_weight=10, over_weight=1) for d in range(2)
        ),
    )
    roster = Roster((Assignment("ana", 0, "day", "ward", "rn"),))
    with pytest.raises(RosterInputError, match="published"):
        repair_roster(problem, roster, 1, time_limit_seconds=TIME_LIMIT, workers=WORKERS)
    with pytest.raises(RosterInputError, match="from_day"):
        repair_roster(problem, roster, 5, time_limit_seconds=TIME_LIMIT, workers=WORKERS)
