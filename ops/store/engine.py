"""Where the store lives and how to connect to it.

Without configuration the store is a SQLite file, ``var/hospital_twin.db`` under the working directory,
in WAL mode (readers never wait for the writer). When ``DATABASE_URL`` is set, that database is used
instead; ``postgresql://`` and ``postgres://`` URLs are given the psycopg 3 driver.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

DATABASE_URL_ENV = "DATABASE_URL"
"""Environment variable naming the production database."""

RESULTS_DIR_ENV = "HOSPITAL_TWIN_RESULTS_DIR"
"""Environment variable naming the folder for Parquet results (default: next to the database)."""

DEFAULT_SQLITE_PATH = Path("var") / "hospital_twin.db"
"""The embedded database, relative to the working directory."""

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another writer before giving up [seconds]."""

IMMEDIATE = "hospital_twin_immediate"
"""Execution option: on SQLite, begin the transaction with ``BEGIN IMMEDIATE`` (take the write lock now).

A writer that starts as a reader and upgrades later can fail at once with "database is locked" when
another connection wrote in between; taking the lock up front lets it wait its turn instead.
"""


def resolve_url(url: str | URL | None = None) -> URL:
    """Choose the database URL: the argument, else ``DATABASE_URL``, else the embedded SQLite file.

    Parameters
    ----------
    url
        A SQLAlchemy URL; ``None`` means "from the environment, else the default SQLite file".

    Returns
    -------
    URL
        A URL with an explicit driver (``sqlite+pysqlite`` or ``postgresql+psycopg``).

    Raises
    ------
    ValueError
        For a database other than SQLite or PostgreSQL.

    Examples
    --------
    >>> resolve_url("postgres://planner@db.example/twin").drivername
    'postgresql+psycopg'
    """
    if url is None:
        url = os.environ.get(DATABASE_URL_ENV) or None
    if url is None:
        return make_url(f"sqlite+pysqlite:///{(Path.cwd() / DEFAULT_SQLITE_PATH).as_posix()}")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported database {parsed.drivername!r}: the store runs on SQLite or PostgreSQL")


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (``None`` for an in-memory database or another backend)."""
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return None
    database = str(url.database)
    if database.startswith("file:"):
        return None  # a SQLite URI; leave it to SQLite
    return Path(database)


def default_results_dir(url: URL) -> Path:
    """Folder for Parquet results: ``HOSPITAL_TWIN_RESULTS_DIR``, else ``results/`` next to a SQLite file.

    For PostgreSQL (or an in-memory SQLite database) the default is ``var/results`` under the working
    directory.
    """
    configured = os.environ.get(RESULTS_DIR_ENV)
    if configured:
        return Path(configured)
    database = sqlite_file(url)
    if database is not None:
        return database.parent / "results"
    return Path.cwd() / "var" / "results"


def create_store_engine(url: URL, **engine_options: Any) -> Engine:
    """Create the SQLAlchemy engine for the store.

    For SQLite: the folder of the file is created, WAL mode and a busy timeout are set, and SQLAlchemy
    (not the sqlite3 module) decides where transactions begin, so that DDL is transactional and a
    transaction really is all-or-nothing.

    Parameters
    ----------
    url
        Database URL, from :func:`resolve_url`.
    **engine_options
        Passed on to :func:`sqlalchemy.create_engine`.
    """
    if url.get_backend_name() == "postgresql":
        engine_options.setdefault("pool_pre_ping", True)
        return create_engine(url, **engine_options)

    database = sqlite_file(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    elif url.database in {None, "", ":memory:"}:
        # One connection shared by everyone, or each connection would see its own empty database.
        engine_options.setdefault("poolclass", StaticPool)
        engine_options.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **engine_options)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 stops issuing BEGIN itself; see _begin below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            if database is not None:
                _set_wal_mode(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe with WAL
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _set_wal_mode(cursor: Any) -> None:
    """Switch a SQLite file to WAL, waiting while another connection creates or switches it.

    Changing the journal mode needs a moment of exclusive access, and SQLite does not apply the busy
    timeout to it: two processes opening a new file at the same time would otherwise fail with
    "database is locked".
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    pause = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write: committed on success, rolled back on error.

    On SQLite the transaction takes the write lock at once (``BEGIN IMMEDIATE``), so concurrent writers
    queue up (for up to :data:`SQLITE_BUSY_TIMEOUT_SECONDS`) instead of failing.
    """
    with engine.connect() as connection:
        connection.execution_options(**{IMMEDIATE: True})
        with connection.begin():
            yield connection
