"""Moving events in and out of the ``events`` table quickly: a million rows in seconds, not minutes.

Both backends insert with ``ON CONFLICT (event_id) DO NOTHING``, so a replayed event is skipped and
counted. SQLite gets plain tuples through ``executemany``; PostgreSQL gets the rows by ``COPY`` into a
temporary table and one ``INSERT ... SELECT``. Reading parses timestamps in polars, not row by row.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    MetaData,
    Row,
    Select,
    String,
    Table,
    bindparam,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite

from ops.store.schema import events
from patients.events import EVENT_SCHEMA, AdmissionType, EventKind, PatientEvent, events_to_frame

STORED_EVENT_SCHEMA: dict[str, pl.DataType] = {"seq": pl.Int64(), **EVENT_SCHEMA}
"""Schema of ``Store.events_since``: the arrival order ``seq`` followed by :data:`EVENT_SCHEMA`."""

_REQUIRED_EVENT_COLUMNS = ("event_id", "source", "kind", "occurred_at", "patient_key", "encounter_id")
_EVENT_KINDS = [kind.value for kind in EventKind]
_ADMISSION_TYPES = [admission.value for admission in AdmissionType]
_UTC_TEXT_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"  # how SQLAlchemy's SQLite DATETIME stores a (naive UTC) time

SMALL_APPEND_ROWS = 1000
"""Up to this many events, PostgreSQL gets one multi-row INSERT rather than a COPY through a temporary
table (cheaper for a live feed's few events, and no catalogue churn)."""


def checked_events_frame(new_events: pl.DataFrame | Iterable[PatientEvent]) -> pl.DataFrame:
    """The events as a frame with exactly :data:`EVENT_SCHEMA`, or a ValueError saying what is wrong."""
    frame = new_events if isinstance(new_events, pl.DataFrame) else events_to_frame(list(new_events))
    missing = [column for column in EVENT_SCHEMA if column not in frame.columns]
    if missing:
        raise ValueError(f"events frame lacks columns {missing}")
    occurred_at = frame.schema["occurred_at"]
    if not isinstance(occurred_at, pl.Datetime) or occurred_at.time_zone is None:
        raise ValueError(f"occurred_at must be a timezone-aware datetime column, not {occurred_at}")
    frame = frame.select(pl.col(column).cast(dtype) for column, dtype in EVENT_SCHEMA.items())
    frame = frame.with_columns(pl.col("payload").fill_null("{}"))

    problems: list[str] = []
    for column in _REQUIRED_EVENT_COLUMNS:
        empty = frame.filter(pl.col(column).is_null() | (pl.col(column).cast(pl.String) == ""))
        if empty.height:
            problems.append(f"{empty.height} event(s) without {column}")
    for column, allowed in (("kind", _EVENT_KINDS), ("admission_type", _ADMISSION_TYPES)):
        unknown = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed))[column]
        if unknown.len():
            problems.append(f"unknown {column} {sorted(unknown.unique().to_list())[:5]} (allowed: {allowed})")
    if problems:
        raise ValueError("events rejected: " + "; ".join(problems))
    return frame


def append_sqlite(connection: Connection, frame: pl.DataFrame, batch_rows: int) -> int:
    """``INSERT ... ON CONFLICT (event_id) DO NOTHING`` by ``executemany``; returns the rows inserted.

    Rows go to the driver as plain tuples with ``occurred_at`` already in the storage format of
    :class:`~ops.store.schema.UtcDateTime`: per-row type processing would triple the time of a bulk load.
    """
    statement = sqlite.insert(events).values({name: bindparam(name) for name in EVENT_SCHEMA})
    compiled = statement.on_conflict_do_nothing(index_elements=["event_id"]).compile(
        dialect=connection.dialect
    )
    order = list(compiled.positiontup or ())
    rows = frame.with_columns(
        pl.col("occurred_at").dt.convert_time_zone("UTC").dt.strftime(_UTC_TEXT_FORMAT)
    ).select(order)
    inserted = 0
    for batch in rows.iter_slices(batch_rows):
        parameters = list(zip(*(batch[name].to_list() for name in order), strict=True))
        result = connection.exec_driver_sql(
            str(compiled), parameters, execution_options={"preserve_rowcount": True}
        )
        inserted += result.rowcount
    return inserted


def append_postgresql(connection: Connection, frame: pl.DataFrame, batch_rows: int) -> int:
    """Insert with ``ON CONFLICT (event_id) DO NOTHING``; returns the rows inserted.

    A few events (a live feed) go in one multi-row ``INSERT``. Many events (a history load) are
    streamed by ``COPY`` into a temporary table and moved with one ``INSERT ... SELECT``: ``executemany``
    would cost a round trip per row (40 µs a row, measured), ten times the COPY route. Either way one
    statement inserts in the frame's order (so ``seq`` follows it) and reports exactly how many were new.
    """
    if frame.height <= SMALL_APPEND_ROWS:
        statement = (
            postgresql.insert(events)
            .values(frame.to_dicts())
            .on_conflict_do_nothing(index_elements=["event_id"])
            .execution_options(preserve_rowcount=True)  # SQLAlchemy reports INSERT counts only on request
        )
        return int(connection.execute(statement).rowcount)

    staging = Table(
        "events_staging",
        MetaData(),
        Column("ord", BigInteger, nullable=False),
        *(Column(column.name, column.type) for column in events.c if column.name != "seq"),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    staging.create(connection)
    rows = frame.with_row_index("ord").with_columns(
        pl.col("occurred_at").dt.convert_time_zone("UTC").dt.strftime(_UTC_TEXT_FORMAT + "+00")
    )
    columns = ", ".join(rows.columns)
    cursor = connection.connection.cursor()
    try:
        for batch in rows.iter_slices(batch_rows):
            buffer = io.BytesIO()
            # CSV keeps NULL (nothing) apart from the empty string ("").
            batch.write_csv(buffer, include_header=False, null_value="", quote_style="necessary")
            with cursor.copy(f"COPY events_staging ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
    finally:
        cursor.close()
    names = list(EVENT_SCHEMA)
    statement = (
        postgresql.insert(events)
        .from_select(names, select(*staging.c[tuple(names)]).order_by(staging.c.ord))
        .on_conflict_do_nothing(index_elements=["event_id"])
        .execution_options(preserve_rowcount=True)  # SQLAlchemy reports INSERT row counts only on request
    )
    return int(connection.execute(statement).rowcount)


def select_events(*, with_seq: bool) -> Select[Any]:
    """Select the event columns; ``occurred_at`` comes back as the driver gives it (see ``events_frame``)."""
    names = list(STORED_EVENT_SCHEMA if with_seq else EVENT_SCHEMA)
    return select(
        *(
            type_coerce(events.c.occurred_at, String).label("occurred_at")
            if name == "occurred_at"
            else events.c[name]
            for name in names
        )
    )


def events_frame(rows: Sequence[Row[Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Build an events frame; ``occurred_at`` arrives as text (SQLite) or aware datetimes (PostgreSQL).

    Parsing SQLite's text in polars rather than row by row in Python makes reading a large log fast.
    """
    raw_schema = dict(schema)
    if rows and isinstance(rows[0].occurred_at, str):
        raw_schema["occurred_at"] = pl.String()
    frame = pl.DataFrame(rows, schema=raw_schema, orient="row")
    if raw_schema["occurred_at"] == pl.String():
        parsed = pl.col("occurred_at").str.to_datetime(_UTC_TEXT_FORMAT, time_unit="us", time_zone="UTC")
        frame = frame.with_columns(parsed)
    return frame.cast(pl.Schema(schema))
