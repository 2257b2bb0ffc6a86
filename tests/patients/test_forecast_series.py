"""Reading arrival series: column errors name the column, gaps are refused, hours are summed to days."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from patients.forecast import (
    ARRIVAL_SERIES_SCHEMA,
    SeriesError,
    arrival_series_from_frame,
    read_arrival_series_csv,
)


def hourly_file(tmp_path: Path, days: int = 3) -> Path:
    hours = days * 24
    frame = pl.DataFrame(
        {
            "Date": [f"2020-03-{1 + i // 24:02d}" for i in range(hours)],
            "Hour": [str(i % 24) for i in range(hours)],
            "Arrivals": [str(i % 5) for i in range(hours)],
            "temp": [str(10.0 + (i % 24)) for i in range(hours)],
            "holiday": ["1" if i < 24 else "0" for i in range(hours)],
        }
    )
    path = tmp_path / "arrivals.csv"
    frame.write_csv(path)
    return path


def test_hourly_file_with_separate_hour_column(tmp_path: Path) -> None:
    series = read_arrival_series_csv(
        hourly_file(tmp_path),
        time_col="Date",
        value_col="Arrivals",
        hour_col="Hour",
        freq="hour",
        regressors=["temp"],
    )
    assert series.height == 72
    assert {k: series.schema[k] for k in ARRIVAL_SERIES_SCHEMA} == ARRIVAL_SERIES_SCHEMA
    assert series["t"][25].isoformat() == "2020-03-02T01:00:00"
    assert series.columns == ["t", "arrivals", "temp"]


def test_hourly_rows_are_summed_to_days_and_regressors_averaged(tmp_path: Path) -> None:
    series = read_arrival_series_csv(
        hourly_file(tmp_path),
        time_col="Date",
        value_col="Arrivals",
        hour_col="Hour",
        freq="day",
        regressors=["temp", "holiday"],
    )
    assert series.height == 3
    assert series["arrivals"][0] == sum(i % 5 for i in range(24))
    assert series["temp"][0] == pytest.approx(10.0 + 11.5)
    assert series["holiday"].to_list() == [1.0, 0.0, 0.0]


def test_daily_sum_keeps_whole_days_only() -> None:
    t = np.datetime64("2020-01-01T05:00", "us") + np.arange(48).astype("timedelta64[h]")
    frame = pl.DataFrame({"when": t, "n": np.ones(48)})
    series = arrival_series_from_frame(frame, time_col="when", value_col="n", freq="day")
    assert series["arrivals"].to_list() == [24.0]  # 2 January only


@pytest.mark.parametrize(
    ("arguments", "column", "words"),
    [
        ({"time_col": "When", "value_col": "Arrivals"}, "When", "not found"),
        (
            {"time_col": "Date", "value_col": "Arrivals", "regressors": ["temperature"]},
            "temperature",
            "not found",
        ),
        ({"time_col": "Date", "value_col": "Arrivals", "hour_col": "Hours"}, "Hours", "not found"),
    ],
)
def test_a_missing_column_is_named(tmp_path: Path, arguments: dict, column: str, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SeriesError, match=words) as error:
        read_arrival_series_csv(hourly_file(tmp_path), freq="day", **arguments)
    assert error.value.column == column
    assert f"column '{column}'" in str(error.value)


def test_an_unreadable_number_is_named_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("day,patients\n2020-01-01,4\n2020-01-02,four\n2020-01-03,5\n")
    with pytest.raises(SeriesError, match=r"column 'patients': cannot read 'four' \(data row 2\)"):
        read_arrival_series_csv(path, time_col="day", value_col="patients", freq="day")


def test_an_empty_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "gap.csv"
    path.write_text("day,patients\n2020-01-01,4\n2020-01-02,\n")
    with pytest.raises(SeriesError, match=r"column 'patients': cannot read an empty value \(data row 2\)"):
        read_arrival_series_csv(path, time_col="day", value_col="patients", freq="day")


def test_an_unreadable_date_is_named(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("day,patients\n2020-01-01,4\n2020-01-0x,3\n")
    with pytest.raises(SeriesError, match=r"column 'day': cannot read '2020-01-0x' \(data row 2\)"):
        read_arrival_series_csv(path, time_col="day", value_col="patients", freq="day")


def test_a_gap_in_time_is_refused() -> None:
    frame = pl.DataFrame({"day": ["2020-01-01", "2020-01-02", "2020-01-04"], "n": [1, 2, 3]})
    with pytest.raises(SeriesError, match="2020-01-04 does not follow 2020-01-02"):
        arrival_series_from_frame(frame, time_col="day", value_col="n", freq="day")


def test_a_repeated_hour_hints_at_the_hour_column(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match=r"appears twice.*hour column"):
        read_arrival_series_csv(hourly_file(tmp_path), time_col="Date", value_col="Arrivals", freq="hour")


def test_negative_arrivals_are_refused() -> None:
    frame = pl.DataFrame({"day": ["2020-01-01", "2020-01-02"], "n": [1, -2]})
    with pytest.raises(SeriesError, match="column 'n': negative"):
        arrival_series_from_frame(frame, time_col="day", value_col="n", freq="day")


def test_unknown_frequency_is_refused() -> None:
    frame = pl.DataFrame({"day": ["2020-01-01"], "n": [1]})
    with pytest.raises(SeriesError, match="hour, day"):
        arrival_series_from_frame(frame, time_col="day", value_col="n", freq="week")  # type: ignore[arg-type]


def test_time_zone_aware_input_keeps_its_wall_clock() -> None:
    t = pl.datetime_range(
        pl.datetime(2020, 1, 1, time_zone="Europe/London"),
        pl.datetime(2020, 1, 1, 3, time_zone="Europe/London"),
        "1h",
        eager=True,
    )
    series = arrival_series_from_frame(
        pl.DataFrame({"t": t, "n": [1, 2, 3, 4]}), time_col="t", value_col="n", freq="hour"
    )
    assert series["t"][0].isoformat() == "2020-01-01T00:00:00"
