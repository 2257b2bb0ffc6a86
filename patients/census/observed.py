"""The census a history really had, by unit and hour: what forecasts are scored against."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

OBSERVED_CENSUS_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "at": pl.Datetime("us", "UTC"),  # start of the hour the census is counted at
    "census": pl.Int32(),  # patients in the unit at `at`
}
"""One row per unit and hour."""


def observed_census(
    segments: pl.DataFrame, units: tuple[str, ...], start: datetime, hours: int
) -> pl.DataFrame:
    """Patients in each unit at each whole hour ``start, start + 1 h, ...`` (``hours`` of them).

    A patient counts in a unit at ``t`` when its segment there has ``started_at <= t < ended_at`` (an
    open segment has no end).

    Parameters
    ----------
    segments
        :data:`patients.los.SEGMENTS_SCHEMA`.
    units
        Units to count (in output order).
    start
        First hour [UTC, on the hour].
    hours
        Number of hours.

    Returns
    -------
    polars.DataFrame
        :data:`OBSERVED_CENSUS_SCHEMA`, ordered by unit then hour.
    """
    index = {unit: number for number, unit in enumerate(units)}
    end = start + timedelta(hours=hours)
    rows = segments.filter(
        pl.col("unit").is_in(list(units))
        & (pl.col("started_at") < end)
        & (pl.col("ended_at").is_null() | (pl.col("ended_at") > start))
    )
    starts = (rows["started_at"].dt.epoch("us").to_numpy() - _epoch_us(start)) / 3.6e9
    ends_us = rows["ended_at"].dt.epoch("us").fill_null(np.iinfo(np.int64).max // 2).to_numpy()
    ends = (ends_us - _epoch_us(start)) / 3.6e9
    first = np.clip(np.ceil(starts), 0, hours).astype(np.int64)
    last = np.clip(np.ceil(ends), 0, hours).astype(np.int64)
    unit = np.array([index[u] for u in rows["unit"].to_list()], dtype=np.int64)
    valid = last > first
    difference = np.zeros((len(units), hours + 1), dtype=np.int64)
    np.add.at(difference, (unit[valid], first[valid]), 1)
    np.add.at(difference, (unit[valid], last[valid]), -1)
    census = np.cumsum(difference, axis=1)[:, :hours]
    at = pl.datetime_range(
        start, end - timedelta(hours=1), interval="1h", eager=True, time_zone="UTC"
    ).dt.cast_time_unit("us")
    return pl.DataFrame(
        {
            "unit_id": pl.Series(units).gather(np.repeat(np.arange(len(units)), hours)),
            "at": at.gather(np.tile(np.arange(hours), len(units))),
            "census": census.ravel(),
        }
    ).cast(pl.Schema(OBSERVED_CENSUS_SCHEMA))


def _epoch_us(moment: datetime) -> int:
    return int(pl.Series([moment]).cast(pl.Datetime("us", "UTC")).dt.epoch("us")[0])
