"""The Curtois benchmark command prints checker-verified JSON; solve_curtois runs either method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scheduler.roster.curtois import read_curtois, solve_curtois
from scheduler.roster.lns import ALL_NEIGHBOURHOODS, FINAL_SHARE, WHOLE_MODEL_RECORD
from ui.commands.bench_curtois import curtois


def _instance(shared_data: Path, number: int) -> Path:
    return shared_data / "rostering" / "curtois" / f"Instance{number}.txt"


@pytest.mark.shared_data
def test_command_prints_json_with_the_checker_objective(shared_data: Path) -> None:
    app = typer.Typer()
    app.command()(curtois)
    result = CliRunner().invoke(
        app, [str(_instance(shared_data, 1)), "--time-limit", "20", "--workers", "2", "--seed", "0"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["instance"] == "Instance1"
    assert report["feasible"] is True
    assert report["objective"] == 607
    assert report["best_known"] == 607
    assert report["status"] == "optimal"
    assert report["bound"] == pytest.approx(607)
    assert report["seconds"] < 20
    assert report["gap_to_best_known"] == 0
    assert sum(report["objective_terms"].values()) == report["objective"]
    assert report["neighbourhoods"] == list(ALL_NEIGHBOURHOODS)
    assert report["neighbourhood_searches"] == {}  # Instance1 is solved by plain CP-SAT
    assert report["neighbourhood_seconds"] == 2.0 and report["neighbourhood_seconds_reached"] is None
    assert report["final_share"] == FINAL_SHARE and report["final_search_started"] is None


def test_command_rejects_a_missing_file(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(curtois)
    result = CliRunner().invoke(app, [str(tmp_path / "nope.txt")])
    assert result.exit_code != 0


@pytest.mark.shared_data
def test_lns_with_two_kinds_of_neighbourhood_on_instance1(shared_data: Path) -> None:
    result = solve_curtois(
        read_curtois(_instance(shared_data, 1)),
        time_limit_seconds=6,
        workers=2,
        seed=0,
        method="lns",
        neighbourhoods=("days", "weekends"),
        neighbourhood_seconds=0.5,
        max_neighbourhood_seconds=1.0,
    )
    assert result.feasible
    assert result.objective is not None and result.objective >= 607
    assert result.objective == result.solution.objective
    assert set(result.solution.neighbourhoods) == {"days", "weekends"}
    reached = result.solution.neighbourhood_seconds
    assert reached is not None and 0.5 <= reached <= 1.0


def test_command_names_an_unknown_kind_of_neighbourhood(tmp_path: Path) -> None:
    from tests.scheduler.test_curtois_reader import TINY

    path = tmp_path / "Instance0.txt"
    path.write_text(TINY, encoding="utf-8")
    app = typer.Typer()
    app.command()(curtois)
    result = CliRunner().invoke(app, [str(path), "--neighbourhoods", "days,swap"])
    assert result.exit_code == 2
    assert "swap" in result.output and "shift_types" in result.output


@pytest.mark.shared_data
def test_lns_searches_every_kind_of_neighbourhood_by_default_on_instance1(shared_data: Path) -> None:
    result = solve_curtois(
        read_curtois(_instance(shared_data, 1)),
        time_limit_seconds=6,
        workers=2,
        seed=0,
        method="lns",
    )
    assert result.feasible
    assert result.objective is not None and result.objective >= 607
    assert result.objective == result.solution.objective
    records = result.solution.neighbourhoods
    assert set(records) == set(ALL_NEIGHBOURHOODS)
    assert sum(record.searches for record in records.values()) > len(ALL_NEIGHBOURHOODS)
    for record in records.values():
        assert record.proved <= record.searches and record.improvements <= record.searches


def test_unknown_method_is_rejected(tmp_path: Path) -> None:
    from tests.scheduler.test_curtois_reader import TINY

    path = tmp_path / "Instance0.txt"
    path.write_text(TINY, encoding="utf-8")
    with pytest.raises(ValueError, match="method"):
        solve_curtois(read_curtois(path), time_limit_seconds=1, workers=1, method="simplex")


@pytest.mark.shared_data
def test_the_lns_final_search_of_the_whole_model_on_instance1(shared_data: Path) -> None:
    # Instance1's best known (607) is its optimum: plain CP-SAT proves it (test above)
    result = solve_curtois(
        read_curtois(_instance(shared_data, 1)),
        time_limit_seconds=20,
        workers=2,
        seed=0,
        method="lns",
        neighbourhood_seconds=0.5,
        final_share=0.5,
    )
    solution = result.solution
    assert result.feasible and result.objective == solution.objective
    started = solution.final_search_started
    assert started is not None and started <= 10 + 1
    assert solution.neighbourhoods[WHOLE_MODEL_RECORD].searches == 1
    assert 0 < solution.bound <= 607 <= result.objective
