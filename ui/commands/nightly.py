"""``hospital-twin nightly``: ingest the inbox, then make and publish the nightly staffing plan.

Registered by ``ui/cli.py``: ``app.command("nightly")(nightly)``.

Exit codes: 0 published (or saved as a draft with ``--draft``); 2 bad options or scenario; 3 the run
failed (the previous plan is still published); 4 published (or saved), but the hard rules of some teams
cannot all be met: the plan says what to relax for them (a cron job or CronJob sees a failure and someone
reads the explanation; the plan of every other team is in force); 130 interrupted (Ctrl-C; nothing
published).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.jobs import resolve_scenario
from ops.nightly import STAGES, NightlyCancelled, NightlyError, NightlyProgress, NightlyResult, run_nightly
from ops.store import Store, open_store
from scenarios import Scenario, ScenarioError, load_scenario

EXIT_BAD_INPUT = 2
EXIT_FAILED = 3
EXIT_RULES_NOT_MET = 4
EXIT_INTERRUPTED = 130

console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def _scenario(store: Store, name: str) -> Scenario:
    path = Path(name)
    try:
        if path.suffix == ".toml" or path.exists():
            return load_scenario(path)
        return resolve_scenario(store, name)[0]
    except (KeyError, FileNotFoundError) as error:
        errors.print(f"nightly: scenario {name!r} not found: {error}", markup=False, highlight=False)
    except ScenarioError as error:
        errors.print(f"nightly: scenario {name!r} is not valid:\n{error}", markup=False, highlight=False)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def nightly(
    plan_date: Annotated[
        str | None,
        typer.Option(
            "--date", help="First day of the plan, YYYY-MM-DD (local). Default: today in the hospital."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=42, help="Days rostered (1-42).")] = 28,
    quantile: Annotated[
        float | None,
        typer.Option(min=0.01, max=0.99, help="Census quantile staffed for. Default: the scenario's (0.8)."),
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="Database URL. Default: DATABASE_URL, else var/hospital_twin.db.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder of the published files.")] = Path("var/nightly"),
    scenario: Annotated[
        str, typer.Option(help="Hospital scenario: saved in the store, shipped, or a TOML file.")
    ] = "baseline",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the forecast and the roster search.")] = 0,
    paths: Annotated[int, typer.Option("--paths", min=10, help="Monte Carlo census paths.")] = 1000,
    inbox: Annotated[
        Path | None,
        typer.Option(
            help="Folder of HL7 v2 (.hl7) and FHIR (.json) files to ingest first; each is moved to "
            "INBOX/processed/ once its events are stored."
        ),
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="Save the plan as a draft for a planner to publish.")
    ] = False,
    floor_quantile: Annotated[
        float | None,
        typer.Option(
            "--floor-quantile",
            min=0.0,
            max=0.99,
            help="Make the nurses the ratio needs at this census quantile a hard floor per shift "
            "(e.g. 0.5). Default: no hard floor.",
        ),
    ] = None,
) -> None:
    """Ingest, refresh the twins, forecast, derive staffing demand, roster and publish the plan."""
    with open_store(database) as store:
        hospital = _scenario(store, scenario)
        if plan_date is None:
            first_day = datetime.now(ZoneInfo(hospital.hospital.timezone)).date()
        else:
            try:
                first_day = date.fromisoformat(plan_date)
            except ValueError:
                errors.print(f"nightly: --date '{plan_date}' is not a date YYYY-MM-DD", markup=False)
                raise typer.Exit(code=EXIT_BAD_INPUT) from None
        cancel = threading.Event()
        outcome: dict[str, NightlyResult | BaseException] = {}
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[stage]}[/bold]"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            overall = bar.add_task("starting", total=len(STAGES), stage="nightly")

            def progress(update: NightlyProgress) -> None:
                step = STAGES.index(update.stage)
                within = update.done / update.total if update.total else 0.0
                detail = f" ({update.done}/{update.total})" if update.total else ""
                bar.update(
                    overall,
                    completed=step + within,
                    description=update.message + detail,
                    stage=f"{step + 1}/{len(STAGES)} {update.stage}",
                )

            def work() -> None:
                try:
                    outcome["result"] = run_nightly(
                        store,
                        hospital,
                        plan_date=first_day,
                        days=days,
                        quantile=quantile,
                        out_dir=out,
                        seed=seed,
                        n_paths=paths,
                        actor="cli:nightly",
                        progress=progress,
                        cancel=cancel,
                        inbox=inbox,
                        draft=draft,
                        floor_quantile=floor_quantile,
                    )
                except BaseException as error:  # handed to the main thread
                    outcome["result"] = error

            _run(work, cancel)
    result = outcome.get("result")
    if isinstance(result, NightlyCancelled):
        errors.print(f"nightly: {result}", markup=False, highlight=False)
        raise typer.Exit(code=EXIT_INTERRUPTED)
    if isinstance(result, NightlyError):
        errors.print(f"nightly plan failed at {result}", markup=False, highlight=False)
        errors.print("the previous plan is still published", markup=False)
        raise typer.Exit(code=EXIT_FAILED)
    if isinstance(result, BaseException):
        errors.print(f"nightly plan failed: {type(result).__name__}: {result}", markup=False)
        raise typer.Exit(code=EXIT_FAILED)
    assert isinstance(result, NightlyResult)
    _print(result)
    if result.infeasible_teams:
        raise typer.Exit(code=EXIT_RULES_NOT_MET)


def _run(work: Callable[[], None], cancel: threading.Event) -> None:
    done = threading.Event()

    def target() -> None:
        try:
            work()
        finally:
            done.set()

    threading.Thread(target=target, name="nightly", daemon=True).start()
    try:
        while not done.is_set():
            time.sleep(0.1)
    except KeyboardInterrupt:
        cancel.set()
        errors.print("interrupted: stopping without publishing ...", markup=False)
        while not done.is_set():
            try:
                time.sleep(0.1)
            except KeyboardInterrupt:
                continue


def _print(result: NightlyResult) -> None:
    payload = result.plan.payload
    summary = payload["summary"]
    if result.ingest is not None:
        report = result.ingest
        skipped = (
            f", {len(report.skipped)} file(s) of another type left in the inbox" if report.skipped else ""
        )
        console.print(
            f"ingested {len(report.files)} file(s), {report.messages} message(s): {report.accepted} event(s) "
            f"accepted, {report.duplicates} duplicate(s), {report.quarantined} quarantined{skipped}",
            markup=False,
            highlight=False,
        )
    saved = "saved as draft" if result.draft else "published as"
    console.print(
        f"[bold]Nightly plan[/bold] {payload['first_day']} + {payload['days']} days {saved} roster plan "
        f"version {result.plan.version} ({payload['status']}); events up to seq {result.last_seq} "
        f"({result.new_events} new)"
    )
    if result.draft:
        console.print("not in force until a planner publishes it (command view, Staffing page)", markup=False)
    if result.explanation:
        errors.print(
            f"the hard rules of {len(result.infeasible_teams)} team(s) cannot all be met; what to relax:",
            markup=False,
            highlight=False,
        )
        for team in result.infeasible_teams:
            for sentence in team["sentences"]:
                errors.print(f"  {sentence}", markup=False, highlight=False)
    table = Table(title=f"Nurse-shifts (demand at the {payload['quantile']:.0%} census quantile)")
    for column in ("required", "staff", "agency", "unfilled"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{summary[c]:,}" for c in ("required", "staff", "agency", "unfilled")))
    console.print(table)
    shown = result.alerts[:20]
    if shown:
        alerts = Table(title=f"Alerts ({len(result.alerts)})")
        alerts.add_column("severity")
        alerts.add_column("alert")
        for alert in shown:
            alerts.add_row(alert["severity"], alert["message"])
        console.print(alerts)
        if len(result.alerts) > len(shown):
            console.print(f"... and {len(result.alerts) - len(shown)} more in alerts.json")
    else:
        console.print("no alerts")
    console.print(f"files: {result.folder}", markup=False, highlight=False)
    seconds = ", ".join(f"{stage} {value:.1f} s" for stage, value in result.seconds.items())
    console.print(f"time: {seconds}", markup=False, highlight=False)
