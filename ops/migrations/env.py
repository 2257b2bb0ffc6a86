"""Alembic environment of the store.

The store calls Alembic with an open connection (``config.attributes["connection"]``, see
``ops.store.migrate``); run by hand (``alembic -c ops/migrations/alembic.ini ...``) it connects to
``sqlalchemy.url`` if the ini file sets one, else to ``DATABASE_URL``, else to the embedded SQLite file.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from ops.store.engine import create_store_engine, resolve_url, write_transaction
from ops.store.migrate import lock_for_migration
from ops.store.schema import metadata

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or resolve_url().render_as_string(hide_password=False)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        # The store makes SQLite DDL transactional (ops.store.engine emits BEGIN itself): a failed
        # upgrade leaves the database as it was, on both backends.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_store_engine(resolve_url(_url()))
    try:
        with write_transaction(engine) as connection:
            lock_for_migration(connection)
            _run(connection)
    finally:
        engine.dispose()


if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
