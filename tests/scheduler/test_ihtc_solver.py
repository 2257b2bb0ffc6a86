"""The IHTC-2024 solver: every answer is judged by the independent checker."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from scheduler.ihtc.checker import evaluate
from scheduler.ihtc.instance import load_instance, parse_instance
from scheduler.ihtc.solution import load_solution
from scheduler.ihtc.solver import SolveProgress, SolveStatus, solve
from tests.scheduler.test_ihtc_instance import tiny_instance_json


def test_tiny_ward_is_planned_feasibly() -> None:
    data = tiny_instance_json()
    data["operating_theaters"][1]["availability"] = [200, 200]
    instance = parse_instance(data, name="tiny")
    result = solve(instance, time_limit_s=2, workers=1, seed=1)
    evaluation = evaluate(instance, result.plan)
    assert evaluation == result.evaluation
    assert result.status is SolveStatus.FEASIBLE
    assert evaluation.feasible
    assert "p0" in result.plan.admission_by_patient


def test_unplaceable_mandatory_patient_is_reported() -> None:
    data = tiny_instance_json()
    data["surgeons"][0]["max_surgery_time"] = [0, 0]  # the surgeon never operates
    instance = parse_instance(data, name="tiny")
    result = solve(instance, time_limit_s=1, workers=1, seed=0)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.unplaceable == ("p0",)
    assert result.unscheduled_mandatory == ("p0",)
    assert result.evaluation.violations.mandatory_unscheduled == 1


def test_occupants_without_any_nurse_make_the_plan_infeasible() -> None:
    data = tiny_instance_json()
    data["nurses"] = []
    instance = parse_instance(data, name="tiny")
    result = solve(instance, time_limit_s=1, workers=1, seed=0)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.nurseless_shifts == ((0, "day"), (0, "night"))
    assert result.unplaceable == ("p0",)
    assert result.evaluation.violations.uncovered_room_shifts == 2


@pytest.mark.shared_data
@pytest.mark.slow
def test_test01_is_solved_feasibly_in_twenty_seconds(shared_data: Path, tmp_path: Path) -> None:
    instance = load_instance(shared_data / "ihtc2024" / "instances" / "test01.json")
    reports: list[SolveProgress] = []
    result = solve(instance, time_limit_s=20, workers=1, seed=7, progress=reports.append)
    assert result.status is SolveStatus.FEASIBLE
    assert result.seconds < 25
    evaluation = evaluate(instance, result.plan)
    assert evaluation.feasible, evaluation.violations.as_dict()
    assert evaluation.total_cost == result.total_cost
    assert evaluation.cost_by_term == result.cost_by_term
    # within 25 % of the reference solution (3177) even in 20 s on one worker
    assert result.total_cost <= 1.25 * 3177
    assert reports and reports[-1].best_total_cost == result.total_cost


@pytest.mark.shared_data
def test_cancel_returns_the_best_plan_so_far(shared_data: Path) -> None:
    instance = load_instance(shared_data / "ihtc2024" / "instances" / "test01.json")
    cancel = threading.Event()
    cancel.set()
    result = solve(instance, time_limit_s=60, workers=1, seed=0, cancel=cancel)
    assert result.seconds < 10
    assert evaluate(instance, result.plan) == result.evaluation


@pytest.mark.shared_data
def test_warm_start_from_the_reference_solution_never_gets_worse(shared_data: Path) -> None:
    folder = shared_data / "ihtc2024"
    instance = load_instance(folder / "instances" / "test02.json")
    reference = load_solution(folder / "solutions" / "sol_test02.json")
    result = solve(instance, time_limit_s=3, workers=1, seed=0, initial_plan=reference)
    assert result.evaluation.feasible
    assert result.total_cost <= evaluate(instance, reference).total_cost


@pytest.mark.shared_data
def test_bench_command_prints_the_checker_verdict(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui.commands.bench_ihtc import ihtc

    out = tmp_path / "sol_test01.json"
    ihtc(shared_data / "ihtc2024" / "instances" / "test01.json", time_limit=3, workers=1, out=out, seed=0)
    report = json.loads(capsys.readouterr().out)
    assert report["instance"] == "test01"
    assert set(report["cost_by_term"]) == {
        "age_mix",
        "skill_shortfall",
        "continuity_of_care",
        "excess_workload",
        "open_operating_theaters",
        "surgeon_transfers",
        "admission_delay_days",
        "unscheduled_optional",
    }
    assert report["total"] == sum(report["cost_by_term"].values())
    instance = load_instance(shared_data / "ihtc2024" / "instances" / "test01.json")
    evaluation = evaluate(instance, load_solution(out))
    assert evaluation.total_cost == report["total"]
    assert report["feasible"] == evaluation.feasible
    assert report["status"] in {status.value for status in SolveStatus}
