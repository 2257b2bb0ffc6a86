"""``hospital-twin demo``: builds the history into the store, is idempotent, never mixes two histories."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ops.store import open_store
from ui.cli import app

runner = CliRunner()


def _demo(tmp_path: Path, *extra: str) -> tuple[int, str]:
    url = f"sqlite:///{tmp_path / 'var' / 'store.db'}"
    result = runner.invoke(
        app,
        [
            "demo",
            "--days",
            "4",
            "--end",
            "2025-03-10",
            "--database",
            url,
            "--out",
            str(tmp_path / "demo"),
            *extra,
        ],
    )
    return result.exit_code, result.output


@pytest.fixture
def built(tmp_path: Path) -> Path:
    code, output = _demo(tmp_path)
    assert code == 0, output
    return tmp_path


def test_demo_appends_every_generated_event_and_writes_parquet(built: Path) -> None:
    parquet_events = pl.read_parquet(built / "demo" / "events.parquet")
    with open_store(f"sqlite:///{built / 'var' / 'store.db'}") as store:
        assert store.count_events() == parquet_events.height > 1000
        stored_ids = set(store.read_events()["event_id"].to_list())
        assert stored_ids == set(parquet_events["event_id"].to_list())
        assert store.scenario_names() == ["Baseline"]
        (entry,) = store.audit_entries(action="demo.build")
        assert entry.details["start"] == "2025-03-06" and entry.details["days"] == 4


def test_running_the_same_demo_again_adds_nothing(built: Path) -> None:
    code, output = _demo(built)
    assert code == 0, output
    assert "0 events added" in output
    with open_store(f"sqlite:///{built / 'var' / 'store.db'}") as store:
        assert store.count_events() == pl.read_parquet(built / "demo" / "events.parquet").height


def test_another_history_is_refused_and_the_store_left_alone(built: Path) -> None:
    with open_store(f"sqlite:///{built / 'var' / 'store.db'}") as store:
        before = store.count_events()
    code, output = _demo(built, "--seed", "2")
    assert code == 1
    assert "refusing to mix" in output and "--replace" in output
    with open_store(f"sqlite:///{built / 'var' / 'store.db'}") as store:
        assert store.count_events() == before


def test_replace_starts_the_store_again(built: Path) -> None:
    code, output = _demo(built, "--seed", "2", "--replace")
    assert code == 0, output
    with open_store(f"sqlite:///{built / 'var' / 'store.db'}") as store:
        (entry,) = store.audit_entries(action="demo.build")
        assert entry.details["seed"] == 2
        assert store.count_events() == pl.read_parquet(built / "demo" / "events.parquet").height


def test_a_bad_scenario_or_date_exits_2_naming_it(tmp_path: Path) -> None:
    code, output = _demo(tmp_path, "--scenario", "no_such_scenario")
    assert code == 2 and "no_such_scenario" in output
    code, output = _demo(tmp_path, "--end", "10/03/2025")
    assert code == 2 and "--end" in output


def test_if_empty_keeps_a_store_that_already_holds_a_history(built: Path) -> None:
    # Another end date would be refused as another history; --if-empty leaves the first build alone instead.
    url = f"sqlite:///{built / 'var' / 'store.db'}"
    with open_store(url) as store:
        before = store.count_events()
    result = runner.invoke(
        app,
        [
            *("demo", "--days", "4", "--end", "2025-03-20", "--database", url),
            *("--out", str(built / "d2"), "--if-empty"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "kept as it is" in result.output and "2025-03-06" in result.output
    assert not (built / "d2").exists()
    with open_store(url) as store:
        assert store.count_events() == before
