"""What-if comparison: a scenario against a baseline with the same random numbers, KPI by KPI.

Both scenarios run replication ``r`` with the same seed, so they see the same attendances, patients and
durations; the difference of a KPI is taken within each replication and its t confidence interval comes from
those paired differences. Pairing removes most of the noise both runs share, so a real change shows up with
far fewer replications than comparing two independent sets of runs would need.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from ops.sim.kpis import METRICS, metric_info
from ops.sim.replications import Executor, Precision, ProgressCallback, run_replications
from ops.sim.state import SimulationOptions, StartState
from scenarios.schema import Scenario

COMPARISON_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "replications": pl.Int64(),
    "against_mean": pl.Float64(),
    "scenario_mean": pl.Float64(),
    "difference": pl.Float64(),
    "half_width": pl.Float64(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "relative_difference": pl.Float64(),
    "significant": pl.Boolean(),
    "lower_is_better": pl.Boolean(),
}
"""Paired comparison of every KPI: scenario minus the one it is compared against, with the t interval of the
mean paired difference; ``relative_difference`` divides by the baseline mean; ``significant`` when the
interval excludes zero."""


def paired_differences(kpis: pl.DataFrame, scenario: str, against: str, level: float = 0.95) -> pl.DataFrame:
    """Compare two scenarios of a long KPI frame replication by replication (``COMPARISON_SCHEMA``).

    Parameters
    ----------
    kpis
        Long KPI frame holding both scenarios, run with common random numbers.
    scenario, against
        Labels of the what-if and of the scenario it is compared against.
    level
        Confidence level.
    """
    usable = pl.col("value").is_not_null() & pl.col("value").is_not_nan()
    base = kpis.filter((pl.col("scenario") == against) & usable).select(
        "replication", "metric", pl.col("value").alias("against")
    )
    what_if = kpis.filter((pl.col("scenario") == scenario) & usable).select(
        "replication", "metric", pl.col("value").alias("what_if")
    )
    if base.height == 0 or what_if.height == 0:
        missing = against if base.height == 0 else scenario
        raise ValueError(f"no KPIs for scenario '{missing}' in the frame")
    paired = base.join(what_if, on=["replication", "metric"], how="inner", maintain_order="left")
    grouped = (
        paired.with_columns((pl.col("what_if") - pl.col("against")).alias("difference"))
        .group_by("metric", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("replications"),
            pl.col("against").mean().alias("against_mean"),
            pl.col("what_if").mean().alias("scenario_mean"),
            pl.col("difference").mean().alias("difference"),
            pl.col("difference").std(ddof=1).alias("std"),
        )
    )
    count = grouped.get_column("replications").to_numpy()
    std = grouped.get_column("std").fill_null(np.nan).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = np.where(count >= 2, stats.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1)), np.nan)
        half_width = quantile * std / np.sqrt(count)
    metrics = grouped.get_column("metric").to_list()
    return (
        grouped.with_columns(
            pl.Series("half_width", half_width, dtype=pl.Float64),
            pl.Series("lower_is_better", [metric_info(m).lower_is_better for m in metrics], dtype=pl.Boolean),
        )
        .with_columns(
            (pl.col("difference") - pl.col("half_width")).alias("lower"),
            (pl.col("difference") + pl.col("half_width")).alias("upper"),
            pl.when(pl.col("against_mean") != 0)
            .then(pl.col("difference") / pl.col("against_mean").abs())
            .otherwise(None)
            .alias("relative_difference"),
        )
        .with_columns(((pl.col("lower") > 0) | (pl.col("upper") < 0)).fill_null(False).alias("significant"))
        .select(list(COMPARISON_SCHEMA))
        .cast(COMPARISON_SCHEMA)  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class WhatIfComparison:
    """A what-if against a baseline: the KPIs of every run and their paired comparison."""

    scenario: str
    against: str
    kpis: pl.DataFrame
    comparison: pl.DataFrame
    replications: int
    executor: str
    elapsed_seconds: float
    cancelled: bool = False
    precise: bool | None = None
    """Whether a :class:`~ops.sim.replications.Precision` target was reached (None when none was asked)."""

    def headline(self) -> pl.DataFrame:
        """The comparison of the hospital-wide KPIs (per-unit occupancy left out), in a stable order."""
        order = {metric: i for i, metric in enumerate(METRICS)}
        return (
            self.comparison.filter(pl.col("metric").is_in(list(METRICS)))
            .with_columns(pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
            .sort("_order")
            .drop("_order")
        )


def compare_scenarios(
    scenario: Scenario,
    against: Scenario,
    replications: int = 10,
    *,
    horizon_days: int | None = None,
    base_seed: int = 0,
    start: StartState | None = None,
    options: SimulationOptions | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    precision: Precision | None = None,
    level: float = 0.95,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> WhatIfComparison:
    """Run a what-if and its baseline with common random numbers and compare every KPI.

    Parameters are those of :func:`~ops.sim.replications.run_replications`; ``horizon_days`` defaults to the
    what-if's own horizon so both scenarios cover the same days.

    Examples
    --------
    >>> from scenarios import load_scenario, scenario_path
    >>> surge = load_scenario(scenario_path("winter_surge"))
    >>> baseline = load_scenario(scenario_path("baseline"))
    >>> result = compare_scenarios(surge, baseline, 2, horizon_days=2, executor="serial")
    >>> "ed_attendances" in result.comparison.get_column("metric").to_list()
    True
    """
    what_if_label = scenario.name
    against_label = against.name if against.name != scenario.name else f"{against.name} (baseline)"
    run = run_replications(
        [against, scenario],
        replications,
        horizon_days=horizon_days if horizon_days is not None else scenario.horizon_days,
        base_seed=base_seed,
        start=start,
        options=options,
        labels=[against_label, what_if_label],
        executor=executor,
        workers=workers,
        cluster=cluster,
        precision=precision,
        level=level,
        progress=progress,
        cancel=cancel,
    )
    comparison = (
        paired_differences(run.kpis, what_if_label, against_label, level)
        if run.replications > 0
        else pl.DataFrame(schema=COMPARISON_SCHEMA)
    )
    return WhatIfComparison(
        scenario=what_if_label,
        against=against_label,
        kpis=run.kpis,
        comparison=comparison,
        replications=run.replications,
        executor=run.executor,
        elapsed_seconds=run.elapsed_seconds,
        cancelled=run.cancelled,
        precise=run.precise,
    )
