"""The independent checker catches every broken hard rule and computes every penalty by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.roster import (
    AgencyBooking,
    AgencyOffer,
    Assignment,
    Contract,
    CoverRequirement,
    Fairness,
    HardRule,
    Nurse,
    Roster,
    RosterProblem,
    ShiftRequest,
    ShiftType,
    check_roster,
)

# Two weeks from a Monday: days 5, 6 and 12, 13 are weekends.
SHIFTS = (
    ShiftType("early", 480, start_minute=420),
    ShiftType("late", 480, start_minute=840),
    ShiftType("night", 600, start_minute=1260, night=True, forbidden_next={"early", "late"}),
)
CONTRACT = Contract(
    min_total_minutes=0,
    max_total_minutes=4 * 480,
    max_shifts={"night": 1},
    max_consecutive_shifts=3,
    min_consecutive_shifts=2,
    min_consecutive_days_off=2,
    max_weekends=1,
    min_rest_minutes=11 * 60,
    complete_weekends=True,
)


def _problem(**nurse_changes: object) -> RosterProblem:
    nurse = replace(Nurse("ana", CONTRACT, skills={"rn"}, units={"ward"}), **nurse_changes)  # type: ignore[arg-type]
    cover = tuple(
        CoverRequirement(day, shift.shift_id, "ward", "rn", 0, under_weight=10, over_weight=0)
        for day in range(14)
        for shift in SHIFTS
    )
    return RosterProblem(days=14, shifts=SHIFTS, nurses=(nurse,), cover=cover)


def _roster(*worked: tuple[int, str]) -> Roster:
    return Roster(tuple(Assignment("ana", day, shift_id, "ward", "rn") for day, shift_id in worked))


def _contract(**changes: object) -> Contract:
    return replace(CONTRACT, **changes)  # type: ignore[arg-type]


def test_a_valid_roster_has_no_violations() -> None:
    check = check_roster(_problem(), _roster((2, "early"), (3, "early")))
    assert check.feasible, check.violations
    assert check.objective == 0


@pytest.mark.parametrize(
    ("nurse_changes", "worked", "rule"),
    [
        ({"days_off": frozenset({3})}, [(2, "early"), (3, "early")], HardRule.DAYS_OFF),
        ({"leave_days": frozenset({3})}, [(2, "early"), (3, "early")], HardRule.LEAVE),
        ({}, [(2, "night"), (3, "night")], HardRule.MAX_SHIFTS_PER_TYPE),
        (
            {"contract": _contract(max_total_minutes=3 * 480)},
            [(2, "early"), (3, "early"), (7, "early"), (8, "early")],
            HardRule.MAX_TOTAL_MINUTES,
        ),
        (
            {"contract": _contract(min_total_minutes=3 * 480)},
            [(2, "early"), (3, "early")],
            HardRule.MIN_TOTAL_MINUTES,
        ),
        (
            {},
            [(7, "early"), (8, "early"), (9, "early"), (10, "early")],
            HardRule.MAX_CONSECUTIVE_SHIFTS,
        ),
        ({}, [(2, "early")], HardRule.MIN_CONSECUTIVE_SHIFTS),
        ({}, [(2, "early"), (3, "early"), (5, "early"), (6, "early")], HardRule.MIN_CONSECUTIVE_DAYS_OFF),
        ({}, [(5, "early"), (6, "early"), (12, "early"), (13, "early")], HardRule.MAX_WEEKENDS),
        ({}, [(4, "early"), (5, "early")], HardRule.COMPLETE_WEEKENDS),
        ({}, [(2, "late"), (3, "early")], HardRule.MIN_REST),
    ],
)
def test_each_broken_contract_rule_is_caught(
    nurse_changes: dict[str, object], worked: list[tuple[int, str]], rule: HardRule
) -> None:
    check = check_roster(_problem(**nurse_changes), _roster(*worked))
    assert check.broken_rules() == {rule}, check.violations


def test_forbidden_succession_is_caught_without_start_times() -> None:
    shifts = tuple(replace(s, start_minute=None) for s in SHIFTS)
    problem = replace(_problem(), shifts=shifts)
    check = check_roster(problem, _roster((2, "night"), (3, "early")))
    assert check.broken_rules() == {HardRule.FORBIDDEN_SUCCESSION}


def test_night_then_early_breaks_both_succession_and_rest() -> None:
    check = check_roster(_problem(), _roster((2, "night"), (3, "early")))
    assert check.broken_rules() == {HardRule.FORBIDDEN_SUCCESSION, HardRule.MIN_REST}


def test_two_shifts_on_one_day_are_caught() -> None:
    check = check_roster(_problem(), _roster((2, "early"), (2, "late"), (3, "early")))
    assert HardRule.ONE_SHIFT_PER_DAY in check.broken_rules()


def test_runs_at_the_horizon_edges_and_next_to_leave_are_exempt() -> None:
    assert check_roster(_problem(), _roster((0, "early"))).feasible
    no_complete_weekends = _problem(contract=_contract(complete_weekends=False))
    assert check_roster(no_complete_weekends, _roster((13, "early"))).feasible
    assert check_roster(_problem(leave_days=frozenset({3})), _roster((2, "early"))).feasible
    # a single day off at the start of the horizon is exempt from the minimum days off
    assert check_roster(_problem(), _roster((1, "early"), (2, "early"))).feasible


def test_skill_unit_and_missing_cover_line_are_caught() -> None:
    problem = _problem()
    wrong_skill = Roster(
        (Assignment("ana", 2, "early", "ward", "icu"), Assignment("ana", 3, "early", "ward", "rn"))
    )
    assert check_roster(problem, wrong_skill).broken_rules() == {HardRule.ELIGIBILITY}
    wrong_unit = Roster(
        (Assignment("ana", 2, "early", "icu", "rn"), Assignment("ana", 3, "early", "ward", "rn"))
    )
    assert check_roster(problem, wrong_unit).broken_rules() == {HardRule.ELIGIBILITY}
    no_line = replace(problem, cover=tuple(c for c in problem.cover if c.key != (2, "early", "ward", "rn")))
    assert check_roster(no_line, _roster((2, "early"), (3, "early"))).broken_rules() == {HardRule.ELIGIBILITY}


def test_hard_cover_minimum_and_agency_limit_are_caught() -> None:
    lines = [c for c in _problem().cover if c.key != (0, "early", "ward", "rn")]
    lines.append(
        CoverRequirement(0, "early", "ward", "rn", 2, under_weight=10, over_weight=1, minimum_nurses=2)
    )
    problem = replace(
        _problem(), cover=tuple(lines), agency=(AgencyOffer("rn", cost_per_shift=7, max_nurses_per_shift=1),)
    )
    short = check_roster(problem, Roster((), agency=(AgencyBooking(0, "early", "ward", "rn", 1),)))
    assert short.broken_rules() == {HardRule.COVER_MINIMUM}
    too_many = check_roster(problem, Roster((), agency=(AgencyBooking(0, "early", "ward", "rn", 2),)))
    assert too_many.broken_rules() == {HardRule.AGENCY_LIMIT}


def test_penalties_by_hand() -> None:
    shifts = (ShiftType("day", 480), ShiftType("night", 600, night=True))
    nurses = tuple(Nurse(n, Contract(), skills={"rn"}, units={"ward"}) for n in ("ana", "ben", "cy"))
    cover = (
        CoverRequirement(0, "day", "ward", "rn", 2, under_weight=10, over_weight=1),
        CoverRequirement(0, "night", "ward", "rn", 1, under_weight=10, over_weight=3),
        CoverRequirement(1, "day", "ward", "rn", 1, under_weight=10, over_weight=1),
        CoverRequirement(1, "night", "ward", "rn", 0, under_weight=10, over_weight=3),
    )
    problem = RosterProblem(
        days=2,
        shifts=shifts,
        nurses=nurses,
        cover=cover,
        requests=(
            ShiftRequest("ana", 0, "day", 4, wants_shift=True),  # granted
            ShiftRequest("ben", 0, "day", 5, wants_shift=True),  # ben works day 1 instead: 5
            ShiftRequest("cy", 0, None, 2, wants_shift=False),  # cy works day 0: 2
            ShiftRequest("cy", 1, "day", 6, wants_shift=False),  # cy works a night: granted
        ),
        agency=(AgencyOffer("rn", cost_per_shift=9, max_nurses_per_shift=2),),
        fairness=Fairness(night_spread_weight=7, weekend_spread_weight=0),
        start_weekday=0,
    )
    roster = Roster(
        (
            Assignment("ana", 0, "day", "ward", "rn"),
            Assignment("cy", 0, "night", "ward", "rn"),
            Assignment("cy", 1, "night", "ward", "rn"),
            Assignment("ben", 1, "day", "ward", "rn"),
        ),
        agency=(AgencyBooking(0, "day", "ward", "rn", 2),),
    )
    check = check_roster(problem, roster)
    assert check.feasible
    # day 0: ana + 2 agency on the day shift (surplus 1 × 1), cy on the night (ok);
    # day 1: ben on the day shift (ok), cy on the night (surplus 1 × 3)
    assert check.penalties["cover_shortfall"] == 0
    assert check.penalties["cover_surplus"] == 1 + 3
    assert check.penalties["shift_on_requests"] == 5
    assert check.penalties["shift_off_requests"] == 2
    assert check.penalties["agency_cost"] == 2 * 9
    # nights: ana 0, ben 0, cy 2 → spread 2
    assert check.penalties["night_spread"] == 2 * 7
    assert check.objective == 4 + 5 + 2 + 18 + 14
