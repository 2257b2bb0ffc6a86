"""Large neighbourhood search: greedy start, exact sub-problems, checker-verified answers, cancel."""

from __future__ import annotations

import random
import threading

from scheduler.roster import (
    Assignment,
    Contract,
    CoverRequirement,
    Nurse,
    Roster,
    RosterProblem,
    RosterStatus,
    ShiftRequest,
    ShiftType,
    check_roster,
)
from scheduler.roster.lns import greedy_roster, solve_roster_lns, subproblem

WORKERS = 2


def _ward(nurses: int = 10, days: int = 14) -> RosterProblem:
    shifts = (
        ShiftType("early", 480, start_minute=7 * 60),
        ShiftType("late", 480, start_minute=15 * 60, forbidden_next={"early"}),
        ShiftType("night", 600, start_minute=22 * 60, night=True, forbidden_next={"early", "late"}),
    )
    contract = Contract(
        min_total_minutes=5 * 480,
        max_total_minutes=9 * 480,
        max_shifts={"night": 3},
        max_consecutive_shifts=5,
        min_consecutive_shifts=2,
        min_consecutive_days_off=2,
        max_weekends=1,
    )
    staff = tuple(
        Nurse(f"n{i}", contract, skills={"rn"}, units={"ward"}, days_off={(2 * i) % days})
        for i in range(nurses)
    )
    cover = tuple(
        CoverRequirement(
            d, s.shift_id, "ward", "rn", 2 if s.shift_id == "early" else 1, under_weight=50, over_weight=1
        )
        for d in range(days)
        for s in shifts
    )
    requests = tuple(
        ShiftRequest(f"n{i}", (3 * i + 1) % days, None, 1 + i % 3, wants_shift=False) for i in range(nurses)
    )
    return RosterProblem(days=days, shifts=shifts, nurses=staff, cover=cover, requests=requests)


def test_greedy_roster_meets_every_contract() -> None:
    problem = _ward()
    roster = greedy_roster(problem, seed=0)
    check = check_roster(problem, roster)
    assert check.feasible, check.violations
    assert roster.assignments


def test_subproblem_penalties_differ_from_the_full_problem_by_a_constant() -> None:
    problem = _ward(nurses=6, days=7)
    rng = random.Random(1)
    free = {"n1", "n4"}
    base = greedy_roster(problem, seed=1)
    kept = [a for a in base.assignments if a.nurse_id not in free]

    def random_part() -> tuple[Assignment, ...]:
        # any assignments of the free nurses (rules may break: only the penalties matter here)
        return tuple(
            Assignment(n, d, rng.choice(["early", "late", "night"]), "ward", "rn")
            for n in sorted(free)
            for d in range(7)
            if rng.random() < 0.5
        )

    part_problem = subproblem(problem, base, free)
    assert {n.nurse_id for n in part_problem.nurses} == free
    offsets = set()
    for _ in range(5):
        part = random_part()
        full = check_roster(problem, Roster(tuple(kept) + part)).objective
        small = check_roster(part_problem, Roster(part)).objective
        offsets.add(full - small)
    assert len(offsets) == 1


def test_lns_answer_passes_the_checker_and_beats_the_greedy_start() -> None:
    problem = _ward()
    start = check_roster(problem, greedy_roster(problem, seed=0)).objective
    solution = solve_roster_lns(
        problem, time_limit_seconds=8, workers=WORKERS, seed=0, neighbourhood_seconds=1.0
    )
    assert solution.status in (RosterStatus.OPTIMAL, RosterStatus.FEASIBLE)
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    assert solution.objective is not None and solution.objective <= start
    assert solution.bound <= solution.objective + 1e-6


def test_lns_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    solution = solve_roster_lns(_ward(), time_limit_seconds=60, workers=WORKERS, seed=0, cancel=cancel)
    assert solution.cancelled
    assert solution.seconds < 30
