"""Schema migrations: bring a database to the schema this version of the code expects.

The Alembic scripts ship inside the package (``ops/migrations``) and are found from this file, so the
upgrade works from an installed package and from any working directory. :func:`upgrade_to_head` is
called by :func:`ops.store.open_store`; two processes opening the same database at once are safe
(PostgreSQL: an advisory lock; SQLite: the write lock).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, func, select

from ops.store.engine import write_transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The Alembic environment and its ``versions/`` scripts."""

ALEMBIC_INI = MIGRATIONS_DIR / "alembic.ini"
"""Configuration for running Alembic by hand (``alembic -c <this file> ...``)."""

_MIGRATION_LOCK_KEY = 0x686F_7370_7477_6E01  # "hosptwn" + 1: an arbitrary, fixed advisory-lock key


class SchemaVersionError(RuntimeError):
    """The database was migrated by a newer (or unrelated) version of the code."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations.

    Parameters
    ----------
    connection
        When given, migrations run on this connection (inside its transaction).
    """
    config = Config()
    # ConfigParser interpolation: a literal "%" in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision among the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its first revision
        raise SchemaVersionError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def lock_for_migration(connection: Connection) -> None:
    """Make concurrent migrations of one database wait for each other.

    On PostgreSQL this takes a transaction-scoped advisory lock; on SQLite the write transaction the
    migration runs in is already exclusive.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))


def upgrade_to_head(engine: Engine) -> str:
    """Upgrade the database to the newest packaged revision, in one transaction.

    Parameters
    ----------
    engine
        Engine of the store's database.

    Returns
    -------
    str
        The revision the database is at afterwards.

    Raises
    ------
    SchemaVersionError
        When the database is at a revision this code does not know (written by a newer version).
    """
    head = head_revision()
    if current_revision(engine) == head:
        return head
    with write_transaction(engine) as connection:
        lock_for_migration(connection)
        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as error:
            raise SchemaVersionError(
                f"cannot upgrade {engine.url.render_as_string(hide_password=True)} to {head}: {error}; "
                "was the database written by a newer version of hospital-twin?"
            ) from error
    return head
