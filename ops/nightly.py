"""The nightly staffing plan: events → twins → census forecast → staffing demand → roster → publication.

:func:`run_nightly` is one night's run for a plan date ``D`` (a local date of the hospital):

1. **ingest**: the events are already in the store (the ADT listener and the FHIR/history loaders append
   them); the run reads the store's last sequence number and records it in the plan, so that the next run
   knows which events are new;
2. **twins**: the patient twins at the forecast origin, local midnight at the start of ``D``
   (:func:`ops.live.load_twins`);
3. **forecast**: Monte Carlo census paths by unit and hour (``ops.forecasting.census_forecast_from_store``);
4. **demand**: nurses per unit, day, shift and skill at the planner's quantile
   (:func:`scheduler.staffing.staffing_demand`), days past the forecast filled from the same weekday
   (:func:`scheduler.staffing.extend_weekly`);
5. **roster**: ``days`` days from ``D`` (:func:`scheduler.roster.from_scenario.roster_from_scenario`); days
   already published by the plan of an earlier date are kept;
6. **publish**: the plan is saved as a draft, then made the published ``roster`` plan in one transaction
   (:meth:`ops.store.Store.publish_plan`); the census forecast summary is kept; the files (CSV and JSON) are
   written to a temporary folder, renamed into place and pointed at by the ``latest`` link, replaced
   atomically; an audit entry records the run.

The run is **idempotent**: the forecast, the demand and the roster use fixed seeds, and each CP-SAT search
runs on one worker with a deterministic-time limit, so two runs for the same date on the same events give
the same plan. It is **atomic**: until the one publishing transaction the published plan is the previous
one, and the files are only ever switched by renames; a run killed at any moment leaves the previous plan
in place (at worst an unpublished draft or an unused folder stays behind).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ops.store import Plan, Store
from scenarios import Scenario
from scheduler.roster.from_scenario import (
    HospitalRoster,
    RosterSettings,
    TeamProgress,
    roster_from_scenario,
)
from scheduler.roster.solution import RosterStatus
from scheduler.staffing import extend_weekly, shift_of_hours, staffing_demand

PLAN_KIND = "roster"
"""Kind under which the nightly plan is saved in the store."""

ACTOR = "nightly-plan"
"""Actor of the audit entries and plans written by the nightly run."""

CENSUS_FORECAST_NAME = "census"
"""Name of the census forecast kept in the store (read by the API and the command view)."""

STAGES: tuple[str, ...] = ("ingest", "twins", "forecast", "demand", "roster", "publish")
"""The stages of a nightly run, in order."""

ALERT_PROBABILITY = 0.5
"""Over-capacity alerts are raised when the chance of more patients than beds reaches this."""

DEFAULT_FORECAST_HOURS = 336
DEFAULT_PATHS = 1000


class NightlyError(RuntimeError):
    """The nightly run failed; the message says at which stage and why. The previous plan is in place."""


class NightlyCancelled(NightlyError):
    """The nightly run was cancelled before publishing; the previous plan is in place."""


@dataclass(frozen=True)
class NightlyProgress:
    """A progress report of :func:`run_nightly`.

    Attributes
    ----------
    stage
        One of :data:`STAGES`.
    done, total
        Steps done within the stage, out of ``total`` (``total`` 0 when unknown).
    message
        What is going on, for a person.
    """

    stage: str
    done: int
    total: int
    message: str


@dataclass(frozen=True)
class NightlyResult:
    """What a nightly run published.

    Attributes
    ----------
    plan
        The published plan (kind :data:`PLAN_KIND`).
    roster
        The roster, team by team.
    demand
        :data:`scheduler.staffing.STAFFING_DEMAND_SCHEMA` frame used.
    alerts
        Alerts, each a dict with ``kind``, ``severity``, ``unit_id``, ``day``, ``shift`` and ``message``.
    folder
        Folder holding the CSV and JSON files of this plan.
    last_seq
        Sequence number of the newest event taken into account.
    new_events
        Events stored since the previous nightly plan.
    seconds
        Wall time of the run by stage [s].
    """

    plan: Plan
    roster: HospitalRoster
    demand: pl.DataFrame
    alerts: list[dict[str, Any]]
    folder: Path
    last_seq: int
    new_events: int
    seconds: Mapping[str, float] = field(default_factory=dict)


Forecaster = Callable[..., Any]
"""``census_forecast_from_store(store, scenario, origin, hours=, n_paths=, seed=, progress=, cancel=)``."""


def default_forecaster() -> Forecaster:
    """``ops.forecasting.census_forecast_from_store`` (imported on use: it is another team's pipeline)."""
    try:
        module = importlib.import_module("ops.forecasting")
    except ModuleNotFoundError as error:
        raise NightlyError(f"forecast: the census forecast pipeline is not installed ({error})") from None
    function = getattr(module, "census_forecast_from_store", None)
    if not callable(function):
        raise NightlyError("forecast: ops.forecasting has no census_forecast_from_store")
    return function


def forecast_origin(scenario: Scenario, plan_date: date) -> datetime:
    """Local midnight at the start of ``plan_date`` in the hospital's time zone, in UTC."""
    local = datetime.combine(plan_date, clock(0, 0), tzinfo=ZoneInfo(scenario.hospital.timezone))
    return local.astimezone(UTC)


def previous_plan(store: Store, plan_date: date) -> Plan | None:
    """The newest roster plan made for a date before ``plan_date`` that was published (now or before).

    Plans made for ``plan_date`` itself are ignored: a second run for the same date replaces the first one
    rather than building on it, which makes the runs idempotent.
    """
    for plan in reversed(store.plan_versions(PLAN_KIND)):
        if plan.status == "draft":
            continue
        made_for = plan.payload.get("plan_date")
        if isinstance(made_for, str) and date.fromisoformat(made_for) < plan_date:
            return plan
    return None


def run_nightly(
    store: Store,
    scenario: Scenario,
    *,
    plan_date: date,
    days: int = 28,
    quantile: float | None = None,
    out_dir: str | Path = "var/nightly",
    seed: int = 0,
    n_paths: int = DEFAULT_PATHS,
    forecast_hours: int = DEFAULT_FORECAST_HOURS,
    settings: RosterSettings | None = None,
    alert_probability: float = ALERT_PROBABILITY,
    forecaster: Forecaster | None = None,
    actor: str = ACTOR,
    progress: Callable[[NightlyProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> NightlyResult:
    """Make and publish the staffing plan for ``days`` days from ``plan_date``.

    Parameters
    ----------
    store
        The store: events in, plan, forecast and audit out.
    scenario
        The hospital.
    plan_date
        First day of the roster (local date); the forecast starts at its local midnight.
    days
        Days rostered, 1–42.
    quantile
        Census quantile staffed for (default the scenario's ``staffing.demand_quantile``).
    out_dir
        Folder of the published files: ``plans/<date>-v<version>/`` per plan and ``latest`` pointing at
        the newest.
    seed
        Seed of the forecast and of the roster search.
    n_paths
        Monte Carlo census paths.
    forecast_hours
        Hours forecast; later roster days repeat the same weekday's demand.
    settings
        Roster weights and limits (its ``seed`` is replaced by ``seed``).
    alert_probability
        Chance of over-capacity from which an alert is raised (0–1).
    forecaster
        The census forecast function (default :func:`default_forecaster`); tests pass their own.
    actor
        Who runs it (audit entries, plan ``created_by``).
    progress
        Called at every stage and during the forecast and the roster.
    cancel
        Set it to stop before publishing (raises :class:`NightlyCancelled`).

    Returns
    -------
    NightlyResult
        The published plan, roster, demand, alerts and files.

    Raises
    ------
    NightlyError
        A stage failed (the message names it); an audit entry records the failure and the previous plan
        stays published.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 42:
        raise NightlyError(f"days: must be from 1 to 42, got {days!r}")
    if quantile is not None and not 0 < quantile < 1:
        raise NightlyError(f"quantile: must be strictly between 0 and 1, got {quantile!r}")
    if not 0 < alert_probability <= 1:
        raise NightlyError(f"alert_probability: must be in (0, 1], got {alert_probability!r}")
    stage = STAGES[0]
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def enter(name: str, message: str) -> None:
        nonlocal stage, started
        if cancel is not None and cancel.is_set():
            raise NightlyCancelled(f"cancelled before {name}: the previous plan is still published")
        timings[stage] = round(time.perf_counter() - started, 3)
        stage, started = name, time.perf_counter()
        if progress is not None:
            progress(NightlyProgress(name, 0, 0, message))

    try:
        if progress is not None:
            progress(NightlyProgress(stage, 0, 0, "reading the event log"))
        last_seq = store.last_seq()
        previous = previous_plan(store, plan_date)
        previous_seq = int(previous.payload.get("last_seq", 0)) if previous is not None else 0
        new_events = max(0, last_seq - previous_seq)
        origin = forecast_origin(scenario, plan_date)

        enter("twins", "refreshing the patient twins")
        twins = _live("load_twins")(store, origin)
        census_now = _live("census_now")(scenario, twins, origin)
        patients_inside = int(census_now.get_column("census").sum()) if census_now.height else 0

        enter("forecast", f"forecasting the census ({n_paths} paths, {forecast_hours} h)")
        extra: dict[str, Any] = {}
        if forecaster is None:
            forecast_function = default_forecaster()
            extra["save"] = False  # kept below, at publication, with the plan
        else:
            forecast_function = forecaster

        def forecast_progress(share: Any = None, *args: Any, **kwargs: Any) -> None:
            if progress is not None:
                done = round(100 * share) if isinstance(share, int | float) else 0
                progress(NightlyProgress("forecast", done, 100, "forecasting the census"))

        forecast = forecast_function(
            store,
            scenario,
            origin,
            hours=forecast_hours,
            n_paths=n_paths,
            seed=seed,
            progress=forecast_progress,
            cancel=cancel,
            **extra,
        )
        paths: pl.DataFrame = forecast.paths
        summary: pl.DataFrame = forecast.summary

        enter("demand", "turning the census into nurses")
        demand = extend_weekly(staffing_demand(paths, scenario, quantile=quantile), scenario, plan_date, days)
        used_quantile = scenario.hospital.staffing.demand_quantile if quantile is None else quantile

        enter("roster", "rostering")
        roster_settings = _with_seed(settings or RosterSettings(), seed)
        published_rows, published_until = _published(previous, plan_date)

        def roster_progress(report: TeamProgress) -> None:
            if progress is not None:
                progress(
                    NightlyProgress(
                        "roster", report.teams_done, report.teams_total, f"rostering {report.team_id}"
                    )
                )

        roster = roster_from_scenario(
            scenario,
            demand,
            first_day=plan_date,
            days=days,
            published=published_rows,
            published_until=published_until,
            settings=roster_settings,
            progress=roster_progress,
            cancel=cancel,
        )
        if cancel is not None and cancel.is_set():
            raise NightlyCancelled("cancelled while rostering: the previous plan is still published")
        if roster.status in (RosterStatus.INFEASIBLE, RosterStatus.TIMEOUT):
            failed = [t.team.team_id for t in roster.teams if not t.solution.has_roster]
            raise NightlyError(
                f"roster: no roster found for {len(failed)} team(s) ({', '.join(failed[:5])}); "
                "the hard rules of their contracts cannot be met or the search ran out of time"
            )

        enter("publish", "publishing")
        cover = roster.cover_frame()
        assignments = roster.assignments_frame()
        alerts = unfilled_alerts(scenario, cover) + over_capacity_alerts(
            scenario, summary, plan_date, days, alert_probability
        )
        alerts += published_change_alerts(roster)
        payload = {
            "plan_date": plan_date.isoformat(),
            "first_day": plan_date.isoformat(),
            "days": days,
            "quantile": used_quantile,
            "seed": seed,
            "n_paths": n_paths,
            "forecast_hours": forecast_hours,
            "forecast_origin": origin.isoformat(),
            "scenario": scenario.name,
            "scenario_digest": scenario.digest(),
            "last_seq": last_seq,
            "new_events": new_events,
            "patients_inside": patients_inside,
            "previous_version": previous.version if previous is not None else None,
            "published_until": published_until.isoformat() if published_until is not None else None,
            "status": roster.status.value,
            "objective": roster.objective,
            "summary": roster_summary(cover),
            "assignments": _records(assignments),
            "cover": _records(cover),
            "demand": _records(demand),
            "alerts": alerts,
        }
        draft = store.save_plan(PLAN_KIND, payload, status="draft", created_by=actor)
        folder = write_files(Path(out_dir), draft.version, plan_date, payload, assignments, cover, demand)
        store.save_forecast(
            CENSUS_FORECAST_NAME,
            origin,
            summary,
            details={"n_paths": n_paths, "hours": forecast_hours, "seed": seed, "by": actor},
        )
        plan = store.publish_plan(PLAN_KIND, draft.version)
        point_latest(Path(out_dir), folder)
        timings[stage] = round(time.perf_counter() - started, 3)
        store.write_audit(
            actor,
            "nightly_plan",
            "ok",
            {
                "plan_kind": PLAN_KIND,
                "plan_version": plan.version,
                "plan_date": plan_date.isoformat(),
                "days": days,
                "quantile": used_quantile,
                "last_seq": last_seq,
                "new_events": new_events,
                "status": roster.status.value,
                "objective": roster.objective,
                "alerts": len(alerts),
                "folder": str(folder),
                "seconds": timings,
            },
        )
        if progress is not None:
            progress(NightlyProgress("publish", 1, 1, f"published roster plan version {plan.version}"))
        return NightlyResult(plan, roster, demand, alerts, folder, last_seq, new_events, timings)
    except NightlyCancelled as error:
        _audit_failure(store, actor, plan_date, stage, error, outcome="cancelled")
        raise
    except NightlyError as error:
        _audit_failure(store, actor, plan_date, stage, error)
        raise
    except Exception as error:
        wrapped = NightlyError(f"{stage}: {type(error).__name__}: {error}")
        _audit_failure(store, actor, plan_date, stage, wrapped)
        raise wrapped from error


def _live(name: str) -> Callable[..., Any]:
    module = importlib.import_module("ops.live")
    function: Callable[..., Any] = getattr(module, name)
    return function


def _with_seed(settings: RosterSettings, seed: int) -> RosterSettings:
    from dataclasses import replace

    return replace(settings, seed=seed)


def _audit_failure(
    store: Store, actor: str, plan_date: date, stage: str, error: Exception, *, outcome: str = "failed"
) -> None:
    try:
        store.write_audit(
            actor,
            "nightly_plan",
            outcome,
            {"plan_date": plan_date.isoformat(), "stage": stage, "error": str(error)},
        )
    except Exception:  # the store itself may be what failed; the error raised says so
        return


def _published(previous: Plan | None, plan_date: date) -> tuple[list[dict[str, Any]], date | None]:
    """The previous plan's assignments from ``plan_date`` on, and its last day (None: nothing kept)."""
    if previous is None:
        return [], None
    first = date.fromisoformat(str(previous.payload["first_day"]))
    last = first + timedelta(days=int(previous.payload["days"]) - 1)
    if last < plan_date:
        return [], None
    rows = [
        row
        for row in previous.payload.get("assignments", [])
        if date.fromisoformat(str(row["day"])) >= plan_date
    ]
    return rows, last


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (dates as ISO text, NaN as None)."""
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, date):
                row[key] = value.isoformat()
            elif isinstance(value, float) and value != value:
                row[key] = None
    return rows


# -- alerts ------------------------------------------------------------------------------------------------


def _shift_words(scenario: Scenario, shift_id: str) -> str:
    shift = next((s for s in scenario.hospital.shifts if s.id == shift_id), None)
    name = (shift.name or shift.id if shift is not None else shift_id).lower()
    return name if "night" in name else f"{name} shift"


def _unit_name(scenario: Scenario, unit_id: str) -> str:
    try:
        unit = scenario.hospital.unit(unit_id)
    except KeyError:
        return unit_id
    return unit.name or unit.id


def likelihood_words(probability: float) -> str:
    """Plain words for a probability: 'almost certain', 'very likely', 'likely' or 'at risk'.

    >>> likelihood_words(0.8)
    'likely'
    """
    if probability >= 0.95:
        return "almost certain"
    if probability >= 0.9:
        return "very likely"
    if probability >= 0.5:
        return "likely"
    return "at risk"


def unfilled_alerts(scenario: Scenario, cover: pl.DataFrame) -> list[dict[str, Any]]:
    """One alert per unit, day and shift whose demand the roster (agency included) does not meet."""
    alerts = []
    for row in cover.filter(pl.col("unfilled") > 0).sort("day", "unit_id", "shift").iter_rows(named=True):
        day: date = row["day"]
        short = int(row["unfilled"])
        when = f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
        message = (
            f"{_unit_name(scenario, row['unit_id'])} is {short} nurse{'s' if short > 1 else ''} short on the "
            f"{_shift_words(scenario, row['shift'])} of {when} (needs {row['required']}, rostered "
            f"{row['staff']} + {row['agency']} agency)"
        )
        alerts.append(
            {
                "kind": "unfilled_shift",
                "severity": "high" if short >= 2 else "medium",
                "unit_id": row["unit_id"],
                "day": day.isoformat(),
                "shift": row["shift"],
                "skill": row["skill"],
                "nurses_short": short,
                "message": message,
            }
        )
    return alerts


def over_capacity_alerts(
    scenario: Scenario, summary: pl.DataFrame, first_day: date, days: int, probability: float
) -> list[dict[str, Any]]:
    """Units, days and shifts where the forecast gives at least ``probability`` of more patients than beds.

    The chance of a shift is the highest hourly ``p_over_capacity`` within it (census forecast summary,
    ``patients.census.schema.CENSUS_FORECAST_SCHEMA``).
    """
    if summary.height == 0:
        return []
    hours = shift_of_hours(summary.get_column("at"), scenario.hospital)
    last_day = first_day + timedelta(days=days - 1)
    worst = (
        summary.join(hours, on="at", how="left")
        .filter(pl.col("day").is_between(first_day, last_day))
        .group_by("unit_id", "day", "shift")
        .agg(pl.col("p_over_capacity").max(), pl.col("p95").max(), pl.col("beds").max())
        .filter(pl.col("p_over_capacity") >= probability)
        .sort("day", "unit_id", "shift")
    )
    alerts = []
    for row in worst.iter_rows(named=True):
        chance = float(row["p_over_capacity"])
        day: date = row["day"]
        message = (
            f"{_unit_name(scenario, row['unit_id'])} is {likelihood_words(chance)} ({chance:.0%}) to be over "
            f"capacity on {day.strftime('%A')} {_shift_words(scenario, row['shift'])} ({day.isoformat()}; "
            f"{row['beds']} beds, up to {row['p95']:.0f} patients at the 95th percentile)"
        )
        alerts.append(
            {
                "kind": "over_capacity",
                "severity": "high" if chance >= 0.9 else "medium",
                "unit_id": row["unit_id"],
                "day": day.isoformat(),
                "shift": row["shift"],
                "probability": round(chance, 4),
                "message": message,
            }
        )
    return alerts


def published_change_alerts(roster: HospitalRoster) -> list[dict[str, Any]]:
    """An alert per team whose published days could not all be kept."""
    return [
        {
            "kind": "published_roster_changed",
            "severity": "high",
            "unit_id": team.team.unit_id,
            "day": None,
            "shift": None,
            "nurse_days_changed": team.published_changes,
            "message": (
                f"The published roster of team {team.team.team_id} had to change on {team.published_changes} "
                "nurse-day(s): the kept days broke a hard rule"
            ),
        }
        for team in roster.teams
        if team.published_changes > 0
    ]


def roster_summary(cover: pl.DataFrame) -> dict[str, int]:
    """Totals of a cover frame: nurse-shifts required, staffed, agency and unfilled."""
    totals = cover.select(pl.col("required", "staff", "agency", "unfilled").sum()).row(0, named=True)
    return {name: int(value or 0) for name, value in totals.items()}


# -- files -------------------------------------------------------------------------------------------------


def write_files(
    out_dir: Path,
    version: int,
    plan_date: date,
    payload: Mapping[str, Any],
    assignments: pl.DataFrame,
    cover: pl.DataFrame,
    demand: pl.DataFrame,
) -> Path:
    """Write the plan's files into a temporary folder, then rename it to ``plans/<date>-v<version>``.

    Files: ``roster.csv`` (one row per worked shift), ``cover.csv`` (demand met per unit, day and shift),
    ``demand.csv``, ``alerts.json`` and ``plan.json`` (everything but the long tables).

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    plans = out_dir / "plans"
    plans.mkdir(parents=True, exist_ok=True)
    final = plans / f"{plan_date.isoformat()}-v{version}"
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=plans))
    try:
        assignments.write_csv(staging / "roster.csv")
        cover.write_csv(staging / "cover.csv")
        demand.write_csv(staging / "demand.csv")
        (staging / "alerts.json").write_text(json.dumps(payload["alerts"], indent=2) + "\n")
        heading = {k: v for k, v in payload.items() if k not in {"assignments", "cover", "demand", "alerts"}}
        (staging / "plan.json").write_text(json.dumps(heading, indent=2, default=str) + "\n")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        staging.chmod(0o755)
        if final.exists():  # a folder left by a run killed before it published: never the published one
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def point_latest(out_dir: Path, folder: Path) -> None:
    """Make ``<out_dir>/latest`` point at ``folder`` (a symbolic link replaced in one rename).

    ``latest.json`` (written the same way) names the folder too, for readers that do not follow links.
    """
    link = out_dir / "latest"
    staging_link = out_dir / f".latest.{os.getpid()}"
    if staging_link.is_symlink() or staging_link.exists():
        staging_link.unlink()
    os.symlink(folder.relative_to(out_dir), staging_link)
    os.replace(staging_link, link)
    note = out_dir / f".latest.json.{os.getpid()}"
    note.write_text(json.dumps({"folder": str(folder.relative_to(out_dir))}) + "\n")
    os.replace(note, out_dir / "latest.json")


# -- jobs --------------------------------------------------------------------------------------------------


def run_nightly_job(store: Store, params: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The nightly plan as a job of :class:`ops.jobs.JobRunner` (``POST /jobs`` with kind ``nightly``).

    Parameters: ``scenario`` (default ``baseline``), ``date`` (YYYY-MM-DD, default today in the
    hospital's time zone), ``days`` (28), ``quantile``, ``seed`` (0), ``out_dir`` (``var/nightly``).
    """
    from ops.jobs import resolve_scenario

    scenario, _ = resolve_scenario(store, str(params.get("scenario", "baseline")))
    zone = ZoneInfo(scenario.hospital.timezone)
    raw_date = params.get("date")
    plan_date = date.fromisoformat(str(raw_date)) if raw_date else datetime.now(zone).date()

    def report(update: NightlyProgress) -> None:
        done = STAGES.index(update.stage)
        context.progress(done, len(STAGES), update.message)

    result = run_nightly(
        store,
        scenario,
        plan_date=plan_date,
        days=int(params.get("days", 28)),
        quantile=float(params["quantile"]) if params.get("quantile") is not None else None,
        seed=int(params.get("seed", 0)),
        out_dir=str(params.get("out_dir", "var/nightly")),
        actor=getattr(context, "submitted_by", ACTOR),
        progress=report,
        cancel=getattr(context, "cancel_event", None),
    )
    return {
        "plan_kind": result.plan.kind,
        "plan_version": result.plan.version,
        "status": result.roster.status.value,
        "alerts": len(result.alerts),
        "folder": str(result.folder),
    }


run_roster_job = run_nightly_job
"""The roster job runs the same pipeline (the roster needs the fresh forecast and demand)."""
