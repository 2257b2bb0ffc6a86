"""Remaining length of stay: a discrete-time hazard GLM fitted on history (statsmodels, binomial / logit).

Time is cut into clock periods of :data:`PERIOD_HOURS` hours (00-08, 08-16, 16-24 UTC). Each admitted stay
gives one row per period it is in hospital for; the outcome is whether it is discharged in that period.
The discharge probability of a period (the hazard) depends on the elapsed stay at the period's start (in
bins, so the baseline hazard has any shape), the service, the kind of the unit and the acuity band the
patient is in, the period of the day and whether it is a weekend. The rows are all categorical, so they
are collapsed into (covariate pattern, discharges, periods) before fitting: the fit takes well under a
second on two years of history.

A twin's remaining stay is then a product of survival factors over the coming periods; the time of
day of a discharge inside its period follows the history's discharge hour profile. Unit and acuity are
held at their current values (transfers change them in the census Monte Carlo, not here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from numpy.typing import NDArray

from patients.los.segments import complete_from

PERIOD_HOURS = 8
"""Length of a hazard period [hours]; periods start at 00, 08 and 16 UTC."""

ELAPSED_BIN_EDGES_HOURS: tuple[float, ...] = (0, 8, 16, 24, 36, 48, 72, 96, 144, 192, 288, 432, 720)
"""Lower edges of the elapsed-stay bins [hours]; the last bin is open."""

LOS_FEATURES_SCHEMA: dict[str, pl.DataType] = {
    "service": pl.String(),
    "unit_kind": pl.String(),
    "acuity_band": pl.String(),  # low / medium / high
    "length_of_stay_hours": pl.Float64(),  # elapsed stay at the reading [hours]
}
"""What the model needs to know about a stay (see :func:`patients.los.twin_features`)."""

_UTC = pl.Datetime("us", "UTC")
_HOUR_US = 3_600_000_000
_PERIOD_US = PERIOD_HOURS * _HOUR_US


def _period_floor_us(moment_us: NDArray[np.int64]) -> NDArray[np.int64]:
    return (moment_us // _PERIOD_US) * _PERIOD_US


def _elapsed_bin(hours: NDArray[np.float64]) -> NDArray[np.int64]:
    edges = np.asarray(ELAPSED_BIN_EDGES_HOURS, dtype=np.float64)
    return np.clip(np.searchsorted(edges, hours, side="right") - 1, 0, edges.size - 1).astype(np.int64)


def person_periods(segments: pl.DataFrame, until: datetime, since: datetime | None = None) -> pl.DataFrame:
    """One row per admitted stay and clock period it spent in hospital before ``until``.

    Parameters
    ----------
    segments
        :data:`patients.los.SEGMENTS_SCHEMA` (only admitted segments are used).
    until
        End of the history [UTC]: a stay still in hospital then is censored.
    since
        Start of the complete record (:func:`patients.los.segments.complete_from`): periods before it
        are left out, so that stays already in hospital then count from then on (left truncation),
        not from their admission (which would over-represent long stays).

    Returns
    -------
    polars.DataFrame
        ``service``, ``unit_kind``, ``acuity_band``, ``elapsed_bin``, ``period_of_day`` (0, 1, 2),
        ``weekend`` (0 or 1), ``discharged`` (bool).
    """
    until_us = int(pl.Series([until]).cast(_UTC).dt.epoch("us")[0])
    admitted = segments.filter(
        (pl.col("status") == "admitted")
        & pl.col("admitted_at").is_not_null()
        & (pl.col("admitted_at") < until)
    )
    stays = admitted.group_by("encounter_id").agg(
        pl.col("admitted_at").first().dt.epoch("us").alias("start_us"),
        pl.col("discharged_at").first().dt.epoch("us").alias("end_us"),
        pl.col("service").first(),
    )
    end_us = stays["end_us"].fill_null(until_us).clip(upper_bound=until_us).to_numpy().astype(np.int64)
    start_us = stays["start_us"].to_numpy().astype(np.int64)
    discharged = ~stays["end_us"].is_null().to_numpy() & (stays["end_us"].fill_null(0).to_numpy() < until_us)
    first_period = _period_floor_us(start_us)
    last_period = _period_floor_us(np.maximum(end_us - 1, start_us))
    periods = ((last_period - first_period) // _PERIOD_US + 1).astype(np.int64)
    stay_index = np.repeat(np.arange(stays.height), periods)
    offsets = np.arange(stay_index.size) - np.repeat(np.cumsum(periods) - periods, periods)
    period_start = first_period[stay_index] + offsets * _PERIOD_US
    reading_us = np.maximum(period_start, start_us[stay_index])
    elapsed_hours = (reading_us - start_us[stay_index]) / _HOUR_US
    is_last = offsets == periods[stay_index] - 1
    rows = pl.DataFrame(
        {
            "encounter_id": stays["encounter_id"].gather(stay_index),
            "at": pl.Series(reading_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "service": stays["service"].gather(stay_index),
            "elapsed_bin": _elapsed_bin(elapsed_hours),
            "period_of_day": ((period_start // _HOUR_US) % 24 // PERIOD_HOURS).astype(np.int64),
            "weekend": ((period_start // (24 * _HOUR_US) + 3) % 7 >= 5).astype(
                np.int64
            ),  # 1970-01-01: Thursday
            "discharged": is_last & discharged[stay_index],
        }
    ).sort(["encounter_id", "at"])
    if since is not None:
        rows = rows.filter(pl.col("at") >= since)
    where = admitted.select(
        "encounter_id", pl.col("started_at").alias("at"), "unit_kind", "acuity_band"
    ).sort(["encounter_id", "at"])
    return rows.join_asof(
        where, on="at", by="encounter_id", strategy="backward", check_sortedness=False
    ).with_columns(pl.col("unit_kind").fill_null("ward"), pl.col("acuity_band").fill_null("low"))


@dataclass(frozen=True)
class LengthOfStayModel:
    """A fitted discrete-time hazard model of the remaining stay.

    Attributes
    ----------
    levels
        Levels of each categorical covariate, in design order (the first is the reference).
    coefficients
        Logit coefficients, intercept first, in design order.
    discharge_hour_profile
        Share of discharges in each UTC hour of the day (24 values adding up to 1).
    base_rate_24h, base_rate_48h
        Share of training readings discharged within 24 h / 48 h: the no-skill forecast.
    fitted_rows, fitted_stays
        Person-period rows and stays the model was fitted on.
    """

    levels: Mapping[str, tuple[str, ...]]
    coefficients: NDArray[np.float64]
    discharge_hour_profile: NDArray[np.float64]
    base_rate_24h: float
    base_rate_48h: float
    fitted_rows: int
    fitted_stays: int

    # -- design ----------------------------------------------------------------------------------------

    def _design(self, columns: Mapping[str, NDArray[Any]]) -> NDArray[np.float64]:
        size = len(next(iter(columns.values())))
        blocks = [np.ones((size, 1))]
        for name, levels in self.levels.items():
            values = np.asarray(columns[name]).astype(str)
            block = np.zeros((size, len(levels) - 1))
            for column, level in enumerate(levels[1:]):
                block[:, column] = values == level
            blocks.append(block)
        return np.hstack(blocks)

    def hazard(self, columns: Mapping[str, NDArray[Any]]) -> NDArray[np.float64]:
        """Discharge probability of one period for covariate columns (see :func:`person_periods`)."""
        logit = self._design(columns) @ self.coefficients
        return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)

    # -- predictions for stays in hospital now ---------------------------------------------------------

    def period_hazards(self, features: pl.DataFrame, now: datetime, periods: int) -> NDArray[np.float64]:
        """Discharge probability in each coming clock period, for stays in hospital at ``now``.

        The first period is what is left of the current one: its hazard is scaled by the share of the
        period's discharges that fall after ``now`` (from the discharge hour profile).

        Parameters
        ----------
        features
            :data:`LOS_FEATURES_SCHEMA` rows, one per stay.
        now
            Reading time [UTC, timezone-aware].
        periods
            Number of periods ahead.

        Returns
        -------
        numpy.ndarray
            Shape ``(stays, periods)``.
        """
        now_us = int(pl.Series([now]).cast(_UTC).dt.epoch("us")[0])
        first = int(_period_floor_us(np.array([now_us]))[0])
        n = features.height
        k = np.arange(periods)
        period_start = first + k * _PERIOD_US
        elapsed0 = features["length_of_stay_hours"].fill_null(0.0).to_numpy()
        elapsed = np.maximum(
            elapsed0[:, None] + (period_start[None, :] - now_us) / _HOUR_US, elapsed0[:, None]
        )
        columns = {
            "service": np.repeat(features["service"].fill_null("").to_numpy().astype(str), periods),
            "unit_kind": np.repeat(features["unit_kind"].fill_null("ward").to_numpy().astype(str), periods),
            "acuity_band": np.repeat(
                features["acuity_band"].fill_null("low").to_numpy().astype(str), periods
            ),
            "elapsed_bin": _elapsed_bin(elapsed.ravel()).astype(str),
            "period_of_day": np.tile(((period_start // _HOUR_US) % 24 // PERIOD_HOURS).astype(str), n),
            "weekend": np.tile(
                ((period_start // (24 * _HOUR_US) + 3) % 7 >= 5).astype(np.int64).astype(str), n
            ),
        }
        hazards = self.hazard(columns).reshape(n, periods)
        hour_now = (now_us - first) / _HOUR_US
        slot = int(((first // _HOUR_US) % 24) // PERIOD_HOURS) * PERIOD_HOURS
        profile = self.discharge_hour_profile[slot : slot + PERIOD_HOURS]
        within = profile / profile.sum() if profile.sum() > 0 else np.full(PERIOD_HOURS, 1 / PERIOD_HOURS)
        passed = float(
            np.interp(hour_now, np.arange(PERIOD_HOURS + 1), np.concatenate([[0.0], np.cumsum(within)]))
        )
        h0 = hazards[:, 0]
        hazards[:, 0] = np.clip(h0 * (1.0 - passed) / np.maximum(1.0 - h0 * passed, 1e-12), 0.0, 1.0)
        return hazards

    def discharge_within(
        self, features: pl.DataFrame, now: datetime, hours: Sequence[float] = (24, 48)
    ) -> NDArray[np.float64]:
        """Probability of discharge within each number of hours of ``now``, shape ``(stays, len(hours))``."""
        longest = max(hours)
        periods = int(np.ceil(longest / PERIOD_HOURS)) + 2
        hazards = self.period_hazards(features, now, periods)
        survival = np.cumprod(1.0 - hazards, axis=1)
        now_us = int(pl.Series([now]).cast(_UTC).dt.epoch("us")[0])
        first = int(_period_floor_us(np.array([now_us]))[0])
        ends = (first - now_us) / _HOUR_US + PERIOD_HOURS * (np.arange(periods) + 1)  # hours from now
        out = np.empty((features.height, len(hours)))
        for column, limit in enumerate(hours):
            # survival is known at period ends; interpolate linearly in between
            grid = np.concatenate([[0.0], ends])
            values = np.hstack([np.ones((features.height, 1)), survival])
            out[:, column] = 1.0 - np.array([np.interp(limit, grid, row) for row in values])
        return out

    def sample_remaining_hours(
        self,
        features: pl.DataFrame,
        now: datetime,
        generator: np.random.Generator,
        n_paths: int,
        horizon_hours: float,
    ) -> NDArray[np.float64]:
        """Remaining stays [hours from ``now``], ``n_paths`` per stay, shape ``(stays, n_paths)``.

        A stay not discharged within the horizon gets ``inf``.

        Parameters
        ----------
        features
            :data:`LOS_FEATURES_SCHEMA` rows.
        now
            Reading time [UTC, timezone-aware].
        generator
            Random numbers (two uniforms per stay and path).
        n_paths
            Samples per stay.
        horizon_hours
            How far ahead to look [hours].
        """
        now_us = int(pl.Series([now]).cast(_UTC).dt.epoch("us")[0])
        first = int(_period_floor_us(np.array([now_us]))[0])
        periods = int(np.ceil((now_us - first) / _HOUR_US + horizon_hours) / PERIOD_HOURS) + 1
        hazards = self.period_hazards(features, now, periods)
        cumulative = 1.0 - np.cumprod(1.0 - hazards, axis=1)  # P(discharged by the end of period k)
        uniforms = generator.random((features.height, n_paths))
        period = np.empty((features.height, n_paths), dtype=np.int64)
        for row in range(features.height):
            period[row] = np.searchsorted(cumulative[row], uniforms[row], side="right")
        # hour inside the period from the discharge hour profile (after now in the current period)
        slot_of = ((first // _HOUR_US + np.arange(periods + 1) * PERIOD_HOURS) % 24) // PERIOD_HOURS
        within_u = generator.random((features.height, n_paths))
        profile = self.discharge_hour_profile.reshape(3, PERIOD_HOURS)
        profile = profile / np.maximum(profile.sum(axis=1, keepdims=True), 1e-12)
        cumulative_hours = np.cumsum(profile, axis=1)
        slot = slot_of[np.minimum(period, periods)]
        hour_in_period = np.empty_like(within_u)
        for s in range(3):
            chosen = slot == s
            hour_in_period[chosen] = np.searchsorted(cumulative_hours[s], within_u[chosen], side="right")
        hour_in_period = np.minimum(hour_in_period, PERIOD_HOURS - 1) + generator.random(within_u.shape)
        hours = (first - now_us) / _HOUR_US + period * PERIOD_HOURS + hour_in_period
        hours = np.maximum(hours, 0.0)
        hours[period >= periods] = np.inf
        return hours

    def remaining_stay_quantiles(
        self, features: pl.DataFrame, now: datetime, quantiles: int = 50, horizon_hours: float = 60 * 24
    ) -> NDArray[np.float64]:
        """Remaining-stay quantiles [hours] at ``(i + 0.5) / quantiles``, shape ``(stays, quantiles)``.

        This is the array form of :data:`ops.sim.distributions.RemainingStay` the warm start takes. Beyond
        ``horizon_hours`` the last period's hazard is carried on (a geometric tail).
        """
        now_us = int(pl.Series([now]).cast(_UTC).dt.epoch("us")[0])
        first = int(_period_floor_us(np.array([now_us]))[0])
        periods = int(np.ceil(horizon_hours / PERIOD_HOURS)) + 1
        hazards = self.period_hazards(features, now, periods)
        survival = np.cumprod(1.0 - hazards, axis=1)
        ends = (first - now_us) / _HOUR_US + PERIOD_HOURS * (np.arange(periods) + 1)
        probabilities = (np.arange(quantiles) + 0.5) / quantiles
        out = np.empty((features.height, quantiles))
        for row in range(features.height):
            cdf = np.concatenate([[0.0], 1.0 - survival[row]])
            grid = np.concatenate([[0.0], ends])
            inside = probabilities <= cdf[-1]
            out[row, inside] = np.interp(probabilities[inside], cdf, grid)
            tail_hazard = max(float(hazards[row, -1]), 1e-6)
            left = (probabilities[~inside] - cdf[-1]) / max(1.0 - cdf[-1], 1e-12)
            out[row, ~inside] = ends[-1] + PERIOD_HOURS * np.log1p(-left) / np.log1p(-tail_hazard)
        return np.maximum(out, 0.0)


COVARIATES: tuple[str, ...] = (
    "service",
    "unit_kind",
    "acuity_band",
    "elapsed_bin",
    "period_of_day",
    "weekend",
)
"""Categorical covariates of the hazard model, all of them by default."""


def fit_length_of_stay(
    segments: pl.DataFrame,
    until: datetime,
    since: datetime | None = None,
    covariates: Sequence[str] = COVARIATES,
) -> LengthOfStayModel:
    """Fit the hazard GLM on the admitted stays of a history.

    Parameters
    ----------
    segments
        :data:`patients.los.SEGMENTS_SCHEMA` of the history (use only what was known at ``until``).
    until
        End of the training history [UTC]; stays open then are censored.
    since
        Start of the complete record; default :func:`patients.los.segments.complete_from`.
    covariates
        Which of :data:`COVARIATES` to use (``elapsed_bin`` always); fewer suit a small history.

    Returns
    -------
    LengthOfStayModel

    Raises
    ------
    ValueError
        When the history holds no discharge to learn from.
    """
    since = since if since is not None else complete_from(segments)
    rows = person_periods(segments, until, since)
    if rows.height == 0 or not rows["discharged"].any():
        raise ValueError("segments: no discharged admitted stay before `until` to fit the stay model on")
    unknown = sorted(set(covariates) - set(COVARIATES))
    if unknown:
        raise ValueError(f"covariates: unknown {unknown} (known: {', '.join(COVARIATES)})")
    used = tuple(name for name in COVARIATES if name in covariates or name == "elapsed_bin")
    rows = rows.with_columns(pl.col(name).cast(pl.String) for name in used)
    patterns = rows.group_by(list(used)).agg(
        pl.col("discharged").sum().alias("discharges"), pl.len().alias("periods")
    )
    levels: dict[str, tuple[str, ...]] = {}
    for name in used:
        counts = rows[name].value_counts(sort=True)
        levels[name] = tuple(str(value) for value in counts[name].to_list())  # commonest is the reference
    template = LengthOfStayModel(levels, np.zeros(1), np.full(24, 1 / 24), 0.0, 0.0, 0, 0)
    design = template._design({name: patterns[name].to_numpy() for name in used})
    discharges = patterns["discharges"].to_numpy().astype(np.float64)
    periods = patterns["periods"].to_numpy().astype(np.float64)
    endog = np.column_stack([discharges, periods - discharges])
    result = sm.GLM(endog, design, family=sm.families.Binomial()).fit()
    coefficients = np.asarray(result.params, dtype=np.float64)

    discharged_at = segments.filter(pl.col("discharged_at") < until)["discharged_at"].unique()
    hours = discharged_at.dt.hour().to_numpy()
    profile = np.bincount(hours, minlength=24).astype(np.float64) + 0.5
    base = _base_rates(segments, since, until)
    return LengthOfStayModel(
        levels=levels,
        coefficients=coefficients,
        discharge_hour_profile=profile / profile.sum(),
        base_rate_24h=base[0],
        base_rate_48h=base[1],
        fitted_rows=rows.height,
        fitted_stays=rows["encounter_id"].n_unique(),
    )


def _base_rates(segments: pl.DataFrame, since: datetime | None, until: datetime) -> tuple[float, float]:
    readings = daily_readings(segments, start=since, end=until)
    if readings.height == 0:
        return 0.0, 0.0
    shares = readings.select(pl.col("discharged_24h", "discharged_48h").cast(pl.Float64).mean()).row(0)
    return float(shares[0]), float(shares[1])


def daily_readings(
    segments: pl.DataFrame, *, start: datetime | None, end: datetime, hour_utc: int = 6
) -> pl.DataFrame:
    """Stays in hospital at ``hour_utc`` each day, with their features and what happened next.

    A reading needs 48 h of history after it, so days closer than that to ``end`` are left out.

    Returns
    -------
    polars.DataFrame
        ``at``, ``encounter_id`` and :data:`LOS_FEATURES_SCHEMA`, plus ``discharged_24h`` and
        ``discharged_48h`` (bool).
    """
    admitted = segments.filter((pl.col("status") == "admitted") & pl.col("admitted_at").is_not_null())
    if admitted.height == 0:
        return pl.DataFrame()
    stays = admitted.group_by("encounter_id").agg(
        pl.col("admitted_at").first(), pl.col("discharged_at").first(), pl.col("service").first()
    )
    if start is not None:
        stays = stays.filter(pl.col("discharged_at").is_null() | (pl.col("discharged_at") > start))
    last = pl.lit(end).cast(_UTC) - pl.duration(hours=48)
    first_reading = pl.col("admitted_at").dt.truncate("1d").dt.offset_by(f"{hour_utc}h")
    first_reading = (
        pl.when(first_reading < pl.col("admitted_at"))
        .then(first_reading.dt.offset_by("1d"))
        .otherwise(first_reading)
    )
    if start is not None:
        floor_start = pl.lit(start).cast(_UTC).dt.truncate("1d").dt.offset_by(f"{hour_utc}h")
        first_reading = pl.max_horizontal(first_reading, floor_start)
    last_reading = pl.min_horizontal(pl.col("discharged_at").fill_null(last), last)
    readings = (
        stays.with_columns(first_reading.alias("_first"), last_reading.alias("_last"))
        .filter(pl.col("_first") <= pl.col("_last"))
        .with_columns(pl.datetime_ranges("_first", "_last", interval="1d").alias("at"))
        .explode("at")
        .filter(pl.col("discharged_at").is_null() | (pl.col("discharged_at") > pl.col("at")))
        .drop("_first", "_last")
        .sort(["encounter_id", "at"])
    )
    if readings.height == 0:
        return pl.DataFrame()
    where = admitted.select(
        "encounter_id", pl.col("started_at").alias("at"), "unit_kind", "acuity_band"
    ).sort(["encounter_id", "at"])
    readings = readings.join_asof(
        where, on="at", by="encounter_id", strategy="backward", check_sortedness=False
    )
    remaining = (pl.col("discharged_at") - pl.col("at")).dt.total_seconds() / 3600.0
    return readings.select(
        "at",
        "encounter_id",
        "service",
        "unit_kind",
        "acuity_band",
        ((pl.col("at") - pl.col("admitted_at")).dt.total_seconds() / 3600.0).alias("length_of_stay_hours"),
        (remaining <= 24).fill_null(False).alias("discharged_24h"),
        (remaining <= 48).fill_null(False).alias("discharged_48h"),
    )
