"""Calendar features shared by the arrival models: weekly position, yearly Fourier terms, trend, regressors.

All functions take period starts as ``datetime64[us]`` on the hospital's wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import holidays
import numpy as np
import numpy.typing as npt

from patients.forecast.series import FloatArray, Frequency, TimeArray

IntArray = npt.NDArray[np.int64]

_DAY_US = 86_400_000_000
_YEAR_DAYS = 365.2425


def weekly_position(t: TimeArray, freq: Frequency) -> IntArray:
    """Position in the week: weekday (Monday 0 … Sunday 6) for days, hour of week (0 … 167) for hours."""
    days = t.astype("datetime64[D]").astype(np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    if freq == "day":
        return weekday.astype(np.int64)
    hour = (t.astype("datetime64[h]").astype(np.int64)) % 24
    return (weekday * 24 + hour).astype(np.int64)


def day_of_year_fraction(t: TimeArray) -> FloatArray:
    """Fraction of the calendar year elapsed at ``t`` (0 at 1 January 00:00, just under 1 at 31 December)."""
    year_start = t.astype("datetime64[Y]")
    next_year = year_start + np.timedelta64(1, "Y")
    elapsed = (t - year_start.astype("datetime64[us]")).astype(np.int64)
    length = (next_year.astype("datetime64[us]") - year_start.astype("datetime64[us]")).astype(np.int64)
    return (elapsed / length).astype(np.float64)


def yearly_fourier(t: TimeArray, order: int) -> FloatArray:
    """Sine and cosine pairs of the yearly cycle, harmonics 1 … ``order``; shape ``(len(t), 2 * order)``."""
    phase = 2.0 * np.pi * day_of_year_fraction(t)
    columns = [f(k * phase) for k in range(1, order + 1) for f in (np.sin, np.cos)]
    return np.column_stack(columns) if columns else np.empty((t.shape[0], 0))


def years_between(t: TimeArray, origin: np.datetime64) -> FloatArray:
    """Elapsed time from ``origin`` to each ``t`` [years of 365.2425 days]."""
    return ((t - origin).astype(np.int64) / (_DAY_US * _YEAR_DAYS)).astype(np.float64)


def public_holiday_flags(t: TimeArray, country: str, subdivision: str | None = None) -> FloatArray:
    """1.0 for periods that fall on a public holiday of ``country`` (``holidays`` package), else 0.0.

    Raises
    ------
    ValueError
        When the ``holidays`` package does not know the country.
    """
    days = t.astype("datetime64[D]")
    calendar_years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    years = range(int(calendar_years.min()), int(calendar_years.max()) + 1)
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError:
        raise ValueError(f"the holidays package has no calendar for country '{country}'") from None
    holiday_days = np.array(sorted(calendar.keys()), dtype="datetime64[D]")
    return np.isin(days, holiday_days).astype(np.float64)


@dataclass(frozen=True)
class RegressorScaling:
    """How one regressor enters a regression: 0/1 flags as they are, measurements standardised with a square.

    A squared standardised term lets, for example, both cold and hot days raise arrivals.

    Attributes
    ----------
    name
        Regressor column.
    binary
        True when the training values were all 0 or 1.
    centre, spread
        Training mean and standard deviation (used when not binary).
    """

    name: str
    binary: bool
    centre: float
    spread: float

    @classmethod
    def learn(cls, name: str, values: FloatArray) -> RegressorScaling:
        """Scaling of ``values`` seen in training."""
        binary = bool(np.all((values == 0.0) | (values == 1.0)))
        spread = float(np.std(values))
        return cls(
            name=name, binary=binary, centre=float(np.mean(values)), spread=spread if spread > 0 else 1.0
        )

    def columns(self, values: FloatArray) -> list[FloatArray]:
        """The design columns for ``values``."""
        if self.binary:
            return [values]
        z = (values - self.centre) / self.spread
        return [z, z * z]


@dataclass(frozen=True)
class CalendarDesign:
    """The smooth part of a regression design: yearly Fourier terms, a linear trend and regressors.

    The weekly profile is handled by each model (as dummies or as a profile) and is not part of this design.

    Attributes
    ----------
    fourier_order
        Yearly harmonics.
    trend_origin
        Start of the trend (the first training period), or ``None`` for no trend.
    scalings
        One per regressor, in order.
    """

    fourier_order: int
    trend_origin: np.datetime64 | None
    scalings: tuple[RegressorScaling, ...]

    @classmethod
    def learn(
        cls,
        t: TimeArray,
        regressors: Mapping[str, FloatArray],
        *,
        fourier_order: int,
        trend: bool,
    ) -> CalendarDesign:
        """Design learnt from the training periods."""
        scalings = tuple(RegressorScaling.learn(name, values) for name, values in regressors.items())
        # A constant regressor (a flag never set in training) cannot be estimated: leave it out.
        scalings = tuple(s for s in scalings if np.ptp(regressors[s.name]) > 0)
        return cls(fourier_order=fourier_order, trend_origin=t[0] if trend else None, scalings=scalings)

    def matrix(self, t: TimeArray, regressors: Mapping[str, FloatArray]) -> FloatArray:
        """Design matrix for periods ``t``; shape ``(len(t), width)``."""
        columns: list[FloatArray] = []
        fourier = yearly_fourier(t, self.fourier_order)
        columns.extend(fourier[:, j] for j in range(fourier.shape[1]))
        if self.trend_origin is not None:
            columns.append(years_between(t, self.trend_origin))
        for scaling in self.scalings:
            columns.extend(scaling.columns(regressors[scaling.name]))
        if not columns:
            return np.empty((t.shape[0], 0))
        return np.column_stack(columns)

    @property
    def width(self) -> int:
        """Number of design columns."""
        return (
            2 * self.fourier_order
            + (self.trend_origin is not None)
            + sum(1 if s.binary else 2 for s in self.scalings)
        )
