"""A run that starts from the hospital now: the store's twins, their own stays and forecast arrivals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ops.forecasting import fit_arrival_model_from_store
from ops.live import latest_event_time, load_twins
from ops.sim import ARRIVAL_FORECAST_SCHEMA, simulate
from ops.store import Store, open_store
from ops.twin_run import (
    NoLiveState,
    arrival_forecast_for_simulation,
    choose_start,
    live_start_state,
)
from patients.synthetic import generate_history
from patients.synthetic.history import History
from scenarios import Scenario, load_scenario, scenario_path

DAYS = 60


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(baseline: Scenario) -> History:
    return generate_history(baseline, date(2024, 10, 7), DAYS, seed=9)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, history: History) -> Store:
    folder: Path = tmp_path_factory.mktemp("twin-run")
    opened = open_store(f"sqlite:///{folder / 'store.db'}", results_dir=folder / "results")
    opened.append_events(history.events.filter(pl.col("kind") != "observation"))
    return opened


def test_the_live_start_holds_the_twins_at_the_newest_event(
    store: Store, baseline: Scenario, history: History
) -> None:
    warm = live_start_state(store, baseline, horizon_days=3)
    newest = latest_event_time(store)
    assert newest is not None and newest <= history.ends_at
    assert warm.state.now == newest
    twins = load_twins(store, newest).to_frame(newest)
    inside = twins.filter(pl.col("status").is_in(["registered", "admitted"]))
    placed = len(warm.state.patients) + len(warm.state.ed_patients)
    assert placed + sum(warm.skipped.values()) == inside.height
    assert len(warm.state.ed_patients) == inside.filter(pl.col("unit") == "ED").height
    # own remaining stays for the admitted twins whose discharge the stay model can foresee (not the ICU)
    with_own = [p for p in warm.state.patients if p.remaining_stay is not None]
    assert len(with_own) >= 0.9 * len(warm.state.patients)
    assert all(p.remaining_stay is None for p in warm.state.patients if p.unit == "ICU")
    assert warm.details["inpatients"] == len(warm.state.patients)
    assert warm.details["arrival_streams_modelled"] == warm.details["arrival_streams"] > 5


def test_the_arrival_forecast_is_the_ed_streams_in_the_models_form(store: Store, baseline: Scenario) -> None:
    newest = latest_event_time(store)
    assert newest is not None
    model = fit_arrival_model_from_store(store, baseline, newest)
    frame = arrival_forecast_for_simulation(model, baseline, newest, 48)
    assert dict(frame.schema) == ARRIVAL_FORECAST_SCHEMA
    services = {s.id for s in baseline.hospital.services}
    assert set(frame["service"]) == {"ed"} | services
    assert frame.filter(pl.col("service") == "ed").height == 48
    by_stream = model.forecast(newest, 48)
    ed_total = by_stream.filter(pl.col("entry_unit") == "ED")["mean"].sum()
    assert frame.filter(pl.col("service") == "ed")["arrivals_per_hour"].sum() == pytest.approx(ed_total)
    cardiology = by_stream.filter((pl.col("entry_unit") == "ED") & (pl.col("service") == "cardiology"))
    got = frame.filter(pl.col("service") == "cardiology")["arrivals_per_hour"].sum()
    assert got == pytest.approx(cardiology["mean"].sum())
    # electives come from the theatre lists, not from the forecast
    assert set(by_stream["entry_unit"]) == {"ED", "PACU"}
    assert ed_total < by_stream["mean"].sum()


def test_a_warm_start_runs_and_a_surge_still_raises_demand(store: Store, baseline: Scenario) -> None:
    surge = load_scenario(scenario_path("winter_surge"))
    begin = choose_start(store, baseline, horizon_days=5, compatible_with=(baseline, surge))
    assert begin.warm and begin.warm_up_days == 0 and begin.options().warm_up_days == 0
    assert begin.description.startswith("warm start from the twins at")
    assert begin.start is not None
    first_hour = {}
    attendances = {}
    for scenario in (baseline, surge):
        result = simulate(scenario, begin.start, seed=4, horizon_days=5)
        flow = result.unit_flow
        first_hour[scenario.name] = int(flow["inside_at_start"].sum())
        ed = result.ed
        attendances[scenario.name] = int(ed["arrivals"][72:].sum() + ed["ambulances_diverted"][72:].sum())
    assert first_hour[baseline.name] == first_hour[surge.name] >= len(begin.start.patients)
    assert 1.08 <= attendances[surge.name] / attendances[baseline.name] <= 1.22


def test_no_history_means_a_cold_start_with_a_warm_up(tmp_path: Path, baseline: Scenario) -> None:
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}", results_dir=tmp_path / "results") as empty:
        with pytest.raises(NoLiveState, match="no events"):
            live_start_state(empty, baseline)
        begin = choose_start(empty, baseline, warm_up_days=0)
    assert begin.start is None and begin.warm_up_days == 1  # never an empty hospital with no warm-up
    assert begin.options().warm_up_days == 1
    assert begin.description == (
        "cold start: an empty hospital after a 1-day warm-up (the store holds no events)"
    )
    asked = choose_start(None, baseline, cold=True, warm_up_days=21)
    assert (asked.start, asked.warm_up_days) == (None, 21)
    assert "asked for" in asked.description


def test_too_short_a_history_is_a_cold_start(store: Store, baseline: Scenario, history: History) -> None:
    first = history.events["occurred_at"].min()  # the generator's warm-up comes before starts_at
    assert isinstance(first, datetime)
    early = first + timedelta(days=3)
    with pytest.raises(NoLiveState, match="too little history"):
        live_start_state(store, baseline, early)
    begin = choose_start(store, baseline, now=early)
    assert begin.start is None and begin.warm_up_days == 21
    assert "too little history" in begin.description
    with pytest.raises(ValueError, match="timezone"):
        live_start_state(store, baseline, early.replace(tzinfo=None))
    assert early.tzinfo is UTC or early.utcoffset() == timedelta(0)
