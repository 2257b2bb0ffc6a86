"""Large results as Parquet files next to the database, and backups of the SQLite store."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ops.store import Store, open_store
from ops.store import results as results_module


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'var' / 'hospital_twin.db'}")
    yield store  # type: ignore[misc]
    store.close()


def kpis(occupancy: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "replication": [0, 1],
            "scenario": ["baseline"] * 2,
            "metric": ["occupancy"] * 2,
            "value": [occupancy] * 2,
        }
    )


def test_results_are_written_next_to_the_database_and_read_back(sqlite_store: Store, tmp_path: Path) -> None:
    path = sqlite_store.put_result_parquet("runs/1/kpis", kpis(0.9))

    assert path == tmp_path / "var" / "results" / "runs" / "1" / "kpis.parquet"
    assert sqlite_store.read_result_parquet("runs/1/kpis").equals(kpis(0.9))
    assert sqlite_store.read_result_parquet("runs/1/kpis.parquet").equals(kpis(0.9))

    sqlite_store.put_result_parquet("runs/1/kpis", kpis(0.8))
    assert sqlite_store.read_result_parquet("runs/1/kpis").equals(kpis(0.8))


@pytest.mark.parametrize("where", ["while writing", "at the rename"])
def test_a_failed_write_leaves_the_previous_result_whole(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = sqlite_store.put_result_parquet("kpis", kpis(0.9))

    def crash_while_writing(frame: pl.DataFrame, file: object, *args: object, **kwargs: object) -> None:
        file.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    def crash_at_rename(source: object, target: object) -> None:
        raise OSError("simulated crash")

    if where == "while writing":
        monkeypatch.setattr(pl.DataFrame, "write_parquet", crash_while_writing)
    else:
        monkeypatch.setattr(results_module.os, "replace", crash_at_rename)

    with pytest.raises(OSError):
        sqlite_store.put_result_parquet("kpis", kpis(0.1))

    monkeypatch.undo()
    assert sqlite_store.read_result_parquet("kpis").equals(kpis(0.9))
    assert sorted(path.parent.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "runs/../../escape", "", "runs//kpis", "a b"])
def test_result_names_cannot_leave_the_results_folder(sqlite_store: Store, name: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        sqlite_store.put_result_parquet(name, kpis(0.9))


def test_a_sqlite_store_is_backed_up_while_open(sqlite_store: Store, tmp_path: Path) -> None:
    sqlite_store.save_plan("roster", {"nurses": 10})

    copy = sqlite_store.backup(tmp_path / "backups" / "twin.db")

    with open_store(f"sqlite:///{copy}") as restored:
        assert restored.latest_plan("roster") == sqlite_store.latest_plan("roster")
