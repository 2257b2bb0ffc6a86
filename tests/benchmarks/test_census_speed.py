"""Speed of the census forecast and of the twins (``make bench``), printed beside a reference.

1. 500 twins + 14-day hourly census forecast for 20 units with 1,000 sample paths (paths frame and
   summary built). Goal: < 10 s. Reference in the same run: the same Monte Carlo one path at a time
   (no vectorisation across paths), on 50 paths, scaled to 1,000.
2. One incremental twin update (:meth:`TwinRegistry.apply`). Goal: < 1 ms. Reference: rebuilding the
   registry from all the events instead.
3. Calibration of P(discharge within 24 h / 48 h) on six held-out months of a two-year synthetic history
   (numbers for docs/benchmarks.md, section "Census forecast, stay model and live twins").
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

import patients.census.forecast as census_module
from patients.census import census_forecast, fit_census_model
from patients.events import frame_to_events
from patients.los import calibration, daily_readings, fit_length_of_stay, segments_from_events, unit_kinds
from patients.synthetic import generate_history
from patients.synthetic.history import History
from patients.twin import TwinRegistry, event_order
from scenarios import Scenario, load_scenario, scenario_path


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(scenario: Scenario) -> History:
    return generate_history(scenario, date(2024, 1, 1), 70, seed=2)


def test_census_forecast_speed(scenario: Scenario, history: History) -> None:
    origin = history.starts_at + timedelta(days=63, hours=6)
    segments = segments_from_events(history.events.filter(pl.col("kind") != "observation"), scenario)
    units = tuple(unit.id for unit in scenario.hospital.units)
    model = fit_census_model(segments, units, origin)
    events = history.events.filter(pl.col("occurred_at") <= origin)
    twins = TwinRegistry.from_frame(events).to_frame(origin)
    beds = {unit.id: unit.beds for unit in scenario.hospital.units}
    kinds = unit_kinds(scenario)
    print(f"\ntwins inside: {twins.height}, units: {len(units)}")

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        forecast = census_forecast(
            model, twins, beds, origin, unit_kinds=kinds, hours=336, n_paths=1000, seed=1
        )
        best = min(best, time.perf_counter() - started)
    assert forecast.paths.height == 1000 * len(units) * 336

    chunk = census_module.PATHS_PER_CHUNK
    census_module.PATHS_PER_CHUNK = 1
    try:
        started = time.perf_counter()
        census_forecast(model, twins, beds, origin, unit_kinds=kinds, hours=336, n_paths=50, seed=1)
        one_at_a_time = (time.perf_counter() - started) * 1000 / 50
    finally:
        census_module.PATHS_PER_CHUNK = chunk
    print(
        f"census forecast, {twins.height} twins, {len(units)} units, 336 h, 1000 paths: ours {best:.2f} s "
        f"(goal < 10 s); reference one path at a time, scaled to 1000 paths: {one_at_a_time:.1f} s"
    )
    assert best < 30.0  # loose: a busy shared machine only slows a run down


def test_incremental_twin_update_speed(history: History) -> None:
    events = sorted(frame_to_events(history.events), key=event_order)
    split = len(events) - 2000
    registry = TwinRegistry.from_events(events[:split])
    fresh = events[split:]
    started = time.perf_counter()
    for event in fresh:
        registry.apply(event)
    per_event_ms = (time.perf_counter() - started) * 1000 / len(fresh)

    started = time.perf_counter()
    TwinRegistry.from_events(events)
    rebuild_s = time.perf_counter() - started
    print(
        f"\nincremental twin update: ours {per_event_ms * 1000:.1f} µs per event (goal < 1 ms); "
        f"reference full rebuild from {len(events)} events: {rebuild_s:.2f} s"
    )
    assert per_event_ms < 5.0


def test_length_of_stay_calibration_on_two_years(scenario: Scenario) -> None:
    two_years = generate_history(scenario, date(2023, 1, 2), 730, seed=11)
    segments = segments_from_events(two_years.events.filter(pl.col("kind") != "observation"), scenario)
    split = datetime.fromisoformat("2024-07-01T00:00:00+00:00")
    started = time.perf_counter()
    model = fit_length_of_stay(segments.filter(pl.col("started_at") < split), split)
    fit_s = time.perf_counter() - started
    result = calibration(model, daily_readings(segments, start=split, end=two_years.ends_at))
    print(
        f"\nLOS hazard GLM on {model.fitted_stays} stays / {model.fitted_rows} person-periods, "
        f"fit {fit_s:.1f} s; held-out readings {result.readings}"
    )
    for hours in (24, 48):
        print(
            f"  within {hours} h: Brier {result.brier[hours]:.4f} vs base rate "
            f"{result.brier_base_rate[hours]:.4f} (skill {result.skill(hours):.3f})"
        )
    print(result.table)
    assert all(result.brier[h] < result.brier_base_rate[h] for h in (24, 48))
    assert np.isfinite(fit_s)
