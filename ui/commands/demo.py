"""``hospital-twin demo``: build the synthetic demo hospital into the store.

Generates a patient-level history from a scenario (two years of the 500-bed baseline by default), writes it
as Parquet under ``var/demo/`` and appends its events to the store, with a progress bar throughout. Running
it again with the same arguments changes nothing (events are keyed by id); a store that already holds a
different history is refused unless ``--replace`` is given, so two hospitals are never mixed.
"""

from __future__ import annotations

import shutil
import sys
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.store import Store, open_store, resolve_url
from patients.synthetic import HistoryCancelled, HistoryProgress, generate_history
from scenarios import ScenarioError, load_scenario, scenario_path

DEMO_ACTION = "demo.build"
"""Audit action that records which history the store holds."""

APPEND_CHUNK_ROWS = 100_000
"""Events appended per transaction, so the progress bar moves and memory stays flat."""

console = Console(width=None if sys.stdout.isatty() else 200, stderr=False)


def demo(
    scenario: Annotated[
        str, typer.Option(help="Scenario file or shipped scenario name the demo hospital is built from.")
    ] = "baseline",
    days: Annotated[int, typer.Option(min=1, help="Days of history [days].")] = 730,
    end: Annotated[
        str | None,
        typer.Option(help="Local date the history ends on (exclusive), YYYY-MM-DD. Default: today."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random streams.")] = 1,
    database: Annotated[
        str | None, typer.Option(help="Database URL. Default: DATABASE_URL, else var/hospital_twin.db.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the history's Parquet files.")] = Path("var/demo"),
    replace: Annotated[
        bool, typer.Option(help="Delete an embedded SQLite store holding another history first.")
    ] = False,
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty",
            help="Build only into an empty store; a store that already holds events is left as it is "
            "(what `make run` does, so a second run the next day keeps the first build).",
        ),
    ] = False,
) -> None:
    """Build the demo hospital: a synthetic patient history in the store; print what was built."""
    try:
        path = Path(scenario) if Path(scenario).exists() or scenario.endswith(".toml") else None
        loaded = load_scenario(path if path is not None else scenario_path(scenario))
    except (ScenarioError, FileNotFoundError) as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(code=2) from None
    try:
        end_date = date.fromisoformat(end) if end is not None else date.today()
    except ValueError:
        print(f"--end: not a date in the form YYYY-MM-DD: {end!r}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    start = end_date - timedelta(days=days)
    wanted = {
        "scenario": loaded.name,
        "scenario_digest": loaded.digest(),
        "start": start.isoformat(),
        "days": days,
        "seed": seed,
    }

    url = resolve_url(database)
    if replace:
        _delete_sqlite_store(
            url.database if url.get_backend_name() == "sqlite" else None, url.render_as_string()
        )
    store = open_store(url)
    try:
        if if_empty and not replace and store.count_events() > 0:
            builds = store.audit_entries(action=DEMO_ACTION, limit=1)
            held = f"the demo history {builds[0].details}" if builds else "events no demo build recorded"
            console.print(
                f"Store {store.url} already holds {store.count_events():,} events ({held}); kept as it is.",
                markup=False,
                highlight=False,
            )
            return
        _refuse_other_history(store, wanted)
        cancel = threading.Event()
        with _progress() as progress:
            task = progress.add_task("generating history", total=1.0)

            def report(update: HistoryProgress) -> None:
                progress.update(task, completed=update.fraction_done, description=update.stage)

            try:
                history = generate_history(loaded, start, days, seed, report, cancel=cancel)
            except HistoryCancelled:  # pragma: no cover - only through Ctrl-C
                raise typer.Exit(code=130) from None
            progress.update(task, description="writing Parquet", completed=1.0)
            folder = history.write_parquet(out)

            events = history.events
            append_task = progress.add_task("appending events to the store", total=events.height)
            inserted = duplicates = 0
            for offset in range(0, events.height, APPEND_CHUNK_ROWS):
                chunk = events.slice(offset, APPEND_CHUNK_ROWS)
                result = store.append_events(chunk)
                inserted += result.inserted
                duplicates += result.duplicates
                progress.advance(append_task, chunk.height)
        store.save_scenario(loaded.name, _scenario_text(path, scenario), created_by="demo")
        store.write_audit(
            "demo", DEMO_ACTION, "ok", {**wanted, "events": events.height, "inserted": inserted}
        )
        _print_summary(store, history.row_counts(), folder, inserted, duplicates, wanted)
    finally:
        store.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _scenario_text(path: Path | None, name: str) -> str:
    return (path if path is not None else scenario_path(name)).read_text(encoding="utf-8")


def _delete_sqlite_store(database: str | None, rendered_url: str) -> None:
    if database is None or database in ("", ":memory:"):
        print(
            f"--replace only deletes an embedded SQLite store; {rendered_url} is not one. "
            "Drop and re-create that database instead.",
            file=sys.stderr,
        )
        raise typer.Exit(code=2)
    db = Path(database)
    for candidate in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        candidate.unlink(missing_ok=True)
    shutil.rmtree(db.parent / "results", ignore_errors=True)


def _refuse_other_history(store: Store, wanted: dict[str, Any]) -> None:
    if store.count_events() == 0:
        return
    builds = store.audit_entries(action=DEMO_ACTION, limit=1)
    held = {k: builds[0].details.get(k) for k in wanted} if builds else None
    if held == wanted:
        return
    what = "events that no demo build recorded" if held is None else f"events of the demo history {held}"
    print(
        f"The store {store.url} already holds {store.count_events():,} {what}; refusing to mix in another "
        f"history ({wanted}). Run with --replace to start again, or --database for another store.",
        file=sys.stderr,
    )
    raise typer.Exit(code=1)


def _print_summary(
    store: Store,
    counts: dict[str, int],
    folder: Path,
    inserted: int,
    duplicates: int,
    wanted: dict[str, Any],
) -> None:
    console.print(
        f"Demo hospital '{wanted['scenario']}': {wanted['days']} days from {wanted['start']}, "
        f"seed {wanted['seed']}",
        markup=False,
        highlight=False,
    )
    table = Table()
    table.add_column("record")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name.replace("_", " "), f"{rows:,}")
    console.print(table)
    console.print(
        f"Store {store.url}: {inserted:,} events added, {duplicates:,} already there "
        f"({store.count_events():,} in all).",
        markup=False,
        highlight=False,
    )
    console.print(f"History as Parquet in {folder}/", markup=False, highlight=False)
