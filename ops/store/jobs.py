"""Long jobs (what-if replications, roster, surgical plan, nightly plan) as rows of the store.

A job's status, progress and result live in the ``jobs`` table, so anyone reading the store (another
worker, the API after a restart) sees them. The end of a job (status, result, error) is one update: a
reader sees the job running or finished with its result, never finished without it.

Statuses: ``queued`` -> ``running`` -> ``finished`` | ``failed`` | ``cancelled``; a job that was queued
or running when its process died is marked ``interrupted`` by :func:`mark_interrupted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from ops.store.engine import write_transaction
from ops.store.schema import UtcDateTime, metadata
from ops.store.store import Store

JOB_STATUSES: tuple[str, ...] = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
"""Life of a job."""

FINAL_STATUSES = frozenset({"finished", "failed", "cancelled", "interrupted"})
"""Statuses a job never leaves."""

jobs = Table(
    "jobs",
    metadata,
    Column("id", String, primary_key=True, comment="Random hexadecimal id"),
    Column("kind", String, nullable=False, comment="whatif, roster, surgery, nightly"),
    Column("status", String, nullable=False),
    Column("params", Text, nullable=False, comment="JSON text"),
    Column("submitted_by", String, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("progress_done", Integer, nullable=False),
    Column("progress_total", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Column("result", Text, comment="JSON text, once finished"),
    Column("error", Text, comment="Why it failed"),
    CheckConstraint(f"status IN {JOB_STATUSES!r}", name="status"),
    Index(None, "submitted_at"),
)
"""Jobs, their progress and their results."""


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored."""

    id: str
    kind: str
    status: str
    params: dict[str, Any]
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress_done: int
    progress_total: int
    message: str
    cancel_requested: bool
    result: dict[str, Any] | None
    error: str | None

    @property
    def final(self) -> bool:
        """True once the job has ended, whichever way."""
        return self.status in FINAL_STATUSES


def insert_job(
    store: Store, job_id: str, kind: str, params: Mapping[str, Any], *, submitted_by: str
) -> JobRecord:
    """Record a new job as ``queued``.

    Parameters
    ----------
    store
        The store.
    job_id
        Its id (unique).
    kind
        What it runs.
    params
        Its parameters (JSON-serialisable).
    submitted_by
        Who asked for it.
    """
    with write_transaction(store.engine) as connection:
        connection.execute(
            insert(jobs).values(
                id=job_id,
                kind=kind,
                status="queued",
                params=_to_json(params),
                submitted_by=submitted_by,
                submitted_at=datetime.now(UTC),
                progress_done=0,
                progress_total=0,
                message="queued",
                cancel_requested=False,
            )
        )
    return get_job(store, job_id)


def get_job(store: Store, job_id: str) -> JobRecord:
    """One job (:class:`KeyError` when unknown)."""
    with store.engine.connect() as connection:
        row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        raise KeyError(f"no job {job_id!r}")
    return _record(row)


def list_jobs(store: Store, *, limit: int = 100) -> list[JobRecord]:
    """The newest jobs first."""
    query = select(jobs).order_by(jobs.c.submitted_at.desc(), jobs.c.id).limit(limit)
    with store.engine.connect() as connection:
        return [_record(row) for row in connection.execute(query)]


def mark_started(store: Store, job_id: str) -> bool:
    """Move a queued job to ``running``; False when it is no longer queued (e.g. cancelled meanwhile)."""
    with write_transaction(store.engine) as connection:
        moved = connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "queued")
            .values(status="running", started_at=datetime.now(UTC), message="running")
        ).rowcount
    return moved == 1


def record_progress(store: Store, job_id: str, done: int, total: int, message: str | None = None) -> None:
    """Update a running job's progress (``done`` of ``total`` steps)."""
    values: dict[str, Any] = {"progress_done": max(0, done), "progress_total": max(0, total)}
    if message is not None:
        values["message"] = message
    with write_transaction(store.engine) as connection:
        connection.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(**values)
        )


def request_cancel(store: Store, job_id: str) -> JobRecord:
    """Ask a job to stop: a queued job is cancelled at once, a running one at its next check.

    Raises
    ------
    KeyError
        Unknown job.
    """
    with write_transaction(store.engine) as connection:
        connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "queued")
            .values(status="cancelled", finished_at=datetime.now(UTC), message="cancelled before it started")
        )
        connection.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(cancel_requested=True)
        )
    return get_job(store, job_id)


def finish_job(
    store: Store,
    job_id: str,
    status: str,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    message: str | None = None,
) -> JobRecord:
    """Record how a job ended, with its result or error, in one update.

    Parameters
    ----------
    status
        ``finished``, ``failed`` or ``cancelled``.
    result
        The job's result (JSON-serialisable), kept even for a cancelled job (partial result).
    error
        Why it failed.
    message
        Last word shown with the status.
    """
    if status not in {"finished", "failed", "cancelled"}:
        raise ValueError(f"a job ends 'finished', 'failed' or 'cancelled', not {status!r}")
    with write_transaction(store.engine) as connection:
        connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
            .values(
                status=status,
                finished_at=datetime.now(UTC),
                result=None if result is None else _to_json(result),
                error=error,
                message=message or status,
            )
        )
    return get_job(store, job_id)


def mark_interrupted(store: Store) -> list[str]:
    """Mark jobs left queued or running by a process that stopped; returns their ids.

    Call it once when the only process running jobs starts.
    """
    with write_transaction(store.engine) as connection:
        orphans = list(connection.scalars(select(jobs.c.id).where(jobs.c.status.in_(("queued", "running")))))
        if orphans:
            connection.execute(
                update(jobs)
                .where(jobs.c.id.in_(orphans))
                .values(
                    status="interrupted",
                    finished_at=datetime.now(UTC),
                    message="the service stopped before the job ended; submit it again",
                )
            )
    return orphans


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


def _to_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        status=row.status,
        params=json.loads(row.params),
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        message=row.message,
        cancel_requested=bool(row.cancel_requested),
        result=None if row.result is None else json.loads(row.result),
        error=row.error,
    )
