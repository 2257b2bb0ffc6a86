"""The store: an append-only event log, plans, scenarios, forecasts, runs and the audit log.

SQLite (``var/hospital_twin.db``, WAL mode) by default, PostgreSQL when ``DATABASE_URL`` is set; large
results go to Parquet files in a results folder. The schema upgrades itself on :func:`open_store`.

Examples
--------
>>> from ops.store import open_store
>>> with open_store() as store:  # doctest: +SKIP
...     inserted, duplicates = store.append_events(events_frame)
...     new_events = store.events_since(last_seen_seq)
...     store.save_plan("roster", {"shifts": [...]}, created_by="nightly-plan")
"""

from ops.store.engine import DATABASE_URL_ENV, DEFAULT_SQLITE_PATH, RESULTS_DIR_ENV, resolve_url
from ops.store.migrate import ALEMBIC_INI, MIGRATIONS_DIR, SchemaVersionError, head_revision, upgrade_to_head
from ops.store.schema import metadata
from ops.store.store import (
    STORED_EVENT_SCHEMA,
    AppendResult,
    AuditEntry,
    Plan,
    QuarantinedMessage,
    ScenarioRun,
    ScenarioVersion,
    Store,
    StoredFrame,
    open_store,
)

__all__ = [
    "ALEMBIC_INI",
    "DATABASE_URL_ENV",
    "DEFAULT_SQLITE_PATH",
    "MIGRATIONS_DIR",
    "RESULTS_DIR_ENV",
    "STORED_EVENT_SCHEMA",
    "AppendResult",
    "AuditEntry",
    "Plan",
    "QuarantinedMessage",
    "ScenarioRun",
    "ScenarioVersion",
    "SchemaVersionError",
    "Store",
    "StoredFrame",
    "head_revision",
    "metadata",
    "open_store",
    "resolve_url",
    "upgrade_to_head",
]
