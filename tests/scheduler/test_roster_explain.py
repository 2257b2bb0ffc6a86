"""When the hard rules cannot all be met: the fewest extra nurses and the conflicting rules."""

from __future__ import annotations

from scheduler.roster import (
    ConflictingRule,
    Contract,
    CoverRequirement,
    ExtraNurses,
    HardRule,
    Nurse,
    RosterProblem,
    ShiftType,
    explain_infeasibility,
)

TIME_LIMIT = 20.0
WORKERS = 2


def _short_staffed() -> RosterProblem:
    """Two nurses, both off on day 1; two nurses needed on every day shift (hard), one on nights."""
    shifts = (ShiftType("day", 480), ShiftType("night", 600, night=True, forbidden_next={"day"}))
    nurses = tuple(
        Nurse(n, Contract(max_total_minutes=3 * 480), skills={"rn"}, units={"ward"}, days_off={1})
        for n in ("ana", "ben")
    )
    cover = tuple(
        CoverRequirement(d, "day", "ward", "rn", 2, under_weight=10, over_weight=1, minimum_nurses=2)
        for d in range(3)
    ) + tuple(CoverRequirement(d, "night", "ward", "rn", 1, under_weight=10, over_weight=1) for d in range(3))
    return RosterProblem(days=3, shifts=shifts, nurses=nurses, cover=cover)


def test_fewest_extra_nurses_per_day_shift_and_skill() -> None:
    explanation = explain_infeasibility(
        _short_staffed(), time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0
    )
    assert not explanation.problem_is_feasible
    assert explanation.extra_nurses_suffice is True
    assert explanation.extra_nurses_proven_fewest
    assert explanation.extra_nurses == (
        ExtraNurses(day=1, shift_id="day", unit_id="ward", skill="rn", nurses=2),
    )
    assert explanation.total_extra_nurses == 2
    assert explanation.extra_nurses_by_shift_and_skill() == {("day", "rn"): 2}
    assert any("2 more rn" in line for line in explanation.summary())


def test_conflicting_rules_are_one_day_off_and_the_cover_minimum() -> None:
    # With either nurse free on day 1 the day still has one nurse short, so a minimal conflict is the cover
    # minimum of day 1 and one nurse's days off.
    explanation = explain_infeasibility(
        _short_staffed(), time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0
    )
    assert explanation.conflict_is_minimal
    conflict = set(explanation.conflicting_rules)
    assert ConflictingRule(HardRule.COVER_MINIMUM, "day 1, day, ward, rn") in conflict
    days_off = {c for c in conflict if c.rule is HardRule.DAYS_OFF}
    assert days_off in (
        {ConflictingRule(HardRule.DAYS_OFF, "ana")},
        {ConflictingRule(HardRule.DAYS_OFF, "ben")},
    )
    assert len(conflict) == 2


def test_tight_contract_needs_more_nurses_on_one_skill_only() -> None:
    # The icu line needs 1 every day; the one icu nurse can work 2 of 3 days: 1 extra icu nurse-shift.
    shifts = (ShiftType("day", 480),)
    nurses = (
        Nurse("ana", Contract(max_total_minutes=2 * 480), skills={"icu"}, units={"icu"}),
        Nurse("ben", Contract(), skills={"rn"}, units={"ward"}),
    )
    cover = tuple(
        CoverRequirement(d, "day", "icu", "icu", 1, under_weight=10, over_weight=1, minimum_nurses=1)
        for d in range(3)
    ) + tuple(
        CoverRequirement(d, "day", "ward", "rn", 1, under_weight=10, over_weight=1, minimum_nurses=1)
        for d in range(3)
    )
    problem = RosterProblem(days=3, shifts=shifts, nurses=nurses, cover=cover)
    explanation = explain_infeasibility(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert explanation.extra_nurses_suffice is True
    assert explanation.total_extra_nurses == 1
    assert explanation.extra_nurses_by_shift_and_skill() == {("day", "icu"): 1}
    assert explanation.conflict_is_minimal
    assert set(explanation.conflicting_rules) == {
        ConflictingRule(HardRule.MAX_TOTAL_MINUTES, "ana"),
        *(ConflictingRule(HardRule.COVER_MINIMUM, f"day {d}, day, icu, icu") for d in range(3)),
    }


def test_contract_conflict_cannot_be_fixed_by_extra_nurses() -> None:
    # ana must work 3 shifts but has 2 of 3 days off.
    problem = RosterProblem(
        days=3,
        shifts=(ShiftType("day", 480),),
        nurses=(
            Nurse("ana", Contract(min_total_minutes=3 * 480), skills={"rn"}, units={"ward"}, days_off={0, 2}),
        ),
        cover=tuple(
            CoverRequirement(d, "day", "ward", "rn", 1, under_weight=10, over_weight=1) for d in range(3)
        ),
    )
    explanation = explain_infeasibility(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert explanation.extra_nurses_suffice is False
    assert explanation.extra_nurses == ()
    assert set(explanation.conflicting_rules) == {
        ConflictingRule(HardRule.DAYS_OFF, "ana"),
        ConflictingRule(HardRule.MIN_TOTAL_MINUTES, "ana"),
    }
    assert any("No number of extra nurses" in line for line in explanation.summary())


def test_feasible_problem_needs_nothing() -> None:
    problem = RosterProblem(
        days=1,
        shifts=(ShiftType("day", 480),),
        nurses=(Nurse("ana", Contract(), skills={"rn"}, units={"ward"}),),
        cover=(
            CoverRequirement(0, "day", "ward", "rn", 1, under_weight=10, over_weight=1, minimum_nurses=1),
        ),
    )
    explanation = explain_infeasibility(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert explanation.problem_is_feasible
    assert explanation.total_extra_nurses == 0
