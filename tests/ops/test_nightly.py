"""The nightly staffing plan: ingest, publication, drafts, idempotency, kept days, alerts, explanations of
infeasible teams, failures, and kills (SIGKILL).

The store holds two weeks of synthetic history of the demo hospital, with two small staff pools so that
the roster takes seconds. The census forecast is a stand-in (:func:`standin_forecaster`: Poisson census
around the census at the origin, seeded) unless said otherwise, so that these tests exercise the nightly
pipeline itself; ``test_with_the_census_forecast_pipeline`` runs the real ``ops.forecasting``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from ops import nightly as nightly_module
from ops.live import census_now, load_twins
from ops.nightly import (
    PLAN_KIND,
    NightlyError,
    date_range_words,
    latest_version,
    over_capacity_alerts,
    run_nightly,
    sync_published_files,
)
from ops.store import Store, open_store
from patients.census.schema import CENSUS_FORECAST_SCHEMA, CENSUS_PATHS_SCHEMA
from patients.synthetic import generate_history
from scenarios import Scenario, load_scenario, scenario_path
from scheduler.roster.from_scenario import ROSTER_ASSIGNMENTS_SCHEMA, RosterSettings
from scheduler.staffing import STAFFING_DEMAND_SCHEMA
from tests.conftest import PROJECT_ROOT

HISTORY_START = date(2024, 4, 1)
HISTORY_DAYS = 14
PLAN_DATE = date(2024, 4, 12)
DAYS = 7
FAST = RosterSettings(
    deterministic_seconds_per_nurse=0.05,
    max_deterministic_seconds=1.5,
    explain_deterministic_seconds=1.0,
    explain_max_checks=3,
)
FILES = ("roster.csv", "cover.csv", "demand.csv", "alerts.json", "plan.json")
MESSAGES = PROJECT_ROOT / "tests" / "patients" / "messages"
SALT = "nightly-test-salt"


def small_scenario() -> Scenario:
    """The demo hospital with two small staff pools (AMU and critical care)."""
    baseline = load_scenario(scenario_path("baseline"))
    hospital = baseline.hospital
    pools = {p.id: p for p in hospital.staff_pools}
    amu = pools["amu_nurses"].model_copy(update={"headcount": 30})
    critical = pools["critical_care_nurses"].model_copy(update={"headcount": 24})
    return baseline.model_copy(
        update={"hospital": hospital.model_copy(update={"staff_pools": (amu, critical)})}
    )


def standin_forecaster(
    store: Store,
    scenario: Scenario,
    origin: datetime,
    *,
    hours: int = 336,
    n_paths: int = 1000,
    seed: int = 0,
    progress: Any = None,
    cancel: Any = None,
    save: bool = False,
) -> SimpleNamespace:
    """Census paths: Poisson around each unit's census at ``origin``, high acuity at its current share.

    ``save`` is accepted (and ignored) as by ``ops.forecasting.census_forecast_from_store``.
    """
    now = census_now(scenario, load_twins(store, origin), origin)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    ats = [origin + timedelta(hours=h) for h in range(hours)]
    frames = []
    for row in now.filter(pl.col("beds").is_not_null()).iter_rows(named=True):
        census = rng.poisson(max(row["census"], 1), size=(n_paths, hours)).astype(np.int32)
        share = row["high_acuity"] / row["census"] if row["census"] else 0.1
        high = rng.binomial(census, share).astype(np.int32)
        frames.append(
            pl.DataFrame(
                {
                    "path": np.repeat(np.arange(n_paths, dtype=np.int32), hours),
                    "unit_id": row["unit_id"],
                    "at": ats * n_paths,
                    "census": census.ravel(),
                    "low": (census - high).ravel(),
                    "medium": np.zeros(n_paths * hours, dtype=np.int32),
                    "high": high.ravel(),
                },
                schema=CENSUS_PATHS_SCHEMA,
            )
        )
    paths = pl.concat(frames)
    beds = pl.DataFrame(
        {
            "unit_id": [u.id for u in scenario.hospital.units],
            "beds": [u.beds for u in scenario.hospital.units],
        },
        schema={"unit_id": pl.String(), "beds": pl.Int32()},
    )
    summary = (
        paths.join(beds, on="unit_id")
        .group_by("unit_id", "at")
        .agg(
            pl.col("census").mean().alias("mean"),
            pl.col("census").quantile(0.05).alias("p05"),
            pl.col("census").quantile(0.5).alias("p50"),
            pl.col("census").quantile(0.95).alias("p95"),
            pl.col("high").mean().alias("mean_high_acuity"),
            pl.col("beds").first(),
            (pl.col("census") > pl.col("beds")).mean().alias("p_over_capacity"),
        )
        .with_columns(((pl.col("at") - origin).dt.total_hours()).alias("horizon_hours"))
        .select([pl.col(name).cast(dtype) for name, dtype in CENSUS_FORECAST_SCHEMA.items()])
    )
    return SimpleNamespace(paths=paths, summary=summary)


def _seed_store(url: str, results: Path) -> None:
    history = generate_history(small_scenario(), HISTORY_START, HISTORY_DAYS, seed=4, warm_up_days=7)
    with open_store(url, results_dir=results) as store:
        store.append_events(history.events)


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("nightly-seed")
    _seed_store(f"sqlite:///{folder / 'store.db'}", folder / "results")
    return folder / "store.db"


@pytest.fixture
def store_url(seeded_db: Path, tmp_path: Path) -> str:
    """A fresh copy of the seeded store for each test."""
    copy = tmp_path / "store.db"
    copy.write_bytes(seeded_db.read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    with open_store(store_url, results_dir=tmp_path / "results") as opened:
        yield opened


def _run(
    store: Store, out: Path, plan_date: date = PLAN_DATE, **options: Any
) -> nightly_module.NightlyResult:
    return run_nightly(
        store,
        small_scenario(),
        plan_date=plan_date,
        days=DAYS,
        out_dir=out,
        n_paths=40,
        forecast_hours=72,
        settings=FAST,
        forecaster=options.pop("forecaster", standin_forecaster),
        **options,
    )


def test_publishes_the_plan_files_alerts_and_audit(store: Store, tmp_path: Path) -> None:
    stages: list[str] = []
    result = _run(store, tmp_path / "out", progress=lambda p: stages.append(p.stage))
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == list(nightly_module.STAGES)
    published = store.latest_plan(PLAN_KIND)
    assert published is not None and published.version == result.plan.version
    payload = published.payload
    assert payload["plan_date"] == PLAN_DATE.isoformat() and payload["last_seq"] == store.last_seq()
    assert payload["new_events"] == store.last_seq()  # first plan: every event is new
    assert len(payload["assignments"]) == result.roster.assignments_frame().height > 0
    assert result.demand.schema == pl.Schema(STAFFING_DEMAND_SCHEMA)
    # Files: complete, and pointed at by `latest`.
    latest = (tmp_path / "out" / "latest").resolve()
    assert latest == result.folder.resolve()
    assert sorted(p.name for p in latest.iterdir()) == sorted(FILES)
    roster_csv = pl.read_csv(latest / "roster.csv", schema=ROSTER_ASSIGNMENTS_SCHEMA)
    assert roster_csv.equals(result.roster.assignments_frame())
    assert json.loads((latest / "alerts.json").read_text()) == payload["alerts"]
    assert json.loads((latest / "plan.json").read_text())["summary"] == payload["summary"]
    unfilled = pl.read_csv(latest / "cover.csv").get_column("unfilled").gt(0).sum()
    assert sum(a["kind"] == "unfilled_shift" for a in result.alerts) == unfilled
    (entry,) = store.audit_entries(action="nightly_plan")
    assert entry.outcome == "ok" and entry.details["plan_version"] == result.plan.version
    assert store.latest_forecast("census") is not None


def test_two_runs_for_the_same_date_give_the_same_plan(store: Store, tmp_path: Path) -> None:
    first = _run(store, tmp_path / "out")
    second = _run(store, tmp_path / "out")
    assert second.plan.version == first.plan.version + 1
    for key in ("assignments", "cover", "demand", "alerts", "summary", "objective"):
        assert second.plan.payload[key] == first.plan.payload[key], key
    assert second.plan.payload["previous_version"] is None  # a same-date plan is replaced, not built on


def test_the_next_night_keeps_the_published_days(store: Store, tmp_path: Path) -> None:
    first = _run(store, tmp_path / "out")
    next_day = PLAN_DATE + timedelta(days=1)
    second = _run(store, tmp_path / "out", plan_date=next_day)
    assert second.plan.payload["previous_version"] == first.plan.version
    assert second.new_events == 0
    last_kept = PLAN_DATE + timedelta(days=DAYS - 1)
    before = first.roster.assignments_frame().filter(pl.col("day") >= next_day)
    after = second.roster.assignments_frame().filter(pl.col("day") <= last_kept)
    cells_before = {(r["nurse_id"], r["day"]): r for r in before.iter_rows(named=True)}
    cells_after = {(r["nurse_id"], r["day"]): r for r in after.iter_rows(named=True)}
    changed = [c for c in set(cells_before) | set(cells_after) if cells_before.get(c) != cells_after.get(c)]
    # A kept day changes only when a hard rule forces it (the horizon moved: a one-day run at its old end
    # must now be two days long), every change is counted and raised as an alert.
    reported = sum(team.published_changes for team in second.roster.teams)
    assert len(changed) == reported <= 0.02 * len(cells_before)
    alerts = [a for a in second.alerts if a["kind"] == "published_roster_changed"]
    assert sum(a["nurse_days_changed"] for a in alerts) == reported
    assert second.roster.assignments_frame().filter(pl.col("day") > last_kept).height > 0


def test_over_capacity_alerts_speak_plainly() -> None:
    scenario = small_scenario()
    # Thursday 18 April 2024, 02:00 UTC = 03:00 in London: the night shift that started on Wednesday.
    at = datetime(2024, 4, 18, 2, tzinfo=UTC)
    summary = pl.DataFrame(
        {
            "unit_id": ["AMU", "ICU"],
            "at": [at, at],
            "horizon_hours": [50, 50],
            "mean": [41.0, 9.0],
            "p05": [35.0, 6.0],
            "p50": [41.0, 9.0],
            "p95": [47.0, 12.0],
            "mean_high_acuity": [3.0, 4.0],
            "beds": [40, 14],
            "p_over_capacity": [0.8, 0.02],
        }
    )
    summary = summary.select([pl.col(n).cast(t) for n, t in CENSUS_FORECAST_SCHEMA.items()])
    alerts = over_capacity_alerts(scenario, summary, date(2024, 4, 15), 7, 0.5)
    assert [a["unit_id"] for a in alerts] == ["AMU"]
    assert alerts[0]["message"].startswith(
        "Acute medical unit is likely (80%) to be over capacity on Wednesday night"
    )
    assert alerts[0]["day"] == "2024-04-17" and alerts[0]["shift"] == "night"


def test_a_failing_stage_leaves_the_previous_plan_and_is_audited(store: Store, tmp_path: Path) -> None:
    first = _run(store, tmp_path / "out")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("forecast model file missing")

    with pytest.raises(NightlyError, match="forecast: RuntimeError: forecast model file missing"):
        _run(store, tmp_path / "out", plan_date=PLAN_DATE + timedelta(days=1), forecaster=broken)
    published = store.latest_plan(PLAN_KIND)
    assert published is not None and published.version == first.plan.version
    failed = store.audit_entries(action="nightly_plan")[0]
    assert failed.outcome == "failed" and failed.details["stage"] == "forecast"
    assert (tmp_path / "out" / "latest").resolve() == first.folder.resolve()


def test_the_inbox_is_ingested_first_counted_and_moved(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("adt_a01_admit.hl7", "adt_a03_discharge.hl7", "fhir_admission_bundle.json"):
        shutil.copy(MESSAGES / name, inbox / name)
    (inbox / "broken.hl7").write_text("MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301||ADT^A01|B1|P|2.5\rEVN|A01\r")
    before = store.last_seq()
    result = _run(store, tmp_path / "out", inbox=inbox, salt=SALT)
    assert result.ingest is not None
    assert (result.ingest.accepted, result.ingest.duplicates, result.ingest.quarantined) == (
        store.last_seq() - before,
        0,
        1,
    )
    assert result.ingest.accepted >= 3
    payload = result.plan.payload
    assert payload["ingest"]["accepted"] == result.ingest.accepted and payload["last_seq"] == store.last_seq()
    assert payload["ingest"]["quarantined"] == 1
    (entry,) = store.audit_entries(action="nightly_plan")
    assert entry.details["ingest"] == {
        "files": 4,
        "accepted": result.ingest.accepted,
        "duplicates": 0,
        "quarantined": 1,
    }
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]
    assert len(list((inbox / "processed").iterdir())) == 4
    assert store.quarantined()[0].reason.startswith("broken.hl7, message 1 (line 1): ")


def test_the_twin_snapshot_is_kept_at_the_forecast_origin(store: Store, tmp_path: Path) -> None:
    result = _run(store, tmp_path / "out")
    snapshot = store.latest_twin_snapshot()
    assert snapshot is not None and snapshot.id == result.plan.payload["twin_snapshot_id"]
    assert snapshot.as_of == nightly_module.forecast_origin(small_scenario(), PLAN_DATE)
    assert snapshot.frame.height == result.plan.payload["patients_inside"] > 0


def test_a_draft_is_not_in_force_until_published_and_the_files_follow_the_store(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _run(store, out)
    draft = _run(store, out, plan_date=PLAN_DATE + timedelta(days=1), draft=True)
    assert draft.draft and draft.plan.status == "draft"
    published = store.latest_plan(PLAN_KIND)
    assert published is not None and published.version == first.plan.version
    assert latest_version(out) == first.plan.version  # the files stay on the plan in force
    assert (draft.folder / "plan.json").exists()  # the draft's own folder is ready for its publication
    assert store.audit_entries(action="nightly_plan")[0].details["plan_status"] == "draft"
    forecast = store.latest_forecast("census")
    assert forecast is not None and forecast.details["plan_version"] == draft.plan.version
    # A planner publishes it (as the command view's Publish button does): the store decides, the files follow.
    store.publish_plan(PLAN_KIND, draft.plan.version)
    assert latest_version(out) == first.plan.version
    folder = sync_published_files(store, out)
    assert folder is not None and folder.resolve() == draft.folder.resolve()
    assert latest_version(out) == draft.plan.version
    assert json.loads((out / "latest.json").read_text())["plan_version"] == draft.plan.version
    # A published version whose folder is gone gets its files again from the store.
    shutil.rmtree(draft.folder)
    sync_published_files(store, out)
    assert latest_version(out) == draft.plan.version
    assert sorted(p.name for p in (out / "latest").iterdir()) == sorted(FILES)
    assert pl.read_csv(out / "latest" / "roster.csv").height == len(draft.plan.payload["assignments"])


def short_staffed_scenario() -> Scenario:
    """The small hospital with its critical care nurses cut to 12: the ICU cannot meet its floors."""
    scenario = small_scenario()
    pools = tuple(
        p.model_copy(update={"headcount": 12}) if p.id == "critical_care_nurses" else p
        for p in scenario.hospital.staff_pools
    )
    return scenario.model_copy(
        update={"hospital": scenario.hospital.model_copy(update={"staff_pools": pools})}
    )


EXTRA_NURSES_SENTENCE = re.compile(
    r"^Intensive care unit (early|late|night) shifts need \d+ more nurses? with skill cc_rn on "
    r"\d+(–\d+)? April(, \d+ more on [^,]+?)*( and \d+ more on .+?)? to meet the rules$"
)


def test_a_team_whose_floors_cannot_be_met_is_explained_and_the_others_are_published(
    store: Store, tmp_path: Path
) -> None:
    scenario = short_staffed_scenario()
    days = DAYS

    def run() -> nightly_module.NightlyResult:
        return run_nightly(
            store,
            scenario,
            plan_date=PLAN_DATE,
            days=days,
            out_dir=tmp_path / "out",
            n_paths=40,
            forecast_hours=72,
            settings=FAST,
            forecaster=standin_forecaster,
            floor_quantile=0.5,
        )

    result = run()
    payload = result.plan.payload
    assert result.plan.status == "published" and payload["status"] == "infeasible"
    teams = {team["team_id"]: team for team in payload["teams"]}
    failed = {team["team_id"]: team for team in payload["infeasible_teams"]}
    assert "critical_care_nurses/ICU" in failed
    assert all(teams[t]["status"] in {"optimal", "feasible"} for t in teams if t.startswith("amu_nurses"))
    amu_rows = [row for row in payload["assignments"] if row["staff_pool"] == "amu_nurses"]
    assert amu_rows  # the other teams are in force
    icu = failed["critical_care_nurses/ICU"]
    assert icu["extra_nurses_suffice"] is True and icu["extra_nurses"]
    plan_days = {(PLAN_DATE + timedelta(days=k)).isoformat() for k in range(days)}
    floors = {
        (row["day"], row["shift"]): row["minimum"]
        for row in payload["cover"]
        if row["unit_id"] == "ICU" and row["skill"] == "cc_rn"
    }
    for extra in icu["extra_nurses"]:
        assert extra["unit_id"] == "ICU" and extra["skill"] == "cc_rn" and extra["day"] in plan_days
        assert 0 < extra["nurses"] <= floors[(extra["day"], extra["shift"])]
    # Independent bound: a nurse works one shift a day, agency is capped per shift, so the floors need at
    # least this many more nurse-shifts whatever the roster.
    icu_team = next(team for team in result.roster.teams if team.team.team_id == "critical_care_nurses/ICU")
    agency_cap = max((offer.max_nurses_per_shift for offer in icu_team.problem.agency), default=0)
    lines = [line for line in icu_team.problem.cover if line.minimum_nurses > 0]
    lower_bound = sum(line.minimum_nurses for line in lines) - len(icu_team.problem.nurses) * days
    lower_bound -= agency_cap * len(lines)
    total = sum(extra["nurses"] for extra in icu["extra_nurses"])
    assert total >= max(lower_bound, 1)
    assert sum(row["nurse_shifts"] for row in icu["extra_nurses_by_shift_and_skill"]) == total
    # In plain words: in the plan, in the alerts, per unit, shift and skill.
    assert isinstance(payload["explanation"], str) and "more nurse" in payload["explanation"]
    assert payload["explanation"] == result.explanation
    alerts = [a for a in result.alerts if a["kind"] == "rules_cannot_be_met" and a["unit_id"] == "ICU"]
    assert alerts and all(a["severity"] == "high" for a in alerts)
    for alert in alerts:
        assert EXTRA_NURSES_SENTENCE.match(alert["message"]), alert["message"]
    by_alerts = sum(a["extra_nurse_shifts"] for a in alerts)
    icu_teams = [t for t in payload["infeasible_teams"] if t["unit_id"] == "ICU"]
    assert by_alerts == sum(e["nurses"] for t in icu_teams for e in t["extra_nurses"])
    # The team still has a roster (below its floors), and the unfilled shifts say where.
    assert icu["rostered"] and icu["floors_relaxed"]
    assert any(a["kind"] == "unfilled_shift" and a["unit_id"] == "ICU" for a in result.alerts)
    # Deterministic: a second run gives the same plan and the same explanation.
    again = run()
    for key in ("assignments", "infeasible_teams", "explanation", "alerts", "cover"):
        assert again.plan.payload[key] == payload[key], key


def test_date_ranges_in_words() -> None:
    assert date_range_words(date(2024, 3, 3), date(2024, 3, 5)) == "3–5 March"
    assert date_range_words(date(2024, 3, 8), date(2024, 3, 8)) == "8 March"
    assert date_range_words(date(2024, 3, 30), date(2024, 4, 2)) == "30 March–2 April"
    assert date_range_words(date(2024, 12, 30), date(2025, 1, 2)) == "30 December 2024–2 January 2025"


# -- the command --------------------------------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import os
    import signal
    import sys
    import typer
    from ops import nightly
    from ops.store import Store
    from tests.ops.test_nightly import FAST, small_scenario, standin_forecaster
    from ui.commands import nightly as command

    nightly.default_forecaster = lambda: standin_forecaster
    command._scenario = lambda store, name: small_scenario()
    original = nightly.run_nightly

    def fast_run(*args, **kwargs):
        kwargs.update(settings=FAST, forecast_hours=72)
        return original(*args, **kwargs)

    command.run_nightly = fast_run

    # KILL_AFTER=<step>: SIGKILL this process right after that step of the publication.
    kill_after = os.environ.get("KILL_AFTER")
    if kill_after:
        owner = Store if hasattr(Store, kill_after) else nightly
        step = getattr(owner, kill_after)

        def then_die(*args, **kwargs):
            answer = step(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return answer

        setattr(owner, kill_after, then_die)
    app = typer.Typer()
    app.command()(command.nightly)
    app(sys.argv[1:])
    """
)


def _command(store_url: str, out: Path, script: Path, plan_date: date = PLAN_DATE) -> list[str]:
    return [
        sys.executable,
        str(script),
        "--date",
        plan_date.isoformat(),
        "--days",
        str(DAYS),
        "--paths",
        "40",
        "--database",
        store_url,
        "--out",
        str(out),
    ]


def _environment(results: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOSPITAL_TWIN_RESULTS_DIR": str(results)}


KILL_STEPS = ("append_events", "save_plan", "save_forecast", "write_files", "publish_plan", "point_latest")
"""Steps after which a run kills itself (``KILL_AFTER``), besides kills on a timer: the ingest's commit, then
every step of the publication."""

WINDOW_STEPS = {"publish_plan", ""}
"""Kills after which ``latest`` may be one version behind the store until the next run's start repairs it
(the store's transaction is done, the link's rename not yet; a kill on a timer may land there too)."""


def _inbox_file(inbox: Path, number: int) -> Path:
    """An HL7 file of two ADT messages with ids of its own (``K<number>-...``)."""
    texts = []
    for name in ("adt_a01_admit.hl7", "adt_a03_discharge.hl7"):
        text = (MESSAGES / name).read_text().strip()
        message_id = text.split("\n", 1)[0].split("|")[9]
        texts.append(text.replace(message_id, f"K{number}-{message_id}"))
    path = inbox / f"feed-{number:02d}.hl7"
    path.write_text("\n".join(texts) + "\n")
    return path


@pytest.mark.slow
def test_the_command_survives_being_killed_at_any_moment(store_url: str, tmp_path: Path) -> None:
    script = tmp_path / "nightly_cli.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = _environment(tmp_path / "results")
    env["HOSPITAL_TWIN_SALT"] = SALT
    files = [_inbox_file(inbox, 0)]
    began = time.perf_counter()
    done = subprocess.run(
        [*_command(store_url, out, script), "--inbox", str(inbox)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    duration = time.perf_counter() - began
    assert done.returncode == 0, done.stderr
    assert (
        "ingested 1 file(s), 2 message(s): 2 event(s) accepted, 0 duplicate(s), 0 quarantined" in done.stdout
    )
    with open_store(store_url, results_dir=tmp_path / "results") as store:
        previous = store.latest_plan(PLAN_KIND)
    assert previous is not None and latest_version(out) == previous.version
    next_day = PLAN_DATE + timedelta(days=1)
    kills: list[tuple[str, float | None]] = [("", 0.6)]
    kills += [(step, None) for step in KILL_STEPS]
    for number, (step, fraction) in enumerate(kills, start=1):
        files.append(_inbox_file(inbox, number))
        with open_store(store_url, results_dir=tmp_path / "results") as store:
            before = store.latest_plan(PLAN_KIND)
        assert before is not None
        process = subprocess.Popen(
            [*_command(store_url, out, script, next_day), "--inbox", str(inbox)],
            env={**env, "KILL_AFTER": step},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if fraction is None:
            assert process.wait(timeout=300) == -signal.SIGKILL, step
        else:  # on a timer: killed at some moment, or (on a fast day) already finished
            time.sleep(duration * fraction)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=300) in {0, -signal.SIGKILL}
        with open_store(store_url, results_dir=tmp_path / "results") as store:
            published = store.latest_plan(PLAN_KIND)
            assert published is not None
            assert [p.version for p in store.plan_versions(PLAN_KIND) if p.status == "published"] == [
                published.version
            ]
            versions = {p.version for p in store.plan_versions(PLAN_KIND)}
            forecast = store.latest_forecast("census")
            # The forecast always names a plan version that exists (saved after the draft, never dangling).
            assert forecast is not None and forecast.details["plan_version"] in versions
            # The published plan is the previous one or a complete new one, never a half.
            if published.version != before.version:
                assert published.payload["plan_date"] == next_day.isoformat()
                assert len(published.payload["assignments"]) > 0 and "alerts" in published.payload
            # The files are those of the published plan; only in the window between the store's
            # transaction and the link's rename are they still the previous plan's ...
            on_file = latest_version(out)
            if step in WINDOW_STEPS:
                assert on_file in {before.version, published.version}, step
            else:
                assert on_file == published.version, step
            # ... which the next run repairs first thing (as this does).
            sync_published_files(store, out)
        assert latest_version(out) == published.version, step
        latest = (out / "latest").resolve()
        assert sorted(p.name for p in latest.iterdir()) == sorted(FILES)
        plan_json = json.loads((latest / "plan.json").read_text())
        assert plan_json["plan_date"] == published.payload["plan_date"]
        assert pl.read_csv(latest / "roster.csv").height == len(published.payload["assignments"])
    # And a run that is left alone publishes, after ingesting whatever the killed runs left in the inbox.
    finished = subprocess.run(
        [*_command(store_url, out, script, next_day), "--inbox", str(inbox)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    assert "published as roster plan version" in finished.stdout
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(f.name for f in files)
    with open_store(store_url, results_dir=tmp_path / "results") as store:
        published = store.latest_plan(PLAN_KIND)
        ids = store.read_events().get_column("event_id").to_list()
    assert published is not None and latest_version(out) == published.version
    fed = [i for i in ids if i.startswith("hl7:PAS^RGH:K")]
    assert len(fed) == len(set(fed)) == 2 * len(files)  # every message of every file, each once


def test_the_command_exits_non_zero_with_a_clear_message(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.commands import nightly as command

    app = typer.Typer()
    app.command()(command.nightly)
    runner = CliRunner()
    bad_date = runner.invoke(app, ["--date", "2024-13-01", "--database", store_url, "--out", str(tmp_path)])
    assert bad_date.exit_code == command.EXIT_BAD_INPUT
    assert "is not a date" in bad_date.output

    def broken() -> Any:
        raise NightlyError("forecast: the census forecast pipeline is not installed")

    monkeypatch.setattr(nightly_module, "default_forecaster", broken)
    monkeypatch.setattr(command, "_scenario", lambda store, name: small_scenario())
    failed = runner.invoke(
        app, ["--date", PLAN_DATE.isoformat(), "--database", store_url, "--out", str(tmp_path)]
    )
    assert failed.exit_code == command.EXIT_FAILED
    assert "nightly plan failed at forecast" in failed.output
    assert "previous plan is still published" in failed.output


def test_the_command_exits_4_and_says_what_to_relax_when_a_team_cannot_meet_its_rules(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.commands import nightly as command

    original = nightly_module.run_nightly

    def fast_run(*args: Any, **kwargs: Any) -> nightly_module.NightlyResult:
        kwargs.update(settings=FAST, forecast_hours=72, forecaster=standin_forecaster)
        return original(*args, **kwargs)

    monkeypatch.setattr(command, "run_nightly", fast_run)
    monkeypatch.setattr(command, "_scenario", lambda store, name: short_staffed_scenario())
    app = typer.Typer()
    app.command()(command.nightly)
    arguments = ["--date", PLAN_DATE.isoformat(), "--days", "2", "--paths", "40", "--database", store_url]
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "out"), "--floor-quantile", "0.5"])
    assert result.exit_code == command.EXIT_RULES_NOT_MET, result.output
    assert "published as roster plan version 1" in result.output
    assert "cannot all be met; what to relax:" in result.output
    assert "Intensive care unit" in result.output and "to meet the rules" in result.output
    drafted = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "out"), "--draft"])
    assert drafted.exit_code == 0, drafted.output
    assert "saved as draft roster plan version 2" in drafted.output
    with open_store(store_url) as store:
        published = store.latest_plan(PLAN_KIND)
    assert published is not None and published.version == 1


def test_with_the_census_forecast_pipeline(store: Store, tmp_path: Path) -> None:
    forecasting = pytest.importorskip("ops.forecasting")
    result = _run(store, tmp_path / "out", forecaster=forecasting.census_forecast_from_store)
    assert result.plan.status == "published"
    assert result.demand.filter(pl.col("basis") == "forecast").height > 0
