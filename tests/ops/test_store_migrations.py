"""Schema migrations and where the store lives: head equals the metadata on both backends, upgrades are
idempotent, safe when concurrent, refuse unknown revisions, and work from any directory and the CLI."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

import ops.store.jobs
import ops.store.tokens
from ops.store import ALEMBIC_INI, MIGRATIONS_DIR, SchemaVersionError, head_revision, metadata, open_store
from ops.store.engine import DATABASE_URL_ENV, RESULTS_DIR_ENV, default_results_dir, resolve_url
from ops.store.migrate import alembic_config, current_revision
from tests.conftest import PROJECT_ROOT


def schema_drift(store_url: str, tmp_path: Path) -> list[object]:
    """Differences Alembic finds between the migrated database and :data:`ops.store.metadata`.

    The API's tables join the metadata when their modules are imported (done above, so that this file
    passes alone as well as after the API tests).
    """
    assert {"api_tokens", "jobs"} <= set(metadata.tables), (ops.store.jobs, ops.store.tokens)
    with open_store(store_url, results_dir=tmp_path) as store, store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": metadata}
        )
        return list(compare_metadata(context, metadata))


def test_migrated_schema_equals_the_metadata(store_url: str, tmp_path: Path) -> None:
    assert schema_drift(store_url, tmp_path) == []


def test_opening_again_keeps_the_data_and_the_revision(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, results_dir=tmp_path) as store:
        store.write_audit("test", "first_open", "ok")
        assert current_revision(store.engine) == head_revision()

    with open_store(store_url, results_dir=tmp_path) as store:
        assert current_revision(store.engine) == head_revision()
        assert [entry.action for entry in store.audit_entries()] == ["first_open"]


def test_migrations_go_down_to_nothing_and_back_up(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, results_dir=tmp_path) as store, store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    with open_store(store_url, results_dir=tmp_path, migrate=False) as store:
        assert current_revision(store.engine) is None

    assert schema_drift(store_url, tmp_path) == []


def test_stores_opened_at_the_same_time_migrate_once(store_url: str, tmp_path: Path) -> None:
    def open_and_close(_: int) -> str | None:
        with open_store(store_url, results_dir=tmp_path) as store:
            return current_revision(store.engine)

    with ThreadPoolExecutor(max_workers=4) as pool:
        revisions = list(pool.map(open_and_close, range(4)))

    assert revisions == [head_revision()] * 4


def test_a_database_from_newer_code_is_refused(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, results_dir=tmp_path) as store, store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))

    with pytest.raises(SchemaVersionError, match="newer version"):
        open_store(store_url, results_dir=tmp_path)


def test_alembic_command_line_uses_the_packaged_configuration(store_url: str, tmp_path: Path) -> None:
    open_store(store_url, results_dir=tmp_path).close()
    environment = {**os.environ, DATABASE_URL_ENV: store_url}

    answer = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "current"],
        cwd=tmp_path,  # not the project folder
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )

    assert answer.returncode == 0, answer.stderr
    assert f"{head_revision()} (head)" in answer.stdout


def test_the_default_store_is_a_wal_sqlite_file_under_var_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv(RESULTS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    with open_store() as store:
        store.write_audit("test", "open_default", "ok")
        with store.engine.connect() as connection:
            journal_mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()

    assert (tmp_path / "var" / "hospital_twin.db").is_file()
    assert journal_mode == "wal"
    assert store.results_dir == tmp_path / "var" / "results"


def test_packaged_migration_files_are_all_shipped_as_package_data() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["ops"]
    ops_folder = MIGRATIONS_DIR.parent
    files = [
        path.relative_to(ops_folder).as_posix()
        for path in MIGRATIONS_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]

    assert {"migrations/env.py", "migrations/alembic.ini", "migrations/script.py.mako"} <= set(files)
    assert [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)] == []
    # The head is the newest numbered revision file: a new migration must chain onto the last one.
    numbered = sorted(name.split("/")[-1][:4] for name in files if name.startswith("migrations/versions/0"))
    assert head_revision() == numbered[-1]


# -- where the store lives ------------------------------------------------------------------------------


def test_database_url_from_the_environment_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgres://planner:secret@db.example:5433/twin")

    url = resolve_url()

    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db.example", 5433, "twin", "secret")
    assert resolve_url("sqlite:////srv/twin.db").drivername == "sqlite+pysqlite"


def test_databases_other_than_sqlite_and_postgresql_are_refused() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        resolve_url("mysql://planner@db.example/twin")


def test_results_go_next_to_a_sqlite_file_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RESULTS_DIR_ENV, raising=False)
    assert default_results_dir(resolve_url("sqlite:////srv/twin/twin.db")) == Path("/srv/twin/results")

    monkeypatch.setenv(RESULTS_DIR_ENV, "/data/results")
    assert default_results_dir(resolve_url("postgresql://db.example/twin")) == Path("/data/results")
