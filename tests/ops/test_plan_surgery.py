"""``plan surgery``: the pipeline stores, publishes and audits a checked plan; the CLI summarises it."""

from __future__ import annotations

import threading
from datetime import timedelta
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
from scheduler.surgery import OCCUPANTS_SCHEMA, SURGICAL_PLAN_SCHEMA, surgical_wards
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


# -- the twins, the roster and the waiting list from the hospital --------------------------------------------


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.ops.test_nightly import _seed_store

    folder = tmp_path_factory.mktemp("surgery-seed")
    _seed_store(f"sqlite:///{folder / 'store.db'}", folder / "results")
    return folder / "store.db"


def _copy(seeded_db: Path, tmp_path: Path) -> str:
    copy = tmp_path / "store.db"
    copy.write_bytes(seeded_db.read_bytes())
    return f"sqlite:///{copy}"


def test_after_a_nightly_run_the_plan_sees_the_elective_patients_in_bed(
    baseline: Scenario, seeded_db: Path, tmp_path: Path
) -> None:
    from ops.nightly import forecast_origin, run_nightly
    from tests.ops.test_nightly import FAST, PLAN_DATE, small_scenario, standin_forecaster

    start = forecast_origin(baseline, PLAN_DATE)
    with open_store(_copy(seeded_db, tmp_path), results_dir=tmp_path / "results") as store:
        before = run_surgery_plan(baseline, start=start, days=3, time_limit_s=1, workers=1, store=store)
        assert not before.surgical.instance.occupants  # no twin snapshot yet
        run_nightly(
            store,
            small_scenario(),
            plan_date=PLAN_DATE,
            days=2,
            out_dir=tmp_path / "out",
            n_paths=40,
            forecast_hours=48,
            settings=FAST,
            forecaster=standin_forecaster,
        )
        snapshot = store.latest_twin_snapshot(as_of=start)
        assert snapshot is not None
        expected = set(occupants_from_twins(baseline, snapshot.frame).get_column("patient_id"))
        assert expected  # elective patients are in the surgical wards at the origin
        run = run_surgery_plan(baseline, start=start, days=3, time_limit_s=1, workers=1, store=store)
    seen = {o.id for o in run.surgical.instance.occupants} | set(run.surgical.overflow_occupants)
    assert seen == expected
    # The nightly plan of this small hospital rosters no surgical ward: the establishment, and it says so.
    assert "establishment" in run.nurse_source and "no nurse on the surgical wards" in run.nurse_source


def test_the_published_roster_gives_the_nurses_of_the_days_it_covers(
    baseline: Scenario, tmp_path: Path
) -> None:
    from ops.sim import DEFAULT_START
    from ops.surgery import plan_calendar

    ward = next(w for w in surgical_wards(baseline))
    day_zero, _ = plan_calendar(baseline, DEFAULT_START, 3)
    rows = [
        {
            "nurse_id": f"surgery_nurses-{k:03d}",
            "staff_pool": "surgery_nurses",
            "day": (day_zero + timedelta(days=d)).isoformat(),
            "shift": shift,
            "unit_id": ward,
            "skill": "rn",
        }
        for k in range(1, 9)
        for d in (0, 1)
        for shift in ("early", "late", "night")
        if (k + d) % 3 == ("early", "late", "night").index(shift)
    ]
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        store.save_plan("roster", {"first_day": day_zero.isoformat(), "days": 2, "assignments": rows})
        run = run_surgery_plan(baseline, days=3, time_limit_s=1, workers=1, store=store)
        saved = stored_surgical_plan(store)
    assert run.nurse_source.startswith("published roster version 1 for 2 of 3 days")
    names = {n.id for n in run.surgical.instance.nurses}
    rostered = {n for n in names if n.startswith("surgery_nurses-")}
    assert rostered and rostered <= {r["nurse_id"] for r in rows}
    # Day 2 is after the roster: the establishment's posts stand in for it, and only for it.
    for nurse in run.surgical.instance.nurses:
        days = {shift.day for shift in nurse.working_shifts}
        if nurse.id in rostered:
            assert days <= {0, 1}
        elif not nurse.id.startswith("DAY/"):
            assert days == {2}
    assert saved is not None and saved[0].payload["nurses_from"] == run.nurse_source


def test_cli_reads_a_waiting_list_file_and_names_its_faults(baseline: Scenario, tmp_path: Path) -> None:
    from ops.sim import DEFAULT_START
    from ops.surgery import plan_calendar
    from scheduler.surgery import surgical_firms

    app = typer.Typer()
    app.add_typer(plan_app, name="plan")
    url = f"sqlite:///{tmp_path}/cli.db"

    day_zero, holidays = plan_calendar(baseline, DEFAULT_START, 3)
    firm = next(f for f in surgical_firms(baseline, day_zero, 3, holidays) if f.total_minutes > 0)
    header = (
        "case_id,service,surgeon,duration_minutes,length_of_stay_days,earliest_day,due_day,mandatory,"
        "age_group,sex\n"
    )
    good = tmp_path / "list.csv"
    good.write_text(header + f"R1,{firm.service},{firm.id},60,1,0,2,true,65_and_over,female\n")
    arguments = ["plan", "surgery", "--days", "3", "--time-limit", "1", "--workers", "1", "--database", url]
    result = CliRunner().invoke(app, [*arguments, "--waiting-list", str(good)])
    assert result.exit_code == 0, result.output
    assert f"waiting list: {good}" in result.output
    assert "nurses: the staff pools' establishment (no published nurse roster)" in result.output
    with open_store(url) as store:
        published = stored_surgical_plan(store)
    assert published is not None
    plan, cases = published
    assert cases.get_column("case_id").to_list() == ["R1"] and plan.payload["waiting_list_from"] == str(good)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"R1,{firm.service},{firm.id},an hour,1,0,,false,65_and_over,female\n")
    rejected = CliRunner().invoke(app, [*arguments, "--waiting-list", str(bad)])
    assert rejected.exit_code == 2
    assert "line 2 (duration_minutes): 'an hour' is not a whole number" in rejected.output
    absent = CliRunner().invoke(app, [*arguments, "--waiting-list", str(tmp_path / "none.csv")])
    assert absent.exit_code == 2 and "no such file" in absent.output
