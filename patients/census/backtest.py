"""Census backtest: our forecasts and two naive baselines scored on the census that really happened.

Protocol: at each origin, every model sees only the history before it; the census by unit is
forecast hourly for the horizon; the forecasts are scored against the observed census of the same
hours. The baselines are computed in the same run from the observed census before the origin:

- **seasonal naive**: the census one week earlier at the same hour (two weeks earlier beyond 7 days...);
- **hour-of-week mean**: the mean census at the same hour of the week over the last four weeks.

Their 90 % intervals are the 5 % and 95 % quantiles of their own errors over the four weeks before the
origin, added to the point forecast.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from patients.forecast.metrics import (
    interval_coverage,
    mean_absolute_error,
    mean_pinball_loss,
    root_mean_squared_error,
)

WEEK_HOURS = 168
BASELINE_WEEKS = 4
"""Weeks of observed census before the origin the baselines use."""

BACKTEST_FORECASTS_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),  # "census_monte_carlo", "seasonal_naive" or "hour_of_week_mean"
    "origin": pl.Datetime("us", "UTC"),
    "unit_id": pl.String(),
    "at": pl.Datetime("us", "UTC"),
    "horizon_hours": pl.Int32(),
    "mean": pl.Float64(),
    "p05": pl.Float64(),
    "p50": pl.Float64(),
    "p95": pl.Float64(),
    "actual": pl.Float64(),
    "scale": pl.Float64(),  # in-sample MAE of the weekly seasonal naive of this unit before the origin
}
"""One row per model, origin, unit and hour: forecast beside the observed census."""

MODELS = ("census_monte_carlo", "seasonal_naive", "hour_of_week_mean")


def baseline_forecasts(
    observed: pl.DataFrame, origin_hour: datetime, hours: int, units: tuple[str, ...]
) -> pl.DataFrame:
    """Seasonal-naive and hour-of-week-mean forecasts of the census, from the census before the origin.

    Parameters
    ----------
    observed
        :data:`patients.census.OBSERVED_CENSUS_SCHEMA` covering at least the
        ``BASELINE_WEEKS + 1`` weeks before ``origin_hour``.
    origin_hour
        The origin rounded down to the hour; hour ``k`` is ``origin_hour + k`` hours (``k`` = 1..hours).
    hours
        Horizon [hours].
    units
        Units to forecast.

    Returns
    -------
    polars.DataFrame
        :data:`BACKTEST_FORECASTS_SCHEMA` without ``actual`` filled (null) for the two baselines.
    """
    frames = []
    history_hours = (BASELINE_WEEKS + 1) * WEEK_HOURS
    start = origin_hour - timedelta(hours=history_hours - 1)
    for unit in units:
        past = (
            observed.filter(
                (pl.col("unit_id") == unit) & (pl.col("at") >= start) & (pl.col("at") <= origin_hour)
            )
            .sort("at")["census"]
            .to_numpy()
            .astype(np.float64)
        )
        if past.size < 2 * WEEK_HOURS:
            raise ValueError(
                f"unit {unit}: {past.size} hours of census before {origin_hour}; two weeks needed"
            )
        steps = np.arange(1, hours + 1)
        # seasonal naive: the last observed value at the same hour of the week
        lag = WEEK_HOURS * np.ceil(steps / WEEK_HOURS).astype(np.int64)
        naive = past[past.size - 1 + steps - lag]
        naive_errors = past[WEEK_HOURS:] - past[:-WEEK_HOURS]
        # hour-of-week mean over the last weeks
        weeks = min(BASELINE_WEEKS, past.size // WEEK_HOURS)
        recent = past[past.size - weeks * WEEK_HOURS :].reshape(weeks, WEEK_HOURS)
        position = (steps - 1) % WEEK_HOURS  # hour k is one week after the k-th hour of `recent`'s last week
        mean_by_hour = recent.mean(axis=0)
        how = mean_by_hour[position]
        how_errors = (recent - mean_by_hour[None, :]).ravel()
        scale = float(np.mean(np.abs(naive_errors))) or 1.0
        at = [origin_hour + timedelta(hours=int(k)) for k in steps]
        for model, point, errors in (
            ("seasonal_naive", naive, naive_errors),
            ("hour_of_week_mean", how, how_errors),
        ):
            low, high = np.quantile(errors, [0.05, 0.95])
            frames.append(
                pl.DataFrame(
                    {
                        "model": model,
                        "origin": origin_hour,
                        "unit_id": unit,
                        "at": at,
                        "horizon_hours": steps,
                        "mean": point,
                        "p05": np.maximum(point + low, 0.0),
                        "p50": point,
                        "p95": point + high,
                        "actual": None,
                        "scale": scale,
                    }
                ).cast(pl.Schema(BACKTEST_FORECASTS_SCHEMA))
            )
    return pl.concat(frames)


def naive_scale(observed: pl.DataFrame, origin_hour: datetime, unit: str) -> float:
    """In-sample MAE of the weekly seasonal naive over the four weeks before the origin (MASE scale)."""
    start = origin_hour - timedelta(hours=(BASELINE_WEEKS + 1) * WEEK_HOURS - 1)
    past = (
        observed.filter((pl.col("unit_id") == unit) & (pl.col("at") >= start) & (pl.col("at") <= origin_hour))
        .sort("at")["census"]
        .to_numpy()
        .astype(np.float64)
    )
    if past.size <= WEEK_HOURS:
        return 1.0
    return float(np.mean(np.abs(past[WEEK_HOURS:] - past[:-WEEK_HOURS]))) or 1.0


@dataclass(frozen=True)
class CensusBacktest:
    """Forecasts of every model beside the observed census, and their scores.

    Attributes
    ----------
    forecasts
        :data:`BACKTEST_FORECASTS_SCHEMA` with ``actual`` filled.
    origins
        Forecast origins [UTC].
    settings
        Horizon, paths, seed...
    """

    forecasts: pl.DataFrame
    origins: list[datetime]
    settings: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, float]]:
        """MAE, RMSE, MASE, 90 % interval coverage and pinball loss (5/50/95 %) by model, pooled."""
        scores: dict[str, dict[str, float]] = {}
        for model in MODELS:
            rows = self.forecasts.filter(pl.col("model") == model)
            if rows.height == 0:
                continue
            actual = rows["actual"].to_numpy()
            mean = rows["mean"].to_numpy()
            scores[model] = {
                "mae": mean_absolute_error(actual, mean),
                "rmse": root_mean_squared_error(actual, mean),
                "mase": float(np.mean(np.abs(actual - mean) / rows["scale"].to_numpy())),
                "coverage_90": interval_coverage(actual, rows["p05"].to_numpy(), rows["p95"].to_numpy()),
                "pinball": mean_pinball_loss(
                    actual,
                    {0.05: rows["p05"].to_numpy(), 0.5: rows["p50"].to_numpy(), 0.95: rows["p95"].to_numpy()},
                ),
                "forecasts": float(rows.height),
            }
        return scores

    def metrics_by_day(self) -> pl.DataFrame:
        """MAE and coverage by model and horizon day (1 = first 24 hours)."""
        return (
            self.forecasts.with_columns(((pl.col("horizon_hours") - 1) // 24 + 1).alias("horizon_day"))
            .group_by(["model", "horizon_day"])
            .agg(
                (pl.col("actual") - pl.col("mean")).abs().mean().alias("mae"),
                ((pl.col("actual") >= pl.col("p05")) & (pl.col("actual") <= pl.col("p95")))
                .mean()
                .alias("coverage_90"),
            )
            .sort(["model", "horizon_day"])
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready: settings, origins and the metrics of every model."""
        return {
            "settings": self.settings,
            "origins": [origin.isoformat() for origin in self.origins],
            "metrics": self.metrics(),
        }


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def write_census_backtest_report(result: CensusBacktest, folder: Path, *, command: str | None = None) -> Path:
    """Write ``census-backtest.md`` with PNG plots and ``metrics.json`` into ``folder``.

    Returns
    -------
    pathlib.Path
        The markdown file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    by_day = result.metrics_by_day()

    figure, axis = plt.subplots(figsize=(7, 4))
    for model in MODELS:
        rows = by_day.filter(pl.col("model") == model)
        axis.plot(rows["horizon_day"].to_numpy(), rows["mae"].to_numpy(), marker="o", label=model)
    axis.set_xlabel("horizon [days]")
    axis.set_ylabel("MAE [patients per unit-hour]")
    axis.set_title("Census MAE by horizon")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / ".mae-by-horizon.png", dpi=100)
    plt.close(figure)
    os.replace(folder / ".mae-by-horizon.png", folder / "mae-by-horizon.png")

    last = max(result.origins)
    ours = result.forecasts.filter((pl.col("model") == MODELS[0]) & (pl.col("origin") == _hour(last)))
    busiest = (
        ours.group_by("unit_id")
        .agg(pl.col("actual").mean())
        .sort("actual", descending=True)["unit_id"]
        .head(4)
    )
    figure, axes = plt.subplots(len(busiest), 1, figsize=(8, 2.2 * max(len(busiest), 1)), squeeze=False)
    for axis, unit in zip(axes[:, 0], busiest.to_list(), strict=True):
        rows = ours.filter(pl.col("unit_id") == unit).sort("at")
        hours = rows["horizon_hours"].to_numpy()
        axis.fill_between(hours, rows["p05"].to_numpy(), rows["p95"].to_numpy(), alpha=0.3, label="90 % band")
        axis.plot(hours, rows["p50"].to_numpy(), label="median")
        axis.plot(hours, rows["actual"].to_numpy(), color="black", linewidth=1, label="observed")
        axis.set_ylabel(unit)
    axes[0, 0].set_title(f"Census forecast from {last:%Y-%m-%d %H:%M} UTC")
    axes[-1, 0].set_xlabel("hours after origin")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    figure.savefig(folder / ".fan-last-origin.png", dpi=100)
    plt.close(figure)
    os.replace(folder / ".fan-last-origin.png", folder / "fan-last-origin.png")

    metrics = result.metrics()
    lines = [
        "# Census backtest",
        "",
        f"Origins: {len(result.origins)} ({min(result.origins):%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC); settings: `{json.dumps(result.settings)}`.",
        "",
    ]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        "| model | MAE | RMSE | MASE | 90 % coverage | pinball (5/50/95 %) |",
        "|---|---|---|---|---|---|",
    ]
    for model, score in metrics.items():
        lines.append(
            f"| {model} | {score['mae']:.2f} | {score['rmse']:.2f} | {score['mase']:.3f} | "
            f"{score['coverage_90']:.3f} | {score['pinball']:.3f} |"
        )
    lines += [
        "",
        "Census by unit and hour, pooled over units, hours and origins. MASE divides each error by the",
        "in-sample MAE of the weekly seasonal naive of that unit over the four weeks before the origin.",
        "",
        "![MAE by horizon](mae-by-horizon.png)",
        "",
        "![Forecast at the last origin](fan-last-origin.png)",
        "",
    ]
    report = folder / "census-backtest.md"
    _atomic_write(report, "\n".join(lines).encode())
    _atomic_write(folder / "metrics.json", json.dumps(result.summary(), indent=2).encode())
    return report


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
