"""Declared schemas of census forecasts (the contract other packages rely on)."""

from __future__ import annotations

import polars as pl

ACUITY_BANDS: tuple[str, ...] = ("low", "medium", "high")
"""Acuity bands from NEWS2 (RCP 2017): low 0-4 (no single 3), medium 5-6 or a single 3, high 7 or more.

A patient with no observations yet counts as ``low``.
"""

_UTC = pl.Datetime("us", "UTC")

CENSUS_PATHS_SCHEMA: dict[str, pl.DataType] = {
    "path": pl.Int32(),  # Monte Carlo path, 0..n_paths-1
    "unit_id": pl.String(),  # scenario unit id
    "at": _UTC,  # the hour the census is counted at (start of the hour)
    "census": pl.Int32(),  # patients in the unit at `at` on this path
    "low": pl.Int32(),  # of which in each acuity band; low + medium + high == census
    "medium": pl.Int32(),
    "high": pl.Int32(),
}
"""One row per path, unit and hour: the joint samples staffing demand takes quantiles of."""

CENSUS_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "at": _UTC,
    "horizon_hours": pl.Int32(),  # hours after the forecast origin
    "mean": pl.Float64(),
    "p05": pl.Float64(),
    "p50": pl.Float64(),
    "p95": pl.Float64(),
    "mean_high_acuity": pl.Float64(),  # expected patients in the high band
    "beds": pl.Int32(),  # beds of the unit at `at` under the scenario
    "p_over_capacity": pl.Float64(),  # share of paths with census > beds
}
"""One row per unit and hour: the summary shown to planners and stored as the census forecast."""

HIGH_ACUITY_BAND_SCHEMA: dict[str, pl.DataType] = {
    "p05_high_acuity": pl.Float64(),  # 5 % quantile over paths of the patients in the high band
    "p95_high_acuity": pl.Float64(),  # 95 % quantile of the same
}
"""The band of high-acuity patients, added to every summary since these columns exist.

Forecasts stored before they existed lack them, so readers need only :data:`CENSUS_FORECAST_SCHEMA`.
"""

CENSUS_SUMMARY_SCHEMA: dict[str, pl.DataType] = {**CENSUS_FORECAST_SCHEMA, **HIGH_ACUITY_BAND_SCHEMA}
"""What :func:`patients.census.census_forecast` produces: the forecast and the high-acuity band."""
