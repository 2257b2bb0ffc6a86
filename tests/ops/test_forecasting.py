"""The census forecast pipeline on a store: fit, twins, Monte Carlo, saved summary; progress and cancel."""

from __future__ import annotations

import itertools
import threading
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from ops.forecasting import (
    CENSUS_FORECAST_NAME,
    backtest_origins,
    census_backtest_from_store,
    census_forecast_from_store,
)
from ops.store import Store, open_store
from patients.census import CENSUS_PATHS_SCHEMA, CENSUS_SUMMARY_SCHEMA, ForecastCancelled
from patients.census.backtest import BACKTEST_FORECASTS_SCHEMA, MODELS
from patients.synthetic import generate_history
from patients.synthetic.history import History
from scenarios import Scenario, load_scenario, scenario_path

DAYS = 25


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(scenario: Scenario) -> History:
    return generate_history(scenario, date(2024, 9, 2), DAYS, seed=4)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, history: History) -> Store:
    folder: Path = tmp_path_factory.mktemp("forecasting")
    opened = open_store(f"sqlite:///{folder / 'store.db'}", results_dir=folder / "results")
    opened.append_events(history.events.filter(pl.col("kind") != "observation"))  # ADT is enough here
    return opened


def test_forecast_from_store_is_saved_and_reports_progress(
    store: Store, scenario: Scenario, history: History
) -> None:
    origin = history.starts_at + timedelta(days=15, hours=3)
    shares: list[float] = []
    forecast = census_forecast_from_store(
        store, scenario, origin, hours=24, n_paths=40, seed=2, progress=shares.append
    )
    assert dict(forecast.paths.schema) == CENSUS_PATHS_SCHEMA
    assert dict(forecast.summary.schema) == CENSUS_SUMMARY_SCHEMA
    assert forecast.summary.height == 24 * len(scenario.hospital.units)
    assert shares[0] == 0.0 and shares[-1] == 1.0 and shares == sorted(shares)
    stored = store.latest_forecast(CENSUS_FORECAST_NAME)
    assert stored is not None and stored.as_of == origin
    assert stored.frame.equals(forecast.summary)
    assert forecast.details["twins_admitted"] > 100
    again = census_forecast_from_store(store, scenario, origin, hours=24, n_paths=40, seed=2, save=False)
    assert again.summary.equals(forecast.summary)


def test_forecast_can_be_cancelled(store: Store, scenario: Scenario, history: History) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ForecastCancelled):
        census_forecast_from_store(
            store, scenario, history.starts_at + timedelta(days=15), hours=24, n_paths=40, cancel=cancel
        )


def test_too_short_history_is_a_clear_error(store: Store, scenario: Scenario, history: History) -> None:
    before_any_event = history.starts_at - timedelta(days=120)
    with pytest.raises(ValueError, match="no unit segment before the forecast origin"):
        census_forecast_from_store(store, scenario, before_any_event, hours=24, n_paths=10)


def test_backtest_scores_ours_and_the_baselines(store: Store, scenario: Scenario) -> None:
    result = census_backtest_from_store(store, scenario, origins=2, horizon_days=1, n_paths=40)
    assert len(result.origins) == 2
    assert dict(result.forecasts.schema) == BACKTEST_FORECASTS_SCHEMA
    metrics = result.metrics()
    assert set(metrics) == set(MODELS)
    expected_rows = 2 * 24 * len(scenario.hospital.units)
    for score in metrics.values():
        assert score["forecasts"] == expected_rows
        assert 0.0 <= score["coverage_90"] <= 1.0 and score["mae"] >= 0 and score["rmse"] >= score["mae"]


def test_backtest_origins_fit_the_history(history: History) -> None:
    origins = backtest_origins(history.starts_at, history.ends_at, 48, 3)
    assert origins == sorted(origins) and 2 <= len(origins) <= 3  # a day apart in a short history
    assert all(later - earlier >= timedelta(days=1) for earlier, later in itertools.pairwise(origins))
    assert origins[-1] + timedelta(hours=48) <= history.ends_at
    assert origins[0] >= history.starts_at + timedelta(days=21)
    with pytest.raises(ValueError, match="too short"):
        backtest_origins(history.starts_at, history.starts_at + timedelta(days=10), 48, 3)
