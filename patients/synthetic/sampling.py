"""Random streams and vectorised sampling helpers of the synthetic history generator."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from scenarios.schema import Duration, ExponentialHours, FixedHours, GammaHours, LognormalHours

STREAM_NAMES: tuple[str, ...] = (
    "ed_arrivals",
    "ed_triage",
    "ed_treatment",
    "ed_departure",
    "emergency_pathways",
    "theatre_lists",
    "surgery",
    "elective_pathways",
    "unit_choice",
    "discharge_times",
    "decant",
    "observations",
    "vital_signs",
)
"""One random stream per activity, spawned in this order from ``SeedSequence(seed)``.

New activities are appended at the end so that adding one leaves every existing stream unchanged.
"""

MINIMUM_DURATION_HOURS = 1.0 / 12.0
"""Shortest sampled duration [hours] (5 minutes): keeps every interval non-empty at minute resolution."""


def activity_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent numpy Generator per activity of :data:`STREAM_NAMES`.

    Parameters
    ----------
    seed
        The history's seed (a non-negative integer).

    Returns
    -------
    dict
        Generator by activity name.

    Examples
    --------
    >>> streams = activity_streams(7)
    >>> float(streams["ed_arrivals"].random()) == float(activity_streams(7)["ed_arrivals"].random())
    True
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
    return {name: np.random.default_rng(child) for name, child in zip(STREAM_NAMES, children, strict=True)}


def sample_duration(rng: np.random.Generator, duration: Duration, size: int) -> NDArray[np.float64]:
    """Draw ``size`` durations [hours] from a scenario's duration distribution.

    Parameters
    ----------
    rng
        The activity's stream.
    duration
        Lognormal (median, sigma), exponential (mean), gamma (mean, shape) or fixed.
    size
        How many.

    Returns
    -------
    numpy.ndarray
        Durations [hours], at least :data:`MINIMUM_DURATION_HOURS`.
    """
    if isinstance(duration, LognormalHours):
        values = rng.lognormal(np.log(duration.median_hours), duration.sigma, size)
    elif isinstance(duration, ExponentialHours):
        values = rng.exponential(duration.mean_hours, size)
    elif isinstance(duration, GammaHours):
        values = rng.gamma(duration.shape, duration.mean_hours / duration.shape, size)
    elif isinstance(duration, FixedHours):
        values = np.full(size, duration.hours, dtype=np.float64)
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown duration distribution {duration!r}")
    return np.maximum(values, MINIMUM_DURATION_HOURS)


def choose_rows(rng: np.random.Generator, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Pick one column per row with probability proportional to that row's weights.

    Parameters
    ----------
    rng
        The activity's stream (one uniform draw per row, whatever the weights).
    weights
        ``(rows, options)`` non-negative weights.

    Returns
    -------
    numpy.ndarray
        Chosen column per row; ``-1`` for a row whose weights are all zero.
    """
    rows = weights.shape[0]
    uniform = rng.random(rows)
    if rows == 0:
        return np.empty(0, dtype=np.int64)
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    chosen = (cumulative <= (uniform * total)[:, None]).sum(axis=1)
    chosen = np.minimum(chosen, weights.shape[1] - 1).astype(np.int64)
    chosen[total <= 0] = -1
    return chosen


def choose_categories(
    rng: np.random.Generator, probabilities: NDArray[np.float64], size: int
) -> NDArray[np.int64]:
    """Draw ``size`` category indices with the given (unnormalised) probabilities."""
    p = np.asarray(probabilities, dtype=np.float64)
    uniform = rng.random(size)
    cumulative = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cumulative, uniform, side="right"), p.size - 1).astype(np.int64)


def integers_between(
    rng: np.random.Generator, low: NDArray[np.int64], high: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Uniform integers in ``[low, high]`` (both inclusive), element by element."""
    span = np.asarray(high) - np.asarray(low) + 1
    return np.asarray(low) + np.floor(rng.random(span.shape) * span).astype(np.int64)
