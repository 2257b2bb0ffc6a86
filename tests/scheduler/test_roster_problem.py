"""Roster inputs are validated on construction, with errors that name the field."""

from __future__ import annotations

import pytest

from scheduler.roster import (
    AgencyOffer,
    Contract,
    CoverRequirement,
    Nurse,
    RosterInputError,
    RosterProblem,
    ShiftRequest,
    ShiftType,
)


def _problem(**changes: object) -> RosterProblem:
    values: dict[str, object] = {
        "days": 7,
        "shifts": (ShiftType("early", 480, start_minute=420), ShiftType("night", 600, night=True)),
        "nurses": (Nurse("ana", Contract(), skills={"rn"}, units={"ward"}),),
        "cover": (CoverRequirement(0, "early", "ward", "rn", 1, under_weight=10, over_weight=1),),
    }
    values.update(changes)
    return RosterProblem(**values)  # type: ignore[arg-type]


def test_valid_problem_builds_and_answers_look_ups() -> None:
    problem = _problem(start_weekday=0)
    assert problem.nurse("ana").skills == frozenset({"rn"})
    assert problem.shift("night").night
    assert problem.night_shift_ids == ("night",)
    assert problem.weekends() == ((5, 6),)
    assert problem.cover_line(0, "early", "ward", "rn") is not None
    assert problem.cover_line(1, "early", "ward", "rn") is None


def test_weekends_follow_the_start_weekday() -> None:
    assert _problem(days=9, start_weekday=5).weekends() == ((0, 1), (7, 8))
    assert _problem(days=8, start_weekday=6).weekends() == ((0,), (6, 7))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ShiftType("early", 0), "shifts[early].length_minutes"),
        (lambda: ShiftType("early", 480, start_minute=1440), "shifts[early].start_minute"),
        (lambda: ShiftType("", 480), "ShiftType.shift_id"),
        (lambda: Contract(min_total_minutes=500, max_total_minutes=400), "contract.max_total_minutes"),
        (lambda: Contract(max_shifts={"night": -1}), "contract.max_shifts[night]"),
        (
            lambda: Contract(min_consecutive_shifts=4, max_consecutive_shifts=3),
            "contract.min_consecutive_shifts",
        ),
        (lambda: Contract(min_consecutive_days_off=0), "contract.min_consecutive_days_off"),
        (lambda: Contract(max_weekends=-1), "contract.max_weekends"),
        (lambda: Nurse("ana", Contract(), skills=set(), units={"ward"}), "nurses[ana].skills"),
        (lambda: Nurse("ana", Contract(), skills="rn", units={"ward"}), "nurses[ana].skills"),  # type: ignore[arg-type]
        (
            lambda: Nurse("ana", Contract(), skills={"rn"}, units={"ward"}, days_off={-1}),
            "nurses[ana].days_off",
        ),
        (lambda: ShiftRequest("ana", 0, "early", -2, True), "request[ana, day 0].weight"),
        (
            lambda: CoverRequirement(0, "early", "ward", "rn", 1, 10, 1, minimum_nurses=2),
            "cover[day 0, early, ward, rn].minimum_nurses",
        ),
        (lambda: CoverRequirement(0, "early", "ward", "rn", 1.5, 10, 1), "required_nurses"),  # type: ignore[arg-type]
        (lambda: AgencyOffer("rn", cost_per_shift=-1, max_nurses_per_shift=1), "agency[rn].cost_per_shift"),
    ],
)
def test_each_part_names_the_bad_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RosterInputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"days": 0}, "days"),
        ({"start_weekday": 7}, "start_weekday"),
        ({"shifts": ()}, "shifts"),
        ({"shifts": (ShiftType("early", 480), ShiftType("early", 600))}, "shifts: duplicate id 'early'"),
        ({"shifts": (ShiftType("early", 480, forbidden_next={"late"}),)}, r"shifts\[early\].forbidden_next"),
        (
            {"nurses": (Nurse("ana", Contract(max_shifts={"late": 1}), skills={"rn"}, units={"w"}),)},
            r"nurses\[ana\].contract.max_shifts: unknown shift 'late'",
        ),
        (
            {"nurses": (Nurse("ana", Contract(), skills={"rn"}, units={"w"}, leave_days={9}),)},
            r"nurses\[ana\].leave_days: day 9 is outside",
        ),
        (
            {"cover": (CoverRequirement(7, "early", "ward", "rn", 1, 10, 1),)},
            r"cover\[day 7, early, ward, rn\].day",
        ),
        (
            {"cover": (CoverRequirement(0, "late", "ward", "rn", 1, 10, 1),)},
            r"cover\[day 0, late, ward, rn\].shift_id",
        ),
        (
            {
                "cover": (
                    CoverRequirement(0, "early", "ward", "rn", 1, 10, 1),
                    CoverRequirement(0, "early", "ward", "rn", 2, 10, 1),
                )
            },
            "cover: duplicate id",
        ),
        ({"requests": (ShiftRequest("bob", 0, "early", 1, True),)}, r"request\[bob, day 0\].nurse_id"),
        ({"requests": (ShiftRequest("ana", 0, "late", 1, True),)}, r"request\[ana, day 0\].shift_id"),
        ({"requests": (ShiftRequest("ana", 8, None, 1, False),)}, r"request\[ana, day 8\].day"),
        ({"nurses": ("ana",)}, r"nurses\[0\]: must be a Nurse"),
    ],
)
def test_problem_checks_references(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RosterInputError, match=field):
        _problem(**changes)


def test_inputs_are_frozen() -> None:
    contract = Contract(max_shifts={"night": 2})
    with pytest.raises(AttributeError):
        contract.max_weekends = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        contract.max_shifts["night"] = 5  # type: ignore[index]
