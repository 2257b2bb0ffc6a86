"""``plan surgery``: the pipeline stores, publishes and audits a checked plan; the CLI summarises it."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from ops.store import open_store
from ops.surgery import (
    ELECTIVE_COMPARISON_SCHEMA,
    PLAN_KIND,
    compare_elective_lists,
    occupants_from_twins,
    run_surgery_plan,
    stored_surgical_plan,
)
from patients.twin import TWIN_SCHEMA
from scenarios import load_scenario, scenario_path
from scenarios.schema import Scenario
from scheduler.surgery import OCCUPANTS_SCHEMA, SURGICAL_PLAN_SCHEMA
from ui.commands.plan import plan_app


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


def test_pipeline_saves_publishes_and_audits(baseline: Scenario, tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        first = run_surgery_plan(baseline, days=4, time_limit_s=1.5, workers=1, store=store, seed=2)
        second = run_surgery_plan(baseline, days=4, time_limit_s=1.5, workers=1, store=store, seed=3)
        assert first.saved is not None and second.saved is not None
        assert (first.saved.version, second.saved.version) == (1, 2)
        published = stored_surgical_plan(store)
        assert published is not None
        saved, cases = published
        assert saved.version == 2 and saved.status == "published"
        assert dict(cases.schema) == SURGICAL_PLAN_SCHEMA
        assert cases.equals(second.plan.cases)
        assert store.plan(PLAN_KIND, 1).status == "superseded"  # type: ignore[union-attr]
        audit = store.audit_entries(action="plan_surgery")
        assert [e.details["version"] for e in audit] == [2, 1]
        assert audit[0].outcome == "ok"
        assert audit[0].details["cases_planned"] == second.summary.cases_planned
    summary = second.summary
    assert summary.cases_planned + summary.cases_unscheduled == summary.cases_listed
    assert summary.peak_elective_beds <= summary.elective_beds
    assert 0 < summary.theatre_utilisation <= 1


def test_cancelled_search_keeps_the_best_plan_so_far(baseline: Scenario, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        run = run_surgery_plan(baseline, days=4, time_limit_s=60, workers=1, store=store, cancel=cancel)
        assert run.cancelled
        assert run.saved is not None
        assert store.audit_entries(action="plan_surgery")[0].outcome == "cancelled"
    assert run.plan.planned.height > 0  # the greedy start is kept


def test_elective_occupants_come_from_the_twins(baseline: Scenario) -> None:
    twins = pl.DataFrame(
        [
            {
                "encounter_id": "e1",
                "unit": "SURG-C",
                "service": "orthopaedics",
                "admission_type": "elective",
                "length_of_stay_hours": 30.0,
            },
            {
                "encounter_id": "e2",
                "unit": "SURG-A",
                "service": "general_surgery",
                "admission_type": "emergency",
                "length_of_stay_hours": 10.0,
            },
            {
                "encounter_id": "e3",
                "unit": "MED-A",
                "service": "general_medicine",
                "admission_type": "elective",
                "length_of_stay_hours": 10.0,
            },
        ]
    )
    twins = twins.with_columns(
        *(pl.lit(None, dtype).alias(name) for name, dtype in TWIN_SCHEMA.items() if name not in twins.columns)
    ).select(list(TWIN_SCHEMA))
    occupants = occupants_from_twins(baseline, twins)
    assert dict(occupants.schema) == OCCUPANTS_SCHEMA
    assert occupants["patient_id"].to_list() == ["e1"]
    # joint replacement stay: lognormal median 55 h, sigma 0.6 -> mean 65.8 h; 30 h spent -> 2 days left
    assert occupants["remaining_days"].to_list() == [2]


def test_model_compares_the_plan_with_the_block_lists(baseline: Scenario) -> None:
    run = run_surgery_plan(baseline, days=3, time_limit_s=1, workers=1)
    table = compare_elective_lists(baseline, run.plan.cases, days=3, replications=2, warm_up_days=3)
    assert dict(table.schema) == ELECTIVE_COMPARISON_SCHEMA
    planned = table.filter(pl.col("elective_list") == "plan")
    assert (planned["cases_booked"] == run.summary.cases_planned).all()
    outcome = table["cases_performed"] + table["cancelled_no_bed"] + table["cancelled_no_time"]
    assert (outcome == table["cases_booked"]).all()


def test_cli_prints_the_summary_and_stores_the_plan(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(plan_app, name="plan")
    url = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(
        app, ["plan", "surgery", "--days", "3", "--time-limit", "1", "--workers", "1", "--database", url]
    )
    assert result.exit_code == 0, result.output
    assert "saved as surgery plan version 1 (published)" in result.output
    assert "Elective beds needed per day" in result.output
    with open_store(url) as store:
        assert store.latest_plan(PLAN_KIND) is not None
    bad = CliRunner().invoke(app, ["plan", "surgery", "--scenario", "nowhere.toml", "--database", url])
    assert bad.exit_code == 2
