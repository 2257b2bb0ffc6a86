"""The what-if and queue-validation commands, as a user runs them (registered here on a bare Typer app)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

from ops.sim import COMPARISON_SCHEMA
from ops.store import open_store
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path
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
            "--cold",
            "--warm-up",
            "0",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cold start: an empty hospital with no warm-up (asked for)" in result.output
    assert "Ward closure vs Baseline: 2 paired replications" in result.output
    assert "ed_four_hour_performance" in result.output
    comparison = pl.read_csv(tmp_path / "ward-closure_vs_baseline.csv", schema=COMPARISON_SCHEMA)
    assert "occupancy_MED-C" in comparison.get_column("metric").to_list()
    closed_ward = comparison.filter(pl.col("metric") == "occupancy_MED-C").row(0, named=True)
    assert closed_ward["replications"] == 2
    kpis = pl.read_csv(tmp_path / "ward-closure_vs_baseline_kpis.csv")
    assert set(kpis.get_column("scenario").to_list()) == {"Baseline", "Ward closure"}
    assert (tmp_path / "ward-closure_vs_baseline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding 60 days of the baseline's ADT events (enough for the stay and arrival models)."""
    folder = tmp_path_factory.mktemp("whatif-store")
    url = f"sqlite:///{folder / 'store.db'}"
    history = generate_history(load_scenario(scenario_path("baseline")), date(2024, 10, 7), 60, seed=6)
    with open_store(url, results_dir=folder / "results") as store:
        store.append_events(history.events.filter(pl.col("kind") != "observation"))
    return url


def test_whatif_starts_from_the_twins_of_the_store(tmp_path: Path, store_url: str) -> None:
    arguments = ["whatif", "winter_surge", "--database", store_url, "--replications", "2", "--days", "2"]
    result = runner.invoke(app, [*arguments, "--workers", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    started = re.search(
        r"warm start from the twins at 2024-12-0[56] \d\d:\d\d UTC: (\d+) inpatients and (\d+) ED patients",
        result.output,
    )
    assert started is not None, result.output
    assert int(started.group(1)) > 300 and int(started.group(2)) > 0
    assert "arrivals forecast by service" in result.output
    kpis = pl.read_csv(tmp_path / "winter-surge_vs_baseline_kpis.csv")
    mean_inpatients = kpis.filter(pl.col("metric") == "mean_inpatients")["value"]
    # no warm-up, yet the hospital is full from the first hour: the twins are in their beds
    assert (mean_inpatients > 0.8 * int(started.group(1))).all()


def test_whatif_on_an_empty_store_starts_cold_with_a_warm_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(
        app,
        [
            *("whatif", "winter_surge", "--database", url, "--replications", "2", "--days", "1"),
            *("--warm-up-days", "3", "--workers", "1", "--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cold start: an empty hospital after a 3-day warm-up (the store holds no events)" in result.output
    # never an empty hospital with no warm-up, even when asked for 0 days without --cold
    zero = runner.invoke(
        app,
        [
            *("whatif", "winter_surge", "--database", url, "--replications", "2", "--days", "1"),
            *("--warm-up-days", "0", "--workers", "1", "--out", str(tmp_path)),
        ],
    )
    assert zero.exit_code == 0, zero.output
    assert "after a 1-day warm-up" in zero.output


def test_whatif_adds_replications_until_the_half_width_is_reached(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("whatif", "winter_surge", "--cold", "--warm-up", "0", "--replications", "3", "--days", "1"),
            *("--half-width", "ed_attendances=3%", "--max-replications", "40"),
            *("--workers", "1", "--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    used = re.search(r"precision: (\d+) replications \(target reached\)", result.output)
    assert used is not None, result.output
    count = int(used.group(1))
    assert 3 < count <= 40  # a day's attendances vary by about 6 %: three runs cannot pin them to 3 %
    assert f"Winter surge vs Baseline: {count} paired replications" in result.output
    kpis = pl.read_csv(tmp_path / "winter-surge_vs_baseline_kpis.csv")
    attendances = kpis.filter(pl.col("metric") == "ed_attendances")
    for _, values in attendances.group_by("scenario"):
        value = values["value"].to_numpy()
        half_width = stats.t.ppf(0.975, value.size - 1) * value.std(ddof=1) / np.sqrt(value.size)
        assert value.size == count and half_width <= 0.03 * value.mean()
    printed = re.findall(
        r"ed_attendances \[.*?\]: mean .*?half-width .*? \((\d+\.\d)% of the mean\)", result.output
    )
    assert len(printed) == 2 and all(float(share) <= 3.0 for share in printed)


def test_whatif_refuses_a_half_width_it_cannot_read(tmp_path: Path) -> None:
    for target in ("ed_attendances", "no_such_kpi=1", "ed_attendances=-2"):
        result = runner.invoke(
            app, ["whatif", "winter_surge", "--cold", "--half-width", target, "--out", str(tmp_path)]
        )
        assert result.exit_code != 0
        assert "--half-width" in result.output, result.output


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
            "--cold",
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
