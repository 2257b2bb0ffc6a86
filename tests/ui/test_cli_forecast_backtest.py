"""``hospital-twin forecast backtest`` on a small synthetic store."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from ops.store import open_store
from patients.census.backtest import MODELS
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path
from ui.commands.forecast import backtest


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("backtest")(backtest)
    app.command("other")(lambda: None)  # two commands: typer keeps "backtest" as a sub-command
    return app


def test_backtest_prints_metrics_and_writes_a_report(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_path("baseline"))
    history = generate_history(scenario, date(2024, 10, 7), 24, seed=6)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        store.append_events(history.events.filter(pl.col("kind") != "observation"))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        _app(),
        [
            "backtest",
            "--database",
            url,
            "--origins",
            "2",
            "--horizon-days",
            "1",
            "--paths",
            "30",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary["metrics"]) == set(MODELS)
    for scores in summary["metrics"].values():
        assert {"mae", "rmse", "mase", "coverage_90", "pinball"} <= set(scores)
    assert len(summary["origins"]) == 2
    report = Path(summary["report"])
    assert report.is_file() and "| census_monte_carlo |" in report.read_text()
    for picture in ("mae-by-horizon.png", "fan-last-origin.png"):
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "metrics.json").read_text())["metrics"] == summary["metrics"]


def test_backtest_on_a_too_short_store_fails_clearly(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_path("baseline"))
    history = generate_history(scenario, date(2024, 10, 7), 5, seed=6, warm_up_days=0)
    url = f"sqlite:///{tmp_path / 'short.db'}"
    with open_store(url) as store:
        store.append_events(history.events.filter(pl.col("kind") != "observation"))
    result = CliRunner().invoke(_app(), ["backtest", "--database", url, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "too short" in result.output
