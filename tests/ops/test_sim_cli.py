"""The what-if and queue-validation commands, as a user runs them (registered here on a bare Typer app)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from ops.sim import COMPARISON_SCHEMA
from ui.commands.validate import queue
from ui.commands.whatif import whatif

app = typer.Typer()
app.command("whatif")(whatif)
validate_app = typer.Typer()
validate_app.command("queue")(queue)
app.add_typer(validate_app, name="validate")
runner = CliRunner()


def test_whatif_prints_a_table_and_writes_csv_and_png(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "whatif",
            "ward_closure",
            "--replications",
            "2",
            "--days",
            "9",
            "--warm-up",
            "0",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Ward closure vs Baseline: 2 paired replications" in result.output
    assert "ed_four_hour_performance" in result.output
    comparison = pl.read_csv(tmp_path / "ward-closure_vs_baseline.csv", schema=COMPARISON_SCHEMA)
    assert "occupancy_MED-C" in comparison.get_column("metric").to_list()
    closed_ward = comparison.filter(pl.col("metric") == "occupancy_MED-C").row(0, named=True)
    assert closed_ward["replications"] == 2
    kpis = pl.read_csv(tmp_path / "ward-closure_vs_baseline_kpis.csv")
    assert set(kpis.get_column("scenario").to_list()) == {"Baseline", "Ward closure"}
    assert (tmp_path / "ward-closure_vs_baseline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_whatif_names_an_unknown_scenario(tmp_path: Path) -> None:
    result = runner.invoke(app, ["whatif", "no_such_scenario", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "no_such_scenario" in result.output


def test_validate_queue_prints_simulated_and_exact_figures_as_json() -> None:
    result = runner.invoke(
        app,
        [
            "validate",
            "queue",
            "--servers",
            "2",
            "--arrival-rate",
            "10",
            "--service-rate",
            "15",
            "--replications",
            "3",
            "--days",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"] == "M/M/c (Erlang C)"
    figures = report["figures"]
    assert figures["probability_of_waiting"]["exact"] == pytest.approx(1 / 6)
    assert figures["mean_wait_hours"]["exact"] == pytest.approx(1 / 120)
    assert figures["mean_busy_beds"]["simulated"] == pytest.approx(2 / 3, rel=0.1)
    assert set(figures["mean_wait_hours"]) == {"exact", "simulated", "ci_lower", "ci_upper", "within_ci"}


def test_validate_queue_with_loss_uses_erlang_b() -> None:
    result = runner.invoke(
        app,
        [
            "validate",
            "queue",
            "--servers",
            "2",
            "--arrival-rate",
            "10",
            "--service-rate",
            "5",
            "--loss",
            "--days",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["figures"]["blocking_probability"]["exact"] == pytest.approx(0.4)


def test_validate_queue_refuses_an_unstable_queue() -> None:
    result = runner.invoke(
        app, ["validate", "queue", "--servers", "1", "--arrival-rate", "10", "--service-rate", "5"]
    )
    assert result.exit_code != 0
    assert "no steady state" in result.output


@pytest.mark.slow
def test_ctrl_c_cancels_a_whatif_and_compares_what_finished(tmp_path: Path) -> None:
    code = (
        "import typer; from ui.commands.whatif import whatif; app = typer.Typer(); "
        "app.command()(whatif); app()"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "winter_surge",
            "--replications",
            "200",
            "--days",
            "14",
            "--warm-up",
            "0",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(8)  # imports, loading, then a few replications of 14 days
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "cancel" in output
