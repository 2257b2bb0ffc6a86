"""Arrival series: the input of arrival forecasting, its declared schema and its validation.

An arrival series is a polars frame with one row per period (an hour or a day), in time order, without gaps:

- ``t``: the start of the period, a naive ``Datetime`` on the hospital's wall clock (arrivals follow the local
  clock, so hour-of-week and holidays are read from it; convert UTC timestamps to the hospital's zone first);
- ``arrivals``: the number of arrivals in the period;
- any number of regressor columns (temperature, holiday flags, ...), numeric and without nulls.

:func:`arrival_series_from_frame` and :func:`read_arrival_series_csv` turn a file's own columns into that
shape and raise :class:`SeriesError` naming the column (and the row) when something cannot be read.
Inside the package the series travels as an :class:`ArrivalHistory` of numpy arrays, which is cheap to slice
at every origin of a rolling backtest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import numpy.typing as npt
import polars as pl

Frequency = Literal["hour", "day"]
"""Length of one period of an arrival series."""

FREQUENCIES: tuple[Frequency, ...] = ("hour", "day")

ARRIVAL_SERIES_SCHEMA: dict[str, pl.DataType] = {"t": pl.Datetime("us"), "arrivals": pl.Float64()}
"""Columns every arrival series starts with; regressor columns (``Float64``) follow."""

PERIOD: dict[Frequency, np.timedelta64] = {
    "hour": np.timedelta64(1, "h").astype("timedelta64[us]"),
    "day": np.timedelta64(1, "D").astype("timedelta64[us]"),
}
PERIODS_PER_DAY: dict[Frequency, int] = {"hour": 24, "day": 1}
SEASON_LENGTH: dict[Frequency, int] = {"hour": 168, "day": 7}
"""Periods in one week: the seasonal-naive lag and the length of the weekly profile."""

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]


class SeriesError(ValueError):
    """An arrival series that cannot be read or used.

    Parameters
    ----------
    column
        The column at fault (as named in the caller's file), or ``None`` when the fault is not in one column.
    reason
        What is wrong, in plain words.

    Attributes
    ----------
    column, reason
        As given.
    """

    def __init__(self, column: str | None, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"column '{column}': {reason}" if column is not None else reason)


def check_frequency(freq: str) -> Frequency:
    """Return ``freq`` as a :data:`Frequency`, or raise :class:`SeriesError` listing the accepted values."""
    if freq not in FREQUENCIES:
        raise SeriesError(None, f"frequency must be one of {', '.join(FREQUENCIES)}, not '{freq}'")
    return cast(Frequency, freq)


def _first_bad_row(original: pl.Series, parsed: pl.Series) -> tuple[int, object] | None:
    """Row number (0-based, data rows) and original value of the first value that failed to parse."""
    bad = (parsed.is_null() & original.is_not_null()) | original.is_null()
    if not bad.any():
        return None
    index = int(bad.arg_max() or 0)
    return index, original[index]


def _parse_times(frame: pl.DataFrame, column: str) -> pl.Series:
    values = frame.get_column(column)
    if isinstance(values.dtype, pl.Datetime):
        if values.dtype.time_zone is not None:
            # Keep the wall clock of the given zone: hour-of-week and holidays are local notions.
            values = values.dt.replace_time_zone(None)
        parsed = values.cast(pl.Datetime("us"))
    elif values.dtype == pl.Date:
        parsed = values.cast(pl.Datetime("us"))
    elif values.dtype == pl.String:
        try:
            parsed = values.str.strip_chars().str.to_datetime(time_unit="us", strict=False)
        except pl.exceptions.PolarsError:
            # No date format fits the first values at all.
            raise SeriesError(
                column, f"cannot read {values[0]!r} (data row 1) as a date or date-time"
            ) from None
        if parsed.dtype != pl.Datetime("us"):
            parsed = parsed.dt.replace_time_zone(None).cast(pl.Datetime("us"))
    else:
        raise SeriesError(column, f"expected dates or date-times, found values of type {values.dtype}")
    bad = _first_bad_row(values, parsed)
    if bad is not None:
        row, value = bad
        what = "an empty value" if value is None else repr(value)
        raise SeriesError(column, f"cannot read {what} (data row {row + 1}) as a date or date-time")
    return parsed


def _parse_numbers(frame: pl.DataFrame, column: str) -> pl.Series:
    values = frame.get_column(column)
    if values.dtype == pl.String:
        parsed = values.str.strip_chars().cast(pl.Float64, strict=False)
    elif values.dtype.is_numeric() or values.dtype == pl.Boolean:
        parsed = values.cast(pl.Float64)
    else:
        raise SeriesError(column, f"expected numbers, found values of type {values.dtype}")
    bad = _first_bad_row(values, parsed)
    if bad is None:
        nonfinite = ~parsed.is_finite()
        if nonfinite.any():
            row = int(nonfinite.arg_max() or 0)
            bad = row, values[row]
    if bad is not None:
        row, value = bad
        what = "an empty value" if value is None else repr(value)
        raise SeriesError(column, f"cannot read {what} (data row {row + 1}) as a number")
    return parsed


def arrival_series_from_frame(
    frame: pl.DataFrame,
    *,
    time_col: str,
    value_col: str,
    freq: Frequency,
    regressors: Sequence[str] = (),
    hour_col: str | None = None,
) -> pl.DataFrame:
    """Turn a frame with its own column names into an arrival series (:data:`ARRIVAL_SERIES_SCHEMA`).

    Hourly input asked for at ``freq="day"`` is summed to daily totals (regressors are averaged over the day;
    a 0/1 holiday flag that holds all day stays 1). Rows are sorted by time; the result has no gaps.

    Parameters
    ----------
    frame
        The caller's data, one row per period.
    time_col
        Column with the period start: a date, a date-time, or text holding either.
    value_col
        Column with the number of arrivals in the period.
    freq
        Frequency of the series wanted: ``"hour"`` or ``"day"``.
    regressors
        Numeric columns to carry along as regressors, under their own names.
    hour_col
        Optional column with the hour of the day (0–23), added to ``time_col`` when the file splits the
        date-time in two (as the University of Iowa ED file does with ``Date`` and ``Hour``).

    Returns
    -------
    polars.DataFrame
        ``t``, ``arrivals`` and the regressor columns, all but ``t`` as ``Float64``.

    Raises
    ------
    SeriesError
        Naming the column when it is missing or one of its values cannot be read, or describing the first
        duplicate or gap in time.
    """
    freq = check_frequency(freq)
    wanted = [time_col, value_col, *([hour_col] if hour_col else []), *regressors]
    for column in wanted:
        if column not in frame.columns:
            raise SeriesError(column, f"not found; the columns are: {', '.join(frame.columns)}")
    if value_col in regressors or time_col in regressors:
        raise SeriesError(value_col, "the time and arrivals columns cannot also be regressors")
    if len(set(regressors)) != len(regressors) or {"t", "arrivals"} & set(regressors):
        raise SeriesError(None, "regressor names must be distinct and not 't' or 'arrivals'")
    if frame.height == 0:
        raise SeriesError(value_col, "the series is empty")

    t = _parse_times(frame, time_col)
    if hour_col:
        hours = _parse_numbers(frame, hour_col)
        invalid = (hours < 0) | (hours > 23) | (hours != hours.round(0))
        if invalid.any():
            row = int(invalid.arg_max() or 0)
            raise SeriesError(hour_col, f"hour {hours[row]!r} (data row {row + 1}) is not a whole hour 0–23")
        t = pl.select(
            pl.lit(t).dt.truncate("1d") + pl.duration(hours=pl.lit(hours.cast(pl.Int64)))
        ).to_series()
    arrivals = _parse_numbers(frame, value_col)
    if (arrivals < 0).any():
        row = int((arrivals < 0).arg_max() or 0)
        raise SeriesError(value_col, f"negative arrivals {arrivals[row]} (data row {row + 1})")
    columns = {"t": t, "arrivals": arrivals}
    columns.update({name: _parse_numbers(frame, name) for name in regressors})
    series = pl.DataFrame(columns).sort("t")

    native = _native_frequency(series)
    if freq == "day" and native == "hour":
        series = daily_totals(series)
    elif freq == "hour" and native == "day":
        raise SeriesError(
            time_col, "the series is daily; hourly forecasts need hourly rows (add --hour-col if split)"
        )
    check_regular(series, freq, time_col=time_col)
    return series


def _native_frequency(series: pl.DataFrame) -> Frequency:
    t = series.get_column("t").to_numpy().astype("datetime64[us]")
    if t.shape[0] < 2:
        return "day"
    median_step = np.median(np.diff(t).astype(np.int64))
    return "hour" if median_step < PERIOD["day"].astype(np.int64) else "day"


def daily_totals(series: pl.DataFrame) -> pl.DataFrame:
    """Sum an hourly arrival series to daily totals; regressors become daily means.

    Only whole days (24 hourly rows) are kept: a first or last day cut short must not look like a quiet day.
    """
    regressors = [c for c in series.columns if c not in ARRIVAL_SERIES_SCHEMA]
    return (
        series.group_by(pl.col("t").dt.truncate("1d"))
        .agg(
            pl.col("arrivals").sum(),
            *(pl.col(name).mean() for name in regressors),
            pl.len().alias("_hours"),
        )
        .filter(pl.col("_hours") == 24)
        .drop("_hours")
        .sort("t")
    )


def check_regular(series: pl.DataFrame, freq: Frequency, *, time_col: str = "t") -> None:
    """Raise :class:`SeriesError` at the first duplicate or gap in ``t`` (one row per period, no holes)."""
    t = series.get_column("t").to_numpy().astype("datetime64[us]")
    wrong = np.flatnonzero(np.diff(t) != PERIOD[freq])
    if wrong.size:
        row = int(wrong[0]) + 1
        unit = "datetime64[m]" if freq == "hour" else "datetime64[D]"
        at, before = (str(t[i].astype(unit)).replace("T", " ") for i in (row, row - 1))
        adjective = "an hourly" if freq == "hour" else "a daily"
        if t[row] == t[row - 1]:
            hint = (
                " (is the hour of day in another column? give it as the hour column)"
                if freq == "hour"
                else ""
            )
            raise SeriesError(
                time_col, f"{at} appears twice: {adjective} series needs one row per {freq}{hint}"
            )
        raise SeriesError(
            time_col,
            f"{at} does not follow {before}: {adjective} series needs one row per {freq} without gaps "
            "(fill missing periods with 0 arrivals if nobody came)",
        )


def read_arrival_series_csv(
    path: Path,
    *,
    time_col: str,
    value_col: str,
    freq: Frequency,
    regressors: Sequence[str] = (),
    hour_col: str | None = None,
) -> pl.DataFrame:
    """Read a CSV file into an arrival series; see :func:`arrival_series_from_frame`.

    Raises
    ------
    SeriesError
        When the file cannot be read as CSV, or as :func:`arrival_series_from_frame` does.
    FileNotFoundError
        When there is no such file.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        # Everything as text first, so that a bad value is reported by us, naming its column and row.
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise SeriesError(None, f"{path} cannot be read as CSV: {exc}") from None
    return arrival_series_from_frame(
        frame, time_col=time_col, value_col=value_col, freq=freq, regressors=regressors, hour_col=hour_col
    )


@dataclass(frozen=True)
class ArrivalHistory:
    """An arrival series as numpy arrays, for model fitting and rolling origins.

    Future periods are represented by the same class with ``arrivals`` set to NaN.

    Attributes
    ----------
    freq
        Period length.
    t
        Period starts, ``datetime64[us]``, regular.
    arrivals
        Arrivals per period (NaN where unknown).
    regressors
        Regressor values per period, by column name.
    """

    freq: Frequency
    t: TimeArray
    arrivals: FloatArray
    regressors: Mapping[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def from_frame(
        cls, series: pl.DataFrame, freq: Frequency, regressors: Sequence[str] = ()
    ) -> ArrivalHistory:
        """Arrays from an arrival series frame; ``arrivals`` may be absent (future periods)."""
        for column in ("t", *regressors):
            if column not in series.columns:
                raise SeriesError(column, f"not found; the columns are: {', '.join(series.columns)}")
        t = series.get_column("t").cast(pl.Datetime("us")).to_numpy().astype("datetime64[us]")
        if "arrivals" in series.columns:
            arrivals = series.get_column("arrivals").cast(pl.Float64).to_numpy().astype(np.float64)
        else:
            arrivals = np.full(t.shape[0], np.nan)
        values: dict[str, FloatArray] = {}
        for name in regressors:
            regressor = series.get_column(name).cast(pl.Float64)
            if regressor.null_count() or not regressor.is_finite().all():
                raise SeriesError(name, "regressor values must be finite numbers without gaps")
            values[name] = regressor.to_numpy().astype(np.float64)
        return cls(freq=freq, t=t, arrivals=arrivals, regressors=values)

    def window(self, start: int, stop: int) -> ArrivalHistory:
        """Rows ``start`` (inclusive) to ``stop`` (exclusive), sharing memory with this history."""
        return ArrivalHistory(
            freq=self.freq,
            t=self.t[start:stop],
            arrivals=self.arrivals[start:stop],
            regressors={name: values[start:stop] for name, values in self.regressors.items()},
        )

    def head(self, stop: int) -> ArrivalHistory:
        """The first ``stop`` rows."""
        return self.window(0, stop)

    def without_arrivals(self) -> ArrivalHistory:
        """The same periods with arrivals hidden (NaN), as a model sees the future."""
        return ArrivalHistory(
            freq=self.freq, t=self.t, arrivals=np.full(len(self), np.nan), regressors=self.regressors
        )

    def next_times(self, horizon: int) -> TimeArray:
        """Starts of the ``horizon`` periods after the last one."""
        return self.t[-1] + PERIOD[self.freq] * np.arange(1, horizon + 1)
