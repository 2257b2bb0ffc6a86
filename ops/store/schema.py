"""Tables of the store, as SQLAlchemy Core metadata.

This module is the one description of the schema. The Alembic migrations in ``ops/migrations/versions``
create exactly these tables (a test compares a migrated database with :data:`metadata` on SQLite and on
PostgreSQL), so a change here needs a new migration.

Every timestamp is stored as UTC (:class:`UtcDateTime`); JSON documents (event payloads, plan payloads,
audit details) are stored as text; frames (twin snapshots, forecasts) are stored as Parquet bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    literal_column,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names, so that migrations can refer to them on every backend."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""All tables of the store."""

PLAN_STATUSES = ("draft", "published", "superseded")
"""Life of a plan: saved as a draft or published; a published plan is superseded by the next one."""

RUN_STATUSES = ("running", "finished", "failed", "cancelled")
"""Life of a scenario run."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every backend.

    PostgreSQL keeps ``timestamp with time zone``; SQLite has no time zones, so the value is stored as
    naive UTC and given back its ``UTC`` time zone when read. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Check the value is timezone-aware and turn it into UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Give the stored value back as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit sequence.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", SequenceNumber, primary_key=True, autoincrement=True, comment="Order of arrival"),
    Column("event_id", String, nullable=False, comment="Source message id (idempotency key)"),
    Column("source", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("patient_key", String, nullable=False),
    Column("encounter_id", String, nullable=False),
    Column("unit", String),
    Column("bed", String),
    Column("service", String),
    Column("admission_type", String),
    Column("payload", Text, nullable=False, comment="JSON text"),
    UniqueConstraint("event_id"),
    Index(None, "occurred_at"),
    Index(None, "encounter_id"),
    sqlite_autoincrement=True,  # a sequence number is never reused, even after the last row is deleted
)
"""Append-only patient events (:data:`patients.events.EVENT_SCHEMA` plus the arrival order ``seq``)."""

twin_snapshots = Table(
    "twin_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("as_of", UtcDateTime, nullable=False, comment="State of the patient twins at this time"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("frame", LargeBinary, nullable=False, comment="Parquet bytes"),
    Column("details", Text, nullable=False, comment="JSON text"),
    Index(None, "as_of"),
)
"""Patient-twin state frames, one row per snapshot."""

forecasts = Table(
    "forecasts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False, comment="What is forecast, e.g. census or arrivals"),
    Column("as_of", UtcDateTime, nullable=False, comment="Forecast origin"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("frame", LargeBinary, nullable=False, comment="Parquet bytes"),
    Column("details", Text, nullable=False, comment="JSON text"),
    Index(None, "name", "as_of"),
)
"""Forecast frames (for example ``census_forecast``), one row per forecast run."""

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String, nullable=False, comment="roster, admissions, supplies, ..."),
    Column("version", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String),
    Column("payload", Text, nullable=False, comment="JSON text"),
    UniqueConstraint("kind", "version"),
    CheckConstraint(f"status IN {PLAN_STATUSES!r}", name="status"),
)
"""Plans by kind and version; at most one published plan per kind."""

# At most one published plan per kind: enforced by the database, not only by the code that saves plans.
Index(
    "uq_plans_published_kind",
    plans.c.kind,
    unique=True,
    sqlite_where=plans.c.status == "published",
    postgresql_where=plans.c.status == "published",
)

# The ADT events alone, by stay and time: what the open-stays query (``ops.live.open_encounter_ids``) reads.
# Covering and partial, it is a sixth of the table (vital signs are most rows), so finding the stays still
# open in a two-year log scans it instead of the whole table: 1.4 s -> 0.5 s for 2.8 million events.
Index(
    "ix_events_adt_by_encounter",
    events.c.encounter_id,
    events.c.occurred_at,
    events.c.kind,
    sqlite_where=events.c.kind != literal_column("'observation'"),
    postgresql_where=events.c.kind != literal_column("'observation'"),
)

scenario_runs = Table(
    "scenario_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario_name", String, nullable=False),
    Column("scenario_version", Integer, comment="Version in the scenarios table, when saved there"),
    Column("scenario_digest", String, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("replications", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("result_name", String, comment="Parquet result under the store's results_dir"),
    Column("details", Text, nullable=False, comment="JSON text"),
    CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
    Index(None, "scenario_name", "started_at"),
)
"""Hospital-model runs (a scenario, a seed, a number of replications) and where their results are."""

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String, nullable=False, comment="SHA-256 of the TOML text"),
    Column("toml_text", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String),
    UniqueConstraint("name", "version"),
)
"""Scenario files; every save is a new version."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", UtcDateTime, nullable=False, comment="When"),
    Column("actor", String, nullable=False, comment="Who (user or job)"),
    Column("action", String, nullable=False, comment="What"),
    Column("outcome", String, nullable=False),
    Column("details", Text, nullable=False, comment="JSON text"),
    Index(None, "recorded_at"),
)
"""Who did what, when, and how it ended."""

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False, comment="The message exactly as received"),
    Index(None, "received_at"),
)
"""Messages that could not be turned into events, kept for a person to look at."""
