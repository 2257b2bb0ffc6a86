"""Monte Carlo replications of the hospital model: serially, in a local process pool, or on a Dask cluster.

Replication ``r`` of every scenario uses the seed ``SeedSequence(base_seed, spawn_key=(r,))``: the r-th child
of ``SeedSequence(base_seed)``, the same for every scenario (common random numbers) and whatever the number
of replications, worker or machine. A run is a pure function of its seed, so the same base seed gives
bit-identical KPIs serially, in the pool and on Dask.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from ops.sim.kpis import KPI_SCHEMA, kpi_frame
from ops.sim.model import simulate
from ops.sim.state import SimulationOptions, StartState
from scenarios.schema import Scenario

Executor = Literal["serial", "pool", "dask"]
ProgressCallback = Callable[[int, int], None]
"""Called with (replications done, replications planned) after each finished run."""

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "scenario": pl.String(),
    "metric": pl.String(),
    "replications": pl.Int64(),
    "mean": pl.Float64(),
    "std": pl.Float64(),
    "half_width": pl.Float64(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
}
"""Mean of each KPI over the replications with its t confidence interval (``half_width`` is NaN with fewer
than two replications). Replications where a KPI is undefined (NaN) are left out of its interval."""

_POLL_SECONDS = 0.1


def replication_seed(base_seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of replication ``replication``: the r-th child of ``SeedSequence(base_seed)``.

    Examples
    --------
    >>> children = np.random.SeedSequence(3).spawn(5)
    >>> replication_seed(3, 4).generate_state(2).tolist() == children[4].generate_state(2).tolist()
    True
    """
    if replication < 0:
        raise ValueError(f"replication must be >= 0, got {replication}")
    return np.random.SeedSequence(entropy=base_seed, spawn_key=(replication,))


def run_replication(
    scenario: Scenario,
    replication: int,
    base_seed: int = 0,
    horizon_days: int | None = None,
    start: StartState | None = None,
    options: SimulationOptions | None = None,
    label: str | None = None,
) -> pl.DataFrame:
    """One replication: simulate with the replication's seed and return its long KPI frame."""
    result = simulate(scenario, start, replication_seed(base_seed, replication), horizon_days, options)
    return kpi_frame(result, replication=replication, scenario=label)


@dataclass(frozen=True)
class Precision:
    """Keep adding replications until the confidence intervals of some KPIs are narrow enough.

    A KPI is precise when its half-width is at most ``absolute_half_width`` or at most
    ``relative_half_width`` times the absolute value of its mean (either suffices when both are given).

    Parameters
    ----------
    metrics
        KPIs that must be precise (in every scenario).
    relative_half_width
        Target half-width relative to the mean, e.g. 0.05 for ±5 %.
    absolute_half_width
        Target half-width in the KPI's own unit.
    min_replications, max_replications
        Replications to start with, and the most to run.
    targets
        Per-metric targets ``metric -> (absolute, relative)`` that replace the two above for that metric
        (either may be ``None``); metrics listed here need not be in ``metrics``.

    Examples
    --------
    >>> Precision(("ed_mean_wait_hours",), None, 0.1).target("ed_mean_wait_hours")
    (0.1, None)
    >>> Precision((), targets={"theatre_utilisation": (None, 0.02)}).metrics
    ('theatre_utilisation',)
    """

    metrics: tuple[str, ...]
    relative_half_width: float | None = 0.05
    absolute_half_width: float | None = None
    min_replications: int = 5
    max_replications: int = 100
    targets: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        listed = tuple(dict.fromkeys((*self.metrics, *self.targets)))
        object.__setattr__(self, "metrics", listed)
        object.__setattr__(self, "targets", dict(self.targets))
        if not self.metrics:
            raise ValueError("Precision needs at least one metric")
        for metric in self.metrics:
            absolute, relative = self.target(metric)
            if absolute is None and relative is None:
                raise ValueError(f"give {metric} a relative half-width, an absolute half-width or both")
            for value in (absolute, relative):
                if value is not None and not value > 0:
                    raise ValueError(f"half-width targets must be positive, got {value} for {metric}")
        if not 2 <= self.min_replications <= self.max_replications:
            raise ValueError("need 2 <= min_replications <= max_replications")

    def target(self, metric: str) -> tuple[float | None, float | None]:
        """The (absolute, relative) half-width asked for a metric."""
        return self.targets.get(metric, (self.absolute_half_width, self.relative_half_width))

    def reached(self, summary: pl.DataFrame) -> bool:
        """Whether every target KPI of every scenario is precise enough in ``summary``."""
        rows = summary.filter(pl.col("metric").is_in(list(self.metrics)))
        if rows.height == 0:
            return False
        return all(
            self._precise(metric, mean, half_width)
            for metric, mean, half_width in rows.select("metric", "mean", "half_width").iter_rows()
        )

    def _precise(self, metric: str, mean: float | None, half_width: float | None) -> bool:
        if mean is None or half_width is None or math.isnan(half_width):
            return False
        absolute, relative = self.target(metric)
        if absolute is not None and half_width <= absolute:
            return True
        return relative is not None and half_width <= relative * abs(mean)

    def more_needed(self, summary: pl.DataFrame, done: int) -> int:
        """Replications to add, estimated from how far the widest interval is from its target."""
        ratio = 1.0
        rows = summary.filter(pl.col("metric").is_in(list(self.metrics)))
        for metric, mean, half_width in rows.select("metric", "mean", "half_width").iter_rows():
            if mean is None or half_width is None or math.isnan(half_width):
                continue
            absolute, relative = self.target(metric)
            targets = []
            if absolute is not None:
                targets.append(absolute)
            if relative is not None and mean != 0:
                targets.append(relative * abs(mean))
            target = max(targets, default=0.0)
            if target > 0:
                ratio = max(ratio, (half_width / target) ** 2)
        wanted = math.ceil(done * ratio) - done
        return max(1, min(wanted, self.max_replications - done))


@dataclass(frozen=True)
class ReplicationResult:
    """Replications of one or more scenarios."""

    kpis: pl.DataFrame
    """Long KPI frame (``KPI_SCHEMA``), sorted by scenario (in the order given), replication and metric."""
    summary: pl.DataFrame
    """Means and t confidence intervals (``SUMMARY_SCHEMA``)."""
    replications: int
    """Replications completed for every scenario."""
    executor: str
    elapsed_seconds: float
    cancelled: bool = False
    """True when the run was cancelled; ``kpis`` then holds the replications finished before."""
    precise: bool | None = None
    """Whether the :class:`Precision` target was reached (None when none was asked for)."""


def confidence_intervals(kpis: pl.DataFrame, level: float = 0.95) -> pl.DataFrame:
    """Mean and t confidence interval of every KPI of every scenario (``SUMMARY_SCHEMA``).

    Parameters
    ----------
    kpis
        A long KPI frame (``KPI_SCHEMA``).
    level
        Confidence level, e.g. 0.95.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be within (0, 1), got {level}")
    grouped = (
        kpis.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        .group_by("scenario", "metric", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("replications"),
            pl.col("value").mean().alias("mean"),
            pl.col("value").std(ddof=1).alias("std"),
        )
    )
    count = grouped.get_column("replications").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = np.where(count >= 2, stats.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1)), np.nan)
        half_width = quantile * grouped.get_column("std").fill_null(np.nan).to_numpy() / np.sqrt(count)
    return (
        grouped.with_columns(pl.Series("half_width", half_width, dtype=pl.Float64))
        .with_columns(
            (pl.col("mean") - pl.col("half_width")).alias("lower"),
            (pl.col("mean") + pl.col("half_width")).alias("upper"),
        )
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]
    )


# ---- executors -----------------------------------------------------------------------------------

Task = tuple[int, int]
"""(scenario position, replication)."""


class _Runner:
    """Runs replication tasks; yields each finished task with its KPI frame as soon as it is done."""

    name = "serial"

    def __init__(self, common: dict[str, Any], scenarios: Sequence[Scenario], labels: Sequence[str]) -> None:
        self.common = common
        self.scenarios = scenarios
        self.labels = labels

    def run(
        self, tasks: Sequence[Task], cancel: threading.Event | None
    ) -> Iterator[tuple[Task, pl.DataFrame]]:
        for i, r in tasks:
            if cancel is not None and cancel.is_set():
                return
            yield (i, r), run_replication(self.scenarios[i], r, label=self.labels[i], **self.common)

    def close(self) -> None:
        """Release the runner's workers."""


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which cancels cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_context() -> Any:
    """Where pool workers come from.

    A fork server that has already imported the model (fast, and safe with threads), or spawned processes
    where there is none. Either way a script using the pool needs the usual ``if __name__ == "__main__":``
    guard.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ops.sim.replications"])
        return context
    return multiprocessing.get_context("spawn")


class _PoolRunner(_Runner):
    name = "pool"

    def __init__(
        self, common: dict[str, Any], scenarios: Sequence[Scenario], labels: Sequence[str], workers: int
    ) -> None:
        super().__init__(common, scenarios, labels)
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=_pool_context(), initializer=_ignore_interrupts
        )

    def run(
        self, tasks: Sequence[Task], cancel: threading.Event | None
    ) -> Iterator[tuple[Task, pl.DataFrame]]:
        futures: dict[Future[pl.DataFrame], Task] = {
            self.pool.submit(run_replication, self.scenarios[i], r, label=self.labels[i], **self.common): (
                i,
                r,
            )
            for i, r in tasks
        }
        pending = set(futures)
        try:
            while pending:
                if cancel is not None and cancel.is_set():
                    return
                done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    if cancel is not None and cancel.is_set():
                        return
                    yield futures[future], future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskRunner(_Runner):
    name = "dask"

    def __init__(
        self, common: dict[str, Any], scenarios: Sequence[Scenario], labels: Sequence[str], address: str
    ) -> None:
        super().__init__(common, scenarios, labels)
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is an optional extra
            raise RuntimeError(
                "a Dask cluster needs the 'dask' extra: pip install 'hospital-twin[dask]'"
            ) from exc
        self.client = Client(address, set_as_default=False)
        # each scenario (and start state) travels to the workers once, not once per replication
        self.scattered = [self.client.scatter(s, broadcast=True, hash=False) for s in scenarios]
        self.common_scattered = dict(common)
        if common.get("start") is not None:
            self.common_scattered["start"] = self.client.scatter(common["start"], broadcast=True, hash=False)

    def run(
        self, tasks: Sequence[Task], cancel: threading.Event | None
    ) -> Iterator[tuple[Task, pl.DataFrame]]:
        futures = {
            self.client.submit(
                run_replication,
                self.scattered[i],
                r,
                label=self.labels[i],
                pure=False,
                **self.common_scattered,
            ): (i, r)
            for i, r in tasks
        }
        pending = set(futures)
        try:
            while pending:
                if cancel is not None and cancel.is_set():
                    return
                done = {future for future in pending if future.done()}
                if not done:
                    time.sleep(_POLL_SECONDS)
                    continue
                pending -= done
                for future in done:
                    if cancel is not None and cancel.is_set():
                        return
                    yield futures[future], future.result()
        finally:
            if pending:
                self.client.cancel(list(pending))

    def close(self) -> None:
        self.client.close()


# ---- the entry point -----------------------------------------------------------------------------


def run_replications(
    scenarios: Scenario | Sequence[Scenario],
    replications: int = 10,
    *,
    horizon_days: int | None = None,
    base_seed: int = 0,
    start: StartState | None = None,
    options: SimulationOptions | None = None,
    labels: Sequence[str] | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    precision: Precision | None = None,
    level: float = 0.95,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ReplicationResult:
    """Run replications of one or more scenarios with common random numbers.

    Parameters
    ----------
    scenarios
        One scenario, or several to compare (all get the same seeds).
    replications
        Replications per scenario (the starting number when ``precision`` is given).
    horizon_days
        Days per run; each scenario's own ``horizon_days`` when ``None``.
    base_seed
        Replication ``r`` uses ``SeedSequence(base_seed, spawn_key=(r,))``.
    start, options
        Passed to :func:`~ops.sim.model.simulate` for every run.
    labels
        Scenario labels in the KPI frame; the scenarios' names when ``None`` (made unique if needed).
    executor
        ``"serial"``, ``"pool"`` (local processes) or ``"dask"``; by default Dask when ``cluster`` is given,
        else a process pool when more than one worker is available, else serial.
    workers
        Local processes for the pool (default: the machine's CPUs).
    cluster
        Address of a Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    precision
        Keep adding replications until these KPIs are precise enough (see :class:`Precision`).
    level
        Confidence level of the intervals.
    progress
        Called with (done, planned) after each finished run (planned grows when ``precision`` adds runs).
    cancel
        Set it (from another thread) to stop: pending runs are cancelled and the finished ones returned.

    Returns
    -------
    ReplicationResult
        KPIs of every run, their confidence intervals, and how the runs went.

    Examples
    --------
    >>> from scenarios import load_scenario, scenario_path
    >>> baseline = load_scenario(scenario_path("baseline"))
    >>> result = run_replications(baseline, 2, horizon_days=1, executor="serial")
    >>> result.kpis.get_column("replication").unique().to_list()
    [0, 1]
    """
    scenario_list = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not scenario_list:
        raise ValueError("give at least one scenario")
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    names = list(labels) if labels is not None else _unique_labels([s.name for s in scenario_list])
    if len(names) != len(scenario_list) or len(set(names)) != len(names):
        raise ValueError("labels must be unique, one per scenario")
    cpus = os.cpu_count() or 1
    workers = workers or cpus
    if executor is None:
        executor = "dask" if cluster else ("pool" if workers > 1 else "serial")
    if executor == "dask" and not cluster:
        raise ValueError("the dask executor needs a cluster address")
    if precision is not None:
        replications = max(replications, precision.min_replications)

    common: dict[str, Any] = {
        "base_seed": base_seed,
        "horizon_days": horizon_days,
        "start": start,
        "options": options,
    }
    runner: _Runner
    if executor == "serial":
        runner = _Runner(common, scenario_list, names)
    elif executor == "pool":
        runner = _PoolRunner(common, scenario_list, names, workers)
    elif executor == "dask":
        assert cluster is not None
        runner = _DaskRunner(common, scenario_list, names, cluster)
    else:
        raise ValueError(f"unknown executor '{executor}' (serial, pool or dask)")

    began = time.perf_counter()
    frames: dict[Task, pl.DataFrame] = {}
    planned = replications
    done_replications = 0
    precise: bool | None = None
    cancelled = False
    try:
        while True:
            tasks = [(i, r) for r in range(done_replications, planned) for i in range(len(scenario_list))]
            for task, frame in runner.run(tasks, cancel):
                frames[task] = frame
                if progress is not None:
                    progress(len(frames) // len(scenario_list), planned)
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            done_replications = planned
            if precision is None:
                break
            summary = confidence_intervals(_collect(frames, scenario_list), level)
            precise = precision.reached(summary)
            if precise or planned >= precision.max_replications:
                break
            planned += precision.more_needed(summary, planned)
    finally:
        runner.close()

    complete = _complete_replications(frames, len(scenario_list))
    kpis = _collect({task: frame for task, frame in frames.items() if task[1] in complete}, scenario_list)
    return ReplicationResult(
        kpis=kpis,
        summary=confidence_intervals(kpis, level),
        replications=len(complete),
        executor=runner.name,
        elapsed_seconds=time.perf_counter() - began,
        cancelled=cancelled,
        precise=precise,
    )


def _unique_labels(names: list[str]) -> list[str]:
    labels: list[str] = []
    for name in names:
        label, k = name, 2
        while label in labels:
            label = f"{name} ({k})"
            k += 1
        labels.append(label)
    return labels


def _complete_replications(frames: dict[Task, pl.DataFrame], scenarios: int) -> set[int]:
    """Replications finished for every scenario (a cancelled run may leave some half done)."""
    counts: dict[int, int] = {}
    for _, r in frames:
        counts[r] = counts.get(r, 0) + 1
    return {r for r, count in counts.items() if count == scenarios}


def _collect(frames: dict[Task, pl.DataFrame], scenarios: Sequence[Scenario]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=KPI_SCHEMA)
    ordered = [frames[task] for task in sorted(frames)]
    return pl.concat(ordered, how="vertical")
