"""A day window of a long roster judges every change inside it exactly as the whole roster does."""

from __future__ import annotations

import random

import pytest

from scheduler.roster import (
    Assignment,
    Contract,
    CoverRequirement,
    Fairness,
    Nurse,
    Roster,
    RosterProblem,
    ShiftRequest,
    ShiftType,
    check_roster,
)
from scheduler.roster.lns import greedy_roster
from scheduler.roster.window import context_days, day_window

SHIFTS = (
    ShiftType("early", 480, start_minute=7 * 60),
    ShiftType("late", 480, start_minute=15 * 60, forbidden_next={"early"}),
    ShiftType("night", 600, start_minute=22 * 60, night=True, forbidden_next={"early", "late"}),
)


def _long_ward(rng: random.Random, days: int = 42) -> RosterProblem:
    nurses = []
    for i in range(6):
        # a rest of 48 h rules out two days in a row, hence one-day runs and fewer minutes for that nurse
        long_rest = rng.random() < 0.3
        contract = Contract(
            min_total_minutes=480 * days // (8 if long_rest else 4),
            max_total_minutes=480 * days * 3 // 5,
            max_shifts={"night": rng.randint(2, 8)},
            max_consecutive_shifts=rng.choice([4, 5, 6]),
            min_consecutive_shifts=1 if long_rest else rng.choice([1, 2, 3]),
            min_consecutive_days_off=rng.choice([1, 2]),
            max_weekends=rng.randint(2, 4),
            complete_weekends=rng.random() < 0.5,
            min_rest_minutes=48 * 60 if long_rest else rng.choice([0, 11 * 60]),
        )
        days_off = set(rng.sample(range(days), 3))
        leave = set(rng.sample(sorted(set(range(days)) - days_off), 2)) if i % 2 else set()
        nurses.append(
            Nurse(f"n{i}", contract, skills={"rn"}, units={"ward"}, days_off=days_off, leave_days=leave)
        )
    cover = tuple(
        CoverRequirement(d, s.shift_id, "ward", "rn", rng.randint(1, 2), under_weight=50, over_weight=2)
        for d in range(days)
        for s in SHIFTS
    )
    requests = tuple(
        ShiftRequest(
            f"n{rng.randrange(6)}", rng.randrange(days), rng.choice([None, "late"]), 3, rng.random() < 0.5
        )
        for _ in range(20)
    )
    return RosterProblem(
        days=days, shifts=SHIFTS, nurses=tuple(nurses), cover=cover, requests=requests, start_weekday=2
    )


def _changed(rng: random.Random, problem: RosterProblem, roster: Roster, first: int, last: int) -> Roster:
    """``roster`` with one to three nurse-days between ``first`` and ``last`` set to off or another shift."""
    by_cell = {(a.nurse_id, a.day): a for a in roster.assignments}
    for _ in range(rng.randint(1, 3)):
        nurse = rng.choice(problem.nurses).nurse_id
        day = rng.randint(first, last)
        by_cell.pop((nurse, day), None)
        if rng.random() < 0.6:
            by_cell[(nurse, day)] = Assignment(nurse, day, rng.choice(SHIFTS).shift_id, "ward", "rn")
    return Roster(tuple(by_cell.values()))


@pytest.mark.parametrize("seed", range(6))
def test_changes_inside_a_window_are_judged_alike_by_the_window_and_the_whole_roster(seed: int) -> None:
    rng = random.Random(seed)
    problem = _long_ward(rng)
    roster = greedy_roster(problem, seed=seed)
    assert check_roster(problem, roster).feasible
    first = rng.randint(8, 26)
    last = first + rng.randint(2, 6)
    window = day_window(problem, roster, first, last)
    assert window is not None
    assert window.start <= first - context_days(problem) or window.start == 0
    assert 0 < window.stop - window.start < problem.days
    offset = (
        check_roster(problem, roster).objective - check_roster(window.problem, window.cut(roster)).objective
    )
    feasible = 0
    for _ in range(150):
        changed = _changed(rng, problem, roster, first, last)
        whole = check_roster(problem, changed)
        inside = check_roster(window.problem, window.cut(changed))
        assert whole.feasible == inside.feasible, (whole.violations, inside.violations)
        if whole.feasible:
            feasible += 1
            assert whole.objective - inside.objective == offset
        assert set(window.merge(roster, window.cut(changed)).assignments) == set(changed.assignments)
    assert feasible > 5, "enough of the changes keep the rules to compare objectives"


def test_a_window_never_splits_a_weekend_and_is_none_when_it_would_be_everything() -> None:
    problem = _long_ward(random.Random(0))  # day 0 is a Wednesday: days 3-4 are the first weekend
    roster = greedy_roster(problem, seed=0)
    margin = context_days(problem)
    for first in range(problem.days - 3):
        window = day_window(problem, roster, first, first + 2)
        if window is None:
            continue
        weekend_days = {d for w in problem.weekends() for d in w}
        if window.start > 0 and window.start in weekend_days:
            assert problem.weekday(window.start) == 5, "a window starting on a weekend starts on its Saturday"
        if window.stop < problem.days and window.stop - 1 in weekend_days:
            assert problem.weekday(window.stop - 1) == 6
        assert window.start <= max(0, first - margin) and window.stop >= min(problem.days, first + 3 + margin)
    assert day_window(problem, roster, 0, problem.days - 1) is None
    fair = RosterProblem(
        days=problem.days,
        shifts=problem.shifts,
        nurses=problem.nurses,
        cover=problem.cover,
        fairness=Fairness(night_spread_weight=1),
        start_weekday=problem.start_weekday,
    )
    assert day_window(fair, roster, 20, 22) is None


def test_a_long_minimum_rest_widens_the_context() -> None:
    # 48 h rest: a night (22:00-08:00) forbids an early (07:00) up to two days later
    shifts = (ShiftType("early", 480, start_minute=7 * 60), ShiftType("night", 600, start_minute=22 * 60))
    nurse = Nurse("ana", Contract(min_rest_minutes=48 * 60), skills={"rn"}, units={"ward"})
    cover = tuple(CoverRequirement(d, s.shift_id, "ward", "rn", 0, 10, 1) for d in range(60) for s in shifts)
    problem = RosterProblem(days=60, shifts=shifts, nurses=(nurse,), cover=cover)
    night = Roster((Assignment("ana", 27, "night", "ward", "rn"),))
    window = day_window(problem, night, 30, 30)
    assert window is not None and window.start <= 27
    clash = Roster((*night.assignments, Assignment("ana", 30, "early", "ward", "rn")))
    assert not check_roster(problem, clash).feasible
    assert not check_roster(window.problem, window.cut(clash)).feasible
