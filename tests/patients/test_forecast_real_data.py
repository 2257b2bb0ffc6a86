"""Goals on real data: University of Iowa hourly ED arrivals, 2013-07-01 to 2017-03-31 (../shared/data).

Protocol (as in docs/benchmarks.md, with fewer origins and refits to keep the test near 40 s):
training 2013-07-01 – 2016-03-31, test 2016-04-01 – 2017-03-31; model chosen on training data only;
regressors: temperature and the file's holiday and game-day flags (observed values taken as known).

- daily totals, 14 days ahead from an origin every 7 days: MASE at least 10 % better than the training
  weekday mean;
- hourly, 1 hour ahead from every hour of the test year: RMSE better than the training hour-of-week mean.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patients.forecast import CountRegressionSpec, backtest_arrivals, read_arrival_series_csv

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

ED_FILE = Path("ed_arrivals") / "uihc_ed_arrivals_2013_2017.csv"
REGRESSORS = ["temp", "xmas", "xmas2", "nye", "nyd", "thx", "thx1", "ind", "game_day"]
TEST_START = "2016-04-01"


def test_daily_forecast_beats_the_weekday_mean_by_ten_percent(shared_data: Path) -> None:
    series = read_arrival_series_csv(
        shared_data / ED_FILE, time_col="Date", value_col="Arrivals", freq="day", regressors=REGRESSORS
    )
    result = backtest_arrivals(series, "day", TEST_START, 14, step=7, refit_every=91, regressors=REGRESSORS)
    assert result.origins == 51
    assert result.skill("weekday_mean", "mase") >= 0.10, result.metrics
    assert result.skill("seasonal_naive", "mase") > 0.0
    ours = result.model_metrics(result.selected_model)
    assert 0.85 <= ours["coverage_90"] <= 0.95, ours


def test_hourly_one_step_forecast_beats_the_hour_of_week_mean(shared_data: Path) -> None:
    series = read_arrival_series_csv(
        shared_data / ED_FILE,
        time_col="Date",
        hour_col="Hour",
        value_col="Arrivals",
        freq="hour",
        regressors=REGRESSORS,
    )
    # The model the full selection picks on this training data (docs/benchmarks.md); alone for speed.
    result = backtest_arrivals(
        series,
        "hour",
        TEST_START,
        1,
        refit_every=24 * 91,
        regressors=REGRESSORS,
        candidates=[CountRegressionSpec()],
    )
    assert result.origins == 365 * 24
    ours = result.model_metrics("count_regression")
    assert ours["rmse"] < result.model_metrics("hour_of_week_mean")["rmse"], result.metrics
    assert ours["rmse"] < result.model_metrics("seasonal_naive")["rmse"]
