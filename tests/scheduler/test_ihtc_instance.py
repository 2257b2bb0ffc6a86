"""Reading IHTC-2024 instances and solutions, and the checker on a tiny hand-made ward."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.ihtc.checker import evaluate
from scheduler.ihtc.instance import InstanceError, load_instance, parse_instance
from scheduler.ihtc.solution import (
    AdmissionPlan,
    NurseShiftAssignment,
    SolutionError,
    load_solution,
    parse_solution,
    plan_to_json,
    write_solution,
)


def tiny_instance_json() -> dict[str, Any]:
    """Two days, two shifts, one room of two beds, one occupant, two waiting patients, two nurses."""
    return {
        "days": 2,
        "skill_levels": 3,
        "shift_types": ["day", "night"],
        "age_groups": ["young", "adult", "old"],
        "weights": {
            "room_mixed_age": 2,
            "room_nurse_skill": 3,
            "continuity_of_care": 5,
            "nurse_eccessive_workload": 7,
            "open_operating_theater": 11,
            "surgeon_transfer": 13,
            "patient_delay": 17,
            "unscheduled_optional": 19,
        },
        "occupants": [
            {
                "id": "a0",
                "gender": "A",
                "age_group": "young",
                "length_of_stay": 1,
                "workload_produced": [4, 1],
                "skill_level_required": [2, 0],
                "room_id": "r0",
            }
        ],
        "patients": [
            {
                "id": "p0",
                "mandatory": True,
                "gender": "A",
                "age_group": "old",
                "length_of_stay": 3,
                "surgery_release_day": 0,
                "surgery_due_day": 1,
                "surgery_duration": 100,
                "surgeon_id": "s0",
                "incompatible_room_ids": [],
                "workload_produced": [2, 3, 1, 1, 1, 1],
                "skill_level_required": [1, 1, 2, 0, 0, 0],
            },
            {
                "id": "p1",
                "mandatory": False,
                "gender": "B",
                "age_group": "adult",
                "length_of_stay": 1,
                "surgery_release_day": 0,
                "surgery_duration": 50,
                "surgeon_id": "s0",
                "incompatible_room_ids": None,
                "workload_produced": [1, 1],
                "skill_level_required": [0, 0],
            },
        ],
        "surgeons": [{"id": "s0", "max_surgery_time": [120, 120]}],
        "operating_theaters": [
            {"id": "t0", "availability": [200, 200]},
            {"id": "t1", "availability": [200, 0]},
        ],
        "rooms": [{"id": "r0", "capacity": 2}, {"id": "r1", "capacity": 1}],
        "nurses": [
            {
                "id": "n0",
                "skill_level": 1,
                "working_shifts": [
                    {"day": 0, "shift": "day", "max_load": 5},
                    {"day": 1, "shift": "day", "max_load": 5},
                ],
            },
            {
                "id": "n1",
                "skill_level": 0,
                "working_shifts": [
                    {"day": 0, "shift": "night", "max_load": 2},
                    {"day": 1, "shift": "night", "max_load": 2},
                    {"day": 0, "shift": "day", "max_load": 9},
                ],
            },
        ],
    }


def test_tiny_instance_is_read_into_typed_records() -> None:
    instance = parse_instance(tiny_instance_json(), name="tiny")
    assert instance.days == 2 and instance.shift_types == ("day", "night")
    assert instance.weights.nurse_excessive_workload == 7
    assert instance.patients[1].surgery_due_day is None
    assert instance.patients[1].incompatible_room_ids == ()
    assert instance.nurses[1].working_shifts[2].max_load == 9


def test_checker_counts_every_soft_term_by_hand() -> None:
    instance = parse_instance(tiny_instance_json(), name="tiny")
    plan = parse_solution(
        {
            "patients": [
                {"id": "p0", "admission_day": 0, "room": "r0", "operating_theater": "t0"},
                {"id": "p1", "admission_day": 1, "room": "r1", "operating_theater": "t1"},
            ],
            "nurses": [
                {
                    "id": "n0",
                    "assignments": [
                        {"day": 0, "shift": "day", "rooms": ["r0"]},
                        {"day": 1, "shift": "day", "rooms": ["r0", "r1"]},
                    ],
                },
                {
                    "id": "n1",
                    "assignments": [
                        {"day": 0, "shift": "night", "rooms": ["r0"]},
                        {"day": 1, "shift": "night", "rooms": ["r0", "r1"]},
                    ],
                },
            ],
        }
    )
    evaluation = evaluate(instance, plan)
    # p1 is operated on day 1 in t1, which is closed that day: 50 minutes of theater overtime; p0 and p1 on
    # different days keep the surgeon within 120 minutes.
    assert evaluation.violations.as_dict() == {
        "gender_mix": 0,
        "room_compatibility": 0,
        "surgeon_overtime_minutes": 0,
        "theater_overtime_minutes": 50,
        "mandatory_unscheduled": 0,
        "admission_window": 0,
        "room_capacity": 0,
        "nurse_presence": 0,
        "uncovered_room_shifts": 0,
    }
    raw = evaluation.raw_costs
    # r0 day 0 holds a0 (young=0) and p0 (old=2): spread 2; day 1 only p0; r1 day 1 only p1.
    assert raw.age_mix == 2
    # r0 d0 day (n0, skill 1): a0 needs 2 -> 1, p0 needs 1 -> 0; r0 d0 night (n1, skill 0): a0 0, p0 1 -> 1;
    # r0 d1 day (n0): p0 needs 2 -> 1; r0 d1 night (n1): p0 0; r1 d1 (p1 needs 0) -> 0. Total 3.
    assert raw.skill_shortfall == 3
    # a0 sees n0, n1 (2); p0 sees n0, n1 over days 0-1 (2); p1 sees n0, n1 (2).
    assert raw.continuity_of_care == 6
    # n0 d0 day: 4 + 2 = 6 > 5 -> 1; n1 d0 night: 1 + 3 = 4 > 2 -> 2;
    # n0 d1 day: 1 (p0) + 1 (p1) = 2 <= 5; n1 d1 night: 1 + 1 = 2 <= 2. Total 3.
    assert raw.excess_workload == 3
    assert raw.open_operating_theaters == 2
    assert raw.surgeon_transfers == 0
    assert raw.admission_delay_days == 1
    assert raw.unscheduled_optional == 0
    assert evaluation.cost_by_term == {
        "age_mix": 2 * 2,
        "skill_shortfall": 3 * 3,
        "continuity_of_care": 5 * 6,
        "excess_workload": 7 * 3,
        "open_operating_theaters": 11 * 2,
        "surgeon_transfers": 0,
        "admission_delay_days": 17 * 1,
        "unscheduled_optional": 0,
    }
    assert evaluation.total_cost == 4 + 9 + 30 + 21 + 22 + 17
    assert not evaluation.feasible


def test_surgeon_transfer_and_last_nurse_read_wins() -> None:
    instance = parse_instance(tiny_instance_json(), name="tiny")
    plan = parse_solution(
        {
            "patients": [
                {"id": "p0", "admission_day": 0, "room": "r0", "operating_theater": "t0"},
                {"id": "p1", "admission_day": 0, "room": "r1", "operating_theater": "t1"},
            ],
            "nurses": [
                {"id": "n0", "assignments": [{"day": 0, "shift": "day", "rooms": ["r0", "r1"]}]},
                {
                    "id": "n1",
                    "assignments": [
                        {"day": 0, "shift": "day", "rooms": ["r0"]},
                        {"day": 0, "shift": "night", "rooms": ["r0", "r1"]},
                        {"day": 1, "shift": "night", "rooms": ["r0"]},
                    ],
                },
            ],
        }
    )
    evaluation = evaluate(instance, plan)
    # 150 minutes for a surgeon allowed 120; two theaters used by s0 on day 0: one transfer.
    assert evaluation.violations.surgeon_overtime_minutes == 30
    assert evaluation.raw_costs.surgeon_transfers == 1
    # r0 day 1 day-shift is covered by nobody (p0 stays): one uncovered room-shift.
    assert evaluation.violations.uncovered_room_shifts == 1
    # r0 d0 day is covered twice; n1 (read last, skill 0) is "the" nurse: a0 needs 2, p0 needs 1 -> 3,
    # r1 d0 day (n0, skill 1): p1 needs 0; nights (n1, skill 0): a0 0, p0 1, p0 d1 0, p1 0 -> 1. Total 4.
    assert evaluation.raw_costs.skill_shortfall == 4
    # both nurses carry r0's day load (4 + 2): n0 6 + 1 (r1) = 7 > 5 -> 2, n1 (max 9) 6 -> 0;
    # nights: n1 d0 1 + 3 + 1 = 5 > 2 -> 3, n1 d1 1 -> 0. Total 5.
    assert evaluation.raw_costs.excess_workload == 5


@pytest.mark.parametrize(
    ("change", "json_path", "message"),
    [
        (lambda d: d.pop("days"), "$.days", "is missing"),
        (lambda d: d.update(rooms_typo=[]), "$.rooms_typo", "unknown key"),
        (
            lambda d: d["patients"][1].update(surgeon_id="s9"),
            "$.patients[1].surgeon_id",
            "unknown surgeon 's9'",
        ),
        (
            lambda d: d["patients"][0].update(length_of_stay="3"),
            "$.patients[0].length_of_stay",
            "expected an integer",
        ),
        (lambda d: d["patients"][0].pop("surgery_due_day"), "$.patients[0].surgery_due_day", "required"),
        (
            lambda d: d["patients"][0]["workload_produced"].pop(),
            "$.patients[0].workload_produced",
            "has 5 entries, expected 6",
        ),
        (lambda d: d["occupants"][0].update(room_id="r7"), "$.occupants[0].room_id", "unknown room 'r7'"),
        (lambda d: d["rooms"][1].update(capacity=0), "$.rooms[1].capacity", "must be >= 1"),
        (
            lambda d: d["nurses"][0]["working_shifts"][1].update(shift="evening"),
            "$.nurses[0].working_shifts[1].shift",
            "unknown shift 'evening'",
        ),
        (
            lambda d: d["surgeons"][0]["max_surgery_time"].append(5),
            "$.surgeons[0].max_surgery_time",
            "one per day",
        ),
        (
            lambda d: d["weights"].pop("nurse_eccessive_workload"),
            "$.weights.nurse_eccessive_workload",
            "missing",
        ),
        (lambda d: d["patients"][1].update(id="a0"), "$.patients[1].id", "used twice"),
        (
            lambda d: d["patients"][0]["skill_level_required"].__setitem__(2, 3),
            "$.patients[0].skill_level_required[2]",
            "not below skill_levels",
        ),
    ],
)
def test_bad_instance_names_the_json_path(change: Any, json_path: str, message: str) -> None:
    data = copy.deepcopy(tiny_instance_json())
    change(data)
    with pytest.raises(InstanceError, match=message) as caught:
        parse_instance(data, source="tiny.json")
    assert caught.value.json_path == json_path
    assert str(caught.value).startswith(f"tiny.json: {json_path}: ")


def test_load_instance_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    data = tiny_instance_json()
    data["rooms"][0]["capacity"] = "two"
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceError, match=r"^broken\.json: \$\.rooms\[0\]\.capacity: expected an integer"):
        load_instance(path)


def test_solution_round_trip_and_errors(tmp_path: Path) -> None:
    instance = parse_instance(tiny_instance_json(), name="tiny")
    plan = parse_solution(
        {
            "patients": [{"id": "p0", "admission_day": 1, "room": "r0", "operating_theater": "t0"}],
            "nurses": [{"id": "n1", "assignments": [{"day": 1, "shift": "night", "rooms": ["r0"]}]}],
            "costs": ["ignored"],
        }
    )
    path = write_solution(plan, tmp_path / "sol.json", instance)
    document = json.loads(path.read_text())
    assert document["patients"][1] == {"id": "p1", "admission_day": "none"}
    assert [n["id"] for n in document["nurses"]] == ["n0", "n1"]
    again = load_solution(path)
    assert again.admissions == plan.admissions
    assert again.nurse_assignments == plan.nurse_assignments
    assert plan_to_json(again, instance) == document
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    with pytest.raises(SolutionError, match=r"\$\.patients\[1\]\.id: patient 'p0' is listed twice"):
        parse_solution(
            {
                "patients": [
                    {"id": "p0", "admission_day": 1, "room": "r0", "operating_theater": "t0"},
                    {"id": "p0", "admission_day": 0, "room": "r0", "operating_theater": "t0"},
                ]
            }
        )
    with pytest.raises(SolutionError, match=r"admission_day: expected a day number"):
        parse_solution({"patients": [{"id": "p0", "admission_day": "soon"}]})
    with pytest.raises(SolutionError, match="unknown nurse 'n9'"):
        evaluate(instance, AdmissionPlan((), (NurseShiftAssignment("n9", 0, "day", ("r0",)),)))
