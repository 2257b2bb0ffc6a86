"""The salt of the surfaces that ingest real identifiers (ops.settings.ingest_salt) and the keys it makes."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.settings import (
    DEMO_MODE_ENVIRONMENT_VARIABLE,
    SALT_FILE_ENVIRONMENT_VARIABLE,
    SaltNotConfigured,
    ingest_salt,
    store_salt_file,
)
from ops.store import Store, open_store
from patients.identity import DEMO_SALT, SALT_ENVIRONMENT_VARIABLE, encounter_key, patient_key, resolve_salt


@pytest.fixture(autouse=True)
def _no_salt_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SALT_ENVIRONMENT_VARIABLE, SALT_FILE_ENVIRONMENT_VARIABLE, DEMO_MODE_ENVIRONMENT_VARIABLE):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'var' / 'hospital_twin.db'}") as store:
        yield store


@pytest.fixture
def memory_store() -> Iterator[Store]:
    """A store with no file to keep a salt beside (stands in for PostgreSQL)."""
    with open_store("sqlite://") as store:
        yield store


def test_an_embedded_store_gets_a_random_private_salt_once(sqlite_store: Store, tmp_path: Path) -> None:
    first = ingest_salt(sqlite_store)
    again = ingest_salt(sqlite_store)

    path = tmp_path / "var" / "salt"
    assert store_salt_file(sqlite_store) == path
    assert first == again == path.read_bytes().strip()
    assert len(first) == 64 and first != DEMO_SALT.encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".salt")] == []


def test_two_stores_get_different_salts(tmp_path: Path) -> None:
    with (
        open_store(f"sqlite:///{tmp_path / 'a' / 'a.db'}") as a,
        open_store(f"sqlite:///{tmp_path / 'b' / 'b.db'}") as b,
    ):
        assert ingest_salt(a) != ingest_salt(b)


def test_processes_starting_together_agree_on_one_salt(sqlite_store: Store) -> None:
    salts: list[bytes] = []
    threads = [threading.Thread(target=lambda: salts.append(ingest_salt(sqlite_store))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(salts) == 8 and len(set(salts)) == 1


def test_the_environment_wins_over_the_file_beside_the_store(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "mounted-secret"
    secret_file.write_text("from-a-mounted-secret\n")
    secret_file.chmod(0o600)
    monkeypatch.setenv(SALT_FILE_ENVIRONMENT_VARIABLE, str(secret_file))
    assert ingest_salt(sqlite_store) == b"from-a-mounted-secret"
    monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, "from-the-environment")
    assert ingest_salt(sqlite_store) == b"from-the-environment"
    assert not (tmp_path / "var" / "salt").exists()


def test_postgresql_without_a_salt_refuses_with_what_to_set(memory_store: Store) -> None:
    with pytest.raises(
        SaltNotConfigured, match=f"{SALT_ENVIRONMENT_VARIABLE}.*{SALT_FILE_ENVIRONMENT_VARIABLE}"
    ):
        ingest_salt(memory_store)
    assert ingest_salt(memory_store, demo=True) == DEMO_SALT.encode()


def test_the_demo_salt_is_refused_outside_demo_mode(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, DEMO_SALT)
    with pytest.raises(SaltNotConfigured, match="public demo salt") as refused:
        ingest_salt(sqlite_store)
    assert DEMO_SALT not in str(refused.value)
    monkeypatch.setenv(DEMO_MODE_ENVIRONMENT_VARIABLE, "1")
    assert ingest_salt(sqlite_store) == DEMO_SALT.encode()


def test_an_empty_or_missing_salt_file_is_refused(
    memory_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv(SALT_FILE_ENVIRONMENT_VARIABLE, str(empty))
    with pytest.raises(SaltNotConfigured, match="is empty"):
        ingest_salt(memory_store)
    monkeypatch.setenv(SALT_FILE_ENVIRONMENT_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(SaltNotConfigured, match="cannot be read"):
        ingest_salt(memory_store)


def test_keys_depend_on_the_salt_and_ignore_case_and_spaces() -> None:
    assert patient_key(" ab123 ", salt="s1") == patient_key("AB123", salt="s1")
    assert patient_key("AB123", salt="s1") != patient_key("AB123", salt="s2")
    assert patient_key("AB123", salt="s1") != encounter_key("AB123", salt="s1")
    with pytest.raises(ValueError, match="empty"):
        resolve_salt("")
    with pytest.raises(ValueError, match="empty"):
        patient_key("   ", salt="s1")
