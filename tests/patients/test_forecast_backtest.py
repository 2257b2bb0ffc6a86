"""Backtest protocol, baselines in the same run, the markdown report and the ``backtest-series`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from patients.forecast import (
    BACKTEST_FORECAST_SCHEMA,
    BACKTEST_METRICS_SCHEMA,
    METRICS_BY_STEP_SCHEMA,
    CountRegressionSpec,
    SeriesError,
    backtest_arrivals,
    metrics,
    write_backtest_report,
)
from patients.forecast.backtest import BacktestResult
from tests.patients.test_forecast_synthetic import synthetic_arrivals
from ui.commands.forecast import forecast_app


@pytest.fixture(scope="module")
def daily_backtest() -> BacktestResult:
    series = synthetic_arrivals(3 * 365, seed=21, weekly=1.5, yearly_amplitude=0.1).drop("expected")
    return backtest_arrivals(series, "day", "2021-01-04", horizon=7, step=7)


def test_backtest_frames_have_their_declared_schemas(daily_backtest: BacktestResult) -> None:
    result = daily_backtest
    assert result.forecasts.schema == BACKTEST_FORECAST_SCHEMA
    assert result.metrics.schema == BACKTEST_METRICS_SCHEMA
    assert result.metrics_by_step.schema == METRICS_BY_STEP_SCHEMA
    assert result.metrics["model"].to_list() == [result.selected_model, "seasonal_naive", "weekday_mean"]
    assert result.metrics["role"].to_list() == ["model", "baseline", "baseline"]
    assert result.forecasts.height == 3 * result.origins * 7
    assert result.metrics_by_step.height == 3 * 7


def test_origins_cover_the_test_period_only(daily_backtest: BacktestResult) -> None:
    result = daily_backtest
    assert result.test_start.isoformat() == "2021-01-04T00:00:00"
    assert result.forecasts["origin"].min() == result.test_start
    assert result.forecasts["t"].max() == result.test_end
    origins = result.forecasts["origin"].unique().sort().to_numpy()
    assert (np.diff(origins) == np.timedelta64(7, "D")).all()
    ahead = result.forecasts.select(
        (pl.col("t") - pl.col("origin")).dt.total_days() + 1 == pl.col("step_ahead")
    )
    assert ahead.to_series().all()


def test_reported_metrics_agree_with_the_forecasts(daily_backtest: BacktestResult) -> None:
    result = daily_backtest
    for row in result.metrics.iter_rows(named=True):
        rows = result.forecasts.filter(pl.col("model") == row["model"])
        assert row["mae"] == pytest.approx(metrics.mean_absolute_error(rows["actual"], rows["mean"]))
        assert row["mase"] == pytest.approx(row["mae"] / result.mase_scale)
        assert row["coverage_90"] == pytest.approx(
            metrics.interval_coverage(rows["actual"], rows["p05"], rows["p95"])
        )


def test_our_model_beats_seasonal_naive_on_strongly_weekly_arrivals(daily_backtest: BacktestResult) -> None:
    assert daily_backtest.skill("seasonal_naive", "mase") > 0.15
    assert daily_backtest.skill("weekday_mean", "mase") > -0.02  # the weekday mean is nearly right here


def test_summary_is_json(daily_backtest: BacktestResult) -> None:
    summary = json.loads(json.dumps(daily_backtest.summary()))
    assert set(summary["metrics"]) == {daily_backtest.selected_model, "seasonal_naive", "weekday_mean"}
    assert summary["protocol"]["test"] == ["2021-01-04", daily_backtest.test_end.date().isoformat()]
    assert summary["skill_vs_baselines"]["weekday_mean"]["mase"] == pytest.approx(
        daily_backtest.skill("weekday_mean")
    )


def test_hourly_backtest_names_the_hour_of_week_baseline() -> None:
    series = synthetic_arrivals(24 * 7 * 12, freq="hour", seed=22).drop("expected")
    result = backtest_arrivals(
        series, "hour", "2019-03-18", horizon=24, step=24, candidates=[CountRegressionSpec()]
    )
    assert result.metrics["model"].to_list() == ["count_regression", "seasonal_naive", "hour_of_week_mean"]
    assert result.origins == 14
    assert result.metrics_by_step.height == 3 * 24


def test_report_files(daily_backtest: BacktestResult, tmp_path: Path) -> None:
    path = write_backtest_report(daily_backtest, tmp_path / "report", source="synthetic", command="make it")
    text = path.read_text()
    assert "## Protocol" in text and "weekday_mean" in text and "make it" in text
    for image in ("forecast_vs_actual.png", "error_by_horizon.png"):
        assert f"]({image})" in text
        assert (tmp_path / "report" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert summary["selected_model"] == daily_backtest.selected_model
    assert not [p for p in (tmp_path / "report").iterdir() if p.name.startswith(".")]  # no temporary left


def test_too_little_training_data_is_an_error() -> None:
    series = synthetic_arrivals(120).drop("expected")
    with pytest.raises(SeriesError, match="too little training data"):
        backtest_arrivals(series, "day", "2019-02-01", horizon=7)


def series_file(tmp_path: Path) -> Path:
    series = synthetic_arrivals(2 * 365, seed=23).drop("expected")
    frame = series.select(
        pl.col("t").dt.date().alias("day"),
        pl.col("arrivals").cast(pl.Int64).alias("patients"),
        (pl.col("t").dt.ordinal_day() % 30).cast(pl.Float64).alias("temp"),
    )
    path = tmp_path / "arrivals.csv"
    frame.write_csv(path)
    return path


def test_backtest_series_command(tmp_path: Path) -> None:
    report = tmp_path / "report"
    arguments = [
        "backtest-series", str(series_file(tmp_path)), "--time-col", "day", "--value-col", "patients",
        "--freq", "day", "--test-start", "2020-07-01", "--horizon", "7", "--step", "7",
        "--refit-every", "91", "--regressors", "temp", "--report", str(report),
    ]  # fmt: skip
    result = CliRunner().invoke(forecast_app, arguments)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["metrics"]) == {summary["selected_model"], "seasonal_naive", "weekday_mean"}
    assert summary["protocol"]["regressors"] == ["temp"]
    assert (report / "backtest.md").is_file()
    assert "--regressors temp" in (report / "backtest.md").read_text()


@pytest.mark.parametrize(
    ("options", "column"),
    [
        (["--time-col", "date", "--value-col", "patients"], "date"),
        (["--time-col", "day", "--value-col", "patients", "--regressors", "temp,rain"], "rain"),
        (["--time-col", "patients", "--value-col", "day"], "patients"),
    ],
)
def test_backtest_series_names_the_column_at_fault(tmp_path: Path, options: list[str], column: str) -> None:
    arguments = [
        "backtest-series", str(series_file(tmp_path)), *options, "--freq", "day",
        "--test-start", "2020-07-01", "--horizon", "7", "--report", str(tmp_path / "report"),
    ]  # fmt: skip
    result = CliRunner().invoke(forecast_app, arguments)
    assert result.exit_code == 2
    assert f"column '{column}'" in result.stderr
