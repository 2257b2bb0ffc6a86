"""Model selection by rolling-origin validation picks the model that matches how the series was made."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from patients.forecast import CountRegressionSpec, fit_arrival_model
from patients.forecast.arrivals import MODEL_SELECTION_SCHEMA, select_arrival_model
from patients.forecast.base import FittedArrivalModel
from patients.forecast.baselines import SeasonalNaiveSpec, WeeklyMeanSpec
from patients.forecast.series import ArrivalHistory, Frequency
from tests.patients.test_forecast_synthetic import synthetic_arrivals


def test_calendar_model_beats_the_naive_candidates_on_weekly_seasonal_arrivals_with_a_trend() -> None:
    series = synthetic_arrivals(3 * 365, seed=11, weekly=1.5, trend_per_year=0.15, yearly_amplitude=0.1)
    model = fit_arrival_model(
        series.drop("expected"),
        "day",
        horizon=14,
        candidates=[SeasonalNaiveSpec(), WeeklyMeanSpec(), CountRegressionSpec()],
    )
    assert model.name == "count_regression"
    assert model.selection.schema == MODEL_SELECTION_SCHEMA
    assert model.selection.filter("selected")["model"].to_list() == ["count_regression"]
    scores = dict(zip(model.selection["model"], model.selection["mae"], strict=True))
    assert scores["count_regression"] < 0.9 * scores["seasonal_naive"]


def test_a_moving_level_is_chosen_when_the_level_wanders() -> None:
    """A random-walk level defeats a calendar-only model; the model with a moving level is chosen."""
    series = synthetic_arrivals(3 * 365, seed=12, level_walk_sd=0.03, arrivals_per_day=300.0)
    calendar_only = CountRegressionSpec(level_half_lives_days=(), name="calendar_only")
    model = fit_arrival_model(
        series.drop("expected"), "day", horizon=7, candidates=[calendar_only, CountRegressionSpec()]
    )
    assert model.name == "count_regression"


@dataclass(frozen=True)
class BrokenSpec:
    """A candidate whose fit always fails."""

    name: str = "broken"

    def supports(self, freq: Frequency) -> bool:
        return True

    def fit(self, history: ArrivalHistory, horizon: int) -> FittedArrivalModel:
        raise ValueError("cannot fit")


def test_a_candidate_that_fails_is_reported_and_never_chosen() -> None:
    series = synthetic_arrivals(2 * 365, seed=13)
    history = ArrivalHistory.from_frame(series, "day")
    spec, selection = select_arrival_model(
        history, [BrokenSpec(), WeeklyMeanSpec()], 7, validation_periods=91, validation_step=7
    )
    assert spec.name == "weekly_mean"
    broken = selection.filter(selection["model"] == "broken").to_dicts()[0]
    assert broken["note"] == "failed: cannot fit" and not broken["selected"]


def test_no_candidate_for_the_frequency_is_an_error() -> None:
    series = synthetic_arrivals(24 * 7 * 12, freq="hour")
    from patients.forecast import UnobservedComponentsSpec

    with pytest.raises(ValueError, match="no candidate model supports hourly"):
        fit_arrival_model(series.drop("expected"), "hour", candidates=[UnobservedComponentsSpec()])
