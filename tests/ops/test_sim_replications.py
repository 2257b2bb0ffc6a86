"""Replications: seeds, confidence intervals, executors (serial, local pool, real Dask cluster), what-ifs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from scipy import stats

from ops.sim import (
    COMPARISON_SCHEMA,
    KPI_SCHEMA,
    SUMMARY_SCHEMA,
    Precision,
    compare_scenarios,
    confidence_intervals,
    paired_differences,
    replication_seed,
    run_replications,
)
from scenarios import Scenario, load_scenario, scenario_path

DAYS = 2


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def serial_runs(baseline: Scenario) -> pl.DataFrame:
    return run_replications(baseline, 3, horizon_days=DAYS, base_seed=42, executor="serial").kpis


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_replication_seeds_are_the_children_of_the_base_seed() -> None:
    children = np.random.SeedSequence(42).spawn(4)
    for r, child in enumerate(children):
        assert replication_seed(42, r).generate_state(4).tolist() == child.generate_state(4).tolist()
    assert replication_seed(42, 1).generate_state(1) != replication_seed(43, 1).generate_state(1)


def test_serial_runs_give_the_long_kpi_frame(serial_runs: pl.DataFrame) -> None:
    assert serial_runs.schema == pl.Schema(KPI_SCHEMA)
    assert serial_runs.get_column("replication").unique().sort().to_list() == [0, 1, 2]
    assert serial_runs.get_column("scenario").unique().to_list() == ["Baseline"]


def test_the_pool_gives_bit_identical_kpis(baseline: Scenario, serial_runs: pl.DataFrame) -> None:
    pooled = run_replications(baseline, 3, horizon_days=DAYS, base_seed=42, executor="pool", workers=2)
    assert pooled.executor == "pool"
    assert pooled.kpis.equals(serial_runs)


def test_a_dask_cluster_gives_bit_identical_kpis(
    baseline: Scenario, serial_runs: pl.DataFrame, dask_address: str
) -> None:
    on_dask = run_replications(baseline, 3, horizon_days=DAYS, base_seed=42, cluster=dask_address)
    assert on_dask.executor == "dask"
    assert on_dask.kpis.equals(serial_runs)


def test_dask_runs_can_be_cancelled(baseline: Scenario, dask_address: str) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, planned: int) -> None:
        seen.append(done)
        cancel.set()  # stop after the first finished replication

    result = run_replications(
        baseline, 6, horizon_days=DAYS, cluster=dask_address, progress=progress, cancel=cancel
    )
    assert result.cancelled
    assert result.replications == 1  # nothing is collected once cancelled
    assert seen == [1]


def test_confidence_intervals_are_t_intervals() -> None:
    values = [3.0, 5.0, 4.0, 6.0]
    kpis = pl.DataFrame(
        {
            "replication": [0, 1, 2, 3, 0, 1, 2, 3],
            "scenario": ["a"] * 8,
            "metric": ["x"] * 4 + ["y"] * 4,
            "value": [*values, 1.0, float("nan"), 1.0, 1.0],
        },
        schema=KPI_SCHEMA,
    )
    summary = confidence_intervals(kpis)
    assert summary.schema == pl.Schema(SUMMARY_SCHEMA)
    x = summary.filter(pl.col("metric") == "x").row(0, named=True)
    expected = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert x["mean"] == pytest.approx(4.5)
    assert x["half_width"] == pytest.approx(expected)
    assert x["lower"] == pytest.approx(4.5 - expected)
    y = summary.filter(pl.col("metric") == "y").row(0, named=True)
    assert y["replications"] == 3  # the NaN replication is left out
    assert y["half_width"] == 0.0


def test_progress_is_reported_and_serial_runs_can_be_cancelled(baseline: Scenario) -> None:
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, planned: int) -> None:
        seen.append((done, planned))
        if done == 2:
            cancel.set()

    result = run_replications(
        baseline, 5, horizon_days=1, executor="serial", progress=progress, cancel=cancel
    )
    assert seen == [(1, 5), (2, 5)]
    assert result.cancelled and result.replications == 2


def test_replications_are_added_until_the_interval_is_narrow_enough(baseline: Scenario) -> None:
    precision = Precision(
        metrics=("ed_attendances",), relative_half_width=0.04, min_replications=3, max_replications=30
    )
    result = run_replications(baseline, horizon_days=1, executor="serial", precision=precision)
    row = result.summary.filter(pl.col("metric") == "ed_attendances").row(0, named=True)
    assert result.precise
    assert result.replications > 3
    assert row["half_width"] <= 0.04 * row["mean"]


def test_paired_differences_by_hand() -> None:
    kpis = pl.DataFrame(
        {
            "replication": [0, 1, 2, 0, 1, 2],
            "scenario": ["base"] * 3 + ["what-if"] * 3,
            "metric": ["waits"] * 6,
            "value": [10.0, 20.0, 30.0, 12.0, 21.0, 33.0],
        },
        schema=KPI_SCHEMA,
    )
    comparison = paired_differences(kpis, "what-if", "base")
    assert comparison.schema == pl.Schema(COMPARISON_SCHEMA)
    row = comparison.row(0, named=True)
    differences = np.array([2.0, 1.0, 3.0])
    half_width = stats.t.ppf(0.975, 2) * differences.std(ddof=1) / np.sqrt(3)
    assert row["difference"] == pytest.approx(2.0)
    assert row["half_width"] == pytest.approx(half_width)
    assert row["relative_difference"] == pytest.approx(0.1)
    assert not row["significant"]  # 2 ± 2.48: the interval contains zero


def test_a_scenario_compared_with_itself_differs_by_exactly_nothing(baseline: Scenario) -> None:
    """Common random numbers: the same hospital with the same seeds gives the same runs."""
    result = compare_scenarios(baseline, baseline, 3, horizon_days=DAYS, executor="serial")
    assert result.against == "Baseline (baseline)"
    assert (result.comparison.get_column("difference").abs().max() or 0.0) == 0.0
    assert not result.comparison.get_column("significant").any()


def test_a_surge_is_detected_with_few_paired_replications(baseline: Scenario) -> None:
    surge = load_scenario(scenario_path("winter_surge"))
    result = compare_scenarios(surge, baseline, 4, horizon_days=10, executor="serial")
    for metric in ("ed_attendances", "ed_admissions", "mean_inpatients"):
        row = result.comparison.filter(pl.col("metric") == metric).row(0, named=True)
        assert row["significant"] and row["difference"] > 0, row
    # the surge leaves the elective lists alone: same cases, same durations
    row = result.comparison.filter(pl.col("metric") == "elective_operations").row(0, named=True)
    assert row["against_mean"] > 0
    headline = result.headline().get_column("metric").to_list()
    assert headline[0] == "ed_attendances"
    assert not any(metric.startswith("occupancy_") for metric in headline)
