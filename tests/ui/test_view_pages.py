"""Every page of the command view renders with AppTest on a small store, embedded and through the API (a
real uvicorn on a free port), and says so when data is missing."""

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
from ops.store.tokens import create_token
from scenarios import load_scenario, scenario_path
from scheduler.staffing.demand import shift_of_hours
from tests.ui.test_view_support import PRESSURED_UNIT, build_view_store
from ui.view.pages import PAGES, forecast_alerts, shift_words
from ui.view.sources import CENSUS_HISTORY_SCHEMA, CENSUS_SCHEMA, EmbeddedSource

APP = Path(__file__).resolve().parents[2] / "ui" / "view" / "app.py"

__all__ = ["build_view_store", "run_page"]


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


def test_now_page_shows_a_tile_per_unit_and_the_plain_alerts(
    embedded_env: None, view_store: tuple[str, Path]
) -> None:
    app = run_page("Now")
    scenario = load_scenario(scenario_path("baseline"))
    text = page_text(app)
    for unit in scenario.hospital.units:
        assert f"**{unit.name}**" in text
    url, results = view_store
    with open_store(url, results_dir=results) as store:
        source = EmbeddedSource(store)
        roster = store.latest_plan("roster")
        now = source.now()
    assert roster is not None
    shown = [alert["message"] for alert in roster.payload["alerts"][:30]]
    assert shown and all(message in text for message in shown)
    assert any("to be over capacity" in message for message in shown)
    ward = scenario.hospital.units[PRESSURED_UNIT]
    assert any(f"**{ward.name}**" == m.value for m in app.markdown), "the ward tile is missing"
    from ui.view.pages import nurses_on_shift

    found = re.search(r"nurses on the (early|late|night) shift: (\d+) of (\d+) required", text)
    assert found, text
    on_duty = shift_of_hours(pl.Series("at", [now]).dt.cast_time_unit("us"), scenario.hospital).row(
        0, named=True
    )
    assert found.group(1) == on_duty["shift"]
    cover = nurses_on_shift(source_plan(roster), on_duty["day"].isoformat(), on_duty["shift"])
    assert (int(found.group(2)), int(found.group(3))) in {
        (row["rostered"], row["required"]) for row in cover.iter_rows(named=True)
    }
    assert app.metric[0].label == "Patients in the hospital"
    assert int(app.metric[0].value) > 0


def source_plan(plan: Any) -> Any:
    from ui.view.sources import PlanView

    return PlanView(plan.kind, plan.version, plan.status, plan.created_at, plan.payload)


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
    table = app.table[0].value.reset_index()
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


def chart_specs(app: AppTest) -> list[str]:
    """The Vega-Lite spec of every chart on the page, as JSON text (inline data included)."""
    specs = []
    for element in app.get("vega_lite_chart"):
        proto = element.proto
        specs.append(proto.spec + " ".join(str(dataset) for dataset in proto.datasets))
    return specs


# -- forecast alerts in plain words ------------------------------------------------------------------------

BASELINE = load_scenario(scenario_path("baseline"))


def _over(at: datetime, probability: float = 0.8, unit: str = "MED-A") -> pl.DataFrame:
    return pl.DataFrame(
        {"unit_id": [unit], "at": [at], "p_over_capacity": [probability], "beds": [30]},
        schema={
            "unit_id": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "p_over_capacity": pl.Float64,
            "beds": pl.Int32,
        },
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 00:00 on Wednesday is in the night shift that started on Tuesday evening.
        (
            datetime(2024, 3, 6, 0, 0, tzinfo=UTC),
            "from 00:00 on Wednesday 6 March, in the Tuesday night shift "
            "(Tuesday 5 March 23:00 to Wednesday 6 March 07:00)",
        ),
        (
            datetime(2024, 3, 5, 23, 30, tzinfo=UTC),
            "from 23:30 on Tuesday 5 March, in the Tuesday night shift",
        ),
        (
            datetime(2024, 3, 6, 7, 0, tzinfo=UTC),
            "from 07:00 on Wednesday 6 March, in the Wednesday early shift",
        ),
        (datetime(2024, 3, 6, 16, 0, tzinfo=UTC), "in the Wednesday late shift (15:00 to 23:00)"),
        # Summer time: 06:30 UTC is 07:30 in London, the early shift.
        (
            datetime(2024, 7, 3, 6, 30, tzinfo=UTC),
            "from 07:30 on Wednesday 3 July, in the Wednesday early shift",
        ),
        (
            datetime(2024, 7, 2, 22, 30, tzinfo=UTC),
            "from 23:30 on Tuesday 2 July, in the Tuesday night shift",
        ),
    ],
)
def test_forecast_alerts_name_the_local_time_and_the_shift_it_falls_in(at: datetime, expected: str) -> None:
    (message,) = forecast_alerts(_over(at), {"MED-A": "Medical ward A"}, BASELINE.hospital)
    assert message.startswith("Medical ward A is likely (80%) to be over capacity ")
    assert expected in message
    assert message.endswith("(30 beds)")


def test_forecast_alerts_take_the_first_likely_hour_per_unit_only() -> None:
    points = pl.concat(
        [
            _over(datetime(2024, 3, 6, 12, tzinfo=UTC), 0.4),  # below "likely": not an alert
            _over(datetime(2024, 3, 6, 18, tzinfo=UTC), 0.96),
            _over(datetime(2024, 3, 7, 1, tzinfo=UTC), 0.99),
            _over(datetime(2024, 3, 6, 9, tzinfo=UTC), 0.5, unit="ICU"),
        ]
    )
    messages = forecast_alerts(points, {"MED-A": "Medical ward A"}, BASELINE.hospital)
    assert len(messages) == 2  # in time order: ICU at 09:00, then the ward at 18:00
    assert messages[0].startswith("ICU is likely (50%) to be over capacity from 09:00 on Wednesday 6 March")
    assert messages[1].startswith("Medical ward A is almost certain (96%) to be over capacity from 18:00")
    assert forecast_alerts(points.filter(pl.col("p_over_capacity") < 0.5), {}, BASELINE.hospital) == []
    (utc,) = forecast_alerts(_over(datetime(2024, 3, 6, 0, tzinfo=UTC)), {})
    assert "from 00:00 on Wednesday 6 March UTC" in utc


def test_shift_words_name_a_night_after_the_evening_it_starts() -> None:
    assert shift_words(BASELINE.hospital, date(2024, 3, 9), "night") == (
        "Saturday night shift (Saturday 9 March 23:00 to Sunday 10 March 07:00)"
    )
    assert shift_words(BASELINE.hospital, date(2024, 3, 9), "unknown") == "Saturday unknown shift"


def test_forecast_page_alerts_agree_with_the_band_and_draw_acuity_bands_and_actuals(
    embedded_env: None, view_store: tuple[str, Path]
) -> None:
    app = run_page("Forecast")
    assert not app.exception
    url, results = view_store
    with open_store(url, results_dir=results) as store:
        forecast = store.latest_forecast("census")
    assert forecast is not None
    warned = [w.value for w in app.warning]
    pressured = BASELINE.hospital.units[PRESSURED_UNIT]
    assert [w for w in warned if w.startswith(pressured.name)], warned
    for unit in BASELINE.hospital.units:
        alerted = any(w.startswith(f"{unit.name} is ") for w in warned)
        crosses = forecast.frame.filter(
            (pl.col("unit_id") == unit.id) & (pl.col("p95") > pl.col("beds"))
        ).height
        assert alerted <= (crosses > 0), (
            f"{unit.name}: an over-capacity alert but the band stays under the beds"
        )
    specs = chart_specs(app)
    acuity = [spec for spec in specs if "High acuity [patients]" in spec]
    assert acuity and all("p05_high_acuity" in spec and "p95_high_acuity" in spec for spec in acuity)
    assert any('"high_acuity"' in spec for spec in acuity), "the past high-acuity counts are not drawn"
    census = [spec for spec in specs if "Census [patients]" in spec]
    assert census and all("Europe/London" in spec for spec in census)
    assert not any("keeps no band" in c.value for c in app.caption)


# -- audit of the embedded view ---------------------------------------------------------------------------


def test_the_embedded_view_records_who_saved_ran_and_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = build_view_store(tmp_path, days=1, plans=False)
    results = tmp_path / "results"
    with open_store(url, results_dir=results) as store:
        draft = store.save_plan(
            "roster", {"first_day": "2024-03-05", "days": 1, "alerts": []}, status="draft"
        )
        source = EmbeddedSource(store, user="ana")
        with pytest.raises(ValueError):
            source.save_scenario("broken", "[hospital\nname = ")
        version = source.save_scenario("surge", scenario_path("winter_surge").read_text())
        job_id = source.submit_whatif({"scenario": "surge", "replications": 2, "days": 1})
        source._job_runner().wait(job_id, timeout=300)
        source.publish_plan("roster", draft.version)
        entries = {(e.action, e.outcome): e for e in store.audit_entries(actor="ana (command-view)")}
        saved = store.scenario_version("surge")
    assert saved.created_by == "ana (command-view)"
    assert entries[("save scenario", "ok")].details == {"name": "surge", "version": version}
    assert entries[("save scenario", "rejected")].details["name"] == "broken"
    assert entries[("submit whatif job", "ok")].details == {"job_id": job_id}
    assert entries[("run whatif job", "finished")].details["job_id"] == job_id
    assert entries[("publish plan", "ok")].details == {"plan_kind": "roster", "version": draft.version}
    monkeypatch.setenv("HOSPITAL_TWIN_VIEW_USER", "bob")
    with open_store(url, results_dir=results) as store:
        assert EmbeddedSource(store).actor == "bob (command-view)"


# -- API mode: the same pages over a real HTTP service ----------------------------------------------------


@pytest.fixture(scope="module")
def api_service(view_store: tuple[str, Path]) -> Iterator[tuple[str, str]]:
    """The API over the view store, served by uvicorn on a free port in this process; (URL, planner token)."""
    import socket
    import threading
    import time

    import uvicorn

    from ui.api import ApiSettings, create_app

    url, results = view_store
    store = open_store(url, results_dir=results)
    token = create_token(store, name="view-in-api-mode", role="planner")[0]
    app = create_app(ApiSettings(twins_cache_seconds=0.0, answer_cache_seconds=0.0), store=store)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="api-for-view-tests")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()


@pytest.fixture
def api_env(api_service: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    base, token = api_service
    monkeypatch.setenv("HOSPITAL_TWIN_API_URL", base)
    monkeypatch.setenv("HOSPITAL_TWIN_API_TOKEN", token)
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/the-view-must-not-open-the-store.db")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield api_service
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.mark.parametrize("title", list(PAGES))
def test_every_page_renders_through_the_api(api_env: tuple[str, str], title: str) -> None:
    app = run_page(title)
    assert not app.exception, [e.value for e in app.exception]
    assert app.header[0].value == title
    assert not any("could not be shown" in str(e.value) for e in app.error), page_text(app)
    assert any(c.value == "Data: API" for c in app.sidebar.caption)
    assert not [w.value for w in app.warning if "API" in w.value], page_text(app)


def test_api_mode_shows_the_same_census_history_and_shipped_scenarios(api_env: tuple[str, str]) -> None:
    forecast = run_page("Forecast")
    assert not any("not available from this source" in c.value for c in forecast.caption)
    assert any('"census"' in spec for spec in chart_specs(forecast) if "Census [patients]" in spec)
    whatif = run_page("What-if")
    options = whatif.selectbox[0].options
    assert {"baseline", "winter_surge", "ward_closure"} <= set(options)
    assert "Winter surge" in str(whatif.text_area[0].value)  # the shipped file's text, read through the API


def test_api_mode_explains_a_failed_night_and_publishes_a_draft(
    api_env: tuple[str, str], view_store: tuple[str, Path]
) -> None:
    url, results = view_store
    reason = (
        "roster: no roster found for 1 team(s) (MED-A-1); the hard rules of their contracts cannot be met"
    )
    with open_store(url, results_dir=results) as store:
        store.write_audit(
            "nightly-plan",
            "nightly_plan",
            "failed",
            {"plan_date": "2024-03-07", "stage": "roster", "error": reason},
        )
        published = store.latest_plan("roster")
        assert published is not None
        draft = store.save_plan("roster", {**published.payload, "days": 1}, status="draft")
    try:
        app = run_page("Staffing")
        assert not app.exception
        assert any(reason in e.value and "roster stage" in e.value for e in app.error)
        button(app, f"Publish version {draft.version}").click()
        app.run()
        assert not app.exception
        assert any(f"Published roster version {draft.version}" in s.value for s in app.success)
        with open_store(url, results_dir=results) as store:
            now_published = store.latest_plan("roster")
            audit = store.audit_entries(action="publish plan", limit=1)
        assert now_published is not None and now_published.version == draft.version
        assert audit[0].actor == "view-in-api-mode (planner)" and audit[0].outcome == "ok"
    finally:
        with open_store(url, results_dir=results) as store:  # leave the module's store as it was
            store.publish_plan("roster", published.version)
            store.write_audit("nightly-plan", "nightly_plan", "ok", {"plan_kind": "roster"})
