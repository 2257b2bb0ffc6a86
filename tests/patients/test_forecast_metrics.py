"""Forecast metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patients.forecast import metrics

ACTUAL = [3, 5, 2, 8]
FORECAST = [4, 5, 0, 5]  # errors (actual - forecast): -1, 0, 2, 3


def test_mean_absolute_error() -> None:
    assert metrics.mean_absolute_error(ACTUAL, FORECAST) == 1.5  # (1 + 0 + 2 + 3) / 4


def test_root_mean_squared_error() -> None:
    assert metrics.root_mean_squared_error(ACTUAL, FORECAST) == pytest.approx(math.sqrt(3.5))  # (1+0+4+9)/4


def test_seasonal_naive_scale() -> None:
    # lag-2 differences of 1, 2, 3, 4, 6, 8: 2, 2, 3, 4
    assert metrics.seasonal_naive_scale([1, 2, 3, 4, 6, 8], season=2) == 2.75


def test_mean_absolute_scaled_error() -> None:
    value = metrics.mean_absolute_scaled_error(ACTUAL, FORECAST, history=[1, 2, 3, 4, 6, 8], season=2)
    assert value == pytest.approx(1.5 / 2.75)


def test_mase_of_the_seasonal_naive_forecast_in_sample_is_one() -> None:
    history = np.array([10.0, 20, 30, 12, 18, 33, 9, 24, 29])
    assert metrics.mean_absolute_scaled_error(history[3:], history[:-3], history, season=3) == pytest.approx(
        1.0
    )


def test_interval_coverage_counts_bounds_as_inside() -> None:
    # 3 in [2, 4]; 5 on the lower bound of [5, 6]; 2 above [1, 1]; 8 below [9, 10]
    assert metrics.interval_coverage(ACTUAL, [2, 5, 1, 9], [4, 6, 1, 10]) == 0.5


def test_pinball_loss() -> None:
    # level 0.1: under-forecasts cost 0.1 per arrival, over-forecasts 0.9: 0.9 + 0 + 0.2 + 0.3 = 1.4
    assert metrics.pinball_loss(ACTUAL, FORECAST, level=0.1) == pytest.approx(0.35)
    assert metrics.pinball_loss(ACTUAL, FORECAST, level=0.9) == pytest.approx((0.1 + 0 + 1.8 + 2.7) / 4)


def test_pinball_loss_at_the_median_is_half_the_absolute_error() -> None:
    assert metrics.pinball_loss(ACTUAL, FORECAST, level=0.5) == 0.75


def test_mean_pinball_loss() -> None:
    assert metrics.mean_pinball_loss(ACTUAL, {0.1: FORECAST, 0.5: FORECAST}) == pytest.approx(0.55)


def test_interval_width() -> None:
    assert metrics.interval_width([2, 5, 1, 9], [4, 6, 1, 10]) == 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.mean_absolute_error([1, 2], [1]),
        lambda: metrics.root_mean_squared_error([], []),
        lambda: metrics.pinball_loss([1], [1], level=1.0),
        lambda: metrics.seasonal_naive_scale([1, 2, 3], season=3),
        lambda: metrics.mean_absolute_scaled_error([1], [1], history=[5, 5, 5, 5], season=1),
        lambda: metrics.mean_pinball_loss([1], {}),
    ],
    ids=["shape", "empty", "level", "short-history", "zero-scale", "no-quantiles"],
)
def test_invalid_input_is_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()
