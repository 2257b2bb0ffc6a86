"""The nightly staffing plan: events → twins → census forecast → staffing demand → roster → publication.

:func:`run_nightly` is one night's run for a plan date ``D`` (a local date of the hospital):

1. **ingest**: first, the files of the previous published plan are checked against the store and
   repaired if a run was killed between publishing and switching them (:func:`sync_published_files`);
   then, with an ``inbox``, every HL7 v2 and FHIR file in it is ingested (:func:`ops.ingest.ingest_files`:
   events appended, idempotent on their id; bad messages quarantined with their reason) and moved to
   ``inbox/processed/`` once committed. The run records the store's last sequence number in the plan, so
   that the next run knows which events are new;
2. **twins**: the patient twins at the forecast origin, local midnight at the start of ``D``
   (:func:`ops.live.load_twins`), kept as the store's twin snapshot (the surgical plan reads the elective
   patients already in bed from it);
3. **forecast**: Monte Carlo census paths by unit and hour (``ops.forecasting.census_forecast_from_store``);
4. **demand**: nurses per unit, day, shift and skill at the planner's quantile
   (:func:`scheduler.staffing.staffing_demand`), days past the forecast filled from the same weekday
   (:func:`scheduler.staffing.extend_weekly`); with ``floor_quantile``, a hard safe-staffing floor too;
5. **roster**: ``days`` days from ``D`` (:func:`scheduler.roster.from_scenario.roster_from_scenario`); days
   already published by the plan of an earlier date are kept. A team whose hard rules cannot all be met
   does not stop the plan: the other teams are published, the plan says what to relax for it
   (``explanation``, ``infeasible_teams``) and an alert says it in plain words;
6. **publish**: the plan is saved as a draft; the census forecast summary is saved, naming that plan
   version; the files (CSV and JSON) are written into the version's own folder; then (unless ``draft``)
   the draft becomes the published ``roster`` plan in one transaction
   (:meth:`ops.store.Store.publish_plan`) and the ``latest`` link is switched to its folder by a rename;
   an audit entry records the run.

The run is **idempotent**: the forecast, the demand, the roster and the explanations use fixed seeds, and
each CP-SAT search runs on one worker with a deterministic-time limit, so two runs for the same date on the
same events give the same plan. It is **atomic**: until the one publishing transaction the published plan
is the previous one, and the files are only ever switched by renames. A run killed at any moment leaves the
previous plan published (at worst an unpublished draft, a forecast or a version folder nobody points at
stays behind); a kill after the publishing transaction but before ``latest`` is switched leaves the link
one version behind the store until the next run (or :func:`sync_published_files`) moves it, and
``plan.json`` names its ``plan_version`` so that a reader can always tell.

**The forecast rule**: the ``census`` forecast in the store is the newest forecast, not part of the plan:
a run killed after forecasting, or a ``draft`` run, leaves a forecast newer than the published plan. Its
``details["plan_version"]`` names the roster plan it was made for, and the plan names its
``forecast_origin``; the plan's alerts (over-capacity included) are in the plan itself.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ops.ingest import IngestError, IngestReport, ingest_files
from ops.settings import SaltNotConfigured, ingest_salt
from ops.store import Plan, Store
from scenarios import Scenario
from scheduler.roster.explain import InfeasibilityExplanation
from scheduler.roster.from_scenario import (
    ROSTER_ASSIGNMENTS_SCHEMA,
    ROSTER_COVER_SCHEMA,
    HospitalRoster,
    RosterSettings,
    TeamProgress,
    TeamRepair,
    TeamRoster,
    cover_floors,
    cover_frame,
    cover_targets,
    repair_team_roster,
    roster_from_scenario,
)
from scheduler.roster.problem import RosterInputError
from scheduler.roster.repair import RosterChange
from scheduler.roster.solution import AgencyBooking, Assignment, RosterStatus
from scheduler.staffing import STAFFING_DEMAND_SCHEMA, extend_weekly, shift_of_hours, staffing_demand

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

PLAN_FILES: tuple[str, ...] = ("roster.csv", "cover.csv", "demand.csv", "alerts.json", "plan.json")
"""The files of a plan's folder."""

PROCESSED_FOLDER = "processed"
"""Sub-folder of the inbox that ingested files are moved to."""


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
    """What a nightly run published (or saved as a draft).

    Attributes
    ----------
    plan
        The plan saved (kind :data:`PLAN_KIND`): published, or a draft with ``draft``.
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
    ingest
        What the inbox gave (None without an inbox).
    explanation
        Plain sentences on what to relax for the teams whose hard rules cannot all be met (None when
        every team's can).
    infeasible_teams
        Those teams, one dict each (see :func:`team_explanation`).
    """

    plan: Plan
    roster: HospitalRoster
    demand: pl.DataFrame
    alerts: list[dict[str, Any]]
    folder: Path
    last_seq: int
    new_events: int
    seconds: Mapping[str, float] = field(default_factory=dict)
    ingest: IngestReport | None = None
    explanation: str | None = None
    infeasible_teams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def draft(self) -> bool:
        """Whether the plan was saved as a draft (not published)."""
        return self.plan.status == "draft"


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
    rather than building on it, which makes the runs idempotent. Drafts never published are ignored.
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
    inbox: str | Path | None = None,
    salt: str | bytes | None = None,
    draft: bool = False,
    floor_quantile: float | None = None,
) -> NightlyResult:
    """Make and publish the staffing plan for ``days`` days from ``plan_date``.

    Parameters
    ----------
    store
        The store: events in, plan, forecast, twin snapshot and audit out.
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
        the published one.
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
        Called at every stage and during the ingest, the forecast and the roster.
    cancel
        Set it to stop before publishing (raises :class:`NightlyCancelled`).
    inbox
        Folder of HL7 v2 and FHIR files to ingest first; each file is moved to ``inbox/processed/`` once
        its events are committed.
    salt
        Pseudonymisation salt for the inbox's messages (``None``: :func:`ops.settings.ingest_salt`, which
        refuses the public demo salt outside demo mode).
    draft
        Save the plan as a draft for a planner to publish (the command view's Publish button) instead of
        publishing it; the ``latest`` files stay on the published plan.
    floor_quantile
        Census quantile of a hard safe-staffing floor per shift (e.g. 0.5: the nurses the ratio needs for
        the median census; agency nurses count); ``None``: no floor, the demand is a soft target only.

    Returns
    -------
    NightlyResult
        The plan, roster, demand, alerts, files, ingest counts and explanations.

    Raises
    ------
    NightlyError
        A stage failed (the message names it), or no team could be rostered at all; an audit entry
        records the failure and the previous plan stays published.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 42:
        raise NightlyError(f"days: must be from 1 to 42, got {days!r}")
    if quantile is not None and not 0 < quantile < 1:
        raise NightlyError(f"quantile: must be strictly between 0 and 1, got {quantile!r}")
    if floor_quantile is not None and not 0 <= floor_quantile < 1:
        raise NightlyError(f"floor_quantile: must be from 0 to below 1, got {floor_quantile!r}")
    if not 0 < alert_probability <= 1:
        raise NightlyError(f"alert_probability: must be in (0, 1], got {alert_probability!r}")
    stage = STAGES[0]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    out = Path(out_dir)

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
            progress(NightlyProgress(stage, 0, 0, "checking the published files"))
        sync_published_files(store, out)
        ingested = None
        if inbox is not None:
            ingested = _ingest_inbox(store, scenario, Path(inbox), salt, progress)
        last_seq = store.last_seq()
        previous = previous_plan(store, plan_date)
        previous_seq = int(previous.payload.get("last_seq", 0)) if previous is not None else 0
        new_events = max(0, last_seq - previous_seq)
        origin = forecast_origin(scenario, plan_date)

        enter("twins", "refreshing the patient twins")
        twins = _live("load_twins")(store, origin)
        census_now = _live("census_now")(scenario, twins, origin)
        patients_inside = int(census_now.get_column("census").sum()) if census_now.height else 0
        snapshot_id = store.save_twin_snapshot(
            origin,
            twins.to_frame(origin),
            details={"by": actor, "plan_date": plan_date.isoformat(), "last_seq": last_seq},
        )

        enter("forecast", f"forecasting the census ({n_paths} paths, {forecast_hours} h)")
        extra: dict[str, Any] = {}
        if forecaster is None:
            forecast_function = default_forecaster()
            extra["save"] = False  # kept below, at publication, with the plan's version
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
        demand = extend_weekly(
            staffing_demand(paths, scenario, quantile=quantile, floor_quantile=floor_quantile),
            scenario,
            plan_date,
            days,
        )
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
        if not any(team.solution.has_roster for team in roster.teams):
            raise NightlyError(
                f"roster: no team could be rostered ({len(roster.teams)} teams): the hard rules of their "
                "contracts cannot be met or the search ran out of time"
            )
        infeasible = [team_explanation(scenario, roster, team) for team in roster.failed_teams]
        explanation = " ".join(line for team in infeasible for line in team["sentences"]) or None

        enter("publish", "saving the plan")
        cover = roster.cover_frame()
        assignments = roster.assignments_frame()
        alerts = infeasibility_alerts(scenario, roster)
        alerts += unfilled_alerts(scenario, cover)
        alerts += over_capacity_alerts(scenario, summary, plan_date, days, alert_probability)
        alerts += published_change_alerts(roster)
        payload = {
            "plan_date": plan_date.isoformat(),
            "first_day": plan_date.isoformat(),
            "days": days,
            "quantile": used_quantile,
            "floor_quantile": floor_quantile,
            "seed": seed,
            "n_paths": n_paths,
            "forecast_hours": forecast_hours,
            "forecast_origin": origin.isoformat(),
            "twin_snapshot_id": snapshot_id,
            "scenario": scenario.name,
            "scenario_digest": scenario.digest(),
            "last_seq": last_seq,
            "new_events": new_events,
            "ingest": ingested.as_dict() if ingested is not None else None,
            "patients_inside": patients_inside,
            "previous_version": previous.version if previous is not None else None,
            "published_until": published_until.isoformat() if published_until is not None else None,
            "status": roster.status.value,
            "objective": roster.objective,
            "explanation": explanation,
            "infeasible_teams": infeasible,
            "teams": team_summaries(roster),
            "settings": asdict(roster_settings),
            "summary": roster_summary(cover),
            "assignments": _records(assignments),
            "agency": _records(roster.agency_frame()),
            "cover": _records(cover),
            "demand": _records(demand),
            "alerts": alerts,
        }
        saved = store.save_plan(PLAN_KIND, payload, status="draft", created_by=actor)
        store.save_forecast(
            CENSUS_FORECAST_NAME,
            origin,
            summary,
            details={
                "n_paths": n_paths,
                "hours": forecast_hours,
                "seed": seed,
                "by": actor,
                "plan_kind": PLAN_KIND,
                "plan_version": saved.version,
            },
        )
        folder = write_files(out, saved.version, plan_date, payload, assignments, cover, demand)
        if draft:
            plan = saved
        else:
            if progress is not None:
                progress(NightlyProgress("publish", 0, 1, f"publishing roster plan version {saved.version}"))
            plan = store.publish_plan(PLAN_KIND, saved.version)
            point_latest(out, folder, plan.version)
        timings[stage] = round(time.perf_counter() - started, 3)
        store.write_audit(
            actor,
            "nightly_plan",
            "ok",
            {
                "plan_kind": PLAN_KIND,
                "plan_version": plan.version,
                "plan_status": plan.status,
                "plan_date": plan_date.isoformat(),
                "days": days,
                "quantile": used_quantile,
                "last_seq": last_seq,
                "new_events": new_events,
                "ingest": _ingest_counts(ingested),
                "status": roster.status.value,
                "objective": roster.objective,
                "alerts": len(alerts),
                "infeasible_teams": [team["team_id"] for team in infeasible],
                "folder": str(folder),
                "seconds": timings,
            },
        )
        if progress is not None:
            done = "saved as draft" if draft else "published"
            progress(NightlyProgress("publish", 1, 1, f"{done}: roster plan version {plan.version}"))
        return NightlyResult(
            plan,
            roster,
            demand,
            alerts,
            folder,
            last_seq,
            new_events,
            timings,
            ingested,
            explanation,
            infeasible,
        )
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


def _ingest_inbox(
    store: Store,
    scenario: Scenario,
    inbox: Path,
    salt: str | bytes | None,
    progress: Callable[[NightlyProgress], None] | None,
) -> IngestReport:
    if not inbox.is_dir():
        raise NightlyError(f"ingest: the inbox {inbox} is not a folder")

    def report(done: int, total: int, name: str) -> None:
        if progress is not None:
            progress(NightlyProgress("ingest", done, total, f"ingesting {name}" if name else "ingested"))

    try:
        # Real identifiers are keyed with the store's secret salt, never the public demo one.
        salt = salt if salt is not None else ingest_salt(store)
    except SaltNotConfigured as error:
        raise NightlyError(f"ingest: {error}") from None
    try:
        return ingest_files(
            store,
            inbox,
            salt=salt,
            local_timezone=ZoneInfo(scenario.hospital.timezone),
            processed_dir=inbox / PROCESSED_FOLDER,
            progress=report,
        )
    except IngestError as error:
        raise NightlyError(f"ingest: {error}") from None


def _ingest_counts(report: IngestReport | None) -> dict[str, int] | None:
    if report is None:
        return None
    return {
        "files": len(report.files),
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
    }


def _live(name: str) -> Callable[..., Any]:
    module = importlib.import_module("ops.live")
    function: Callable[..., Any] = getattr(module, name)
    return function


def _with_seed(settings: RosterSettings, seed: int) -> RosterSettings:

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


def _plural_shift_words(scenario: Scenario, shift_id: str) -> str:
    shift = next((s for s in scenario.hospital.shifts if s.id == shift_id), None)
    name = (shift.name or shift.id if shift is not None else shift_id).lower()
    return name if name.endswith("shifts") else f"{name[:-6] if name.endswith(' shift') else name} shifts"


def date_range_words(first: date, last: date) -> str:
    """A run of days in words: '8 March', '3–5 March', '30 March–2 April', '30 December 2024–2 January 2025'.

    >>> date_range_words(date(2024, 3, 3), date(2024, 3, 5))
    '3–5 March'
    """
    if first == last:
        return f"{first.day} {first.strftime('%B')}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last.strftime('%B')}"
    if first.year == last.year:
        return f"{first.day} {first.strftime('%B')}–{last.day} {last.strftime('%B')}"
    return f"{first.day} {first.strftime('%B %Y')}–{last.day} {last.strftime('%B %Y')}"


def _runs(by_day: Mapping[date, int]) -> list[tuple[date, date, int]]:
    """Consecutive days with the same count, as (first, last, count)."""
    runs: list[tuple[date, date, int]] = []
    for day in sorted(by_day):
        count = by_day[day]
        if runs and runs[-1][1] + timedelta(days=1) == day and runs[-1][2] == count:
            runs[-1] = (runs[-1][0], day, count)
        else:
            runs.append((day, day, count))
    return runs


def extra_nurses_sentence(
    scenario: Scenario, unit_id: str, shift_id: str, skill: str, by_day: Mapping[date, int]
) -> str:
    """Plain words for the extra nurses a unit's shifts need to meet the rules.

    >>> extra_nurses_sentence(scenario, "W7", "night", "rn", {date(2024, 3, d): 2 for d in (3, 4, 5)})  # doctest: +SKIP
    'Ward 7 night shifts need 2 more nurses with skill rn on 3–5 March to meet the rules'
    """  # noqa: E501
    parts = []
    for i, (first, last, count) in enumerate(_runs(by_day)):
        nurses = f"{count} more nurse{'s' if count != 1 else ''}"
        if i == 0:
            parts.append(f"{nurses} with skill {skill} on {date_range_words(first, last)}")
        else:
            parts.append(f"{count} more on {date_range_words(first, last)}")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (
        f"{_unit_name(scenario, unit_id)} {_plural_shift_words(scenario, shift_id)} need {listed} "
        "to meet the rules"
    )


def _rule_subject_words(roster: HospitalRoster, subject: str) -> str:
    """A cover line's subject ``day 3, night, AMU, rn`` as ``2024-04-15 night AMU rn``; a nurse id as is."""
    head, _, rest = subject.partition(", ")
    if head.startswith("day ") and head[4:].isdigit() and rest:
        return f"{roster.date_of(int(head[4:])).isoformat()} {rest.replace(', ', ' ')}"
    return subject


def conflict_sentence(roster: HospitalRoster, team_id: str, explanation: InfeasibilityExplanation) -> str:
    """The conflicting rules of a team in one sentence, rule by rule, with up to three subjects each."""
    by_rule: dict[str, list[str]] = defaultdict(list)
    for conflict in explanation.conflicting_rules:
        by_rule[conflict.rule.value].append(_rule_subject_words(roster, conflict.subject))
    parts = []
    for rule, subjects in sorted(by_rule.items()):
        shown = ", ".join(subjects[:3]) + (f" and {len(subjects) - 3} more" if len(subjects) > 3 else "")
        parts.append(f"{rule.replace('_', ' ')} ({shown})")
    minimal = "" if explanation.conflict_is_minimal else " (a conflicting set, perhaps not the smallest)"
    return f"Team {team_id}: these rules cannot all hold together{minimal}: " + "; ".join(parts)


def team_explanation(scenario: Scenario, roster: HospitalRoster, team: TeamRoster) -> dict[str, Any]:
    """What to relax for a team whose hard rules cannot all be met, JSON-ready.

    Returns
    -------
    dict
        ``team_id``, ``unit_id``, ``staff_pool``; ``rostered`` (whether the plan holds a roster for the team:
        one below its safe-staffing floors, when ``floors_relaxed``); ``status``; ``extra_nurses`` (rows
        ``unit_id``, ``day``, ``shift``, ``skill``, ``nurses``: the fewest extra nurses, agency included,
        that meet every hard rule); ``extra_nurses_by_shift_and_skill`` (rows ``shift``, ``skill``,
        ``nurse_shifts``); ``extra_nurses_suffice`` (False: no number of nurses helps, a contract rule
        must change; None: not known); ``extra_nurses_proven_fewest``; ``conflicting_rules`` (rows ``rule``,
        ``subject``); ``conflict_is_minimal``; ``sentences`` (plain words, also in the alerts).
    """
    team_id = team.team.team_id
    explanation: InfeasibilityExplanation | None = team.explanation
    record: dict[str, Any] = {
        "team_id": team_id,
        "unit_id": team.team.unit_id,
        "staff_pool": team.team.pool.id,
        "rostered": team.solution.has_roster,
        "status": team.status.value,
        "floors_relaxed": team.floors_relaxed,
        "extra_nurses": [],
        "extra_nurses_by_shift_and_skill": [],
        "extra_nurses_suffice": None,
        "extra_nurses_proven_fewest": False,
        "conflicting_rules": [],
        "conflict_is_minimal": False,
        "sentences": [],
    }
    sentences: list[str] = record["sentences"]
    if explanation is None:
        if team.solution.has_roster:
            sentences.append(
                f"Team {team_id}: its roster is below the safe-staffing floor on some shifts; the search "
                "found no better one in its time (relax the floor or give the search more time)."
            )
        else:
            sentences.append(
                f"Team {team_id}: no roster was found in the time allowed; its nurses have no shifts in "
                "this plan."
            )
        return record
    record["extra_nurses"] = [
        {
            "unit_id": extra.unit_id,
            "day": roster.date_of(extra.day).isoformat(),
            "shift": extra.shift_id,
            "skill": extra.skill,
            "nurses": extra.nurses,
        }
        for extra in explanation.extra_nurses
    ]
    record["extra_nurses_by_shift_and_skill"] = [
        {"shift": shift, "skill": skill, "nurse_shifts": nurses}
        for (shift, skill), nurses in sorted(explanation.extra_nurses_by_shift_and_skill().items())
    ]
    record["extra_nurses_suffice"] = explanation.extra_nurses_suffice
    record["extra_nurses_proven_fewest"] = explanation.extra_nurses_proven_fewest
    record["conflicting_rules"] = [
        {"rule": c.rule.value, "subject": _rule_subject_words(roster, c.subject)}
        for c in explanation.conflicting_rules
    ]
    record["conflict_is_minimal"] = explanation.conflict_is_minimal
    if explanation.extra_nurses_suffice and explanation.extra_nurses:
        grouped: dict[tuple[str, str, str], dict[date, int]] = defaultdict(dict)
        for extra in explanation.extra_nurses:
            grouped[(extra.unit_id, extra.shift_id, extra.skill)][roster.date_of(extra.day)] = extra.nurses
        fewest = (
            "" if explanation.extra_nurses_proven_fewest else " (the fewest found, perhaps not the fewest)"
        )
        sentences.append(
            f"Team {team_id}: {explanation.total_extra_nurses} more nurse-shift(s) meet every hard "
            f"rule{fewest}."
        )
        sentences += [
            extra_nurses_sentence(scenario, unit_id, shift_id, skill, by_day) + "."
            for (unit_id, shift_id, skill), by_day in sorted(grouped.items())
        ]
    elif explanation.extra_nurses_suffice is False:
        sentences.append(
            f"Team {team_id}: no number of extra nurses meets the rules; a contract rule has to change."
        )
    elif explanation.problem_is_feasible:
        sentences.append(
            f"Team {team_id}: the rules can be met, but the search did not find how in its time."
        )
    if explanation.conflicting_rules:
        sentences.append(conflict_sentence(roster, team_id, explanation) + ".")
    if team.floors_relaxed:
        sentences.append(
            f"Team {team_id} is rostered below its floors in this plan (the unfilled shifts say where)."
        )
    return record


def team_summaries(roster: HospitalRoster) -> list[dict[str, Any]]:
    """Each team's status, nurses and published changes (JSON-ready)."""
    return [
        {
            "team_id": team.team.team_id,
            "unit_id": team.team.unit_id,
            "staff_pool": team.team.pool.id,
            "nurses": len(team.team.nurse_ids),
            "status": team.status.value,
            "floors_relaxed": team.floors_relaxed,
            "published_changes": team.published_changes,
        }
        for team in roster.teams
    ]


def infeasibility_alerts(scenario: Scenario, roster: HospitalRoster) -> list[dict[str, Any]]:
    """Alerts for the teams whose hard rules cannot all be met.

    One ``rules_cannot_be_met`` alert per unit, shift and skill that needs extra nurses (summed over the
    unit's teams), e.g. *"Acute medical unit night shifts need 2 more nurses with skill rn on 3–5 April to
    meet the rules"*; one per team whose contracts conflict (no number of nurses helps), or that has no
    roster at all. Severity high.
    """
    extras: dict[tuple[str, str, str], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    alerts: list[dict[str, Any]] = []
    for team in roster.failed_teams:
        explanation = team.explanation
        if explanation is not None and explanation.extra_nurses_suffice and explanation.extra_nurses:
            for extra in explanation.extra_nurses:
                line = extras[(extra.unit_id, extra.shift_id, extra.skill)]
                line[roster.date_of(extra.day)] += extra.nurses
            continue
        record = team_explanation(scenario, roster, team)
        alerts.append(
            {
                "kind": "rules_cannot_be_met",
                "severity": "high",
                "unit_id": team.team.unit_id,
                "team_id": team.team.team_id,
                "day": None,
                "shift": None,
                "message": " ".join(record["sentences"]),
            }
        )
    for (unit_id, shift_id, skill), by_day in sorted(extras.items()):
        alerts.append(
            {
                "kind": "rules_cannot_be_met",
                "severity": "high",
                "unit_id": unit_id,
                "day": min(by_day).isoformat(),
                "last_day": max(by_day).isoformat(),
                "shift": shift_id,
                "skill": skill,
                "extra_nurse_shifts": sum(by_day.values()),
                "message": extra_nurses_sentence(scenario, unit_id, shift_id, skill, by_day),
            }
        )
    return alerts


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
    ``demand.csv``, ``alerts.json`` and ``plan.json`` (everything but the long tables, with the store's
    ``plan_version``).

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
        long_tables = {"assignments", "cover", "demand", "alerts", "agency"}
        heading = {"plan_version": version, **{k: v for k, v in payload.items() if k not in long_tables}}
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


def point_latest(out_dir: Path, folder: Path, version: int | None = None) -> None:
    """Make ``<out_dir>/latest`` point at ``folder`` (a symbolic link replaced in one rename).

    ``latest.json`` (written the same way) names the folder and the plan version too, for readers that do
    not follow links.
    """
    link = out_dir / "latest"
    staging_link = out_dir / f".latest.{os.getpid()}"
    if staging_link.is_symlink() or staging_link.exists():
        staging_link.unlink()
    os.symlink(folder.relative_to(out_dir), staging_link)
    os.replace(staging_link, link)
    note = out_dir / f".latest.json.{os.getpid()}"
    heading = _read_json(folder / "plan.json") or {}
    note.write_text(
        json.dumps(
            {
                "folder": str(folder.relative_to(out_dir)),
                "plan_version": version if version is not None else heading.get("plan_version"),
                "plan_date": heading.get("plan_date"),
            }
        )
        + "\n"
    )
    os.replace(note, out_dir / "latest.json")


def plan_folder(out_dir: Path, plan: Plan) -> Path:
    """The folder of a plan's files: ``<out_dir>/plans/<plan date>-v<version>``."""
    made_for = plan.payload.get("plan_date") or plan.payload.get("first_day") or "undated"
    return Path(out_dir) / "plans" / f"{made_for}-v{plan.version}"


def latest_version(out_dir: str | Path) -> int | None:
    """The plan version the ``latest`` files are of (None when there are none, or they name none)."""
    heading = _read_json(Path(out_dir) / "latest" / "plan.json")
    version = heading.get("plan_version") if heading else None
    return int(version) if isinstance(version, int) else None


def sync_published_files(store: Store, out_dir: str | Path) -> Path | None:
    """Make the ``latest`` files those of the store's published roster plan; returns their folder.

    The store decides: when ``latest`` points elsewhere (a run killed between publishing and switching the
    link, or a draft published from the command view), the published version's folder is written from its
    payload if it is missing, and ``latest`` is switched to it. Nothing changes when they already agree,
    or when no roster plan is published (None).
    """
    published = store.latest_plan(PLAN_KIND)
    if published is None:
        return None
    out = Path(out_dir)
    folder = plan_folder(out, published)
    heading = _read_json(folder / "plan.json")
    if (
        heading is None
        or not all((folder / name).is_file() for name in PLAN_FILES)
        or heading.get("plan_version", published.version) != published.version
    ):
        folder = _write_files_from_payload(out, published)
    note = _read_json(out / "latest.json") or {}
    link = out / "latest"
    pointed = link.is_symlink() and link.resolve() == folder.resolve()
    if not pointed or note.get("plan_version") != published.version:
        point_latest(out, folder, published.version)
    return folder


def _write_files_from_payload(out_dir: Path, plan: Plan) -> Path:
    payload = plan.payload
    made_for = payload.get("plan_date") or payload.get("first_day")
    plan_date = date.fromisoformat(str(made_for)) if made_for else date.min
    frames = [
        _frame(payload.get(key) or [], schema)
        for key, schema in (
            ("assignments", ROSTER_ASSIGNMENTS_SCHEMA),
            ("cover", ROSTER_COVER_SCHEMA),
            ("demand", STAFFING_DEMAND_SCHEMA),
        )
    ]
    complete = {"alerts": [], **payload}
    return write_files(out_dir, plan.version, plan_date, complete, *frames)


def _frame(rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Payload rows as a frame in ``schema``'s column order (columns a payload lacks are left out)."""
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    frame = pl.DataFrame(rows, infer_schema_length=None)
    columns = [name for name in schema if name in frame.columns]
    return frame.select(
        pl.col(name).str.to_date()
        if schema[name] == pl.Date() and frame.schema[name] == pl.String()
        else name
        for name in columns
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# -- repair after a sick call ------------------------------------------------------------------------------


REPAIR_ACTOR = "roster-repair"
"""Actor of the plans and audit entries written by :func:`repair_roster_plan`."""


@dataclass(frozen=True)
class RosterRepairResult:
    """What :func:`repair_roster_plan` saved.

    Attributes
    ----------
    plan
        The new plan version (a draft, or published).
    based_on
        The published plan it repairs.
    repair
        The team's repair (problem, published and repaired rosters, explanation).
    changes
        Nurse-days changed, JSON-ready (``nurse_id``, ``day``, ``before`` and ``after``: ``None`` for a day
        off, else ``shift``, ``unit_id`` and ``skill``).
    alerts
        The new plan's alerts.
    folder
        The new plan's files (published plans only, with an ``out_dir``).
    """

    plan: Plan
    based_on: Plan
    repair: TeamRepair
    changes: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    folder: Path | None = None

    @property
    def status(self) -> RosterStatus:
        """The repaired team's status (``infeasible`` when its hard rules cannot all be met)."""
        return self.repair.status


def repair_roster_plan(
    store: Store,
    scenario: Scenario,
    *,
    nurse_id: str,
    absent_from: date,
    absent_to: date | None = None,
    from_day: date | None = None,
    reason: str = "sick",
    publish: bool = False,
    out_dir: str | Path | None = None,
    settings: RosterSettings | None = None,
    change_weight: int | None = None,
    actor: str = REPAIR_ACTOR,
    cancel: threading.Event | None = None,
) -> RosterRepairResult:
    """Record a nurse's absence and re-roster her team from a day on with the fewest changes.

    The published roster plan is the reference: its days before ``from_day`` (the past, and whatever is
    no longer to change) stay exactly as published; from ``from_day`` on, the absent nurse's team is
    rostered again (:func:`scheduler.roster.from_scenario.repair_team_roster`), changing as few
    nurse-days as it can. The other teams are untouched. The result is saved as a new version of the
    roster plan: a draft for a planner to publish (the command view's Publish button), or published.

    Parameters
    ----------
    store
        The store holding the published roster plan.
    scenario
        The hospital the plan was made for.
    nurse_id
        The absent nurse (e.g. ``amu_nurses-007``).
    absent_from, absent_to
        First and last day of the absence (local dates; ``absent_to`` defaults to ``absent_from``).
    from_day
        First day that may change (default ``absent_from``); at most ``absent_from``.
    reason
        Why (``sick``, ``leave``, ...), recorded in the plan and the audit log.
    publish
        Publish the new version (default: save it as a draft).
    out_dir
        With ``publish``: the nightly plan's files folder, switched to the new version.
    settings
        Roster settings (default those the plan records, else the defaults).
    change_weight
        Penalty per changed nurse-day (default half the under-cover weight).
    actor
        Who asks (plan ``created_by``, audit).
    cancel
        Set it to stop the search (the best repair so far is kept).

    Returns
    -------
    RosterRepairResult

    Raises
    ------
    NightlyError
        No published roster plan, a nurse or days the plan does not have, or no repaired roster found.
    """
    absent_to = absent_to or absent_from
    from_day = from_day or absent_from
    based_on = store.latest_plan(PLAN_KIND)
    if based_on is None:
        raise NightlyError("repair: no published roster plan to repair (run `hospital-twin nightly` first)")
    payload = based_on.payload
    first_day = date.fromisoformat(str(payload["first_day"]))
    days = int(payload["days"])
    last_day = first_day + timedelta(days=days - 1)
    if absent_to < absent_from:
        raise NightlyError(f"repair: --to {absent_to} is before --from {absent_from}")
    if from_day > absent_from:
        raise NightlyError(f"repair: the first day to change ({from_day}) is after the absence starts")
    if absent_to < first_day or absent_from > last_day:
        raise NightlyError(
            f"repair: the absence {absent_from}–{absent_to} is outside roster plan version "
            f"{based_on.version} ({first_day} to {last_day})"
        )
    start = max(from_day, first_day)
    absent_days = [
        (absent_from + timedelta(days=k) - first_day).days
        for k in range((absent_to - absent_from).days + 1)
        if first_day <= absent_from + timedelta(days=k) <= last_day
    ]
    roster_settings = settings or _recorded_settings(payload)
    demand = _frame(payload.get("demand") or [], STAFFING_DEMAND_SCHEMA)
    try:
        repaired = repair_team_roster(
            scenario,
            demand,
            first_day=first_day,
            days=days,
            assignments=payload.get("assignments") or [],
            agency=payload.get("agency"),
            nurse_id=nurse_id,
            absent_days=absent_days,
            from_day=(start - first_day).days,
            settings=roster_settings,
            change_weight=change_weight,
            cancel=cancel,
        )
    except RosterInputError as error:
        raise NightlyError(f"repair: {error}") from None
    team = repaired.team
    if repaired.solution.roster is None:
        why = ""
        if repaired.explanation is not None:
            why = " " + " ".join(repaired.explanation.summary())
        raise NightlyError(
            f"repair: no roster of team {team.team_id} meets the rules with {nurse_id} absent "
            f"({repaired.solution.status.value}).{why}"
        )
    new_roster = repaired.solution.roster
    nurses = set(team.nurse_ids)
    kept_rows = [row for row in payload.get("assignments") or [] if row["nurse_id"] not in nurses]
    team_rows = [
        {
            "nurse_id": a.nurse_id,
            "staff_pool": team.pool.id,
            "day": (first_day + timedelta(days=a.day)).isoformat(),
            "shift": a.shift_id,
            "unit_id": a.unit_id,
            "skill": a.skill,
        }
        for a in new_roster.assignments
    ]
    assignments = sorted(kept_rows + team_rows, key=lambda row: (row["nurse_id"], row["day"]))
    agency_rows = [row for row in payload.get("agency") or [] if row.get("team_id") != team.team_id]
    agency_rows += [
        {
            "team_id": team.team_id,
            "unit_id": b.unit_id,
            "day": (first_day + timedelta(days=b.day)).isoformat(),
            "shift": b.shift_id,
            "skill": b.skill,
            "nurses": b.nurses,
        }
        for b in new_roster.agency
    ]
    cover = _cover_of(scenario, demand, first_day, days, assignments, agency_rows, payload, team.team_id)
    changes = [_change_record(first_day, change) for change in repaired.changes]
    alerts = [a for a in payload.get("alerts") or [] if a.get("kind") not in ("unfilled_shift",)]
    alerts += unfilled_alerts(scenario, cover)
    alerts += [_change_alert(scenario, change) for change in changes]
    sentences: list[str] = []
    if repaired.explanation is not None:
        sentences = repaired.explanation.summary()
    status = repaired.status.value if repaired.status is RosterStatus.INFEASIBLE else payload.get("status")
    new_payload = {
        **payload,
        "status": status,
        "summary": roster_summary(cover),
        "assignments": assignments,
        "agency": sorted(agency_rows, key=lambda r: (r["team_id"], r["unit_id"], r["day"], r["shift"])),
        "cover": _records(cover),
        "alerts": alerts,
        "repair": {
            "based_on_version": based_on.version,
            "nurse_id": nurse_id,
            "team_id": team.team_id,
            "absent_from": absent_from.isoformat(),
            "absent_to": absent_to.isoformat(),
            "from_day": start.isoformat(),
            "reason": reason,
            "status": repaired.status.value,
            "changes": changes,
            "explanation": sentences,
        },
    }
    saved = store.save_plan(
        PLAN_KIND, new_payload, status="published" if publish else "draft", created_by=actor
    )
    folder = sync_published_files(store, out_dir) if publish and out_dir is not None else None
    store.write_audit(
        actor,
        "roster_repair",
        "ok" if repaired.status is not RosterStatus.INFEASIBLE else "infeasible",
        {
            "plan_kind": PLAN_KIND,
            "plan_version": saved.version,
            "plan_status": saved.status,
            "based_on_version": based_on.version,
            "nurse_id": nurse_id,
            "absent_from": absent_from.isoformat(),
            "absent_to": absent_to.isoformat(),
            "from_day": start.isoformat(),
            "reason": reason,
            "changes": len(changes),
        },
    )
    return RosterRepairResult(saved, based_on, repaired, changes, alerts, folder)


def _recorded_settings(payload: Mapping[str, Any]) -> RosterSettings:
    """The roster settings a plan records (unknown keys ignored; defaults for a plan that records none)."""
    recorded = payload.get("settings")
    if not isinstance(recorded, Mapping):
        return RosterSettings()
    names = {f.name for f in fields(RosterSettings)}
    return RosterSettings(**{k: v for k, v in recorded.items() if k in names})


def _cover_of(
    scenario: Scenario,
    demand: pl.DataFrame,
    first_day: date,
    days: int,
    assignments: list[dict[str, Any]],
    agency_rows: list[dict[str, Any]],
    payload: Mapping[str, Any],
    team_id: str,
) -> pl.DataFrame:
    """The cover of a repaired plan (a plan without per-team agency: other teams' agency from its cover)."""
    targets = cover_targets(scenario, demand, first_day, days)
    floors = cover_floors(scenario, demand, first_day, days)

    def index(value: Any) -> int:
        return (date.fromisoformat(str(value)) - first_day).days

    worked = [
        Assignment(r["nurse_id"], index(r["day"]), r["shift"], r["unit_id"], r["skill"]) for r in assignments
    ]
    booked = [
        AgencyBooking(index(r["day"]), r["shift"], r["unit_id"], r["skill"], int(r["nurses"]))
        for r in agency_rows
    ]
    if payload.get("agency") is None:  # a plan from before per-team agency: the lines' agency, but the team's
        team_lines = {(b.day, b.shift_id, b.unit_id, b.skill) for b in booked}
        for row in payload.get("cover") or []:
            key = (index(row["day"]), row["shift"], row["unit_id"], row["skill"])
            if int(row.get("agency") or 0) > 0 and key not in team_lines:
                booked.append(AgencyBooking(*key, int(row["agency"])))
    return cover_frame(first_day, targets, floors, worked, booked)


def _change_record(first_day: date, change: RosterChange) -> dict[str, Any]:
    def cell(assignment: Assignment | None) -> dict[str, str] | None:
        if assignment is None:
            return None
        return {"shift": assignment.shift_id, "unit_id": assignment.unit_id, "skill": assignment.skill}

    return {
        "nurse_id": change.nurse_id,
        "day": (first_day + timedelta(days=change.day)).isoformat(),
        "before": cell(change.published),
        "after": cell(change.repaired),
    }


def _change_alert(scenario: Scenario, change: Mapping[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(change["day"])
    before, after = change["before"], change["after"]

    def words(cell: Mapping[str, str] | None) -> str:
        if cell is None:
            return "off"
        return f"on the {_shift_words(scenario, cell['shift'])} on {_unit_name(scenario, cell['unit_id'])}"

    return {
        "kind": "roster_changed",
        "severity": "medium",
        "unit_id": (after or before or {}).get("unit_id"),
        "day": change["day"],
        "shift": (after or before or {}).get("shift"),
        "nurse_id": change["nurse_id"],
        "message": (
            f"{change['nurse_id']} is now {words(after)} on {day.strftime('%A')} {day.day} "
            f"{day.strftime('%B')} (was {words(before)}): tell them"
        ),
    }


# -- jobs --------------------------------------------------------------------------------------------------


def run_nightly_job(store: Store, params: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The nightly plan as a job of :class:`ops.jobs.JobRunner` (``POST /jobs`` with kind ``nightly``).

    Parameters: ``scenario`` (default ``baseline``), ``date`` (YYYY-MM-DD, default today in the
    hospital's time zone), ``days`` (28), ``quantile``, ``seed`` (0), ``out_dir`` (``var/nightly``),
    ``inbox`` (none), ``draft`` (false), ``floor_quantile`` (none).
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
        inbox=str(params["inbox"]) if params.get("inbox") else None,
        draft=bool(params.get("draft", False)),
        floor_quantile=float(params["floor_quantile"]) if params.get("floor_quantile") is not None else None,
    )
    return {
        "plan_kind": result.plan.kind,
        "plan_version": result.plan.version,
        "plan_status": result.plan.status,
        "status": result.roster.status.value,
        "alerts": len(result.alerts),
        "folder": str(result.folder),
        "ingest": _ingest_counts(result.ingest),
        "explanation": result.explanation,
    }


run_roster_job = run_nightly_job
"""The roster job runs the same pipeline (the roster needs the fresh forecast and demand)."""
