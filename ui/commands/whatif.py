"""``hospital-twin whatif``: run a what-if against a baseline and compare every KPI, with uncertainty.

Registered by ``ui/cli.py``, e.g. ``app.command("whatif")(whatif)``.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.sim import (
    HEADLINE_METRICS,
    METRICS,
    Precision,
    SimulationOptions,
    StartState,
    WhatIfComparison,
    compare_scenarios,
    confidence_intervals,
    metric_info,
)
from ops.store import open_store
from ops.store.engine import DEFAULT_SQLITE_PATH
from ops.twin_run import DEFAULT_WARM_UP_DAYS, RunStart, choose_start
from scenarios import Scenario

console = Console(width=None if sys.stdout.isatty() else 200)


def whatif(
    scenario: Annotated[
        str, typer.Argument(help="The what-if: a scenario TOML file or the name of a shipped scenario.")
    ],
    against: Annotated[str, typer.Option(help="Scenario to compare against.")] = "baseline",
    replications: Annotated[
        int, typer.Option(min=2, help="Runs of each scenario (the first batch with --half-width).")
    ] = 10,
    days: Annotated[int, typer.Option(min=1, help="Days simulated from the start.")] = 28,
    seed: Annotated[int, typer.Option(min=0, help="Base seed (replication r uses its r-th child).")] = 0,
    cluster: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786); local processes if absent.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the CSV and PNG written.")] = Path("var/whatif"),
    database: Annotated[
        str | None,
        typer.Option(
            help="Store the twins are read from. Default: DATABASE_URL, else var/hospital_twin.db if present."
        ),
    ] = None,
    cold: Annotated[
        bool, typer.Option("--cold", help="Start from an empty hospital after a warm-up, not from the twins.")
    ] = False,
    warm_up: Annotated[
        int,
        typer.Option(
            "--warm-up-days",
            "--warm-up",
            min=0,
            help="Warm-up of a cold start: days simulated from an empty hospital first (not reported).",
        ),
    ] = DEFAULT_WARM_UP_DAYS,
    half_width: Annotated[
        list[str] | None,
        typer.Option(
            "--half-width",
            help="Add replications until a KPI's 95 % half-width is at most VALUE (in its unit, or a % of "
            "its mean), e.g. ed_mean_boarding_hours=0.1 or theatre_utilisation=2%. Repeatable.",
        ),
    ] = None,
    max_replications: Annotated[
        int, typer.Option(min=2, help="Most runs of each scenario with --half-width.")
    ] = 100,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local processes (default: every CPU; 1 runs in this process).")
    ] = None,
) -> None:
    """Compare a what-if with a baseline: paired differences of every KPI with 95 % confidence intervals.

    Both scenarios run the same replications with the same random numbers; the table shows the headline
    KPIs, the CSV every KPI (per-unit occupancy included) and the PNG the relative changes. The runs start
    from the hospital now when the store holds events (the twins in their units, each with their own
    remaining stay, and arrivals forecast by service); otherwise, or with --cold, from an empty hospital
    after a warm-up. Ctrl-C cancels: the replications finished so far are still compared.
    """
    from ui.cli import load_or_exit

    what_if = load_or_exit(scenario)
    baseline = load_or_exit(against)
    precision = _precision(half_width or [], replications, max_replications)
    begin = _start(database, baseline, what_if, cold=cold, warm_up_days=warm_up, days=days)
    console.print(begin.description, markup=False, highlight=False)
    cancel = threading.Event()
    outcome: dict[str, WhatIfComparison | BaseException] = {}
    options = begin.options()

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{what_if.name} vs {baseline.name}", total=replications)

        def progress(done: int, planned: int) -> None:
            bar.update(task, completed=done, total=planned)

        finished = threading.Event()
        worker = threading.Thread(
            target=_run,
            args=(outcome, finished, what_if, baseline, replications, days, seed, cluster, workers, options),
            kwargs={"progress": progress, "cancel": cancel, "start": begin.start, "precision": precision},
            daemon=True,
        )
        worker.start()
        # Poll with sleep rather than Thread.join: an interrupted join can return before the thread ends.
        try:
            while not finished.is_set():
                time.sleep(0.1)
        except KeyboardInterrupt:
            cancel.set()
            console.print("cancelling: waiting for the runs in progress to stop ...")
            while not finished.is_set():
                try:
                    time.sleep(0.1)
                except KeyboardInterrupt:
                    continue

    result = outcome.get("result")
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, WhatIfComparison)
    if result.replications < 2:
        console.print(f"cancelled after {result.replications} replication(s): nothing to compare")
        raise typer.Exit(code=130)
    _print_table(result)
    if precision is not None:
        _print_precision(result, precision)
    csv_path, kpis_path, chart_path = _write_outputs(result, out)
    console.print(f"wrote {csv_path}, {kpis_path} and {chart_path}", markup=False, highlight=False)
    if result.cancelled:
        console.print(f"cancelled: compared the {result.replications} replications finished")
        raise typer.Exit(code=130)


def _run(
    outcome: dict[str, WhatIfComparison | BaseException],
    finished: threading.Event,
    what_if: Scenario,
    baseline: Scenario,
    replications: int,
    days: int,
    seed: int,
    cluster: str | None,
    workers: int | None,
    options: SimulationOptions,
    *,
    progress: Callable[[int, int], None],
    cancel: threading.Event,
    start: StartState | None = None,
    precision: Precision | None = None,
) -> None:
    try:
        outcome["result"] = compare_scenarios(
            what_if,
            baseline,
            replications,
            horizon_days=days,
            base_seed=seed,
            start=start,
            options=options,
            precision=precision,
            executor="serial" if workers == 1 and cluster is None else None,
            workers=workers,
            cluster=cluster,
            progress=progress,
            cancel=cancel,
        )
    except BaseException as exc:  # handed to the main thread, which raises it
        outcome["result"] = exc
    finally:
        finished.set()


def _start(
    database: str | None, baseline: Scenario, what_if: Scenario, *, cold: bool, warm_up_days: int, days: int
) -> RunStart:
    """Warm start from the store's twins when it holds events; a cold start otherwise (or when asked)."""
    if cold:
        return choose_start(None, baseline, cold=True, warm_up_days=warm_up_days)
    if database is None and not os.environ.get("DATABASE_URL") and not DEFAULT_SQLITE_PATH.is_file():
        return choose_start(None, baseline, warm_up_days=warm_up_days)  # no store: nothing to read
    with (
        console.status("reading the twins and fitting the stay and arrival models ..."),
        open_store(database) as store,
    ):
        return choose_start(
            store,
            baseline,
            warm_up_days=warm_up_days,
            horizon_days=days,
            compatible_with=(baseline, what_if),
        )


def _precision(targets: list[str], replications: int, max_replications: int) -> Precision | None:
    """``METRIC=VALUE`` or ``METRIC=VALUE%`` targets as a :class:`Precision` (``None`` for none)."""
    if not targets:
        return None
    wanted: dict[str, tuple[float | None, float | None]] = {}
    for text in targets:
        metric, equals, value = text.partition("=")
        metric, value = metric.strip(), value.strip()
        relative = value.endswith("%")
        try:
            number = float(value.rstrip("%"))
        except ValueError:
            number = math.nan
        if not equals or not metric or not number > 0:
            raise typer.BadParameter(
                f"'{text}': give METRIC=VALUE with a positive VALUE, e.g. ed_mean_boarding_hours=0.1 or "
                "theatre_utilisation=2%",
                param_hint="--half-width",
            )
        if metric not in METRICS and not metric.startswith("occupancy_"):
            raise typer.BadParameter(
                f"'{metric}' is not a KPI; the KPIs are {', '.join(METRICS)} and occupancy_<unit>",
                param_hint="--half-width",
            )
        wanted[metric] = (None, number / 100.0) if relative else (number, None)
    if max_replications < replications:
        raise typer.BadParameter(
            f"--max-replications {max_replications} is below --replications {replications}",
            param_hint="--max-replications",
        )
    return Precision((), min_replications=replications, max_replications=max_replications, targets=wanted)


def _print_precision(result: WhatIfComparison, precision: Precision) -> None:
    """Replications used and the half-width reached for each target KPI, in each scenario."""
    summary = confidence_intervals(result.kpis)
    if result.precise:
        verdict = "target reached"
    elif result.cancelled:
        verdict = "cancelled before the target"
    else:
        verdict = f"target not reached within {precision.max_replications} replications"
    console.print(f"precision: {result.replications} replications ({verdict})", markup=False)
    for metric in precision.metrics:
        absolute, relative = precision.target(metric)
        unit = metric_info(metric).unit
        wanted = f"{relative:.1%} of the mean" if relative is not None else _format(absolute, unit)
        for row in summary.filter(pl.col("metric") == metric).iter_rows(named=True):
            mean, reached = row["mean"], row["half_width"]
            share = f" ({reached / abs(mean):.1%} of the mean)" if mean else ""
            console.print(
                f"  {metric} [{row['scenario']}]: mean {_format(mean, unit)}, 95 % half-width "
                f"{_format(reached, unit)}{share}; asked {wanted}",
                markup=False,
                highlight=False,
            )


def _format(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def _print_table(result: WhatIfComparison) -> None:
    table = Table(
        title=f"{result.scenario} vs {result.against}: {result.replications} paired replications, 95 % CI"
    )
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column(result.against, justify="right")
    table.add_column(result.scenario, justify="right")
    table.add_column("difference [95 % CI]", justify="right")
    table.add_column("change", justify="right")
    for row in result.headline().iter_rows(named=True):
        info = metric_info(row["metric"])
        unit = "points" if info.unit == "share" else info.unit
        difference = row["difference"]
        if info.unit == "share":
            interval = f"{difference * 100:+.1f} [{row['lower'] * 100:+.1f}, {row['upper'] * 100:+.1f}] pts"
        else:
            interval = (
                f"{_format(difference, info.unit)} "
                f"[{_format(row['lower'], info.unit)}, {_format(row['upper'], info.unit)}]"
            )
        style = ""
        if row["significant"]:
            better = (difference < 0) == info.lower_is_better
            style = "green" if better else "red"
        relative = row["relative_difference"]
        table.add_row(
            row["metric"],
            unit,
            _format(row["against_mean"], info.unit),
            _format(row["scenario_mean"], info.unit),
            interval,
            "—" if relative is None else f"{relative:+.1%}",
            style=style,
        )
    table.caption = "green / red: significantly better / worse (95 % CI of the paired difference excludes 0)"
    console.print(table)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "scenario"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(descriptor)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp creates it private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_outputs(result: WhatIfComparison, out: Path) -> tuple[Path, Path, Path]:
    stem = f"{_slug(result.scenario)}_vs_{_slug(result.against)}"
    csv_path = out / f"{stem}.csv"
    kpis_path = out / f"{stem}_kpis.csv"
    chart_path = out / f"{stem}.png"
    _atomic_write(csv_path, lambda p: result.comparison.write_csv(p))
    _atomic_write(kpis_path, lambda p: result.kpis.write_csv(p))
    _atomic_write(chart_path, lambda p: _chart(result, p))
    return csv_path, kpis_path, chart_path


def _chart(result: WhatIfComparison, path: Path) -> None:
    """Relative change of the headline KPIs with their 95 % intervals, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.comparison.filter(pl.col("metric").is_in(list(HEADLINE_METRICS))).filter(
        pl.col("against_mean").abs() > 0
    )
    order = {metric: i for i, metric in enumerate(HEADLINE_METRICS)}
    records = sorted(rows.iter_rows(named=True), key=lambda row: order[row["metric"]], reverse=True)
    labels = [row["metric"].replace("_", " ") for row in records]
    scale = [abs(row["against_mean"]) for row in records]
    change = [100 * row["difference"] / s for row, s in zip(records, scale, strict=True)]
    error = [
        100
        * (row["half_width"] if row["half_width"] is not None and not math.isnan(row["half_width"]) else 0)
        / s
        for row, s in zip(records, scale, strict=True)
    ]
    colours = []
    for row in records:
        if not row["significant"]:
            colours.append("#9e9e9e")
        else:
            better = (row["difference"] < 0) == metric_info(row["metric"]).lower_is_better
            colours.append("#2e7d32" if better else "#c62828")
    figure, axes = plt.subplots(figsize=(9, 0.45 * max(len(records), 4) + 1.5))
    axes.barh(labels, change, xerr=error, color=colours, capsize=3)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel(f"change vs {result.against} [% of its mean], 95 % CI of the paired difference")
    axes.set_title(f"{result.scenario} vs {result.against} ({result.replications} paired replications)")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=120)
    plt.close(figure)
