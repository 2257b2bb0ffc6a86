"""The counting lower bound: never above a proved optimum, tight where counting is all there is."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from scheduler.roster import (
    Contract,
    CoverRequirement,
    Nurse,
    Roster,
    RosterProblem,
    RosterStatus,
    ShiftType,
    check_roster,
    solve_roster,
)
from scheduler.roster.bounds import cover_lower_bound, priced_lines_by_part, shortfall_caps
from scheduler.roster.lns import greedy_roster, solve_roster_lns
from scheduler.roster.problem import AgencyOffer

SHIFTS = (ShiftType("early", 480), ShiftType("late", 480, forbidden_next={"early"}))


def _weekend_ward(max_weekends: int, required: int = 2) -> RosterProblem:
    """14 days from a Monday, two nurses, ``required`` nurses on every weekend early shift only."""
    nurses = tuple(
        Nurse(f"n{i}", Contract(max_weekends=max_weekends), skills={"rn"}, units={"ward"}) for i in range(2)
    )
    cover = tuple(
        CoverRequirement(d, "early", "ward", "rn", required if d % 7 in (5, 6) else 0, 100, 1)
        for d in range(14)
    )
    return RosterProblem(days=14, shifts=SHIFTS[:1], nurses=nurses, cover=cover)


def test_a_most_weekends_rule_leaves_weekend_shifts_uncovered_and_the_optimum_pays_for_them() -> None:
    problem = _weekend_ward(max_weekends=1)
    bound = cover_lower_bound(problem)
    # 8 weekend nurse-shifts asked; each nurse can give the 2 days of her one weekend
    assert (bound.short_nurse_shifts, bound.weight, bound.penalty) == (4, 100, 400)
    solution = solve_roster(problem, time_limit_seconds=20, workers=2, seed=0)
    assert solution.status is RosterStatus.OPTIMAL
    assert solution.objective == 400


def test_without_the_weekend_rule_nothing_need_be_short() -> None:
    assert cover_lower_bound(_weekend_ward(max_weekends=2)).penalty == 0


def test_a_cheaper_agency_nurse_sets_the_price_and_free_lines_are_not_counted() -> None:
    nurse = Nurse("ana", Contract(), skills={"rn"}, units={"ward"})
    cover = (
        CoverRequirement(0, "early", "ward", "rn", 3, under_weight=100, over_weight=1),
        CoverRequirement(0, "late", "ward", "rn", 5, under_weight=0, over_weight=1),
    )
    problem = RosterProblem(days=1, shifts=SHIFTS, nurses=(nurse,), cover=cover)
    assert cover_lower_bound(problem).penalty == 200  # ana covers one of 3 earlies; lates cost nothing
    agency = (AgencyOffer("rn", cost_per_shift=30, max_nurses_per_shift=5),)
    with_agency = RosterProblem(days=1, shifts=SHIFTS, nurses=(nurse,), cover=cover, agency=agency)
    assert cover_lower_bound(with_agency).penalty == 2 * 30


def _random_ward(rng: random.Random) -> RosterProblem:
    days = rng.choice([7, 14])
    nurses = tuple(
        Nurse(
            f"n{i}",
            Contract(
                max_total_minutes=480 * rng.randint(2, days),
                max_shifts={"late": rng.randint(0, 4)} if rng.random() < 0.5 else {},
                max_weekends=rng.choice([None, 0, 1, 2]),
                max_consecutive_shifts=rng.choice([None, 3, 5]),
            ),
            skills={"rn"},
            units={"ward"},
            days_off=set(rng.sample(range(days), rng.randint(0, 3))),
        )
        for i in range(rng.randint(1, 4))
    )
    cover = tuple(
        CoverRequirement(d, s.shift_id, "ward", "rn", rng.randint(0, 3), rng.choice([1, 10, 100]), 1)
        for d in range(days)
        for s in SHIFTS
    )
    return RosterProblem(days=days, shifts=SHIFTS, nurses=nurses, cover=cover)


@pytest.mark.parametrize("seed", range(12))
def test_the_bound_is_never_above_a_proved_optimum(seed: int) -> None:
    problem = _random_ward(random.Random(seed))
    solution = solve_roster(problem, time_limit_seconds=30, workers=2, seed=0, explain_infeasibility=False)
    assert solution.status is RosterStatus.OPTIMAL
    assert solution.objective is not None
    assert cover_lower_bound(problem).penalty <= solution.objective


def test_the_lns_reports_the_counting_bound_and_calls_a_roster_that_meets_it_optimal() -> None:
    problem = _weekend_ward(max_weekends=1)
    solution = solve_roster_lns(
        problem, time_limit_seconds=20, workers=2, seed=0, first_share=0.0, neighbourhood_seconds=1.0
    )
    assert solution.bound == 400
    assert solution.objective == 400
    assert solution.status is RosterStatus.OPTIMAL


def _short_by_part(problem: RosterProblem, roster: Roster) -> tuple[int, int]:
    """Nurses short on the priced weekend and weekday lines of ``roster``, counted from its assignments."""
    staffed = Counter((a.day, a.shift_id, a.unit_id, a.skill) for a in roster.assignments)
    weekend_lines, weekday_lines = priced_lines_by_part(problem)
    return (
        sum(max(0, line.required_nurses - staffed[line.key]) for line in weekend_lines),
        sum(max(0, line.required_nurses - staffed[line.key]) for line in weekday_lines),
    )


def test_shortfall_caps_follow_the_budget() -> None:
    problem = _weekend_ward(max_weekends=1)
    assert shortfall_caps(problem, 400) == (4, 0)
    assert shortfall_caps(problem, 499) == (4, 0)
    assert shortfall_caps(problem, 500) == (5, 0)
    agency = (AgencyOffer("rn", cost_per_shift=30, max_nurses_per_shift=5),)
    assert shortfall_caps(replace(problem, agency=agency), 400) is None


@pytest.mark.parametrize("seed", range(12))
def test_rosters_never_exceed_the_shortfall_caps_of_their_own_cost(seed: int) -> None:
    problem = _random_ward(random.Random(seed))
    optimum = solve_roster(problem, time_limit_seconds=30, workers=2, seed=0, explain_infeasibility=False)
    assert optimum.roster is not None and optimum.objective is not None
    greedy = greedy_roster(problem, seed=seed)
    for roster in (optimum.roster, greedy):
        check = check_roster(problem, roster)
        if not check.feasible:
            continue
        caps = shortfall_caps(problem, check.objective)
        assert caps is not None
        weekend, weekday = _short_by_part(problem, roster)
        assert weekend <= caps[0] and weekday <= caps[1], (weekend, weekday, caps, check.objective)


def test_the_lns_with_shortfall_cuts_still_finds_the_optimum() -> None:
    problem = _weekend_ward(max_weekends=1)
    solution = solve_roster_lns(
        problem,
        time_limit_seconds=20,
        workers=2,
        seed=0,
        first_share=0.0,
        neighbourhood_seconds=1.0,
        shortfall_cuts=True,
    )
    assert solution.objective == 400
    assert solution.status is RosterStatus.OPTIMAL
