"""Every page of the command view renders with AppTest on a small store, and says so when data is missing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ops.store import open_store
from patients.census.schema import CENSUS_FORECAST_SCHEMA
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path
from scheduler.staffing.demand import shift_of_hours
from ui.view.pages import PAGES
from ui.view.sources import CENSUS_HISTORY_SCHEMA, CENSUS_SCHEMA, EmbeddedSource

APP = Path(__file__).resolve().parents[2] / "ui" / "view" / "app.py"
HISTORY_START = date(2024, 3, 4)


def build_view_store(folder: Path, days: int = 3, *, plans: bool = True) -> str:
    """A store with ``days`` of synthetic baseline history and (optionally) a forecast and saved plans.

    Returns the database URL (results go to ``folder / "results"``).
    """
    scenario = load_scenario(scenario_path("baseline"))
    url = f"sqlite:///{folder / 'view.db'}"
    with open_store(url, results_dir=folder / "results") as store:
        history = generate_history(scenario, HISTORY_START, days, seed=3, warm_up_days=2)
        store.append_events(history.events)
        if not plans:
            return url
        origin = history.ends_at
        units = [unit for unit in scenario.hospital.units]
        rows = []
        for unit in units:
            for hour in range(0, 14 * 24, 6):
                mean = 0.8 * unit.beds + (hour % 24) / 24
                rows.append(
                    {
                        "unit_id": unit.id,
                        "at": origin + timedelta(hours=hour),
                        "horizon_hours": hour,
                        "mean": mean,
                        "p05": mean - 3,
                        "p50": mean,
                        "p95": mean + 3,
                        "mean_high_acuity": 0.1 * mean,
                        "beds": unit.beds,
                        "p_over_capacity": 0.8 if unit.id == units[2].id else 0.0,
                    }
                )
        store.save_forecast("census", origin, pl.DataFrame(rows, schema=CENSUS_FORECAST_SCHEMA))
        first_day = origin.date()
        # The shift on duty at the store's newest event (the view's "now").
        newest = history.events.get_column("occurred_at").max()
        on_duty = shift_of_hours(pl.Series("at", [newest]), scenario.hospital).row(0, named=True)
        ward = units[2]
        store.save_plan(
            "roster",
            {
                "first_day": first_day.isoformat(),
                "days": 2,
                "status": "feasible",
                "summary": {"required": 4, "staff": 3, "agency": 0, "unfilled": 1},
                "assignments": [
                    {
                        "nurse_id": f"N{n}",
                        "staff_pool": "p",
                        "day": (first_day + timedelta(days=d)).isoformat(),
                        "shift": "early" if n % 2 else "late",
                        "unit_id": ward.id,
                        "skill": "rn",
                    }
                    for n in range(3)
                    for d in range(2)
                ],
                "cover": [
                    {
                        "unit_id": ward.id,
                        "day": on_duty["day"].isoformat(),
                        "shift": on_duty["shift"],
                        "skill": "rn",
                        "required": 4,
                        "staff": 3,
                        "agency": 0,
                        "unfilled": 1,
                    }
                ],
                "alerts": [
                    {
                        "kind": "over_capacity",
                        "severity": "medium",
                        "unit_id": ward.id,
                        "message": f"{ward.name} is likely (80%) to be over capacity on Thursday night",
                    },
                    {
                        "kind": "unfilled_shift",
                        "severity": "medium",
                        "unit_id": ward.id,
                        "message": f"{ward.name} is 1 nurse short on the early shift",
                    },
                ],
            },
            created_by="test",
        )
        store.save_plan(
            "surgery",
            {
                "start": origin.isoformat(),
                "days": 2,
                "summary": {
                    "theatre_utilisation": 0.75,
                    "cases_planned": 2,
                    "cases_unscheduled": 0,
                    "peak_elective_beds": 2,
                    "elective_beds": 10,
                    "beds_by_day": [1, 2],
                },
                "cases": [
                    {
                        "case_id": f"C{i}",
                        "service": "general",
                        "surgeon": "S1",
                        "planned": True,
                        "day": i // 2,
                        "theatre": "T1",
                        "sequence": i % 2,
                        "ward": ward.id,
                        "duration_minutes": 90,
                    }
                    for i in range(2)
                ],
            },
            created_by="test",
        )
        store.save_plan(
            "supply",
            {
                "start": origin.isoformat(),
                "days": 2,
                "status": "optimal",
                "total_cost": 120.0,
                "orders": [
                    {
                        "item": "gloves",
                        "order_day": 0,
                        "delivery_day": 1,
                        "packs": 2,
                        "units": 200,
                        "cost": 120.0,
                    }
                ],
                "par_levels": [
                    {"item": "gloves", "stockout_risk": 0.01, "par_level": 300.0, "fill_rate": 0.99},
                    {"item": "sutures", "stockout_risk": 0.2, "par_level": 50.0, "fill_rate": 0.9},
                ],
            },
            created_by="test",
        )
    return url


@pytest.fixture(scope="module")
def view_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("view")
    return build_view_store(folder), folder / "results"


@pytest.fixture
def embedded_env(view_store: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    url, results = view_store
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOSPITAL_TWIN_RESULTS_DIR", str(results))
    monkeypatch.delenv("HOSPITAL_TWIN_API_URL", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def run_page(title: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.query_params["page"] = title
    app.run()
    return app


def page_text(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [e.value for e in app.error] + [w.value for w in app.warning]
    parts += [i.value for i in app.info] + [c.value for c in app.caption] + [s.value for s in app.success]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("title", list(PAGES))
def test_every_page_renders_without_an_exception(embedded_env: None, title: str) -> None:
    app = run_page(title)
    assert not app.exception, [e.value for e in app.exception]
    assert app.header[0].value == title
    assert not any("could not be shown" in str(e.value) for e in app.error), page_text(app)


def test_now_page_shows_a_tile_per_unit_and_the_plain_alerts(embedded_env: None) -> None:
    app = run_page("Now")
    scenario = load_scenario(scenario_path("baseline"))
    text = page_text(app)
    for unit in scenario.hospital.units:
        assert f"**{unit.name}**" in text
    assert "is likely (80%) to be over capacity on Thursday night" in text
    ward = scenario.hospital.units[2]
    assert any(f"**{ward.name}**" == m.value for m in app.markdown), "the ward tile is missing"
    assert re.search(r"nurses on the (early|late|night) shift: 3 of 4 required", text)
    assert app.metric[0].label == "Patients in the hospital"
    assert int(app.metric[0].value) > 0


def test_pages_say_what_is_missing_on_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("HOSPITAL_TWIN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("HOSPITAL_TWIN_API_URL", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        notes = {}
        for title in ("Now", "Forecast", "Staffing", "Theatres", "Supply"):
            app = run_page(title)
            assert not app.exception
            notes[title] = " ".join(i.value for i in app.info)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    assert "No census yet" in notes["Now"]
    assert "No census forecast yet: the nightly plan makes one" in notes["Forecast"]
    assert "No roster yet" in notes["Staffing"]
    assert "No surgical plan yet" in notes["Theatres"]
    assert "No supply plan yet" in notes["Supply"]


def test_embedded_census_matches_the_declared_schema(view_store: tuple[str, Path]) -> None:
    url, results = view_store
    with open_store(url, results_dir=results) as store:
        census = EmbeddedSource(store).census_now()
    assert census is not None
    assert dict(census.units.schema) == CENSUS_SCHEMA
    assert census.as_of <= datetime.now(UTC)
    assert (census.units.get_column("free_beds") == census.units["beds"] - census.units["census"]).all()


def test_census_history_ends_on_the_census_now(view_store: tuple[str, Path]) -> None:
    url, results = view_store
    with open_store(url, results_dir=results) as store:
        source = EmbeddedSource(store)
        now = source.now()
        history = source.census_history(now + timedelta(hours=2), days=2)
        census = source.census_now()
    assert history is not None and census is not None
    assert dict(history.schema) == CENSUS_HISTORY_SCHEMA
    newest: datetime = history.get_column("at").max()  # type: ignore[assignment]
    assert newest <= now
    last = history.filter(pl.col("at") == pl.col("at").max())
    # Counted from unit stays of the event log vs from the replayed twins: two independent routes.
    joined = last.join(census.units.select("unit_id", pl.col("census").alias("twins")), on="unit_id")
    assert joined.height == census.units.height
    assert (joined.get_column("census") == joined.get_column("twins")).all()


def button(app: AppTest, label: str) -> Any:
    return next(b for b in app.button if b.label == label)


def test_whatif_runs_as_a_job_and_shows_every_kpi(embedded_env: None) -> None:
    app = run_page("What-if")
    app.selectbox[0].set_value("winter_surge")
    app.number_input[0].set_value(4)
    app.number_input[1].set_value(2)
    app.run()
    button(app, "Run what-if").click()
    app.run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    table = app.dataframe[0].value
    assert {"KPI", "baseline mean", "what-if mean", "95 % CI low", "95 % CI high"} <= set(table.columns)
    assert "ed_attendances" in set(table["id"])
    assert "patients" in set(table["unit"])
    assert (table["95 % CI low"] <= table["difference"] + 1e-9).all()
    assert (table["difference"] <= table["95 % CI high"] + 1e-9).all()
    # The surge starts on day 3: more ED attendances by day 4, and the table says so.
    attendances = table[table["id"] == "ed_attendances"].iloc[0]
    assert attendances["what-if mean"] > attendances["baseline mean"]


def test_an_edited_scenario_is_saved_as_a_new_version(
    embedded_env: None, view_store: tuple[str, Path]
) -> None:
    app = run_page("What-if")
    app.selectbox[0].set_value("baseline")
    app.run()
    text = str(app.text_area[0].value)
    app.text_area[0].set_value(text + "\n")
    app.text_input[0].set_value("baseline_edited")
    app.run()
    button(app, "Save as a new version").click()
    app.run()
    assert not app.exception
    assert any("Saved baseline_edited version 1" in s.value for s in app.success)
    broken = run_page("What-if")
    broken.text_area[0].set_value("[hospital\nname = ")
    broken.text_input[0].set_value("broken_one")
    broken.run()
    button(broken, "Save as a new version").click()
    broken.run()
    assert not broken.exception
    assert any(e.value.startswith("Not saved:") for e in broken.error)
    url, results = view_store
    with open_store(url, results_dir=results) as store:
        assert store.scenario_version("baseline_edited").toml_text == text + "\n"
        assert "broken_one" not in store.scenario_names()


def test_staffing_explains_a_failed_night_and_publishes_a_draft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = build_view_store(tmp_path, days=1, plans=False)
    results = tmp_path / "results"
    reason = (
        "roster: no roster found for 1 team(s) (MED-A-1); the hard rules of their contracts cannot be met"
    )
    with open_store(url, results_dir=results) as store:
        store.write_audit(
            "nightly-plan",
            "nightly_plan",
            "failed",
            {"plan_date": "2024-03-05", "stage": "roster", "error": reason},
        )
        draft = store.save_plan(
            "roster", {"first_day": "2024-03-05", "days": 1, "alerts": []}, status="draft"
        )
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOSPITAL_TWIN_RESULTS_DIR", str(results))
    monkeypatch.delenv("HOSPITAL_TWIN_API_URL", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        app = run_page("Staffing")
        assert not app.exception
        assert any(reason in e.value and "roster stage" in e.value for e in app.error)
        button(app, f"Publish version {draft.version}").click()
        app.run()
        assert not app.exception
        assert any(f"Published roster version {draft.version}" in s.value for s in app.success)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    with open_store(url, results_dir=results) as store:
        published = store.latest_plan("roster")
    assert published is not None and published.version == draft.version
