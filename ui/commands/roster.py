"""``hospital-twin roster repair``: after a sick call, re-roster with the fewest changes.

Registered by ``ui/cli.py``: ``app.add_typer(roster_app, name="roster")``.

Exit codes: 0 saved (a draft by default, published with ``--publish``); 2 bad options, scenario, nurse or
days, or no published roster plan; 3 no roster meets the rules with the nurse absent (nothing saved); 4
saved, but the absent nurse's team is now below a hard rule (the plan says what to relax).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ops.nightly import NightlyError, RosterRepairResult, repair_roster_plan
from ops.store import open_store
from scheduler.roster.solution import RosterStatus
from ui.commands.nightly import _scenario

EXIT_BAD_INPUT = 2
EXIT_FAILED = 3
EXIT_RULES_NOT_MET = 4

console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

roster_app = typer.Typer(help="Change the published nurse roster.", no_args_is_help=True)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.print(f"roster repair: {option} '{text}' is not a date YYYY-MM-DD", markup=False)
        raise typer.Exit(code=EXIT_BAD_INPUT) from None


@roster_app.command("repair")
def repair(
    nurse: Annotated[str, typer.Option("--nurse", help="The absent nurse, e.g. amu_nurses-007.")],
    absent_from: Annotated[str, typer.Option("--from", help="First day of the absence, YYYY-MM-DD.")],
    absent_to: Annotated[
        str | None, typer.Option("--to", help="Last day of the absence, YYYY-MM-DD. Default: --from.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why: sick, leave, ...")] = "sick",
    change_from: Annotated[
        str | None,
        typer.Option(
            "--change-from",
            help="First day that may change, YYYY-MM-DD (days before it stay as published). Default: --from.",
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the repaired roster (default: save it as a draft).")
    ] = False,
    database: Annotated[
        str | None, typer.Option(help="Database URL. Default: DATABASE_URL, else var/hospital_twin.db.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the nightly plan's files (switched with --publish).")
    ] = Path("var/nightly"),
    scenario: Annotated[
        str, typer.Option(help="Hospital scenario: saved in the store, shipped, or a TOML file.")
    ] = "baseline",
    change_weight: Annotated[
        int | None,
        typer.Option(
            "--change-weight", min=0, help="Penalty per changed nurse-day. Default: half a nurse short."
        ),
    ] = None,
) -> None:
    """Mark a nurse absent and re-roster her team from that day with the fewest changes; the past is kept."""
    first = _day(absent_from, "--from")
    last = _day(absent_to, "--to") if absent_to is not None else first
    start = _day(change_from, "--change-from") if change_from is not None else first
    with open_store(database) as store:
        hospital = _scenario(store, scenario)
        try:
            with console.status(f"repairing the roster around {nurse}'s absence ..."):
                result = repair_roster_plan(
                    store,
                    hospital,
                    nurse_id=nurse,
                    absent_from=first,
                    absent_to=last,
                    from_day=start,
                    reason=reason,
                    publish=publish,
                    out_dir=out,
                    change_weight=change_weight,
                    actor="cli:roster-repair",
                )
        except NightlyError as error:
            message = str(error)
            errors.print(f"roster {message}", markup=False, highlight=False)
            searched = message.startswith("repair: no roster of team")
            raise typer.Exit(code=EXIT_FAILED if searched else EXIT_BAD_INPUT) from None
    _print(result)
    if result.status is RosterStatus.INFEASIBLE:
        raise typer.Exit(code=EXIT_RULES_NOT_MET)


def _cell(value: dict[str, Any] | None) -> str:
    if value is None:
        return "off"
    return f"{value['shift']} on {value['unit_id']}"


def _print(result: RosterRepairResult) -> None:
    repair = result.plan.payload["repair"]
    state = "published" if result.plan.status == "published" else "saved as a draft (publish it to apply)"
    console.print(
        f"[bold]Roster repair[/bold]: {repair['nurse_id']} absent {repair['absent_from']} to "
        f"{repair['absent_to']} ({repair['reason']}); team {repair['team_id']} re-rostered from "
        f"{repair['from_day']}; roster plan version {result.plan.version} {state}, based on version "
        f"{result.based_on.version}"
    )
    if not result.changes:
        console.print("no other nurse's shifts change", markup=False)
    else:
        table = Table(title=f"Changes ({len(result.changes)} nurse-days)")
        table.add_column("nurse")
        table.add_column("day")
        table.add_column("was")
        table.add_column("now")
        for change in result.changes:
            table.add_row(change["nurse_id"], change["day"], _cell(change["before"]), _cell(change["after"]))
        console.print(table)
    unfilled = [a for a in result.alerts if a.get("kind") == "unfilled_shift" and a.get("unit_id")]
    team_unit = result.repair.team.unit_id
    short = [a for a in unfilled if a["unit_id"] == team_unit]
    if short:
        console.print(f"{len(short)} shift(s) of {team_unit} stay short (book bank or agency staff):")
        for alert in short[:10]:
            console.print(f"  {alert['message']}", markup=False, highlight=False)
    for sentence in repair.get("explanation") or []:
        errors.print(sentence, markup=False, highlight=False)
    if result.folder is not None:
        console.print(f"files: {result.folder}", markup=False, highlight=False)
