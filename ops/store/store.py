"""The store: the event log, plans, scenarios, forecasts, twin snapshots, runs and the audit log.

One :class:`Store` wraps one database (SQLite by default, PostgreSQL in production) and a folder for
large Parquet results. Every write is one transaction, so a reader sees the state before it or after
it, never half of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

import polars as pl
from sqlalchemy import (
    URL,
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ops.store.engine import create_store_engine, default_results_dir, resolve_url, write_transaction
from ops.store.event_log import (
    STORED_EVENT_SCHEMA,
    append_postgresql,
    append_sqlite,
    checked_events_frame,
    events_frame,
    select_events,
)
from ops.store.migrate import upgrade_to_head
from ops.store.results import result_path, write_parquet_atomically
from ops.store.schema import (
    PLAN_STATUSES,
    RUN_STATUSES,
    audit_log,
    events,
    forecasts,
    plans,
    quarantine,
    scenario_runs,
    scenarios,
    twin_snapshots,
)
from patients.events import EVENT_SCHEMA, AdmissionType, EventKind, PatientEvent, events_to_frame

APPEND_BATCH_ROWS = 50_000
"""Events sent to the database per round (``executemany`` call on SQLite, ``COPY`` on PostgreSQL)."""

_MAX_SEED = 2**63 - 1
_REQUIRED_FEED_FIELDS = ("event_id", "source", "patient_key", "encounter_id")


class AppendResult(NamedTuple):
    """What :meth:`Store.append_events` did: rows stored, and rows already in the store (or repeated)."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Plan:
    """One version of a plan of some kind (roster, admissions, supplies, ...)."""

    kind: str
    version: int
    status: str
    created_at: datetime
    created_by: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScenarioVersion:
    """One saved version of a scenario file; ``digest`` is the SHA-256 of ``toml_text`` (UTF-8)."""

    name: str
    version: int
    digest: str
    toml_text: str
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """A frame kept in the store (a forecast or a twin snapshot) with what was said about it."""

    id: int
    name: str
    as_of: datetime
    created_at: datetime
    frame: pl.DataFrame
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """One run of the hospital model: a scenario, a seed, a number of replications."""

    id: int
    scenario_name: str
    scenario_version: int | None
    scenario_digest: str
    seed: int
    replications: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    result_name: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, and how it ended."""

    id: int
    recorded_at: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A message that could not be turned into events."""

    id: int
    received_at: datetime
    source: str | None
    reason: str
    raw: str


class Store:
    """The hospital twin's database and results folder.

    Create it with :func:`open_store`. Methods are safe to call from several threads; every write is
    one transaction.

    Parameters
    ----------
    engine
        Engine from :func:`ops.store.engine.create_store_engine`, already at the newest schema.
    results_dir
        Folder for Parquet results (:meth:`put_result_parquet`).
    """

    def __init__(self, engine: Engine, results_dir: Path) -> None:
        self._engine = engine
        self.results_dir = Path(results_dir)

    # -- the store itself ----------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and maintenance; the methods below are the interface)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """Database URL with the password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r}, results_dir={str(self.results_dir)!r})"

    def backup(self, target: str | Path) -> Path:
        """Copy a SQLite store to ``target``, consistently, while it is in use.

        Parameters
        ----------
        target
            The new database file (overwritten if present).

        Raises
        ------
        NotImplementedError
            On PostgreSQL: back up with ``pg_dump`` (see ``docs/how-to/database.md``).
        """
        if self.dialect != "sqlite":
            raise NotImplementedError("back up a PostgreSQL store with pg_dump (docs/how-to/database.md)")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = self._engine.raw_connection()
        try:
            with sqlite3.connect(target) as copy:
                raw.driver_connection.backup(copy)  # type: ignore[union-attr]
            copy.close()
        finally:
            raw.close()
        return target

    # -- events ----------------------------------------------------------------------------------------

    def append_events(
        self, new_events: pl.DataFrame | Iterable[PatientEvent], *, batch_rows: int = APPEND_BATCH_ROWS
    ) -> AppendResult:
        """Append events, skipping any whose ``event_id`` is already stored.

        Replaying a feed is therefore harmless. All events are appended in one transaction; a repeated
        ``event_id`` within ``new_events`` is stored once and counted as a duplicate.

        Parameters
        ----------
        new_events
            A frame with the columns of :data:`patients.events.EVENT_SCHEMA` (other columns, such as
            ``seq``, are ignored) or :class:`~patients.events.PatientEvent` objects.
        batch_rows
            Events sent to the database at a time.

        Returns
        -------
        AppendResult
            ``(inserted, duplicates)``; they add up to the number of events given.

        Raises
        ------
        ValueError
            When a column is missing, a required value is empty, ``occurred_at`` has no time zone, or a
            ``kind`` / ``admission_type`` is not one of the known values.

        Examples
        --------
        >>> inserted, duplicates = store.append_events(frame)  # doctest: +SKIP
        """
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
        frame = checked_events_frame(new_events)
        if frame.height == 0:
            return AppendResult(0, 0)
        with write_transaction(self._engine) as connection:
            # Sequence numbers must be handed out in commit order, or a reader asking for "events since
            # seq N" could step past an event committed later with a smaller seq (PostgreSQL hands out
            # sequence values outside transactions). SQLite writers are serialised already.
            _serialise(connection, "events")
            if connection.dialect.name == "postgresql":
                inserted = append_postgresql(connection, frame, batch_rows)
            else:
                inserted = append_sqlite(connection, frame, batch_rows)
        return AppendResult(inserted, frame.height - inserted)

    def reused_event_ids(self, new_events: Sequence[PatientEvent]) -> list[PatientEvent]:
        """The events whose id the store holds for a *different* event: a message that reused another's id.

        The store skips an event whose id it already holds. For a message resent unchanged that is right;
        for a different message that reused the id (a sender that repeats a message control id) the new
        event is lost. Call this after appending the events, when some were duplicates: each event is
        compared, field by field, with the stored event of the same id (the store keeps the events, not
        the messages they came from). An event stored by that append compares equal to itself.

        Returns
        -------
        list[PatientEvent]
            Those of ``new_events`` that differ from the stored event of their id, in their order.

        Examples
        --------
        >>> inserted, duplicates = store.append_events(events)  # doctest: +SKIP
        >>> reused = store.reused_event_ids(events) if duplicates else []  # doctest: +SKIP
        """
        if not new_events:
            return []
        identifiers = sorted({event.event_id for event in new_events})
        query = select_events(with_seq=False).where(events.c.event_id.in_(identifiers))
        with self._engine.connect() as connection:
            stored_frame = events_frame(connection.execute(query).all(), EVENT_SCHEMA)
        stored = {row["event_id"]: _comparable(row) for row in stored_frame.iter_rows(named=True)}
        new_rows = events_to_frame(list(new_events)).iter_rows(named=True)
        return [
            event
            for event, row in zip(new_events, new_rows, strict=True)
            if event.event_id in stored and stored[event.event_id] != _comparable(row)
        ]

    def append_feed_batch(
        self,
        new_events: Sequence[PatientEvent],
        rejected: Sequence[tuple[str, str]],
        *,
        source: str | None = None,
        received_at: datetime | None = None,
    ) -> AppendResult:
        """Append a live feed's events and quarantine the messages it could not use, in one transaction.

        A listener that acknowledges a batch of messages at once (group commit) needs the events and
        the quarantined messages durable together: both are committed, or neither is. Made for a few
        hundred events at a time: no frame is built, which makes it several times faster than
        :meth:`append_events` for a handful of events.

        Parameters
        ----------
        new_events
            The events; an ``event_id`` already stored (or repeated in ``new_events``) is skipped.
        rejected
            ``(raw, reason)`` pairs, as for :meth:`quarantine_message`.
        source, received_at
            Recorded with every quarantined message (``received_at`` defaults to now).

        Returns
        -------
        AppendResult
            ``(inserted, duplicates)`` of the events; the quarantined messages are all stored.

        Raises
        ------
        ValueError
            When an event has an empty id, source, patient key or encounter, no time zone, or an
            unknown ``kind`` / ``admission_type``; nothing is stored.
        """
        event_rows = _feed_event_rows(new_events)
        moment = received_at or _now()
        quarantine_rows = [
            {"received_at": moment, "source": source, "reason": reason, "raw": raw}
            for raw, reason in rejected
        ]
        if not event_rows and not quarantine_rows:
            return AppendResult(0, 0)
        with write_transaction(self._engine) as connection:
            inserted = _insert_feed_events(connection, event_rows) if event_rows else 0
            if quarantine_rows:
                connection.execute(insert(quarantine), quarantine_rows)
        return AppendResult(inserted, len(event_rows) - inserted)

    def last_seq(self) -> int:
        """The highest sequence number stored (0 when there are no events)."""
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())

    def count_events(self) -> int:
        """How many events are stored."""
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())

    def events_since(self, seq: int = 0, *, limit: int | None = None) -> pl.DataFrame:
        """Events stored after sequence number ``seq``, in the order they were stored.

        A reader keeps the largest ``seq`` it has seen and asks again from there; it never misses an
        event and never sees one twice.

        Parameters
        ----------
        seq
            Sequence number already read (0 for everything).
        limit
            At most this many events.

        Returns
        -------
        polars.DataFrame
            Schema :data:`STORED_EVENT_SCHEMA` (``seq`` plus :data:`~patients.events.EVENT_SCHEMA`).
        """
        query = select_events(with_seq=True).where(events.c.seq > seq).order_by(events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return events_frame(connection.execute(query).all(), STORED_EVENT_SCHEMA)

    def read_events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        encounter_ids: Sequence[str] | None = None,
        kinds: Sequence[str | EventKind] | None = None,
    ) -> pl.DataFrame:
        """Events by time, stay or kind, in the order they were stored.

        Parameters
        ----------
        start, end
            Keep events with ``start <= occurred_at < end`` [UTC, timezone-aware].
        encounter_ids
            Keep events of these stays.
        kinds
            Keep events of these kinds.

        Returns
        -------
        polars.DataFrame
            Schema :data:`~patients.events.EVENT_SCHEMA`.
        """
        conditions: list[ColumnElement[bool]] = []
        if start is not None:
            conditions.append(events.c.occurred_at >= start)
        if end is not None:
            conditions.append(events.c.occurred_at < end)
        if encounter_ids is not None:
            conditions.append(events.c.encounter_id.in_(list(encounter_ids)))
        if kinds is not None:
            conditions.append(events.c.kind.in_([str(kind) for kind in kinds]))
        query = select_events(with_seq=False).where(*conditions).order_by(events.c.seq)
        with self._engine.connect() as connection:
            return events_frame(connection.execute(query).all(), EVENT_SCHEMA)

    # -- plans -----------------------------------------------------------------------------------------

    def save_plan(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        status: str = "published",
        created_by: str | None = None,
    ) -> Plan:
        """Save a new version of a plan; published, it replaces the published plan of its kind.

        The new version and the retirement of the previous one are one transaction: a reader sees the
        old published plan or the new one, never neither and never both.

        Parameters
        ----------
        kind
            What the plan is for: ``roster``, ``admissions``, ``supplies``, ...
        payload
            The plan, as JSON-serialisable data (dates and datetimes become ISO 8601 text).
        status
            ``"published"`` (the default) or ``"draft"`` (saved, not yet in force; see
            :meth:`publish_plan`).
        created_by
            User or job that made the plan.

        Returns
        -------
        Plan
            The saved version.
        """
        if status not in {"draft", "published"}:
            raise ValueError(f"a new plan is 'draft' or 'published', not {status!r}")
        text = _to_json(payload)
        created_at = _now()
        with write_transaction(self._engine) as connection:
            _serialise(connection, f"plans/{kind}")
            version = (
                1
                + connection.execute(
                    select(func.coalesce(func.max(plans.c.version), 0)).where(plans.c.kind == kind)
                ).scalar_one()
            )
            if status == "published":
                _supersede_published(connection, kind)
            connection.execute(
                insert(plans).values(
                    kind=kind,
                    version=version,
                    status=status,
                    created_at=created_at,
                    created_by=created_by,
                    payload=text,
                )
            )
        return Plan(kind, version, status, created_at, created_by, json.loads(text))

    def publish_plan(self, kind: str, version: int) -> Plan:
        """Make an existing version the published plan of its kind (a draft, or an older plan again).

        Raises
        ------
        KeyError
            When there is no such version.
        """
        with write_transaction(self._engine) as connection:
            _serialise(connection, f"plans/{kind}")
            exists = connection.execute(
                select(plans.c.id).where(plans.c.kind == kind, plans.c.version == version)
            ).first()
            if exists is None:
                raise KeyError(f"no {kind} plan version {version}")
            _supersede_published(connection, kind)
            connection.execute(
                update(plans)
                .where(plans.c.kind == kind, plans.c.version == version)
                .values(status="published")
            )
        plan = self.plan(kind, version)
        assert plan is not None
        return plan

    def latest_plan(self, kind: str, *, status: str | None = "published") -> Plan | None:
        """The plan of ``kind`` in force (``status="published"``), or the newest with another status.

        Parameters
        ----------
        kind
            Plan kind.
        status
            ``"published"`` (default), ``"draft"``, ``"superseded"``, or ``None`` for the newest version
            whatever its status.

        Returns
        -------
        Plan or None
            ``None`` when there is none.
        """
        if status is not None and status not in PLAN_STATUSES:
            raise ValueError(f"plan status is one of {PLAN_STATUSES}, not {status!r}")
        query = select(plans).where(plans.c.kind == kind)
        if status is not None:
            query = query.where(plans.c.status == status)
        with self._engine.connect() as connection:
            row = connection.execute(query.order_by(plans.c.version.desc()).limit(1)).first()
        return None if row is None else _plan(row)

    def plan(self, kind: str, version: int) -> Plan | None:
        """One version of a plan (``None`` when absent)."""
        query = select(plans).where(plans.c.kind == kind, plans.c.version == version)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _plan(row)

    def plan_versions(self, kind: str) -> list[Plan]:
        """Every version of a plan kind, oldest first."""
        query = select(plans).where(plans.c.kind == kind).order_by(plans.c.version)
        with self._engine.connect() as connection:
            return [_plan(row) for row in connection.execute(query)]

    # -- scenarios -------------------------------------------------------------------------------------

    def save_scenario(self, name: str, toml_text: str, *, created_by: str | None = None) -> ScenarioVersion:
        """Save a scenario file as the next version of ``name`` (every save is a new version).

        Parameters
        ----------
        name
            Scenario name, e.g. ``"baseline"`` or ``"winter-surge"``.
        toml_text
            The scenario file's text; it must be valid TOML (its content is checked by the scenario
            loader, not here).
        created_by
            User or job saving it.

        Returns
        -------
        ScenarioVersion
            The new version, with the SHA-256 ``digest`` of the text.
        """
        try:
            tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"scenario {name!r} is not valid TOML: {error}") from error
        digest = hashlib.sha256(toml_text.encode("utf-8")).hexdigest()
        created_at = _now()
        with write_transaction(self._engine) as connection:
            _serialise(connection, f"scenarios/{name}")
            version = (
                1
                + connection.execute(
                    select(func.coalesce(func.max(scenarios.c.version), 0)).where(scenarios.c.name == name)
                ).scalar_one()
            )
            connection.execute(
                insert(scenarios).values(
                    name=name,
                    version=version,
                    digest=digest,
                    toml_text=toml_text,
                    created_at=created_at,
                    created_by=created_by,
                )
            )
        return ScenarioVersion(name, version, digest, toml_text, created_at, created_by)

    def scenario_versions(self, name: str) -> list[ScenarioVersion]:
        """Every saved version of scenario ``name``, oldest first (empty when never saved)."""
        query = select(scenarios).where(scenarios.c.name == name).order_by(scenarios.c.version)
        with self._engine.connect() as connection:
            return [_scenario(row) for row in connection.execute(query)]

    def scenario_version(self, name: str, version: int | None = None) -> ScenarioVersion:
        """One saved version of scenario ``name`` (the newest when ``version`` is ``None``).

        Raises
        ------
        KeyError
            When there is no such scenario or version.
        """
        query = select(scenarios).where(scenarios.c.name == name)
        if version is not None:
            query = query.where(scenarios.c.version == version)
        with self._engine.connect() as connection:
            row = connection.execute(query.order_by(scenarios.c.version.desc()).limit(1)).first()
        if row is None:
            raise KeyError(f"no scenario {name!r}" + (f" version {version}" if version is not None else ""))
        return _scenario(row)

    def scenario_names(self) -> list[str]:
        """Names of the saved scenarios, sorted."""
        with self._engine.connect() as connection:
            return list(connection.scalars(select(scenarios.c.name).distinct().order_by(scenarios.c.name)))

    # -- scenario runs ---------------------------------------------------------------------------------

    def start_scenario_run(
        self,
        scenario_name: str,
        scenario_digest: str,
        *,
        seed: int,
        replications: int,
        scenario_version: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Record that a run of the hospital model has started; returns the run id.

        Parameters
        ----------
        scenario_name, scenario_digest
            The scenario run and its content digest.
        seed
            Root seed of the run (``0 <= seed < 2**63``).
        replications
            Number of Monte Carlo replications.
        scenario_version
            Version in the scenarios table, when the scenario was saved there.
        details
            Anything else worth keeping (JSON-serialisable).
        """
        if not 0 <= seed <= _MAX_SEED:
            raise ValueError(f"seed {seed} does not fit the store (0 <= seed < 2**63)")
        if replications < 1:
            raise ValueError(f"replications must be at least 1, not {replications}")
        with write_transaction(self._engine) as connection:
            return int(
                connection.execute(
                    insert(scenario_runs)
                    .values(
                        scenario_name=scenario_name,
                        scenario_version=scenario_version,
                        scenario_digest=scenario_digest,
                        seed=seed,
                        replications=replications,
                        status="running",
                        started_at=_now(),
                        details=_to_json(details or {}),
                    )
                    .returning(scenario_runs.c.id)
                ).scalar_one()
            )

    def finish_scenario_run(
        self,
        run_id: int,
        status: str,
        *,
        result_name: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> ScenarioRun:
        """Record how a run ended and where its results are.

        Parameters
        ----------
        run_id
            From :meth:`start_scenario_run`.
        status
            ``"finished"``, ``"failed"`` or ``"cancelled"``.
        result_name
            Name of its Parquet result (:meth:`put_result_parquet`).
        details
            Replaces the run's details when given (e.g. a KPI summary).

        Raises
        ------
        KeyError
            For an unknown run.
        """
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a run ends 'finished', 'failed' or 'cancelled', not {status!r}")
        values: dict[str, Any] = {"status": status, "finished_at": _now(), "result_name": result_name}
        if details is not None:
            values["details"] = _to_json(details)
        with write_transaction(self._engine) as connection:
            updated = connection.execute(
                update(scenario_runs).where(scenario_runs.c.id == run_id).values(**values)
            ).rowcount
        if updated != 1:
            raise KeyError(f"no scenario run {run_id}")
        return self.scenario_run(run_id)

    def scenario_run(self, run_id: int) -> ScenarioRun:
        """One run, by id (:class:`KeyError` when unknown)."""
        with self._engine.connect() as connection:
            row = connection.execute(select(scenario_runs).where(scenario_runs.c.id == run_id)).first()
        if row is None:
            raise KeyError(f"no scenario run {run_id}")
        return ScenarioRun(
            id=row.id,
            scenario_name=row.scenario_name,
            scenario_version=row.scenario_version,
            scenario_digest=row.scenario_digest,
            seed=row.seed,
            replications=row.replications,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            result_name=row.result_name,
            details=json.loads(row.details),
        )

    # -- forecasts and twin snapshots ------------------------------------------------------------------

    def save_forecast(
        self, name: str, as_of: datetime, frame: pl.DataFrame, *, details: Mapping[str, Any] | None = None
    ) -> int:
        """Keep a forecast frame (e.g. ``census_forecast``) made at ``as_of``; returns its id.

        Parameters
        ----------
        name
            What is forecast, e.g. ``"census"``.
        as_of
            Forecast origin [UTC, timezone-aware].
        frame
            The forecast, in its producer's declared schema (kept as Parquet, schema included).
        details
            Model, horizon, settings, ... (JSON-serialisable).
        """
        return self._save_frame(forecasts, {"name": name}, as_of, frame, details)

    def latest_forecast(self, name: str, *, as_of: datetime | None = None) -> StoredFrame | None:
        """The newest forecast ``name`` (made at or before ``as_of`` when given), or ``None``."""
        return self._latest_frame(forecasts, name, as_of)

    def save_twin_snapshot(
        self, as_of: datetime, frame: pl.DataFrame, *, details: Mapping[str, Any] | None = None
    ) -> int:
        """Keep the state of the patient twins at ``as_of`` (one row per patient); returns its id."""
        return self._save_frame(twin_snapshots, {}, as_of, frame, details)

    def latest_twin_snapshot(self, *, as_of: datetime | None = None) -> StoredFrame | None:
        """The newest twin snapshot (taken at or before ``as_of`` when given), or ``None``."""
        return self._latest_frame(twin_snapshots, None, as_of)

    # -- audit and quarantine --------------------------------------------------------------------------

    def write_audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        details: Mapping[str, Any] | None = None,
        *,
        recorded_at: datetime | None = None,
    ) -> int:
        """Record who did what and how it ended; returns the entry id.

        Parameters
        ----------
        actor
            User or job, e.g. ``"nightly-plan"`` or ``"planner@hospital"``.
        action
            What was done, e.g. ``"publish_plan"``.
        outcome
            How it ended, e.g. ``"ok"``, ``"failed"``, ``"denied"``.
        details
            Anything that helps later (JSON-serialisable).
        recorded_at
            When it happened [UTC]; now by default.
        """
        with write_transaction(self._engine) as connection:
            return int(
                connection.execute(
                    insert(audit_log)
                    .values(
                        recorded_at=recorded_at or _now(),
                        actor=actor,
                        action=action,
                        outcome=outcome,
                        details=_to_json(details or {}),
                    )
                    .returning(audit_log.c.id)
                ).scalar_one()
            )

    def audit_entries(
        self,
        *,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int | None = 1000,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, optionally since a time, by actor or by action."""
        query = select(audit_log)
        if since is not None:
            query = query.where(audit_log.c.recorded_at >= since)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        query = query.order_by(audit_log.c.recorded_at.desc(), audit_log.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return [
                AuditEntry(
                    row.id, row.recorded_at, row.actor, row.action, row.outcome, json.loads(row.details)
                )
                for row in connection.execute(query)
            ]

    def quarantine_message(
        self, raw: str, reason: str, *, source: str | None = None, received_at: datetime | None = None
    ) -> int:
        """Keep a message that could not be turned into events, with why; returns its id."""
        with write_transaction(self._engine) as connection:
            return int(
                connection.execute(
                    insert(quarantine)
                    .values(received_at=received_at or _now(), source=source, reason=reason, raw=raw)
                    .returning(quarantine.c.id)
                ).scalar_one()
            )

    def quarantined(self, *, limit: int | None = 100) -> list[QuarantinedMessage]:
        """Quarantined messages, newest first."""
        query = select(quarantine).order_by(quarantine.c.received_at.desc(), quarantine.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return [
                QuarantinedMessage(row.id, row.received_at, row.source, row.reason, row.raw)
                for row in connection.execute(query)
            ]

    # -- large results ---------------------------------------------------------------------------------

    def result_path(self, name: str) -> Path:
        """Where the Parquet result ``name`` lives under :attr:`results_dir`."""
        return result_path(self.results_dir, name)

    def put_result_parquet(self, name: str, frame: pl.DataFrame) -> Path:
        """Write a large result as ``<results_dir>/<name>.parquet``, atomically.

        A reader sees the previous file or the complete new one, never a partial file, even if the
        writer crashes.

        Parameters
        ----------
        name
            Letters, digits, ``.``, ``_``, ``-``, optionally in ``/`` folders, e.g.
            ``"runs/42/kpis"``.
        frame
            The result.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = self.result_path(name)
        write_parquet_atomically(frame, path)
        return path

    def read_result_parquet(self, name: str) -> pl.DataFrame:
        """Read a result written by :meth:`put_result_parquet` (:class:`FileNotFoundError` if absent)."""
        return pl.read_parquet(self.result_path(name))

    # -- helpers ---------------------------------------------------------------------------------------

    def _save_frame(
        self,
        table: Table,
        identity: dict[str, Any],
        as_of: datetime,
        frame: pl.DataFrame,
        details: Mapping[str, Any] | None,
    ) -> int:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        with write_transaction(self._engine) as connection:
            return int(
                connection.execute(
                    insert(table)
                    .values(
                        **identity,
                        as_of=as_of,
                        created_at=_now(),
                        n_rows=frame.height,
                        frame=buffer.getvalue(),
                        details=_to_json(details or {}),
                    )
                    .returning(table.c.id)
                ).scalar_one()
            )

    def _latest_frame(self, table: Table, name: str | None, as_of: datetime | None) -> StoredFrame | None:
        query = select(table)
        if name is not None:
            query = query.where(table.c.name == name)
        if as_of is not None:
            query = query.where(table.c.as_of <= as_of)
        query = query.order_by(table.c.as_of.desc(), table.c.id.desc()).limit(1)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return StoredFrame(
            id=row.id,
            name=name if name is not None else table.name,
            as_of=row.as_of,
            created_at=row.created_at,
            frame=pl.read_parquet(io.BytesIO(row.frame)),
            details=json.loads(row.details),
        )


def open_store(
    url: str | URL | None = None, *, results_dir: str | Path | None = None, migrate: bool = True
) -> Store:
    """Open the store, creating or upgrading its schema to the newest version.

    Parameters
    ----------
    url
        Database URL. ``None``: ``DATABASE_URL`` if set, else the SQLite file ``var/hospital_twin.db``
        under the working directory (WAL mode; ``var/`` is created). ``postgresql://`` URLs use the
        psycopg 3 driver.
    results_dir
        Folder for Parquet results; default ``HOSPITAL_TWIN_RESULTS_DIR``, else ``results/`` next to a
        SQLite file, else ``var/results``.
    migrate
        Upgrade the schema to head (the default). ``False`` opens the database as it is.

    Returns
    -------
    Store
        Close it with :meth:`Store.close` or use it as a context manager.

    Examples
    --------
    >>> with open_store("sqlite:///var/demo.db") as store:  # doctest: +SKIP
    ...     store.append_events(events_frame)
    """
    resolved = resolve_url(url)
    engine = create_store_engine(resolved)
    try:
        if migrate:
            upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, Path(results_dir) if results_dir is not None else default_results_dir(resolved))


# -- module helpers ---------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


def _to_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


def _serialise(connection: Connection, name: str) -> None:
    """Make transactions that write ``name`` wait for each other (PostgreSQL; SQLite already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"hospital_twin/{name}"))))


def _feed_event_rows(new_events: Sequence[PatientEvent]) -> list[dict[str, Any]]:
    """Rows of the ``events`` table for a feed's events, checked as :func:`checked_events_frame` does."""
    rows = []
    for event in new_events:
        empty = [name for name in _REQUIRED_FEED_FIELDS if not getattr(event, name)]
        if empty:
            raise ValueError(f"event {event.event_id!r} rejected: no {', '.join(empty)}")
        if event.occurred_at.tzinfo is None:
            raise ValueError(f"event {event.event_id!r} rejected: occurred_at has no time zone")
        admission = event.admission_type
        rows.append(
            {
                "event_id": event.event_id,
                "source": event.source,
                "kind": EventKind(event.kind).value,
                "occurred_at": event.occurred_at,
                "patient_key": event.patient_key,
                "encounter_id": event.encounter_id,
                "unit": event.unit,
                "bed": event.bed,
                "service": event.service,
                "admission_type": AdmissionType(admission).value if admission is not None else None,
                "payload": json.dumps(event.payload, sort_keys=True),
            }
        )
    return rows


def _insert_feed_events(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """``INSERT ... ON CONFLICT (event_id) DO NOTHING`` of every row; returns the rows inserted.

    One statement, compiled once and cached, sent with ``executemany``: for the few rows of a live
    batch, compiling a multi-row ``VALUES`` each time would cost more than the insert itself.
    """
    _serialise(connection, "events")  # sequence numbers in commit order (see append_events)
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(events)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .execution_options(preserve_rowcount=True)
    )
    return int(connection.execute(statement, rows).rowcount)


def _supersede_published(connection: Connection, kind: str) -> None:
    connection.execute(
        update(plans).where(plans.c.kind == kind, plans.c.status == "published").values(status="superseded")
    )


def _plan(row: Row[Any]) -> Plan:
    return Plan(row.kind, row.version, row.status, row.created_at, row.created_by, json.loads(row.payload))


def _scenario(row: Row[Any]) -> ScenarioVersion:
    return ScenarioVersion(row.name, row.version, row.digest, row.toml_text, row.created_at, row.created_by)


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """An events-frame row with its payload decoded (JSON text may be spaced differently)."""
    return {**row, "payload": json.loads(row["payload"]) if row["payload"] else {}}
