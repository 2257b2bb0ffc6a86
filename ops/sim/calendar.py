"""Simulation time: minutes since the run's origin inside, UTC datetimes at the edges, local clock for rules.

Minute 0 is the origin: the start of the warm-up when there is one, the start of the run otherwise. Day 0 of
the run (the day the scenario's overrides count from) is the local calendar day of the run's start; warm-up
days are numbered -1, -2, ... . Demand profiles, theatre sessions and shifts follow the hospital's local
clock, including daylight-saving changes, so the calendar precomputes one row per simulated hour.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import polars as pl
from numpy.typing import NDArray

from scenarios.schema import MINUTES_PER_DAY, Seasonality, minutes_of_day

MINUTES_PER_HOUR = 60


@functools.lru_cache(maxsize=32)
def _holiday_dates(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """Public holidays of a country (and subdivision) in some years, cached per process."""
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError as exc:
        raise ValueError(
            f"no holiday calendar for country '{country}' subdivision '{subdivision}': {exc}"
        ) from None
    return frozenset(calendar.keys())


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware datetime converted to UTC; naive datetimes are refused (time is UTC at the edges)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no timezone; give UTC times (tzinfo=UTC)")
    return moment.astimezone(UTC)


class SimulationCalendar:
    """Maps simulation minutes to the hospital's calendar and back.

    Parameters
    ----------
    run_start
        Start of the run (day 0), timezone-aware.
    timezone
        The hospital's IANA timezone (profiles, sessions and shifts are local times).
    warm_up_days
        Days simulated before the run's start and left out of the results.
    horizon_days
        Days of the run after its start.
    seasonality
        The hospital's yearly and holiday patterns (for the holiday calendar).
    """

    def __init__(
        self,
        run_start: datetime,
        timezone: str,
        warm_up_days: int,
        horizon_days: int,
        seasonality: Seasonality,
    ) -> None:
        if warm_up_days < 0:
            raise ValueError(f"warm_up_days must be >= 0, got {warm_up_days}")
        if horizon_days < 1:
            raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
        self.run_start = as_utc(run_start)
        self.zone = ZoneInfo(timezone)
        self.warm_up_days = warm_up_days
        self.horizon_days = horizon_days
        self.origin = self.run_start - timedelta(days=warm_up_days)
        self.measure_from = float(warm_up_days * MINUTES_PER_DAY)
        """First minute of the measured window (the run's start)."""
        self.end = float((warm_up_days + horizon_days) * MINUTES_PER_DAY)
        """Last minute simulated (exclusive)."""
        self.hours = (warm_up_days + horizon_days) * 24
        self.start_date: date = self.run_start.astimezone(self.zone).date()

        # the middle of each simulated hour on the local clock (polars converts time zones in bulk)
        middles = pl.datetime_range(
            self.origin + timedelta(minutes=30),
            self.origin + timedelta(minutes=(self.hours - 1) * MINUTES_PER_HOUR + 30),
            interval="1h",
            time_unit="us",
            time_zone="UTC",
            eager=True,
        )
        local = middles.dt.convert_time_zone(timezone)
        local_hour = local.dt.hour().to_numpy().astype(np.int64)
        weekday = local.dt.weekday().to_numpy().astype(np.int64) - 1  # polars: Monday = 1
        start_ordinal = self.start_date.toordinal()
        epoch_ordinal = date(1970, 1, 1).toordinal()
        local_days = local.dt.replace_time_zone(None).dt.date().cast(pl.Int64).to_numpy()
        run_day = local_days + epoch_ordinal - start_ordinal
        day_of_year = local.dt.ordinal_day().to_numpy().astype(np.int64)
        wall = local.dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        utc = middles.dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        utc_offset = (wall - utc).astype(np.float64) / 60e6
        self.local_hour: NDArray[np.int64] = local_hour
        """Local hour of day (0-23) of each simulated hour."""
        self.weekday: NDArray[np.int64] = weekday
        """Local weekday (Monday = 0) of each simulated hour."""
        self.run_day: NDArray[np.int64] = run_day
        """Day of the run (day 0 = the run's start date, negative in the warm-up) of each simulated hour."""
        self.day_of_year: NDArray[np.int64] = day_of_year
        """Local day of the year (1-366) of each simulated hour."""

        self.first_day = int(run_day.min())
        """First day simulated (negative when there is a warm-up)."""
        self.last_day = int(run_day.max())
        """Last day simulated (the run's last day, or the next one when the last hours cross midnight)."""
        dates = {d: self.day_date(d) for d in self.days()}
        holiday_dates = _holiday_dates(
            seasonality.holidays_country,
            seasonality.holidays_subdivision,
            tuple(sorted({day.year for day in dates.values()})),
        )
        self.holiday_days: frozenset[int] = frozenset(d for d, day in dates.items() if day in holiday_dates)
        """Days simulated that are public holidays."""
        self.holiday: NDArray[np.bool_] = np.isin(run_day, np.fromiter(self.holiday_days, dtype=np.int64))
        """Whether each simulated hour falls on a public holiday."""

        origin_local = self.origin.astimezone(self.zone)
        origin_minute = origin_local.hour * 60 + origin_local.minute + origin_local.second / 60.0
        # local minute of day at simulation minute t = (t + shift[hour of t]) mod 1440
        self._local_shift_by_hour: list[float] = (origin_minute + utc_offset - utc_offset[0]).tolist()
        self._minute_at: dict[tuple[int, str], float] = {}

    # ---- days ------------------------------------------------------------------------------------
    def days(self) -> range:
        """Every day simulated, warm-up included."""
        return range(self.first_day, self.last_day + 1)

    def day_date(self, run_day: int) -> date:
        """Local calendar date of a day of the run."""
        return self.start_date + timedelta(days=run_day)

    def day_weekday(self, run_day: int) -> int:
        """Weekday of a day of the run, Monday = 0."""
        return (self.start_date.toordinal() + run_day - 1) % 7

    # ---- conversions -----------------------------------------------------------------------------
    def minute_at(self, run_day: int, clock: str) -> float:
        """Simulation minute of a local clock time (``HH:MM``) on a day of the run."""
        key = (run_day, clock)
        minute = self._minute_at.get(key)
        if minute is None:
            minutes = minutes_of_day(clock)
            local = datetime.combine(
                self.day_date(run_day), time(minutes // 60, minutes % 60), tzinfo=self.zone
            )
            minute = (local.astimezone(UTC) - self.origin).total_seconds() / 60.0
            self._minute_at[key] = minute
        return minute

    def minute_of(self, moment: datetime) -> float:
        """Simulation minute of a UTC datetime."""
        return (as_utc(moment) - self.origin).total_seconds() / 60.0

    def utc(self, minute: float) -> datetime:
        """UTC datetime of a simulation minute."""
        return self.origin + timedelta(minutes=float(minute))

    def hour_index(self, minute: float) -> int:
        """Index of the simulated hour containing a minute (clamped to the run)."""
        return min(max(int(minute // MINUTES_PER_HOUR), 0), self.hours - 1)

    def local_minute_of_day(self, minute: float) -> float:
        """Local minute of the day (0-1439.99) at a simulation minute."""
        hour = int(minute // MINUTES_PER_HOUR)
        shift = self._local_shift_by_hour[
            hour if 0 <= hour < self.hours else (0 if hour < 0 else self.hours - 1)
        ]
        return (minute + shift) % MINUTES_PER_DAY

    def hour_starts_utc(self) -> list[datetime]:
        """UTC start of every simulated hour."""
        return [self.origin + timedelta(hours=k) for k in range(self.hours)]
