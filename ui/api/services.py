"""What the read routes call: one function per answer, over the store and the domain packages.

Parts built by other pipelines (``ops.live`` for the twins and census, the nightly plan for alerts) are
used when present; when something is missing the functions raise :class:`~ui.api.errors.NotFound` or
:class:`~ui.api.errors.Unavailable` with a clear message, which the service answers with 404 or 409.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from ops.jobs import json_safe, resolve_scenario
from ops.store import Plan, Store, StoredFrame
from ops.store.schema import scenario_runs
from patients.census.schema import CENSUS_FORECAST_SCHEMA, HIGH_ACUITY_BAND_SCHEMA
from patients.events import frame_to_events
from patients.twin import TWIN_SCHEMA, TwinRegistry
from scenarios import Scenario, ScenarioError, load_scenario, scenario_path
from ui.api.errors import NotFound, Unavailable

CENSUS_FORECAST_NAME = "census"
"""Name under which the census forecast is kept in the store."""

NIGHTLY_PLAN_KINDS: tuple[str, ...] = ("nightly", "staffing", "roster")
"""Plan kinds that may carry the nightly plan's ``alerts``, in the order they are looked at."""

AT_RISK_PROBABILITY = 0.10
"""An hour is at risk when the chance of more patients than beds is above this."""

NIGHTLY_AUDIT_ACTION = "nightly_plan"
"""Action of the audit entry the nightly plan writes at the end of every run (``ops.nightly``)."""

CENSUS_HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "at": pl.Datetime("us", "UTC"),
    "census": pl.Int32(),
    "high_acuity": pl.Int32(),
}
"""One row per unit and past moment: the census counted then, and of it the patients in the high NEWS2
band when a twin snapshot was kept at that moment (null otherwise) [patients]."""

HISTORY_STEP_HOURS = 6
"""Spacing of the past census readings [hours]."""

HISTORY_LOOKBACK_DAYS = 30
"""Days of stays read before the window asked for, so that patients already inside are counted [days]."""

ACUITY_BAND_COLUMNS = tuple(HIGH_ACUITY_BAND_SCHEMA)
"""Columns a census forecast adds to ``CENSUS_FORECAST_SCHEMA``: the 5-95 % band of high-acuity patients
by unit and hour (passed on when present; forecasts stored before they existed lack them)."""

TWIN_TIME_COLUMNS = ("unit_since", "arrived_at", "admitted_at", "discharged_at", "news2_observed_at")
"""Times of a twin that are given to the hour only (see :func:`coarsened_twins`)."""

TWIN_PUBLIC_COLUMNS: tuple[str, ...] = tuple(column for column in TWIN_SCHEMA if column != "bed")
"""What ``GET /twins`` returns of each twin: everything but the bed."""

_INSIDE = ("registered", "admitted")


def optional_function(module_name: str, function_name: str) -> Callable[..., Any] | None:
    """A function of a module that may not be part of this installation (``None`` when absent)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            return None
        raise
    function = getattr(module, function_name, None)
    return function if callable(function) else None


# -- the hospital -----------------------------------------------------------------------------------------


class AnswerCache:
    """Answers reused for a few seconds, keyed by what they depend on (thread-safe, bounded).

    An answer is built once however many requests ask for it at the same moment: the others wait for it
    (under load, a dozen threads building the same census history would only slow each other down).
    """

    def __init__(self, seconds: float, max_entries: int = 256) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._building: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """The answer under ``key``, built again when older than :attr:`seconds`."""
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh[0]
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            fresh = self._fresh(key)  # built by another thread while this one waited
            if fresh is not None:
                return fresh[0]
            answer = build()
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (time.monotonic(), answer)
                self._building.pop(key, None)
        return answer

    def _fresh(self, key: tuple[Any, ...]) -> tuple[Any] | None:
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and time.monotonic() - cached[0] <= self.seconds:
            return (cached[1],)
        return None


ANSWER_CACHE_SECONDS = 5.0
"""Scenario, forecast and KPI answers are reused this long [seconds]: a change shows at most this late."""

_SCENARIOS = AnswerCache(ANSWER_CACHE_SECONDS)
_ENCODED = AnswerCache(ANSWER_CACHE_SECONDS)


def hospital_scenario(store: Store, name: str) -> Scenario:
    """The scenario describing the hospital (its newest saved version, else the shipped file).

    Reused for :data:`ANSWER_CACHE_SECONDS`: every read needs it, and it changes rarely.
    """
    scenario: Scenario = _SCENARIOS.get((store.url, name), lambda: _load_hospital_scenario(store, name))
    return scenario


def _load_hospital_scenario(store: Store, name: str) -> Scenario:
    try:
        return resolve_scenario(store, name)[0]
    except KeyError:
        raise Unavailable(f"the hospital scenario {name!r} is neither saved nor shipped") from None
    except ScenarioError as error:
        raise Unavailable(f"the hospital scenario {name!r} is not valid: {error}") from None


def units(scenario: Scenario) -> list[dict[str, Any]]:
    """The units of the hospital: id, name, kind and beds."""
    return [
        {"id": unit.id, "name": unit.name or unit.id, "kind": unit.kind.value, "beds": unit.beds}
        for unit in scenario.hospital.units
    ]


# -- twins and census -------------------------------------------------------------------------------------


class TwinsSource:
    """The patient twins now, kept in memory and brought up to date with the events stored since.

    The first call builds the registry (``ops.live.load_twins(store, now)`` when it gives a
    :class:`~patients.twin.TwinRegistry`, else by replaying the stored events); later calls apply only the
    events stored since (:meth:`~ops.store.Store.events_since`), so a read costs milliseconds even for a
    large hospital. The frame is rebuilt when events arrive or after ``max_age_seconds`` (elapsed stays
    move on).
    """

    def __init__(self, max_age_seconds: float = 30.0, clock: Callable[[], datetime] | None = None) -> None:
        self.max_age_seconds = max_age_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self._registry: TwinRegistry | None = None
        self._seq = 0
        self._frame: pl.DataFrame | None = None
        self._as_of = datetime.now(UTC)
        self._built_at = 0.0
        self._lock = threading.Lock()

    def frame(self, store: Store, *, wait: bool = False) -> tuple[datetime, pl.DataFrame]:
        """(as of, twins frame with :data:`~patients.twin.TWIN_SCHEMA`), patients inside only.

        Parameters
        ----------
        store
            The store the twins come from.
        wait
            Wait for a build in progress (the command view) instead of answering at once with the frame
            before it, or :class:`Unavailable` when there is none yet (the API).

        Raises
        ------
        Unavailable
            When the store holds no patient events yet, or the first build is still running.
        """
        last_seq = store.last_seq()
        if last_seq == 0:
            raise Unavailable("no patient events in the store yet: send ADT or FHIR, or run the demo")
        # Readers never queue behind a build: while one runs they get the frame before it, if any.
        if not self._lock.acquire(blocking=wait):
            if self._frame is not None:
                return self._as_of, self._frame
            raise Unavailable(
                "the patient twins are being built from the event store; retry in a few seconds"
            )
        try:
            return self._refresh(store, last_seq)
        finally:
            self._lock.release()

    def _refresh(self, store: Store, last_seq: int) -> tuple[datetime, pl.DataFrame]:
        """Apply the events stored since the last call; rebuild the frame when needed (lock held)."""
        if self._registry is None or last_seq < self._seq:  # first call, or another store behind it
            self._registry, self._seq = _initial_registry(store, last_seq, self.clock())
        if last_seq > self._seq:
            new_events = store.events_since(self._seq)
            for event in frame_to_events(new_events.drop("seq")):
                self._registry.apply(event)  # an event seen already is recognised and skipped
            self._seq = int(new_events["seq"].to_list()[-1]) if new_events.height else last_seq
            self._frame = None
        if self._frame is None or time.monotonic() - self._built_at > self.max_age_seconds:
            self._as_of = self.clock()
            self._frame = _inside(self._registry.to_frame(self._as_of))
            self._built_at = time.monotonic()
        return self._as_of, self._frame


def _initial_registry(store: Store, last_seq: int, now: datetime) -> tuple[TwinRegistry, int]:
    """A registry and the sequence number it covers (events after it are applied by the caller).

    ``ops.live.load_twins`` replays only the stays that may still be open; events stored while it reads
    are applied again afterwards and recognised as duplicates.
    """
    load_twins = optional_function("ops.live", "load_twins")
    if load_twins is not None:
        loaded = load_twins(store, now)
        if isinstance(loaded, TwinRegistry):
            return loaded, last_seq
    return TwinRegistry(), 0  # filled by the events since 0


def _inside(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [column for column in TWIN_SCHEMA if column not in frame.columns]
    if missing:
        raise Unavailable(f"the twins frame lacks columns {missing}")
    return frame.select(list(TWIN_SCHEMA)).filter(pl.col("status").is_in(_INSIDE))


def coarsened_twins(frame: pl.DataFrame) -> pl.DataFrame:
    """The twins as ``GET /twins`` gives them: salted keys, times to the hour, whole hours of stay, no bed.

    An exact admission time, or a bed with the time its patient arrived, can single a patient out to
    anyone who saw the ward; an hour and a unit are what planning needs. The elapsed stay is cut to whole
    hours for the same reason (``as_of`` minus an exact stay would give the exact arrival).
    """
    return frame.select(list(TWIN_PUBLIC_COLUMNS)).with_columns(
        *(pl.col(column).dt.truncate("1h") for column in TWIN_TIME_COLUMNS),
        pl.col("length_of_stay_hours").floor(),
    )


def twins(source: TwinsSource, store: Store, unit: str | None) -> dict[str, Any]:
    """Pseudonymised twins of the patients inside (of one unit when given), see :func:`coarsened_twins`."""
    as_of, frame = source.frame(store)
    if unit is not None:
        frame = frame.filter(pl.col("unit") == unit)
    rows = json_safe(coarsened_twins(frame).to_dicts())
    return {"as_of": as_of, "count": len(rows), "twins": rows}


def newest_event_time(store: Store) -> datetime | None:
    """When the newest stored event happened (``None`` for an empty store)."""
    last = store.last_seq()
    if last == 0:
        return None
    newest = store.events_since(last - 1, limit=1)
    if newest.height == 0:
        return None
    occurred: datetime = newest.get_column("occurred_at").item()
    return occurred


def census_history(
    store: Store,
    scenario: Scenario,
    until: datetime,
    days: int = 3,
    *,
    now: datetime | None = None,
    step_hours: int = HISTORY_STEP_HOURS,
) -> pl.DataFrame:
    """The census by unit every ``step_hours`` hours over the ``days`` before ``until``.

    Counted from the unit stays of the event log (:func:`ops.forecasting.history_segments`, read with
    :data:`HISTORY_LOOKBACK_DAYS` more days so that patients already in bed are counted). Readings later
    than ``now`` (default: the newest event, or the clock if earlier) are left out, so a forecast made
    from a past origin shows the actuals of the days before it.

    Returns
    -------
    polars.DataFrame
        :data:`CENSUS_HISTORY_SCHEMA`, every unit of the scenario at every reading (0 when empty).
    """
    from ops.forecasting import history_segments  # the forecasting pipeline is heavy: import on use

    clock = datetime.now(UTC)
    if now is None:
        newest = newest_event_time(store)
        now = clock if newest is None else min(clock, newest)
    last = min(until, now)
    first = until - timedelta(days=days)
    if store.last_seq() == 0 or last < first:
        return pl.DataFrame(schema=CENSUS_HISTORY_SCHEMA)
    step = timedelta(hours=step_hours)
    first = last - step * ((last - first) // step)  # readings end exactly at the last moment
    # Events at the last reading count (the event log is read up to, not including, its end).
    stays = history_segments(store, scenario, last + timedelta(seconds=1), days + HISTORY_LOOKBACK_DAYS)
    moments = pl.DataFrame({"at": pl.datetime_range(first, last, step, eager=True)}).cast(
        {"at": pl.Datetime("us", "UTC")}
    )
    units = pl.DataFrame({"unit_id": [unit.id for unit in scenario.hospital.units]})
    counted = (
        stays.join(moments, how="cross")
        .filter(
            (pl.col("started_at") <= pl.col("at"))
            & (pl.col("ended_at").is_null() | (pl.col("ended_at") > pl.col("at")))
        )
        .group_by(pl.col("unit").alias("unit_id"), "at")
        .agg(pl.len().cast(pl.Int32).alias("census"))
    )
    return (
        units.join(moments, how="cross")
        .join(counted, on=["unit_id", "at"], how="left")
        .with_columns(pl.col("census").fill_null(0))
        .join(
            _snapshot_acuity(store, moments.get_column("at").to_list(), step),
            on=["unit_id", "at"],
            how="left",
        )
        .sort("unit_id", "at")
        .select(list(CENSUS_HISTORY_SCHEMA))
        .cast(CENSUS_HISTORY_SCHEMA)  # type: ignore[arg-type]
    )


def _snapshot_acuity(store: Store, moments: list[datetime], step: timedelta) -> pl.DataFrame:
    """High-acuity patients by unit at each moment that has a twin snapshot taken within ``step`` before it.

    Counting the NEWS2 band at past moments needs the twins as they were; replaying them for every
    reading would take seconds, so only the snapshots the store keeps (``Store.save_twin_snapshot``) are
    used. Moments without one get no row (null after the join).
    """
    rows: list[dict[str, Any]] = []
    used: set[int] = set()
    for moment in moments:
        snapshot = store.latest_twin_snapshot(as_of=moment)
        if snapshot is None or moment - snapshot.as_of >= step or snapshot.id in used:
            continue
        frame = snapshot.frame
        if not {"unit", "acuity_band", "status"} <= set(frame.columns):
            continue
        used.add(snapshot.id)
        counts = (
            frame.filter(pl.col("status").is_in(_INSIDE) & pl.col("unit").is_not_null())
            .group_by("unit")
            .agg((pl.col("acuity_band") == "high").sum().alias("high_acuity"))
        )
        rows += [
            {"unit_id": row["unit"], "at": moment, "high_acuity": int(row["high_acuity"])}
            for row in counts.iter_rows(named=True)
        ]
    schema = {"unit_id": pl.String(), "at": pl.Datetime("us", "UTC"), "high_acuity": pl.Int32()}
    return pl.DataFrame(rows, schema=schema)


def census_history_json(store: Store, scenario: Scenario, until: datetime | None, days: int) -> bytes:
    """:func:`census_history_answer` as the JSON of ``CensusHistoryPublic``, reused briefly.

    Reused for :data:`ANSWER_CACHE_SECONDS` while no event arrives: counting the stays of a month of events
    takes a fraction of a second.
    """
    from ui.api.schemas import CensusHistoryPublic

    def build() -> bytes:
        answer = census_history_answer(store, scenario, until, days)
        return CensusHistoryPublic(**answer).model_dump_json().encode()

    key = ("history", store.url, scenario.digest(), until, days, store.last_seq())
    encoded: bytes = _ENCODED.get(key, build)
    return encoded


HISTORY_MAX_DAYS = 31
"""Longest window ``GET /census/history`` gives [days]: every shorter one is cut from it."""

KEYED_CACHE_SECONDS = 60.0
"""Reuse of parts keyed by the state they come from (the event log's last sequence number, a stored
forecast's times) [seconds]: only what the key cannot see (a twin snapshot saved meanwhile) waits this."""

_HISTORY_WINDOWS = AnswerCache(KEYED_CACHE_SECONDS, max_entries=16)


def census_history_answer(
    store: Store, scenario: Scenario, until: datetime | None, days: int
) -> dict[str, Any]:
    """:func:`census_history` as the body of ``GET /census/history`` (``until`` default: now).

    The readings of the :data:`HISTORY_MAX_DAYS` before ``until`` are counted once while no event arrives
    (reading the stays is most of the cost, whatever the window) and each window is cut from them.
    """
    newest = newest_event_time(store)
    if newest is None:
        raise Unavailable("no patient events in the store yet: send ADT or FHIR, or run the demo")
    now = min(datetime.now(UTC), newest)
    end = until or now
    key = ("history", store.url, scenario.digest(), end, now, store.last_seq())
    window: pl.DataFrame = _HISTORY_WINDOWS.get(
        key, lambda: census_history(store, scenario, end, max(days, HISTORY_MAX_DAYS), now=now)
    )
    frame = window.filter(pl.col("at") >= end - timedelta(days=days))
    return {
        "until": until or now,
        "days": days,
        "step_hours": HISTORY_STEP_HOURS,
        "readings": frame.to_dicts(),
    }


def census_now(source: TwinsSource, store: Store, scenario: Scenario) -> dict[str, Any]:
    """Patients in each unit now: beds, free beds, occupancy, high-acuity patients and ED boarding.

    The table comes from ``ops.live.census_now`` when installed, else is counted here the same way.
    """
    as_of, frame = source.frame(store)
    live_census = optional_function("ops.live", "census_now")
    table = live_census(scenario, frame, as_of) if live_census is not None else _census_table(scenario, frame)
    units = [
        {
            "unit": row["unit_id"],
            "kind": row["kind"],
            "beds": row["beds"],
            "census": row["census"],
            "free_beds": row["free_beds"],
            "occupancy": row["census"] / row["beds"] if row["beds"] else None,
            "high_acuity": row["high_acuity"],
            "boarding": row["boarding"],
        }
        for row in table.to_dicts()
    ]
    return {"as_of": as_of, "total": frame.height, "units": units}


def _census_table(scenario: Scenario, frame: pl.DataFrame) -> pl.DataFrame:
    """The census by unit (the columns of ``ops.live.CENSUS_NOW_SCHEMA``) when ``ops.live`` is absent."""
    ed_unit = scenario.hospital.ed.unit
    counts = (
        frame.filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .agg(
            pl.len().alias("census"),
            (pl.col("acuity_band") == "high").sum().alias("high_acuity"),
            ((pl.col("status") == "admitted") & (pl.col("unit") == ed_unit)).sum().alias("boarding"),
        )
    )
    by_unit = {row["unit"]: row for row in counts.to_dicts()}
    rows: list[dict[str, Any]] = []
    for unit in scenario.hospital.units:
        row = by_unit.pop(unit.id, {"census": 0, "high_acuity": 0, "boarding": 0})
        rows.append(
            {
                "unit_id": unit.id,
                "kind": unit.kind.value,
                "beds": unit.beds,
                "census": int(row["census"]),
                "free_beds": unit.beds - int(row["census"]),
                "high_acuity": int(row["high_acuity"]),
                "boarding": int(row["boarding"]) if unit.id == ed_unit else 0,
            }
        )
    for unit_id in sorted(by_unit):
        row = by_unit[unit_id]
        rows.append(
            {
                "unit_id": unit_id,
                "kind": None,
                "beds": None,
                "census": int(row["census"]),
                "free_beds": None,
                "high_acuity": int(row["high_acuity"]),
                "boarding": 0,
            }
        )
    return pl.DataFrame(rows)


# -- forecasts, KPIs, plans -------------------------------------------------------------------------------


def census_forecast_json(store: Store, hours: int, unit: str | None) -> bytes:
    """:func:`census_forecast` as the JSON of ``ForecastPublic``, reused for :data:`ANSWER_CACHE_SECONDS`.

    The forecast is hundreds of points: validating and encoding them on every read would cost more than
    everything else a read does.
    """
    from ui.api.schemas import ForecastPublic

    def build() -> bytes:
        stored = _latest_census_forecast(store)
        answer = census_forecast(store, hours, unit, points=False, stored=stored)
        head = ForecastPublic(**answer, points=[]).model_dump_json().encode()
        empty = b'"points":[]}'
        assert head.endswith(empty), "points must be the last field of ForecastPublic"
        frame = _encoded_forecast_points(store, stored)
        chosen = frame.filter(pl.col("horizon_hours") <= hours)
        if unit is not None:
            chosen = chosen.filter(pl.col("unit_id") == unit)
        return head[: -len(empty)] + b'"points":[' + ",".join(chosen.get_column("json")).encode() + b"]}"

    encoded: bytes = _ENCODED.get(("forecast", store.url, hours, unit), build)
    return encoded


_FORECAST_POINTS = AnswerCache(KEYED_CACHE_SECONDS, max_entries=4)


def _encoded_forecast_points(store: Store, stored: StoredFrame) -> pl.DataFrame:
    """Every point of the latest census forecast with its JSON (``unit_id``, ``horizon_hours``, ``json``).

    Encoded once for every window and unit asked (encoding was most of a forecast answer's cost).
    """
    from ui.api.schemas import ForecastPointPublic

    def build() -> pl.DataFrame:
        frame = _forecast_frame(store, stored)
        encoded = [ForecastPointPublic(**row).model_dump_json() for row in json_safe(frame.to_dicts())]
        return frame.select("unit_id", "horizon_hours").with_columns(pl.Series("json", encoded, pl.String))

    key = ("points", store.url, stored.as_of, stored.created_at)
    points: pl.DataFrame = _FORECAST_POINTS.get(key, build)
    return points


def run_kpis_json(store: Store, run_id: int) -> bytes:
    """:func:`run_kpis` as the JSON of ``KpisPublic``, reused for :data:`ANSWER_CACHE_SECONDS`."""
    from ui.api.schemas import KpisPublic

    def build() -> bytes:
        return KpisPublic(**run_kpis(store, run_id)).model_dump_json().encode()

    encoded: bytes = _ENCODED.get(("kpis", store.url, run_id), build)
    return encoded


def census_forecast(
    store: Store,
    hours: int,
    unit: str | None,
    *,
    points: bool = True,
    stored: StoredFrame | None = None,
) -> dict[str, Any]:
    """The latest census forecast (or ``stored``): the first ``hours`` after its origin.

    One line per unit, and every point unless ``points`` is false.
    """
    stored = stored or _latest_census_forecast(store)
    frame = _forecast_frame(store, stored).filter(pl.col("horizon_hours") <= hours)
    if unit is not None:
        frame = frame.filter(pl.col("unit_id") == unit)
    frame = frame.sort("unit_id", "at")
    per_unit = (
        frame.group_by("unit_id", maintain_order=True)
        .agg(
            pl.col("beds").max(),
            pl.col("mean").max().alias("peak_mean"),
            pl.col("p95").max().alias("peak_p95"),
            pl.col("p_over_capacity").max().alias("max_p_over_capacity"),
            (pl.col("p_over_capacity") > AT_RISK_PROBABILITY).sum().cast(pl.Int64).alias("hours_at_risk"),
        )
        .to_dicts()
    )
    return {
        "as_of": stored.as_of,
        "created_at": stored.created_at,
        "hours": hours,
        "units": json_safe(per_unit),
        **({"points": json_safe(frame.to_dicts())} if points else {}),
    }


def _latest_census_forecast(store: Store) -> StoredFrame:
    stored = store.latest_forecast(CENSUS_FORECAST_NAME)
    if stored is None:
        raise NotFound("no census forecast stored yet: run the nightly plan or `hospital-twin forecast`")
    missing = [column for column in CENSUS_FORECAST_SCHEMA if column not in stored.frame.columns]
    if missing:
        raise Unavailable(f"the stored census forecast lacks columns {missing}")
    return stored


def _forecast_frame(store: Store, stored: StoredFrame | None = None) -> pl.DataFrame:
    """The points of the latest census forecast, the columns answered, by unit and time."""
    stored = stored or _latest_census_forecast(store)
    extra = [column for column in ACUITY_BAND_COLUMNS if column in stored.frame.columns]
    return stored.frame.select([*CENSUS_FORECAST_SCHEMA, *extra]).sort("unit_id", "at")


def run_kpis(store: Store, run_id: int) -> dict[str, Any]:
    """The KPIs of a what-if run: each KPI's mean with its interval, and the paired comparison."""
    from ops.sim.replications import confidence_intervals  # the simulator is heavy; import on use

    try:
        run = store.scenario_run(run_id)
    except KeyError:
        raise NotFound(f"no what-if run {run_id}") from None
    if run.result_name is None:
        raise Unavailable(f"what-if run {run_id} has no results (status {run.status})")
    try:
        kpis = store.read_result_parquet(run.result_name)
    except FileNotFoundError:
        raise Unavailable(
            f"the results of what-if run {run_id} are missing from the results folder"
        ) from None
    comparison_name = f"runs/{run_id}/comparison"
    comparison = (
        store.read_result_parquet(comparison_name).to_dicts()
        if store.result_path(comparison_name).is_file()
        else []
    )
    return {
        "run_id": run.id,
        "scenario_name": run.scenario_name,
        "scenario_version": run.scenario_version,
        "status": run.status,
        "seed": run.seed,
        "replications": run.replications,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "summary": json_safe(confidence_intervals(kpis).to_dicts()),
        "comparison": json_safe(comparison),
    }


def latest_plan(store: Store, kind: str) -> dict[str, Any]:
    """The published plan of ``kind``."""
    plan = store.latest_plan(kind)
    if plan is None:
        raise NotFound(f"no published {kind} plan")
    return _plan(plan)


def plan_version(store: Store, kind: str, version: int) -> dict[str, Any]:
    """One version of a plan."""
    plan = store.plan(kind, version)
    if plan is None:
        raise NotFound(f"no {kind} plan version {version}")
    return _plan(plan)


def draft_plan(store: Store, kind: str) -> dict[str, Any]:
    """The newest version of ``kind`` when it is a draft not yet published."""
    plan = store.latest_plan(kind, status=None)
    if plan is None or plan.status != "draft":
        raise NotFound(f"no {kind} plan awaiting publication (the newest version is not a draft)")
    return _plan(plan)


def publish_plan(store: Store, kind: str, version: int) -> dict[str, Any]:
    """Make a version the published plan of its kind (the one before it is superseded)."""
    try:
        plan = store.publish_plan(kind, version)
    except KeyError:
        raise NotFound(f"no {kind} plan version {version}") from None
    return _plan(plan)


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "kind": plan.kind,
        "version": plan.version,
        "status": plan.status,
        "created_at": plan.created_at,
        "created_by": plan.created_by,
        "payload": json_safe(plan.payload),
    }


def alerts(store: Store) -> dict[str, Any]:
    """The alerts of the newest published nightly plan."""
    plans = [plan for kind in NIGHTLY_PLAN_KINDS if (plan := store.latest_plan(kind)) is not None]
    plans = [plan for plan in plans if isinstance(plan.payload.get("alerts"), list)]
    if not plans:
        raise NotFound("no published nightly plan with alerts yet: run `hospital-twin nightly`")
    newest = max(plans, key=lambda plan: plan.created_at)
    listed = [
        alert if isinstance(alert, dict) else {"message": str(alert)} for alert in newest.payload["alerts"]
    ]
    return {
        "plan_kind": newest.kind,
        "plan_version": newest.version,
        "created_at": newest.created_at,
        "alerts": json_safe(listed),
    }


def last_nightly_run(store: Store) -> dict[str, Any]:
    """How the newest nightly plan run ended: ``outcome``, when, and (when it failed) the stage and why."""
    entries = store.audit_entries(action=NIGHTLY_AUDIT_ACTION, limit=1)
    if not entries:
        raise NotFound("the nightly plan has not run yet: run `hospital-twin nightly`")
    entry = entries[0]
    details = entry.details
    version = details.get("plan_version")
    return {
        "outcome": entry.outcome,
        "recorded_at": entry.recorded_at,
        "plan_date": _text_or_none(details.get("plan_date")),
        "stage": _text_or_none(details.get("stage")),
        "error": _text_or_none(details.get("error")),
        "plan_kind": _text_or_none(details.get("plan_kind")),
        "plan_version": version if isinstance(version, int) else None,
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def whatif_runs(store: Store, limit: int) -> list[dict[str, Any]]:
    """The newest what-if runs first: scenario, version, status, seed, replications, times, baseline."""
    query = select(scenario_runs).order_by(scenario_runs.c.id.desc()).limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    runs = []
    for row in rows:
        details = _json_object(row.details)
        against = details.get("against")
        finished = details.get("replications_finished")
        runs.append(
            {
                "run_id": int(row.id),
                "scenario_name": row.scenario_name,
                "scenario_version": row.scenario_version,
                "against": against if isinstance(against, str) else None,
                "status": row.status,
                "seed": int(row.seed),
                "replications": int(row.replications),
                "replications_finished": finished if isinstance(finished, int) else None,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "has_results": row.result_name is not None,
            }
        )
    return runs


def _json_object(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


SHIPPED_FOLDER = scenario_path("baseline").parent
"""Where the scenario files shipped with the product are."""


def _shipped_files() -> dict[str, Path]:
    return {path.stem: path for path in sorted(SHIPPED_FOLDER.glob("*.toml"))}


def shipped_scenarios() -> list[dict[str, Any]]:
    """The scenario files shipped with the product: name, title and digest (reused for a few seconds)."""
    listed: list[dict[str, Any]] = _SCENARIOS.get(
        ("shipped",),
        lambda: [_shipped(name, path, with_text=False) for name, path in _shipped_files().items()],
    )
    return listed


def shipped_scenario(name: str) -> dict[str, Any]:
    """One shipped scenario with its TOML text."""
    path = _shipped_files().get(name)
    if path is None:
        raise NotFound(f"no shipped scenario {name!r}")
    return _shipped(name, path, with_text=True)


def _shipped(name: str, path: Path, *, with_text: bool) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        title = load_scenario(path).name
    except ScenarioError:
        title = name
    shipped: dict[str, Any] = {
        "name": name,
        "title": title,
        "digest": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
    if with_text:
        shipped["toml_text"] = text
    return shipped
