"""The synthetic history's clock: one continuous time axis, read against the hospital's local calendar.

Inside the generator every time is a float number of hours since the *origin*, the UTC instant of local
midnight on the first day of the warm-up. Demand patterns (hour of day, weekday, bank holidays, theatre
sessions, the discharge profile) are local-calendar rules, so the clock keeps two lookup tables:

- continuous whole hour -> local day and local hour of day (for arrival intensities), and
- local day and hour -> continuous hours (for sessions and discharge times).

Around the clock changes (Europe/London) a local day has 23 or 25 hours; the tables take care of it: the
missing spring hour maps onto the next one, and the repeated autumn hour is read as its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import polars as pl
from numpy.typing import NDArray

HOURS_PER_DAY = 24
MICROSECONDS_PER_MINUTE = 60_000_000


def bank_holidays(country: str, subdivision: str | None, first_day: date, last_day: date) -> set[date]:
    """Public (bank) holidays between two dates, inclusive, from the ``holidays`` package (offline).

    Parameters
    ----------
    country
        ISO country code, e.g. ``"GB"``.
    subdivision
        Subdivision, e.g. ``"ENG"`` for England; ``None`` for national holidays only.
    first_day, last_day
        The period.

    Returns
    -------
    set of date
        The holidays in the period.
    """
    years = list(range(first_day.year, last_day.year + 1))
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=years)
    return {day for day in calendar if first_day <= day <= last_day}


@dataclass(frozen=True)
class HistoryClock:
    """Maps continuous hours since the origin to and from the hospital's local calendar.

    Attributes
    ----------
    first_day
        Local date of axis day 0 (the first day of the warm-up).
    day_count
        Days on the axis (warm-up plus history).
    warm_up_days
        Days simulated before the history's start so that the hospital is full on day 0.
    origin_utc
        UTC instant of local midnight of ``first_day``.
    day_hour_starts
        ``(day_count + 1, 24)`` continuous hours at local hour ``h``:00 of axis day ``d``.
    hour_day
        For each whole continuous hour since the origin: its local axis day.
    hour_of_day
        For each whole continuous hour since the origin: its local hour of day (0-23).
    weekday
        Weekday of each axis day, Monday = 0.
    day_of_year
        Day of the year (1-366) of each axis day.
    bank_holiday
        Whether each axis day is a bank holiday.
    """

    first_day: date
    day_count: int
    warm_up_days: int
    origin_utc: datetime
    day_hour_starts: NDArray[np.float64]
    hour_day: NDArray[np.int64]
    hour_of_day: NDArray[np.int64]
    weekday: NDArray[np.int64]
    day_of_year: NDArray[np.int64]
    bank_holiday: NDArray[np.bool_]

    @classmethod
    def build(
        cls,
        start: date,
        days: int,
        warm_up_days: int,
        timezone: str,
        holidays_country: str,
        holidays_subdivision: str | None,
    ) -> HistoryClock:
        """Build the clock of a history of ``days`` days from ``start`` after ``warm_up_days`` of warm-up.

        Parameters
        ----------
        start
            Local date of the history's day 0.
        days
            Length of the history [days].
        warm_up_days
            Days simulated before ``start``.
        timezone
            The hospital's IANA time zone, e.g. ``"Europe/London"``.
        holidays_country, holidays_subdivision
            Where the bank holidays come from.
        """
        zone = ZoneInfo(timezone)
        first_day = start - timedelta(days=warm_up_days)
        day_count = warm_up_days + days
        origin = datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC)

        day_hour_starts = np.empty((day_count + 1, HOURS_PER_DAY), dtype=np.float64)
        for d in range(day_count + 1):
            local_day = first_day + timedelta(days=d)
            for hour in range(HOURS_PER_DAY):
                instant = datetime.combine(local_day, time(hour), tzinfo=zone).astimezone(UTC)
                day_hour_starts[d, hour] = (instant - origin).total_seconds() / 3600.0
        # A non-existent local hour (clocks going forward) maps onto the next existing one.
        day_hour_starts = np.maximum.accumulate(day_hour_starts.reshape(-1)).reshape(day_hour_starts.shape)

        total_hours = int(day_hour_starts[day_count, 0])
        hour_day = np.empty(total_hours, dtype=np.int64)
        hour_of_day = np.empty(total_hours, dtype=np.int64)
        for h in range(total_hours):
            local = (origin + timedelta(hours=h)).astimezone(zone)
            hour_day[h] = (local.date() - first_day).days
            hour_of_day[h] = local.hour

        dates = [first_day + timedelta(days=d) for d in range(day_count)]
        holiday_dates = bank_holidays(holidays_country, holidays_subdivision, dates[0], dates[-1])
        return cls(
            first_day=first_day,
            day_count=day_count,
            warm_up_days=warm_up_days,
            origin_utc=origin,
            day_hour_starts=day_hour_starts,
            hour_day=hour_day,
            hour_of_day=hour_of_day,
            weekday=np.array([d.weekday() for d in dates], dtype=np.int64),
            day_of_year=np.array([d.timetuple().tm_yday for d in dates], dtype=np.int64),
            bank_holiday=np.array([d in holiday_dates for d in dates], dtype=np.bool_),
        )

    # ---- axis --------------------------------------------------------------------------------------
    @property
    def total_hours(self) -> int:
        """Whole hours on the axis."""
        return int(self.hour_day.size)

    @property
    def window_start(self) -> float:
        """Continuous hours at the history's start (local midnight of its day 0)."""
        return float(self.day_hour_starts[self.warm_up_days, 0])

    @property
    def window_end(self) -> float:
        """Continuous hours at the history's end (local midnight after its last day)."""
        return float(self.day_hour_starts[self.day_count, 0])

    def history_day(self, axis_day: int) -> int:
        """Day of the run (day 0 = the history's start) of an axis day; negative in the warm-up."""
        return axis_day - self.warm_up_days

    # ---- lookups -----------------------------------------------------------------------------------
    def local_day_of(self, hours: NDArray[np.float64]) -> NDArray[np.int64]:
        """Local axis day of continuous times (clipped to the axis)."""
        index = np.clip(np.floor(hours).astype(np.int64), 0, self.total_hours - 1)
        return self.hour_day[index]

    def local_hour_of(self, hours: NDArray[np.float64]) -> NDArray[np.int64]:
        """Local hour of day (0-23) of continuous times (clipped to the axis)."""
        index = np.clip(np.floor(hours).astype(np.int64), 0, self.total_hours - 1)
        return self.hour_of_day[index]

    def at_local(self, axis_day: NDArray[np.int64], hour_of_day: NDArray[np.float64]) -> NDArray[np.float64]:
        """Continuous hours at a local clock time (fractional hours allowed) of axis days.

        Days beyond the axis are extended by whole days of 24 hours.
        """
        day = np.asarray(axis_day, dtype=np.int64)
        hour = np.asarray(hour_of_day, dtype=np.float64)
        whole = np.clip(np.floor(hour).astype(np.int64), 0, HOURS_PER_DAY - 1)
        clipped = np.clip(day, 0, self.day_count)
        base = self.day_hour_starts[clipped, whole] + (day - clipped) * float(HOURS_PER_DAY)
        return base + (hour - whole)

    # ---- edges -------------------------------------------------------------------------------------
    def to_minutes(self, hours: NDArray[np.float64]) -> NDArray[np.int64]:
        """Whole minutes since the origin (floored), the resolution of every timestamp written out."""
        return np.floor(np.asarray(hours) * 60.0 + 1e-9).astype(np.int64)

    def utc_series(
        self, name: str, minutes: NDArray[np.int64], valid: NDArray[np.bool_] | None = None
    ) -> pl.Series:
        """UTC datetimes (``Datetime("us", "UTC")``) of minutes since the origin; null where not ``valid``."""
        origin_us = int(self.origin_utc.timestamp()) * 1_000_000
        values = pl.Series(name, origin_us + np.asarray(minutes, dtype=np.int64) * MICROSECONDS_PER_MINUTE)
        if valid is not None:
            values = values.set(pl.Series(~np.asarray(valid, dtype=np.bool_)), None)
        return values.cast(pl.Datetime("us", "UTC"))
