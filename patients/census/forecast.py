"""Monte Carlo census and acuity forecast by unit, hourly, from the twins and forecast arrivals.

On each path:

- an **admitted twin** is discharged after a remaining stay drawn from the length-of-stay model; before
  that it may move up to :data:`MAX_MOVES` times: it draws a completed stay of its current unit longer
  than the time it has spent there, and if that stay ended in a transfer before the discharge, it moves
  to that stay's next unit (and takes its acuity band there), where it draws a completed stay of that
  unit, and so on; a twin whose discharge the stay model cannot foresee from its unit (intensive care,
  where the hazard of a discharge home is nil) leaves when that chain of unit stays ends in a discharge;
- a **registered twin** (in the ED, not admitted) draws a recent route that entered its unit and lasted
  longer there than the twin has, and follows the rest of it (sent home, or admitted and onwards);
- **new arrivals** come by stream (entry unit and service) as a Poisson count per hour: the stream's
  forecast (daily total from its statsmodels model, shared out by its hour-of-week profile) times a
  gamma day multiplier whose variance is the forecast's own beyond Poisson; a stream without a model
  takes its hour-of-week mean times a day multiplier measured on history. Each follows a recent route of
  the same stream that arrived at the same hour of the day.

Every patient on a path is then a set of (unit, acuity band, from, to) intervals; the census at each
hour is counted with difference arrays, chunk by chunk of paths, all in numpy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import special

from patients.census.model import _MIN_SAME_HOUR, CensusModel
from patients.census.schema import ACUITY_BANDS, CENSUS_PATHS_SCHEMA, CENSUS_SUMMARY_SCHEMA
from patients.los import THREE_BANDS, foreseeable_discharge, twin_features

PATHS_PER_CHUNK = 100
"""Paths counted at a time (bounds the memory of the difference arrays)."""

MAX_MOVES = 3
"""Transfers an admitted twin can make before its discharge on one path (ICU → HDU → ward is two)."""


class ForecastCancelled(RuntimeError):
    """The forecast was cancelled through its ``cancel`` event."""


@dataclass(frozen=True)
class CensusForecast:
    """A census forecast: the joint sample paths and their summary.

    Attributes
    ----------
    origin
        Forecast origin [UTC]; hour ``k`` is ``origin`` rounded down to the hour plus ``k`` hours.
    paths
        :data:`~patients.census.CENSUS_PATHS_SCHEMA` (one row per path, unit and hour).
    summary
        :data:`~patients.census.CENSUS_SUMMARY_SCHEMA` (one row per unit and hour).
    details
        Settings and counts (paths, seed, twins used and left out...).
    """

    origin: datetime
    paths: pl.DataFrame
    summary: pl.DataFrame
    details: dict[str, Any] = field(default_factory=dict)


def _pick_conditional(
    sorted_durations: NDArray[np.float64],
    first: int,
    count: int,
    elapsed: float,
    uniforms: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Indices (into the whole array) of durations longer than ``elapsed``; -1 when there is none."""
    durations = sorted_durations[first : first + count]
    lowest = int(np.searchsorted(durations, elapsed, side="right"))
    left = count - lowest
    if left <= 0:
        return np.full(uniforms.shape, -1, dtype=np.int64)
    return first + lowest + np.minimum((uniforms * left).astype(np.int64), left - 1)


def census_forecast(
    model: CensusModel,
    twins: pl.DataFrame,
    scenario_beds: dict[str, int],
    origin: datetime,
    *,
    unit_kinds: dict[str, str],
    hours: int = 336,
    n_paths: int = 1000,
    seed: int = 0,
    keep_paths: bool = True,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> CensusForecast:
    """Forecast the census and acuity of every unit, hourly, by Monte Carlo.

    Parameters
    ----------
    model
        Fitted by :func:`patients.census.fit_census_model` on history before ``origin``.
    twins
        Twins at ``origin`` (:data:`patients.twin.TWIN_SCHEMA`); those not inside, without a unit, or in
        a unit the model does not know are left out (counted in ``details``).
    scenario_beds
        Beds by unit id (units not listed get 0 beds).
    origin
        Forecast origin [UTC, timezone-aware].
    unit_kinds
        Unit id to kind, for the length-of-stay model.
    hours
        Hours ahead (1 to 336 for 1-14 days).
    n_paths
        Monte Carlo paths.
    seed
        Seed of ``numpy.random.SeedSequence``; the same seed gives the same forecast.
    keep_paths
        Build the (large) paths frame; ``False`` leaves it empty.
    progress
        Called with the share of paths done.
    cancel
        When set, the forecast stops with :class:`ForecastCancelled`.

    Returns
    -------
    CensusForecast
    """
    if origin.tzinfo is None:
        raise ValueError("origin must be timezone-aware (UTC)")
    if hours < 1:
        raise ValueError(f"hours must be at least 1, got {hours}")
    if n_paths < 1:
        raise ValueError(f"n_paths must be at least 1, got {n_paths}")
    units = model.units
    n_units = len(units)
    unit_index = {unit: number for number, unit in enumerate(units)}
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    arrivals_rng, routes_rng, stay_rng, move_rng = streams

    hour0 = origin.replace(minute=0, second=0, microsecond=0)
    offset = (hour0 - origin).total_seconds() / 3600.0  # grid hour k is at offset + k hours from origin
    grid_hours = hours + 2  # difference-array slots 0..hours+1

    inside = twins.filter(
        pl.col("status").is_in(["registered", "admitted"])
        & pl.col("unit").is_not_null()
        & pl.col("unit").is_in(list(units))
    )
    left_out = twins.filter(pl.col("status").is_in(["registered", "admitted"])).height - inside.height
    admitted = inside.filter(pl.col("status") == "admitted")
    registered = inside.filter(pl.col("status") == "registered")
    band_index = {band: number for number, band in enumerate(ACUITY_BANDS)}

    # -- admitted twins: discharge from the stay model, at most one move from the unit-stay library ----
    features = twin_features(admitted, unit_kinds) if admitted.height else None
    remaining = (
        model.length_of_stay.sample_remaining_hours(features, origin, stay_rng, n_paths, hours + 1.0)
        if features is not None
        else np.empty((0, n_paths))
    )
    a_unit = np.array([unit_index[u] for u in admitted["unit"].to_list()], dtype=np.int64)
    a_band = np.array(
        [band_index[THREE_BANDS.get(b or "low", "low")] for b in admitted["acuity_band"].to_list()],
        dtype=np.int64,
    )
    in_unit = (
        admitted.select(
            (pl.lit(origin) - pl.col("unit_since").fill_null(pl.lit(origin))).dt.total_seconds() / 3600.0
        )
        .to_series()
        .to_numpy()
        if admitted.height
        else np.empty(0)
    )
    stays = model.unit_stays
    # a twin whose discharge the stay model cannot foresee from its unit (intensive care...) leaves when
    # the chain of unit stays below first ends in a discharge
    foreseeable = (
        foreseeable_discharge(model.length_of_stay, features, origin)
        if features is not None
        else np.zeros(0, dtype=bool)
    )
    library_end = np.full((admitted.height, n_paths), np.inf)
    move_at = np.full((admitted.height, n_paths), np.inf)
    move_unit = np.full((admitted.height, n_paths), -1, dtype=np.int64)
    move_band = np.full((admitted.height, n_paths), -1, dtype=np.int64)
    for row in range(admitted.height):
        first = int(stays.pointer[a_unit[row]])
        count = int(stays.pointer[a_unit[row] + 1]) - first
        picks = _pick_conditional(
            stays.duration_hours, first, count, max(in_unit[row], 0.0), move_rng.random(n_paths)
        )
        found = picks >= 0
        moves = found & (stays.next_unit[np.maximum(picks, 0)] >= 0)
        when = stays.duration_hours[np.maximum(picks, 0)] - in_unit[row]
        moves &= when < remaining[row]
        move_at[row, moves] = when[moves]
        move_unit[row, moves] = stays.next_unit[picks[moves]]
        band = stays.next_band[picks[moves]]
        move_band[row, moves] = np.where(band >= 0, band, a_band[row])
        ends_here = found & (stays.next_unit[np.maximum(picks, 0)] < 0)
        library_end[row, ends_here] = np.maximum(when[ends_here], 0.0)
    # later moves: from the unit moved to, a completed stay there (from its start) and its next unit
    move_ats, move_units, move_bands = [move_at], [move_unit], [move_band]
    for _ in range(1, MAX_MOVES):
        previous_at, previous_unit = move_ats[-1], move_units[-1]
        active = np.isfinite(previous_at)
        at = np.full(previous_at.shape, np.inf)
        unit_to = np.full(previous_at.shape, -1, dtype=np.int64)
        band_to = np.full(previous_at.shape, -1, dtype=np.int64)
        if active.any():
            here = previous_unit[active]
            first_stay = stays.pointer[here]
            count = stays.pointer[here + 1] - first_stay
            pick = first_stay + np.minimum(
                (move_rng.random(here.size) * count).astype(np.int64), np.maximum(count - 1, 0)
            )
            pick = np.minimum(pick, max(stays.next_unit.size - 1, 0))
            following = np.where(count > 0, stays.next_unit[pick], -1)
            when = previous_at[active] + stays.duration_hours[pick]
            goes = (following >= 0) & (when < remaining[active])
            at_active = np.full(here.size, np.inf)
            at_active[goes] = when[goes]
            at[active] = at_active
            unit_to[active] = np.where(goes, following, -1)
            next_band = stays.next_band[pick]
            band_to[active] = np.where(goes, np.where(next_band >= 0, next_band, move_bands[-1][active]), -1)
            ends = np.full(here.size, np.inf)
            ending = (count > 0) & (following < 0)
            ends[ending] = when[ending]
            library_end[active] = np.minimum(library_end[active], ends)
        move_ats.append(at)
        move_units.append(unit_to)
        move_bands.append(band_to)

    unforeseeable = ~foreseeable
    if unforeseeable.any():
        remaining = remaining.copy()
        remaining[unforeseeable] = library_end[unforeseeable]

    # -- registered twins: the rest of a route that stayed longer in their unit ---------------------------
    routes = model.routes
    r_unit = np.array([unit_index[u] for u in registered["unit"].to_list()], dtype=np.int64)
    r_elapsed = (
        registered.select(
            (pl.lit(origin) - pl.col("arrived_at").fill_null(pl.lit(origin))).dt.total_seconds() / 3600.0
        )
        .to_series()
        .to_numpy()
        if registered.height
        else np.empty(0)
    )
    by_entry_sorted: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    registered_routes = np.full((registered.height, n_paths), -1, dtype=np.int64)
    for row in range(registered.height):
        unit = int(r_unit[row])
        if unit not in by_entry_sorted:
            candidates = np.nonzero(routes.entry_unit == unit)[0]
            durations = routes.first_duration_hours[candidates]
            order = np.argsort(durations, kind="stable")
            by_entry_sorted[unit] = (candidates[order], durations[order])
        candidates, durations = by_entry_sorted[unit]
        picks = _pick_conditional(
            durations, 0, durations.size, max(r_elapsed[row], 0.0), routes_rng.random(n_paths)
        )
        registered_routes[row] = np.where(picks >= 0, candidates[np.maximum(picks, 0)], -1)

    # -- arrival rates on the forecast grid ------------------------------------------------------------
    arrival_hours = np.arange(hours + 1)  # arrivals in [offset + k, offset + k + 1) hours, k = 0..hours
    moments = [hour0 + timedelta(hours=int(k)) for k in arrival_hours]
    hour_of_week = np.array([m.weekday() * 24 + m.hour for m in moments], dtype=np.int64)
    hour_of_day = hour_of_week % 24
    day_of = ((arrival_hours + hour0.hour) // 24).astype(np.int64)
    n_streams = len(model.streams)
    # streams without an arrival model: their hour-of-week mean, times a day multiplier they share
    rates = model.arrivals_per_hour[:, hour_of_week]  # (streams, hours+1)
    model_rows = model.stream_model_row if model.stream_model_row.size == n_streams else None
    modelled = model_rows >= 0 if model_rows is not None else np.zeros(n_streams, dtype=bool)
    local_day = np.zeros(hours + 1, dtype=np.int64)
    day_shape = np.full((int(modelled.sum()), 1), np.inf)
    if model.arrival_model is not None and model_rows is not None and modelled.any():
        grid = model.arrival_model.hourly(hour0, hours + 1)
        rates = rates.copy()
        rates[modelled] = grid.mean[model_rows[modelled]]
        local_day = grid.day
        with np.errstate(divide="ignore"):
            day_shape = 1.0 / grid.day_excess[model_rows[modelled]]  # (modelled streams, local days)
    entries = np.nonzero(rates.sum(axis=1) > 0)[0]
    route_stream = _route_substitutes(model)
    unrouted = entries[route_stream[entries] < 0]
    census = np.zeros((n_paths, n_units, len(ACUITY_BANDS), hours), dtype=np.int32)
    size = n_units * len(ACUITY_BANDS) * grid_hours
    for chunk_start in range(0, n_paths, PATHS_PER_CHUNK):
        if cancel is not None and cancel.is_set():
            raise ForecastCancelled("census forecast cancelled")
        chunk = np.arange(chunk_start, min(chunk_start + PATHS_PER_CHUNK, n_paths))
        n_chunk = chunk.size
        intervals: list[
            tuple[
                NDArray[np.int64],
                NDArray[np.int64],
                NDArray[np.int64],
                NDArray[np.float64],
                NDArray[np.float64],
            ]
        ] = []

        # admitted twins
        if admitted.height:
            paths = np.broadcast_to(np.arange(n_chunk), (admitted.height, n_chunk))
            leave = remaining[:, chunk]
            first_end = np.minimum(leave, move_ats[0][:, chunk])
            unit0 = np.broadcast_to(a_unit[:, None], leave.shape)
            band0 = np.broadcast_to(a_band[:, None], leave.shape)
            intervals.append(
                (paths.ravel(), unit0.ravel(), band0.ravel(), np.full(leave.size, -1.0), first_end.ravel())
            )
            for k in range(MAX_MOVES):
                moved_at = move_ats[k][:, chunk]
                moved = np.isfinite(moved_at)
                ends = move_ats[k + 1][:, chunk] if k + 1 < MAX_MOVES else np.full(leave.shape, np.inf)
                intervals.append(
                    (
                        paths[moved],
                        move_units[k][:, chunk][moved],
                        move_bands[k][:, chunk][moved],
                        moved_at[moved],
                        np.minimum(leave, ends)[moved],
                    )
                )

        # registered twins
        if registered.height:
            picks = registered_routes[:, chunk]
            has = picks >= 0
            twin_row, path_in_chunk = np.nonzero(has)
            shift = -r_elapsed[twin_row]
            intervals.append(_route_intervals(routes, picks[has], path_in_chunk, shift))
            # no longer route in history: keep them where they are for the time they have been there
            twin_row, path_in_chunk = np.nonzero(~has)
            if twin_row.size:
                intervals.append(
                    (
                        path_in_chunk,
                        r_unit[twin_row],
                        np.zeros(twin_row.size, dtype=np.int64),
                        np.full(twin_row.size, -1.0),
                        np.maximum(r_elapsed[twin_row], 1.0),
                    )
                )

        # new arrivals
        if entries.size:
            factor = np.ones((n_chunk, n_streams, hours + 1))
            fallback = ~modelled
            if fallback.any() and np.isfinite(model.day_factor_shape):
                days = int(day_of.max()) + 1
                shared = arrivals_rng.gamma(
                    model.day_factor_shape, 1.0 / model.day_factor_shape, (n_chunk, days)
                )
                factor[:, fallback, :] = shared[:, None, day_of]
            if modelled.any():
                factor[:, modelled, :] = _day_multipliers(day_shape, n_chunk, arrivals_rng)[:, :, local_day]
            expected = factor[:, entries, :] * rates[None, entries, :]  # (paths, entries, hours+1)
            counts = arrivals_rng.poisson(expected)
            path_of, entry_of, hour_of = np.nonzero(counts)
            repeat = counts[path_of, entry_of, hour_of]
            path_of = np.repeat(path_of, repeat)
            arrival_stream = entries[np.repeat(entry_of, repeat)]
            arrival_hour = np.repeat(hour_of, repeat)
            arrived = offset + arrival_hour + arrivals_rng.random(arrival_hour.size)
            keep = arrived >= 0
            path_of, arrival_stream, arrival_hour, arrived = (
                path_of[keep],
                arrival_stream[keep],
                arrival_hour[keep],
                arrived[keep],
            )
            chosen = _choose_routes(
                routes, route_stream[arrival_stream], hour_of_day[arrival_hour], routes_rng
            )
            ok = chosen >= 0
            intervals.append(_route_intervals(routes, chosen[ok], path_of[ok], arrived[ok]))

        path_all = np.concatenate([part[0] for part in intervals]).astype(np.int64)
        unit_all = np.concatenate([part[1] for part in intervals]).astype(np.int64)
        band_all = np.concatenate([part[2] for part in intervals]).astype(np.int64)
        start_all = np.concatenate([part[3] for part in intervals])
        end_all = np.concatenate([part[4] for part in intervals])
        # present at grid hour k (k >= 1) when start <= offset + k < end
        first_k = np.clip(np.ceil(start_all - offset), 1, hours + 1).astype(np.int64)
        last_k = np.clip(np.ceil(np.minimum(end_all, 1e9) - offset), 1, hours + 1).astype(np.int64)
        valid = last_k > first_k
        base = ((path_all * n_units + unit_all) * len(ACUITY_BANDS) + band_all) * grid_hours
        difference = np.bincount(base[valid] + first_k[valid], minlength=n_chunk * size)
        difference -= np.bincount(base[valid] + last_k[valid], minlength=n_chunk * size)
        counted = np.cumsum(difference.reshape(n_chunk, n_units, len(ACUITY_BANDS), grid_hours), axis=-1)
        census[chunk] = counted[..., 1 : hours + 1]
        if progress is not None:
            progress(float(chunk[-1] + 1) / n_paths)

    return _forecast_frames(
        census,
        units,
        scenario_beds,
        hour0,
        origin,
        keep_paths,
        {
            "n_paths": n_paths,
            "seed": seed,
            "hours": hours,
            "twins_admitted": admitted.height,
            "twins_registered": registered.height,
            "twins_left_out": left_out,
            "twins_discharged_by_their_route": int((~foreseeable).sum()),
            "arrival_streams": n_streams,
            "arrival_streams_modelled": int(modelled.sum()),
            "arrival_streams_without_routes": int(unrouted.size),
        },
    )


def _day_multipliers(
    shape: NDArray[np.float64], n_paths: int, generator: np.random.Generator
) -> NDArray[np.float64]:
    """Gamma multipliers (mean 1, variance ``1 / shape``) per path, stream and day, shape ``(paths, *shape)``.

    One uniform per path and day drives every stream (inversion): a day busier than forecast is busier
    for all of them, as a busy day in the ED is.
    """
    uniforms = generator.random((n_paths, 1, shape.shape[1]))
    finite = np.isfinite(shape) & (shape > 0)
    safe = np.where(finite, shape, 1.0)
    draws = special.gammaincinv(safe[None, :, :], np.clip(uniforms, 1e-12, 1 - 1e-12)) / safe[None, :, :]
    return np.where(finite[None, :, :], draws, 1.0)


def _route_substitutes(model: CensusModel) -> NDArray[np.int64]:
    """For each stream, the stream whose routes its arrivals take.

    Itself, or when the library holds none of its routes, the stream entering the same unit with the most
    routes (-1 when there is none).
    """
    counts = model.routes.by_entry_hour[:, :, 1].sum(axis=1) if model.streams else np.zeros(0)
    substitute = np.arange(len(model.streams), dtype=np.int64)
    for number, (unit, _) in enumerate(model.streams):
        if counts[number] > 0:
            continue
        same_unit = [other for other, (u, _) in enumerate(model.streams) if u == unit and counts[other] > 0]
        substitute[number] = max(same_unit, key=lambda other: counts[other]) if same_unit else -1
    return substitute


def _choose_routes(
    routes: Any, stream: NDArray[np.int64], hour: NDArray[np.int64], generator: np.random.Generator
) -> NDArray[np.int64]:
    """A route of the same stream that arrived at the same hour of the day (any hour when too few)."""
    table = routes.by_entry_hour
    safe = np.maximum(stream, 0)
    first = table[safe, hour, 0]
    count = np.where(stream >= 0, table[safe, hour, 1], 0)
    # too few routes arriving at that hour: any hour of the day
    few = count < _MIN_SAME_HOUR
    total = table[:, :, 1].sum(axis=1)
    stream_first = table[:, 0, 0]
    first = np.where(few, stream_first[safe], first)
    count = np.where(few, np.where(stream >= 0, total[safe], 0), count)
    uniforms = generator.random(stream.size)
    position = first + np.minimum((uniforms * count).astype(np.int64), np.maximum(count - 1, 0))
    chosen = routes.order[np.minimum(position, routes.order.size - 1)] if routes.order.size else position
    return np.where(count > 0, chosen, -1).astype(np.int64)


def _route_intervals(
    routes: Any, chosen: NDArray[np.int64], paths: NDArray[np.int64], arrived: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Intervals of the chosen routes, each shifted to start at ``arrived`` hours after the origin."""
    counts = routes.pointer[chosen + 1] - routes.pointer[chosen]
    owner = np.repeat(np.arange(chosen.size), counts)
    within = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    segment = routes.pointer[chosen][owner] + within
    start = arrived[owner] + routes.start_hours[segment]
    end = arrived[owner] + routes.end_hours[segment]
    return paths[owner], routes.unit[segment], routes.band[segment], start, end


def _forecast_frames(
    census: NDArray[np.int32],
    units: tuple[str, ...],
    scenario_beds: dict[str, int],
    hour0: datetime,
    origin: datetime,
    keep_paths: bool,
    details: dict[str, Any],
) -> CensusForecast:
    n_paths, n_units, _, hours = census.shape
    total = census.sum(axis=2)  # (paths, units, hours)
    at = pl.datetime_range(
        hour0 + timedelta(hours=1), hour0 + timedelta(hours=hours), interval="1h", eager=True, time_zone="UTC"
    ).dt.cast_time_unit("us")
    quantiles = np.quantile(total, [0.05, 0.5, 0.95], axis=0)  # (3, units, hours)
    beds = np.array([scenario_beds.get(unit, 0) for unit in units], dtype=np.int32)
    high_paths = census[:, :, ACUITY_BANDS.index("high"), :]
    high = high_paths.mean(axis=0)
    high_band = np.quantile(high_paths, [0.05, 0.95], axis=0)  # (2, units, hours)
    unit_of = np.repeat(np.arange(n_units), hours)
    hour_of = np.tile(np.arange(hours), n_units)
    summary = pl.DataFrame(
        {
            "unit_id": pl.Series(units).gather(unit_of),
            "at": at.gather(hour_of),
            "horizon_hours": (hour_of + 1).astype(np.int32),
            "mean": total.mean(axis=0).ravel(),
            "p05": quantiles[0].ravel(),
            "p50": quantiles[1].ravel(),
            "p95": quantiles[2].ravel(),
            "mean_high_acuity": high.ravel(),
            "beds": beds[unit_of],
            "p_over_capacity": (total > beds[None, :, None]).mean(axis=0).ravel(),
            "p05_high_acuity": high_band[0].ravel(),
            "p95_high_acuity": high_band[1].ravel(),
        }
    ).cast(pl.Schema(CENSUS_SUMMARY_SCHEMA))
    if keep_paths:
        path_of = np.repeat(np.arange(n_paths), n_units * hours)
        flat_unit = np.tile(unit_of, n_paths)
        flat_hour = np.tile(hour_of, n_paths)
        paths = pl.DataFrame(
            {
                "path": path_of.astype(np.int32),
                "unit_id": pl.Series(units).gather(flat_unit),
                "at": at.gather(flat_hour),
                "census": total.ravel(),
                "low": census[:, :, 0, :].ravel(),
                "medium": census[:, :, 1, :].ravel(),
                "high": census[:, :, 2, :].ravel(),
            }
        ).cast(pl.Schema(CENSUS_PATHS_SCHEMA))
    else:
        paths = pl.DataFrame(schema=CENSUS_PATHS_SCHEMA)
    return CensusForecast(origin=origin, paths=paths, summary=summary, details=details)
