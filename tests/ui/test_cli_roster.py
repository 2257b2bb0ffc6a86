"""``hospital-twin roster repair``: a sick call re-rosters the nurse's team, a draft by default."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ops.nightly import PLAN_KIND, NightlyResult, latest_version, run_nightly
from ops.store import Store, open_store
from tests.ops.test_nightly import FAST, PLAN_DATE, _seed_store, small_scenario, standin_forecaster
from ui.commands import roster as command
from ui.commands.roster import roster_app

DAYS = 7


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roster-cli-seed")
    _seed_store(f"sqlite:///{folder / 'store.db'}", folder / "results")
    return folder / "store.db"


@pytest.fixture
def planned(seeded_db: Path, tmp_path: Path) -> Iterator[tuple[str, Path, NightlyResult]]:
    """A store with a published nightly plan, its URL and its files folder."""
    copy = tmp_path / "store.db"
    copy.write_bytes(seeded_db.read_bytes())
    url = f"sqlite:///{copy}"
    out = tmp_path / "out"
    with open_store(url, results_dir=tmp_path / "results") as store:
        result = run_nightly(
            store,
            small_scenario(),
            plan_date=PLAN_DATE,
            days=DAYS,
            out_dir=out,
            n_paths=40,
            forecast_hours=72,
            settings=FAST,
            forecaster=standin_forecaster,
        )
    yield url, out, result


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(command, "_scenario", lambda store, name: small_scenario())
    cli = typer.Typer()
    cli.add_typer(roster_app, name="roster")
    return cli


def _worker(result: NightlyResult, day: date) -> str:
    """A nurse of the AMU who works on ``day``."""
    return sorted(
        row["nurse_id"]
        for row in result.plan.payload["assignments"]
        if row["day"] == day.isoformat() and row["unit_id"] == "AMU"
    )[0]


def _shifts(store: Store, version: int, nurse: str) -> dict[str, str]:
    plan = store.plan(PLAN_KIND, version)
    assert plan is not None
    return {row["day"]: row["shift"] for row in plan.payload["assignments"] if row["nurse_id"] == nurse}


def test_a_sick_call_makes_a_draft_that_keeps_the_past_and_lists_the_changes(
    planned: tuple[str, Path, NightlyResult], app: typer.Typer
) -> None:
    url, out, nightly = planned
    sick_day = PLAN_DATE + timedelta(days=2)
    nurse = _worker(nightly, sick_day)
    arguments = ["roster", "repair", "--nurse", nurse, "--from", sick_day.isoformat()]
    arguments += ["--to", (sick_day + timedelta(days=1)).isoformat(), "--database", url, "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert f"{nurse} absent {sick_day.isoformat()}" in result.output
    assert "saved as a draft" in result.output
    with open_store(url) as store:
        published = store.latest_plan(PLAN_KIND)
        draft = store.latest_plan(PLAN_KIND, status="draft")
        assert published is not None and published.version == nightly.plan.version  # not in force yet
        assert draft is not None and draft.version == nightly.plan.version + 1
        repair = draft.payload["repair"]
        assert repair["nurse_id"] == nurse and repair["reason"] == "sick"
        assert repair["based_on_version"] == nightly.plan.version
        before = _shifts(store, nightly.plan.version, nurse)
        after = _shifts(store, draft.version, nurse)
        assert sick_day.isoformat() in before
        assert sick_day.isoformat() not in after and (sick_day + timedelta(days=1)).isoformat() not in after
        old_rows = published.payload["assignments"]
        new_rows = draft.payload["assignments"]
        # The past (days before the sick day) is exactly as published, for every nurse.
        assert [r for r in old_rows if r["day"] < sick_day.isoformat()] == [
            r for r in new_rows if r["day"] < sick_day.isoformat()
        ]
        # Teams other than hers are untouched; every change is printed and in the plan.
        changes = repair["changes"]
        team = {r["nurse_id"] for r in old_rows if r["nurse_id"].startswith(nurse.rsplit("-", 1)[0])}
        assert {c["nurse_id"] for c in changes} <= team
        assert any(c["nurse_id"] == nurse and c["after"] is None for c in changes)
        for change in changes:
            assert change["nurse_id"] in result.output
        (entry,) = store.audit_entries(action="roster_repair")
        assert entry.details["plan_version"] == draft.version and entry.details["changes"] == len(changes)
        assert sum(a["kind"] == "roster_changed" for a in draft.payload["alerts"]) == len(changes)
    assert latest_version(out) == nightly.plan.version  # a draft does not touch the published files


def test_publish_puts_the_repair_in_force_and_switches_the_files(
    planned: tuple[str, Path, NightlyResult], app: typer.Typer
) -> None:
    url, out, nightly = planned
    sick_day = PLAN_DATE + timedelta(days=3)
    nurse = _worker(nightly, sick_day)
    arguments = ["roster", "repair", "--nurse", nurse, "--from", sick_day.isoformat(), "--publish"]
    result = CliRunner().invoke(app, [*arguments, "--database", url, "--out", str(out), "--reason", "leave"])
    assert result.exit_code == 0, result.output
    assert "published, based on version" in result.output
    with open_store(url) as store:
        published = store.latest_plan(PLAN_KIND)
        assert published is not None and published.version == nightly.plan.version + 1
        assert published.payload["repair"]["reason"] == "leave"
        assert sick_day.isoformat() not in _shifts(store, published.version, nurse)
    assert latest_version(out) == nightly.plan.version + 1


def test_bad_requests_exit_2_with_a_clear_message(
    planned: tuple[str, Path, NightlyResult], app: typer.Typer, tmp_path: Path
) -> None:
    url, _, _ = planned
    runner = CliRunner()
    unknown = runner.invoke(
        app, ["roster", "repair", "--nurse", "nobody", "--from", "2024-04-13", "--database", url]
    )
    assert unknown.exit_code == command.EXIT_BAD_INPUT
    assert "no nurse 'nobody'" in unknown.output
    outside = runner.invoke(
        app, ["roster", "repair", "--nurse", "amu_nurses-001", "--from", "2025-01-01", "--database", url]
    )
    assert outside.exit_code == command.EXIT_BAD_INPUT and "outside roster plan version" in outside.output
    bad_date = runner.invoke(app, ["roster", "repair", "--nurse", "x", "--from", "soon", "--database", url])
    assert bad_date.exit_code == command.EXIT_BAD_INPUT and "is not a date" in bad_date.output
    empty = runner.invoke(
        app,
        [
            "roster",
            "repair",
            "--nurse",
            "x",
            "--from",
            "2024-04-13",
            "--database",
            f"sqlite:///{tmp_path}/e.db",
        ],
    )
    assert empty.exit_code == command.EXIT_BAD_INPUT and "no published roster plan" in empty.output
