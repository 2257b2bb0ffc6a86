"""``hospital-twin plan surgery`` and ``hospital-twin plan supply``: make, store and summarise plans.

Registered by ``ui/cli.py``: ``app.add_typer(plan_app, name="plan")``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import polars as pl
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.sim import DEFAULT_START
from ops.store import open_store
from ops.supply import SupplyPlanRun, run_supply_plan
from ops.surgery import SurgeryPlanRun, compare_elective_lists, plan_calendar, run_surgery_plan
from scenarios import Scenario
from scheduler.ihtc import SolveProgress
from scheduler.supply import SupplyProblemError
from scheduler.surgery import WAITING_LIST_CSV_COLUMNS, WaitingListError, beds_needed, read_waiting_list

console = Console(width=None if sys.stdout.isatty() else 200)

plan_app = typer.Typer(help="Make plans: surgical admissions, supply orders.", no_args_is_help=True)

ScenarioOption = Annotated[
    str, typer.Option("--scenario", help="Scenario TOML file or shipped scenario name.")
]
DatabaseOption = Annotated[
    str | None, typer.Option(help="Database URL. Default: DATABASE_URL, else var/hospital_twin.db.")
]
StartOption = Annotated[
    str | None,
    typer.Option(
        help="Local date of day 0, YYYY-MM-DD. Default: Monday 15 April 2024 (the model's default)."
    ),
]


def _load(name: str) -> Scenario:
    from ui.cli import load_or_exit

    return load_or_exit(name)


def _start(scenario: Scenario, start: str | None) -> datetime:
    if start is None:
        return DEFAULT_START
    try:
        day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"'{start}' is not a date YYYY-MM-DD", param_hint="--start") from None
    local = datetime.combine(day, clock(0, 0), tzinfo=ZoneInfo(scenario.hospital.timezone))
    return local.astimezone(UTC)


@plan_app.command("surgery")
def surgery(
    scenario: ScenarioOption = "baseline",
    days: Annotated[int, typer.Option(min=1, max=28, help="Days planned.")] = 14,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.5, help="Solver budget in seconds.")
    ] = 60.0,
    workers: Annotated[int, typer.Option(min=1, help="Sub-models solved at the same time.")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the waiting list and the search.")] = 0,
    start: StartOption = None,
    database: DatabaseOption = None,
    compare: Annotated[
        int,
        typer.Option(
            min=0, help="Also run the hospital model N times with the plan and with the block lists."
        ),
    ] = 0,
    waiting_list: Annotated[
        Path | None,
        typer.Option(
            "--waiting-list",
            help="The real waiting list, a CSV file with columns "
            + ", ".join(WAITING_LIST_CSV_COLUMNS)
            + " (see docs/reference/surgical-plan.md). Default: a list drawn from the scenario (demo).",
        ),
    ] = None,
) -> None:
    """Plan elective admissions (day, theatre, bay, nurses) with the IHTC-2024 model; store and publish it.

    The waiting list is read from --waiting-list, else drawn from the scenario's elective rates (demo). The
    nurses come from the published nurse roster when there is one, else from the staff pools'
    establishment. Ctrl-C stops the search and keeps the best plan found so far.
    """
    loaded = _load(scenario)
    run_start = _start(loaded, start)
    cases = None
    if waiting_list is not None:
        day_zero, holidays = plan_calendar(loaded, run_start, days)
        try:
            cases = read_waiting_list(waiting_list, loaded, day_zero, days, holidays)
        except FileNotFoundError:
            print(f"--waiting-list: no such file {waiting_list}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        except WaitingListError as error:
            print(str(error), file=sys.stderr)
            raise typer.Exit(code=2) from None
    cancel = threading.Event()
    outcome: dict[str, SurgeryPlanRun | BaseException] = {}
    with open_store(database) as store:
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("surgical plan: building", total=None)

            def progress(report: SolveProgress) -> None:
                state = (
                    "feasible"
                    if report.best_hard_violations == 0
                    else f"{report.best_hard_violations} violations"
                )
                bar.update(task, description=f"surgical plan: cost {report.best_total_cost:,} ({state})")

            def work() -> None:
                try:
                    outcome["run"] = run_surgery_plan(
                        loaded,
                        start=run_start,
                        days=days,
                        time_limit_s=time_limit,
                        workers=workers,
                        seed=seed,
                        waiting_list=cases,
                        waiting_list_source=str(waiting_list) if waiting_list is not None else None,
                        store=store,
                        actor="cli:plan-surgery",
                        progress=progress,
                        cancel=cancel,
                    )
                except BaseException as exc:  # handed to the main thread, which raises it
                    outcome["run"] = exc

            _run_cancellable(work, cancel)
        run = outcome.get("run")
        if isinstance(run, WaitingListError | ValueError):
            print(str(run), file=sys.stderr)
            raise typer.Exit(code=2)
        if isinstance(run, BaseException):
            raise run
        assert isinstance(run, SurgeryPlanRun)
        _print_surgery(run)
        if compare > 0:
            table = compare_elective_lists(
                loaded, run.plan.cases, start=run_start, days=days, replications=compare, seed=seed
            )
            _print_comparison(table)
    if run.cancelled:
        console.print("cancelled: the best plan found so far was saved")
        raise typer.Exit(code=130)
    if not run.plan.evaluation.feasible:
        raise typer.Exit(code=1)


def _run_cancellable(work: Callable[[], None], cancel: threading.Event) -> None:
    finished = threading.Event()

    def target() -> None:
        try:
            work()
        finally:
            finished.set()

    threading.Thread(target=target, daemon=True).start()
    # Poll with sleep rather than Thread.join: an interrupted join can return before the thread ends.
    try:
        while not finished.is_set():
            time.sleep(0.1)
    except KeyboardInterrupt:
        cancel.set()
        console.print("cancelling: keeping the best plan so far ...")
        while not finished.is_set():
            try:
                time.sleep(0.1)
            except KeyboardInterrupt:
                continue


def _print_surgery(run: SurgeryPlanRun) -> None:
    summary = run.summary
    plan = run.plan
    saved = f"saved as surgery plan version {run.saved.version} (published)" if run.saved else "not saved"
    console.print(
        f"[bold]Surgical admission plan[/bold] {run.surgical.start.isoformat()} + {run.days} days: "
        f"{plan.status.value}, cost {plan.total_cost:,}"
    )
    console.print(saved, markup=False, highlight=False)
    console.print(f"waiting list: {run.waiting_list_source}", markup=False, highlight=False)
    console.print(f"nurses: {run.nurse_source}", markup=False, highlight=False)
    cases = Table(title="Cases")
    cases.add_column("waiting list", justify="right")
    cases.add_column("planned", justify="right")
    cases.add_column("unscheduled", justify="right")
    cases.add_column("mandatory unscheduled", justify="right")
    cases.add_column("theatre utilisation", justify="right")
    cases.add_column("peak elective beds", justify="right")
    cases.add_row(
        str(summary.cases_listed),
        str(summary.cases_planned),
        str(summary.cases_unscheduled),
        str(summary.mandatory_unscheduled),
        f"{summary.theatre_utilisation:.0%}",
        f"{summary.peak_elective_beds} of {summary.elective_beds}",
    )
    console.print(cases)
    beds = beds_needed(run.surgical, plan.cases)
    by_day = beds.pivot(on="ward", index="day", values="elective_patients").sort("day")
    table = Table(title="Elective beds needed per day (beds offered in brackets)")
    table.add_column("day", justify="right")
    wards = [c for c in by_day.columns if c != "day"]
    offered = dict(beds.select("ward", "elective_beds").unique().iter_rows())
    for ward in wards:
        table.add_column(f"{ward} ({offered[ward]})", justify="right")
    for row in by_day.iter_rows(named=True):
        table.add_row(str(row["day"]), *(str(row[w]) for w in wards))
    console.print(table)
    costs = Table(title="Plan cost by term")
    costs.add_column("term")
    costs.add_column("cost", justify="right")
    for term, value in plan.cost_by_term.items():
        costs.add_row(term, f"{value:,}")
    console.print(costs)
    if not plan.evaluation.feasible:
        console.print(f"[red]hard rules broken:[/red] {plan.evaluation.violations.as_dict()}")


def _print_comparison(frame: pl.DataFrame) -> None:
    means = frame.group_by("elective_list").agg(pl.exclude("replication", "elective_list").mean())
    table = Table(
        title=f"Hospital model: plan vs block lists (mean of {frame['replication'].n_unique()} runs)"
    )
    for column in means.columns:
        table.add_column(column, justify="right")
    for row in means.sort("elective_list", descending=True).iter_rows():
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


@plan_app.command("supply")
def supply(
    scenario: ScenarioOption = "baseline",
    days: Annotated[int, typer.Option(min=1, max=90, help="Days planned.")] = 14,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.5, help="Solver budget in seconds.")
    ] = 30.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the demand paths.")] = 0,
    start: StartOption = None,
    database: DatabaseOption = None,
    use_surgery_plan: Annotated[
        bool, typer.Option(help="Take planned cases from the published surgical plan in the store.")
    ] = True,
) -> None:
    """Plan consumable orders from the case mix (planned + forecast cases); store and publish them."""
    loaded = _load(scenario)
    run_start = _start(loaded, start)
    with open_store(database) as store:
        try:
            with console.status("supply plan: solving ..."):
                run = run_supply_plan(
                    loaded,
                    start=run_start,
                    days=days,
                    time_limit_s=time_limit,
                    seed=seed,
                    use_surgery_plan=use_surgery_plan,
                    store=store,
                    actor="cli:plan-supply",
                )
        except SupplyProblemError as exc:
            print(str(exc), file=sys.stderr)
            raise typer.Exit(code=2) from None
    _print_supply(run)
    if not run.plan.check.feasible:
        raise typer.Exit(code=1)


def _print_supply(run: SupplyPlanRun) -> None:
    plan = run.plan
    source = (
        f"planned cases from surgical plan version {run.surgery_plan_version}"
        if run.surgery_plan_version is not None
        else "no surgical plan: block-schedule and emergency forecasts only"
    )
    saved = f"saved as supply plan version {run.saved.version} (published)" if run.saved else "not saved"
    console.print(
        f"[bold]Supply orders[/bold]: {plan.status.value}, cost {plan.total_cost:,.0f} "
        f"({', '.join(f'{k} {v:,.0f}' for k, v in plan.cost_by_term.items())})"
    )
    console.print(f"{source}; {saved}", markup=False, highlight=False)
    table = Table(title="Par levels and risk of stock-out over the horizon")
    for column in (
        "item",
        "demand/day",
        "lead days",
        "safety stock",
        "reorder point",
        "par level",
        "units ordered",
        "P(stock-out)",
        "fill rate",
    ):
        table.add_column(column, justify="left" if column == "item" else "right")
    for row in plan.par_levels.iter_rows(named=True):
        table.add_row(
            row["item"],
            f"{row['mean_daily_demand']:.1f}",
            str(row["lead_time_days"]),
            f"{row['safety_stock']:.0f}",
            f"{row['reorder_point']:.0f}",
            f"{row['par_level']:.0f}",
            str(row["units_ordered"]),
            f"{row['stockout_risk']:.1%}",
            f"{row['fill_rate']:.2%}",
        )
    console.print(table)
    orders = (
        plan.orders.group_by("order_day")
        .agg(pl.len().alias("orders"), pl.col("cost").sum())
        .sort("order_day")
    )
    console.print(
        "orders by day: " + ", ".join(f"day {d}: {n} ({c:,.0f})" for d, n, c in orders.iter_rows()),
        markup=False,
        highlight=False,
    )
    if plan.relax:
        console.print(f"[red]infeasible:[/red] extra storage needed per item: {plan.relax}")
    for line in plan.check.violations[:10]:
        console.print(f"[red]{line}[/red]", markup=True)
