"""The ``hospital-twin`` command line.

Every command parses its arguments, calls one public domain function and shapes the answer; the domain
packages never print.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scenarios import Scenario, ScenarioError, load_scenario, scenario_path
from scenarios.schema import WEEKDAYS, UnitKind
from ui.commands.bench_curtois import curtois
from ui.commands.bench_ihtc import ihtc
from ui.commands.demo import demo
from ui.commands.forecast import forecast_app
from ui.commands.listen import listen
from ui.commands.nightly import nightly
from ui.commands.plan import plan_app
from ui.commands.roster import roster_app
from ui.commands.serve import serve
from ui.commands.token import token_app
from ui.commands.up import up
from ui.commands.validate import queue
from ui.commands.view import view
from ui.commands.whatif import whatif

app = typer.Typer(
    name="hospital-twin",
    help="Hospital operations digital twin: patient twins, forecasts, a hospital model and plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
scenario_app = typer.Typer(help="Check and summarise scenario files.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(forecast_app, name="forecast")
app.command("whatif")(whatif)
app.command("demo")(demo)
validate_app = typer.Typer(help="Check the hospital model against queueing theory.", no_args_is_help=True)
validate_app.command("queue")(queue)
app.add_typer(validate_app, name="validate")
bench_app = typer.Typer(help="Run our solvers on published benchmark instances.", no_args_is_help=True)
bench_app.command("curtois")(curtois)
bench_app.command("ihtc")(ihtc)
app.add_typer(bench_app, name="bench")
app.command("nightly")(nightly)
app.add_typer(plan_app, name="plan")
app.command("serve")(serve)
app.add_typer(token_app, name="token")
app.command("view")(view)
app.command("up")(up)
app.command("listen")(listen)
app.add_typer(roster_app, name="roster")

# Wide output when piped (rich falls back to 80 columns otherwise and truncates the tables).
console = Console(width=None if sys.stdout.isatty() else 200)

ScenarioFile = Annotated[
    str,
    typer.Argument(
        help="A scenario TOML file, or the name of a shipped scenario (baseline, winter_surge, ...).",
        show_default=False,
    ),
]


def resolve_scenario_file(name_or_path: str) -> Path:
    """A path as given when it exists, else a shipped scenario of that name."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or "/" in name_or_path:
        return path
    try:
        return scenario_path(name_or_path)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc)) from None


def load_or_exit(name_or_path: str) -> Scenario:
    """Load a scenario or print every problem and exit with status 2."""
    try:
        return load_scenario(resolve_scenario_file(name_or_path))
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(code=2) from None


@scenario_app.command("validate")
def scenario_validate(file: ScenarioFile) -> None:
    """Validate a scenario file: print every problem (file, key path, reason) and exit non-zero if any."""
    scenario = load_or_exit(file)
    console.print(
        f"OK: {resolve_scenario_file(file)} is a valid scenario '{scenario.name}' "
        f"({scenario.hospital.total_beds} inpatient beds, {len(scenario.overrides)} overrides, "
        f"digest {scenario.digest()[:12]})",
        markup=False,
        highlight=False,
    )


@scenario_app.command("show")
def scenario_show(file: ScenarioFile) -> None:
    """Print a readable summary: beds per unit, nurses per shift, theatre sessions, services, overrides."""
    scenario = load_or_exit(file)
    hospital = scenario.hospital
    console.print(f"[bold]{scenario.name}[/bold] — {hospital.name}")
    if scenario.description:
        console.print(scenario.description, markup=False)

    shift_ids = [s.id for s in hospital.shifts]
    units = Table(title="Units", show_lines=False)
    units.add_column("unit")
    units.add_column("kind")
    units.add_column("beds", justify="right")
    for shift_id in shift_ids:
        units.add_column(f"patients/nurse {shift_id}", justify="right")
    units.add_column("nurses needed at full occupancy (" + "/".join(shift_ids) + ")", justify="right")
    for unit in hospital.units:
        needed = "/".join(str(math.ceil(unit.beds / unit.patients_per_nurse[s])) for s in shift_ids)
        units.add_row(
            unit.id,
            unit.kind.value,
            str(unit.beds),
            *(f"{unit.patients_per_nurse[s]:g}" for s in shift_ids),
            needed,
        )
    inpatient = hospital.total_beds
    ed_trolleys = sum(u.beds for u in hospital.units if u.kind == UnitKind.ED)
    units.caption = f"{inpatient} inpatient beds; {ed_trolleys} ED spaces"
    console.print(units)

    staff = Table(title="Nurses on duty per shift (establishment)")
    staff.add_column("staff pool")
    staff.add_column("contract")
    staff.add_column("headcount", justify="right")
    for shift in hospital.shifts:
        staff.add_column(f"{shift.id} {shift.start}–{shift.end}", justify="right")
    for pool in hospital.staff_pools:
        staff.add_row(
            pool.id, pool.contract, str(pool.headcount), *(str(pool.establishment[s]) for s in shift_ids)
        )
    staff.add_row(
        "total",
        "",
        str(sum(p.headcount for p in hospital.staff_pools)),
        *(str(sum(p.establishment[s] for p in hospital.staff_pools)) for s in shift_ids),
        style="bold",
    )
    console.print(staff)

    theatres = Table(title="Theatre sessions (service or 'open')", show_lines=True)
    theatres.add_column("theatre")
    for weekday_name in WEEKDAYS:
        theatres.add_column(weekday_name)
    for theatre in hospital.theatres:
        cells = []
        for day in range(7):
            session = theatre.sessions.on(day)
            cells.append(
                "—" if session is None else f"{session.service or 'open'}\n{session.start}-{session.end}"
            )
        theatres.add_row(theatre.id + (" (emergency)" if theatre.emergency else ""), *cells)
    console.print(theatres)

    services = Table(title="Services")
    services.add_column("service")
    services.add_column("emergency share", justify="right")
    services.add_column("pathways", justify="right")
    services.add_column("elective cases/week", justify="right")
    share_total = sum(s.emergency_share for s in hospital.services)
    for service in hospital.services:
        services.add_row(
            service.id,
            f"{service.emergency_share / share_total:.0%}",
            str(len(service.pathways)),
            f"{service.surgery.elective_cases_per_week:g}" if service.surgery else "—",
        )
    console.print(services)
    admit_rate = sum(t.share * t.admit_probability for t in hospital.ed.triage)
    console.print(
        f"ED: {hospital.ed.attendances_per_day:g} attendances a day, {admit_rate:.0%} admitted; "
        f"diversion when {hospital.ed.diversion_boarding_threshold} patients are boarding."
    )
    if scenario.overrides:
        overrides = Table(title="Overrides (days from the run's start)")
        overrides.add_column("#", justify="right")
        overrides.add_column("kind")
        overrides.add_column("what")
        overrides.add_column("days")
        for i, override in enumerate(scenario.overrides):
            detail = override.model_dump(exclude={"kind", "from_day", "to_day"}, exclude_none=True)
            days = f"{override.from_day}–{override.to_day if override.to_day is not None else 'end'}"
            overrides.add_row(str(i), override.kind, ", ".join(f"{k}={v}" for k, v in detail.items()), days)
        console.print(overrides)


def main() -> None:
    """Entry point of the ``hospital-twin`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
