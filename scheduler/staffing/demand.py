"""Nurses needed per unit, day, shift and skill, from Monte Carlo census paths.

How a number of nurses is derived, on each census path:

1. every hour of the forecast is given to the shift that covers it in the hospital's local time (an hour
   counts for the shift covering its first minute; a night shift belongs to the day it starts on);
2. the patients of the hour are weighted by acuity, ``workload = Σ weight[band] × patients[band]``
   (:data:`DEFAULT_ACUITY_WEIGHTS` unless the scenario's ``staffing.acuity_weights`` says otherwise; see
   *Acuity bands* below for ``low_medium``);
3. the shift's workload is its **peak** hour (the busiest hour of the shift, not the mean: the nurses on
   duty must cope with it), and the nurses needed on that path are ``peak workload / patients_per_nurse``
   of the unit and shift;
4. the planner's quantile is taken over the paths and rounded up to whole nurses.

The census column of the answer is the same quantile of the shift's peak census, for the planner to read
next to the nurses.

**Safe-staffing floor.** When asked for (``floor_quantile``, e.g. :data:`FLOOR_QUANTILE`, the median
census path), ``minimum_nurses`` is the same arithmetic at that quantile: the nurses the unit's
nurse-to-patient ratio needs for the census we expect, never more than ``nurses``; otherwise it is 0. The
roster makes it a hard rule (agency nurses count) while ``nurses`` stays the soft target, and a floor that
cannot be met is reported as the fewest extra nurses that meet it
(:func:`scheduler.roster.explain_infeasibility`) rather than silently rostered short.

**Acuity bands.** The scenario weighs four bands (``low``, ``low_medium``, ``medium``, ``high``; NEWS2
0-4, a single red score, 5-6, 7 or more). Census paths (``patients.census.schema.ACUITY_BANDS``) count
three: their ``medium`` holds the ``low_medium`` patients too. With three-band paths those patients are
weighted as ``medium`` (the heavier of the two weights: a safe over-estimate, since the split is not
known); paths that carry a ``low_medium`` column (with ``low + low_medium + medium + high == census``)
are weighted band by band, so the scenario's ``low_medium`` weight is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import polars as pl

from scenarios.schema import MINUTES_PER_DAY, Hospital, Scenario

ACUITY_COLUMNS: tuple[str, ...] = ("low", "medium", "high")
"""Acuity bands counted by the census paths (patients.census.schema.ACUITY_BANDS)."""

OPTIONAL_ACUITY_COLUMNS: tuple[str, ...] = ("low_medium",)
"""Acuity bands a census paths frame may count on top of :data:`ACUITY_COLUMNS` (then no longer in
``medium``)."""

DEFAULT_ACUITY_WEIGHTS: Mapping[str, float] = {"low": 1.0, "low_medium": 1.2, "medium": 1.5, "high": 2.0}
"""Nursing workload of a patient by acuity band, relative to a low-acuity patient.

A high-acuity patient (NEWS2 of 7 or more) needs about twice the nursing time of a stable one; these
are the defaults of :class:`scenarios.schema.Staffing` and are used for any band the scenario leaves out.
"""

FLOOR_QUANTILE = 0.5
"""Suggested census quantile of the safe-staffing floor (``minimum_nurses``): the median census path."""

_UTC = pl.Datetime("us", "UTC")

CENSUS_PATHS_COLUMNS: Mapping[str, pl.DataType] = {
    "path": pl.Int32(),
    "unit_id": pl.String(),
    "at": _UTC,
    "census": pl.Int32(),
    "low": pl.Int32(),
    "medium": pl.Int32(),
    "high": pl.Int32(),
}
"""Columns read from a census paths frame (``patients.census.schema.CENSUS_PATHS_SCHEMA``)."""

STAFFING_DEMAND_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),  # scenario unit id
    "day": pl.Date(),  # local date the shift starts on
    "shift": pl.String(),  # scenario shift id
    "skill": pl.String(),  # skill the unit needs (scenario unit.skill)
    "nurses": pl.Int32(),  # nurses needed [count], the quantile rounded up
    "minimum_nurses": pl.Int32(),  # safe-staffing floor [count]: the same at FLOOR_QUANTILE, <= nurses
    "quantile": pl.Float64(),  # quantile over the census paths the planner chose
    "census": pl.Float64(),  # that quantile of the shift's peak census [patients]
    "workload": pl.Float64(),  # that quantile of the shift's peak acuity-weighted patients
    "hours": pl.Int32(),  # forecast hours seen in the shift (0 when not forecast)
    "basis": pl.String(),  # "forecast", or "weekly_pattern" when copied from the same weekday
}
"""One row per unit, day and shift: the nurses the roster should provide (``nurses``, a soft target) and
may not go below (``minimum_nurses``, a hard floor; agency nurses count)."""

BASIS_FORECAST = "forecast"
BASIS_WEEKLY_PATTERN = "weekly_pattern"

_ROUNDING_SLACK = 1e-9


class StaffingDemandError(ValueError):
    """The census paths or the demand settings are invalid; the message names the field at fault."""


def _check_paths(paths: pl.DataFrame) -> None:
    for column in CENSUS_PATHS_COLUMNS:
        if column not in paths.columns:
            raise StaffingDemandError(f"census paths: column '{column}' is missing")
        found = paths.schema[column]
        if column == "at":
            if not isinstance(found, pl.Datetime) or found.time_zone is None:
                raise StaffingDemandError(
                    f"census paths.at: must be a timezone-aware datetime (UTC), got {found}"
                )
        elif column == "unit_id":
            if found != pl.String():
                raise StaffingDemandError(f"census paths.unit_id: must be text, got {found}")
        elif not found.is_integer():
            raise StaffingDemandError(f"census paths.{column}: must be an integer count, got {found}")
    bands = _bands(paths)
    for column in bands:
        if column in OPTIONAL_ACUITY_COLUMNS and not paths.schema[column].is_integer():
            raise StaffingDemandError(
                f"census paths.{column}: must be an integer count, got {paths.schema[column]}"
            )
    if paths.height == 0:
        return
    for column in ("census", *bands):
        negative = paths.filter(pl.col(column) < 0)
        if negative.height:
            row = negative.row(0, named=True)
            raise StaffingDemandError(
                f"census paths.{column}: negative count {row[column]} "
                f"(unit {row['unit_id']}, path {row['path']}, at {row['at']})"
            )
    total = sum((pl.col(band) for band in bands), start=pl.lit(0))
    mismatch = paths.filter(total != pl.col("census"))
    if mismatch.height:
        row = mismatch.row(0, named=True)
        raise StaffingDemandError(
            f"census paths.census: {' + '.join(bands)} != census (unit {row['unit_id']}, "
            f"path {row['path']}, at {row['at']})"
        )


def _bands(paths: pl.DataFrame) -> tuple[str, ...]:
    """The acuity bands a census paths frame counts, lightest first."""
    extra = tuple(band for band in OPTIONAL_ACUITY_COLUMNS if band in paths.columns)
    return ("low", *extra, "medium", "high")


def acuity_weights(scenario: Scenario, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Workload weight of each acuity band: ``overrides``, else the scenario's, else the defaults.

    Raises
    ------
    StaffingDemandError
        When a weight is not a positive number or names an unknown band.
    """
    weights = dict(DEFAULT_ACUITY_WEIGHTS)
    scenario_weights = scenario.hospital.staffing.acuity_weights
    for band, value in scenario_weights.items():
        if band not in weights:
            raise StaffingDemandError(
                f"staffing.acuity_weights.{band}: unknown band (known: {', '.join(weights)})"
            )
        weights[band] = float(value)
    for band, value in (overrides or {}).items():
        if band not in weights:
            raise StaffingDemandError(f"acuity_weights.{band}: unknown band (known: {', '.join(weights)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise StaffingDemandError(f"acuity_weights.{band}: must be a positive number, got {value!r}")
        weights[band] = float(value)
    return weights


def _minute_table(hospital: Hospital) -> pl.DataFrame:
    """For every minute of the day: the shift covering it and the minutes since that shift started."""
    shift_of_minute: list[str] = [""] * MINUTES_PER_DAY
    minutes_in: list[int] = [0] * MINUTES_PER_DAY
    for shift in hospital.shifts:
        for k, minute in enumerate(shift.minutes_covered()):
            shift_of_minute[minute] = shift.id
            minutes_in[minute] = k
    return pl.DataFrame(
        {
            "minute_of_day": list(range(MINUTES_PER_DAY)),
            "shift": shift_of_minute,
            "minutes_into_shift": minutes_in,
        },
        schema={"minute_of_day": pl.Int32(), "shift": pl.String(), "minutes_into_shift": pl.Int32()},
    )


def shift_of_hours(hours: pl.Series, hospital: Hospital) -> pl.DataFrame:
    """The shift and shift day of each hour.

    Parameters
    ----------
    hours
        Hours [UTC, timezone-aware datetimes].
    hospital
        Gives the shifts and the local time zone.

    Returns
    -------
    polars.DataFrame
        Columns ``at`` (as given), ``day`` (local date the shift started on) and ``shift``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from scenarios import load_scenario, scenario_path
    >>> hospital = load_scenario(scenario_path("baseline")).hospital
    >>> at = pl.Series("at", [datetime(2024, 1, 9, 3, tzinfo=UTC)])  # 03:00 in London in winter
    >>> shift_of_hours(at, hospital).select("day", "shift").row(0)
    (datetime.date(2024, 1, 8), 'night')
    """
    frame = pl.DataFrame({"at": hours}).unique(maintain_order=True)
    local = pl.col("at").dt.convert_time_zone(hospital.timezone)
    frame = frame.with_columns(
        (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)).alias("minute_of_day"),
        local.alias("_local"),
    ).join(_minute_table(hospital), on="minute_of_day", how="left")
    frame = frame.with_columns(
        (pl.col("_local") - pl.duration(minutes=pl.col("minutes_into_shift"))).dt.date().alias("day")
    )
    return frame.select("at", "day", "shift")


def staffing_demand(
    paths: pl.DataFrame,
    scenario: Scenario,
    *,
    quantile: float | None = None,
    weights: Mapping[str, float] | None = None,
    floor_quantile: float | None = None,
) -> pl.DataFrame:
    """Nurses needed per unit, day, shift and skill at the planner's quantile of the census paths.

    Parameters
    ----------
    paths
        Census paths with the columns of ``patients.census.schema.CENSUS_PATHS_SCHEMA`` (path, unit_id,
        at, census, low, medium, high): one row per path, unit and hour.
    scenario
        Gives the units (skill, nurse-to-patient ratio per shift), the shifts and the time zone.
    quantile
        Quantile over the paths (0-1, e.g. 0.8 staffs for the census exceeded on one path in five);
        default the scenario's ``staffing.demand_quantile``.
    weights
        Workload per patient of each acuity band (see :func:`acuity_weights`).
    floor_quantile
        Quantile of the safe-staffing floor ``minimum_nurses`` (e.g. :data:`FLOOR_QUANTILE`, the median),
        capped at ``nurses``; ``None`` (the default) or 0: no floor (``minimum_nurses`` is 0).

    Returns
    -------
    polars.DataFrame
        :data:`STAFFING_DEMAND_SCHEMA`, sorted by unit, day and shift; only units and shifts seen in the
        paths (see :func:`extend_weekly` for days past the forecast).

    Raises
    ------
    StaffingDemandError
        Missing or mistyped columns, impossible counts, an unknown unit or a quantile outside (0, 1).
    """
    hospital = scenario.hospital
    q = hospital.staffing.demand_quantile if quantile is None else quantile
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
        raise StaffingDemandError(f"quantile: must be a number strictly between 0 and 1, got {q!r}")
    if floor_quantile is not None and (
        isinstance(floor_quantile, bool)
        or not isinstance(floor_quantile, int | float)
        or not 0 <= floor_quantile < 1
    ):
        raise StaffingDemandError(
            f"floor_quantile: must be a number from 0 to below 1, got {floor_quantile!r}"
        )
    _check_paths(paths)
    bands = _bands(paths)
    band_weights = acuity_weights(scenario, weights)
    if paths.height == 0:
        return pl.DataFrame(schema=STAFFING_DEMAND_SCHEMA)
    known_units = {unit.id for unit in hospital.units}
    unknown = sorted(set(paths.get_column("unit_id").unique().to_list()) - known_units)
    if unknown:
        raise StaffingDemandError(f"census paths.unit_id: unknown unit '{unknown[0]}' (not in the scenario)")
    ratios = pl.DataFrame(
        [
            {"unit_id": unit.id, "shift": shift_id, "patients_per_nurse": float(ratio), "skill": unit.skill}
            for unit in hospital.units
            for shift_id, ratio in unit.patients_per_nurse.items()
        ],
        schema={
            "unit_id": pl.String(),
            "shift": pl.String(),
            "patients_per_nurse": pl.Float64(),
            "skill": pl.String(),
        },
    )
    hour_shifts = shift_of_hours(paths.get_column("at"), hospital)
    workload = sum(
        (pl.col(band).cast(pl.Float64) * band_weights[band] for band in bands),
        start=pl.lit(0.0),
    )
    per_path = (
        paths.select("path", "unit_id", "at", "census", *bands)
        .join(hour_shifts, on="at", how="left")
        .with_columns(workload.alias("workload"))
        .group_by("unit_id", "day", "shift", "path")
        .agg(
            pl.col("workload").max(),
            pl.col("census").max().cast(pl.Float64),
            pl.col("at").n_unique().alias("hours"),
        )
        .join(ratios, on=["unit_id", "shift"], how="left")
        .with_columns((pl.col("workload") / pl.col("patients_per_nurse")).alias("nurses_exact"))
    )
    floor = (
        pl.col("nurses_exact").quantile(floor_quantile, interpolation="linear")
        if floor_quantile
        else pl.lit(0.0)
    )
    summary = per_path.group_by("unit_id", "day", "shift", "skill").agg(
        floor.alias("floor_exact"),
        pl.col("nurses_exact").quantile(q, interpolation="linear"),
        pl.col("census").quantile(q, interpolation="linear"),
        pl.col("workload").quantile(q, interpolation="linear"),
        pl.col("hours").max().cast(pl.Int32),
    )
    nurses = (pl.col("nurses_exact") - _ROUNDING_SLACK).ceil().clip(lower_bound=0).cast(pl.Int32)
    minimum = (pl.col("floor_exact") - _ROUNDING_SLACK).ceil().clip(lower_bound=0).cast(pl.Int32)
    answer = summary.with_columns(
        nurses.alias("nurses"),
        pl.min_horizontal(minimum, nurses).alias("minimum_nurses"),
        pl.lit(float(q)).alias("quantile"),
        pl.lit(BASIS_FORECAST).alias("basis"),
    )
    return _ordered(answer, hospital)


def _ordered(frame: pl.DataFrame, hospital: Hospital) -> pl.DataFrame:
    shift_rank = {shift.id: i for i, shift in enumerate(hospital.shifts)}
    return (
        frame.with_columns(pl.col("shift").replace_strict(shift_rank, return_dtype=pl.Int32).alias("_rank"))
        .sort("unit_id", "day", "_rank")
        .select([pl.col(name).cast(dtype) for name, dtype in STAFFING_DEMAND_SCHEMA.items()])
    )


def extend_weekly(demand: pl.DataFrame, scenario: Scenario, first_day: date, days: int) -> pl.DataFrame:
    """Demand for every day of ``first_day … first_day + days - 1``, filling days past the forecast.

    A unit and shift missing on a day (or seen only in part, cut by the start or end of the forecast)
    takes the demand of the nearest earlier complete forecast day of the same weekday (a seasonal-naive
    forecast: beyond a week or two the census forecast has lost its starting point anyway), with
    ``basis = "weekly_pattern"``. Days earlier than the forecast take the first complete forecast day of
    the same weekday. When the forecast holds no complete day of that weekday (a forecast shorter than a
    week), the nearest earlier complete day stands in. Units or shifts absent from ``demand`` stay absent.

    Parameters
    ----------
    demand
        :data:`STAFFING_DEMAND_SCHEMA` frame from :func:`staffing_demand`.
    scenario
        Gives the shift order.
    first_day
        First day of the roster (local date).
    days
        Days of the roster.

    Returns
    -------
    polars.DataFrame
        :data:`STAFFING_DEMAND_SCHEMA`, one row per unit × shift seen in ``demand`` and roster day.
    """
    if days < 1:
        raise StaffingDemandError(f"days: must be at least 1, got {days}")
    wanted = [first_day + timedelta(days=k) for k in range(days)]
    known: dict[tuple[str, str], dict[date, dict[str, Any]]] = {}
    for row in demand.iter_rows(named=True):
        known.setdefault((row["unit_id"], row["shift"]), {})[row["day"]] = row
    rows: list[dict[str, Any]] = []
    for by_day in (known[key] for key in sorted(known)):
        # A shift cut by the start or end of the forecast saw only some of its hours: it is used only
        # when no complete shift of the same weekday can stand in for it.
        full_hours = max(int(row["hours"]) for row in by_day.values())
        complete = sorted(d for d, row in by_day.items() if int(row["hours"]) >= full_hours)
        for day in wanted:
            same_weekday = [d for d in complete if d.weekday() == day.weekday()]
            if day in by_day and (day in complete or not same_weekday):
                rows.append(by_day[day])
                continue
            if not same_weekday:
                # A forecast shorter than a week: the nearest earlier complete day stands in.
                same_weekday = complete
            if not same_weekday:
                continue
            earlier = [d for d in same_weekday if d < day]
            source = by_day[earlier[-1] if earlier else same_weekday[0]]
            rows.append({**source, "day": day, "hours": 0, "basis": BASIS_WEEKLY_PATTERN})
    if not rows:
        return pl.DataFrame(schema=STAFFING_DEMAND_SCHEMA)
    return _ordered(pl.DataFrame(rows, schema=STAFFING_DEMAND_SCHEMA), scenario.hospital)


def nurses_needed(workload: float, patients_per_nurse: float) -> int:
    """Whole nurses for an acuity-weighted workload at a nurse-to-patient ratio (rounded up).

    >>> nurses_needed(10.5, 5)
    3
    """
    return max(0, math.ceil(workload / patients_per_nurse - _ROUNDING_SLACK))
