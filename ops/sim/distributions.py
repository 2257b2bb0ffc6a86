"""Durations drawn by inversion: each one is a uniform number of its stream passed through an inverse CDF.

Inversion keeps one uniform per duration whatever the distribution, so common random numbers stay in step
between scenarios, and it makes conditioning on time already spent (a patient in a bed for 40 hours) exact:
the uniform is mapped onto the upper part of the distribution beyond the elapsed time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy import special

from scenarios.schema import Duration, ExponentialHours, FixedHours, GammaHours, LognormalHours

MINUTES_PER_HOUR = 60.0

RemainingStay: TypeAlias = NDArray[np.float64] | Callable[[np.random.Generator], float]
"""A patient's own remaining-stay distribution [hours], from the patient twin.

Either quantiles of the remaining stay at equally spaced probabilities ``(i + 0.5) / n`` (interpolated
linearly with the patient's uniform number), or a callable drawing one remaining stay from a Generator.
"""


def duration_minutes(duration: Duration, uniforms: NDArray[np.float64]) -> NDArray[np.float64]:
    """Durations [minutes] for uniform numbers in [0, 1), by the inverse CDF of ``duration``.

    Parameters
    ----------
    duration
        A scenario duration distribution (hours).
    uniforms
        Uniform numbers, one per duration.

    Examples
    --------
    >>> from scenarios.schema import LognormalHours
    >>> duration_minutes(LognormalHours(distribution="lognormal", median_hours=2, sigma=0.5), np.array([0.5]))
    array([120.])
    """
    u = np.asarray(uniforms, dtype=np.float64)
    if isinstance(duration, LognormalHours):
        hours = duration.median_hours * np.exp(duration.sigma * special.ndtri(u))
    elif isinstance(duration, ExponentialHours):
        hours = -duration.mean_hours * np.log1p(-u)
    elif isinstance(duration, GammaHours):
        scale = duration.mean_hours / duration.shape
        hours = special.gammaincinv(duration.shape, u) * scale
    elif isinstance(duration, FixedHours):
        hours = np.full_like(u, duration.hours)
    else:  # pragma: no cover - the schema's union is closed
        raise TypeError(f"unknown duration {duration!r}")
    return np.asarray(hours * MINUTES_PER_HOUR, dtype=np.float64)


def mean_minutes(duration: Duration) -> float:
    """Mean of a duration distribution [minutes]."""
    if isinstance(duration, LognormalHours | FixedHours):
        return duration.mean_hours() * MINUTES_PER_HOUR
    return duration.mean_hours * MINUTES_PER_HOUR


def residual_minutes(duration: Duration, elapsed_minutes: float, uniform: float) -> float:
    """Remaining duration [minutes] of a stay that has lasted ``elapsed_minutes`` so far.

    Draws from the distribution conditioned on being longer than the elapsed time, by inversion: the
    uniform is mapped onto the probabilities beyond the elapsed time. When the elapsed time lies so far in
    the tail that the conditional law cannot be computed, the remaining time is drawn from an exponential
    with the distribution's mean (a stay that has outlived its distribution has no better description).

    Parameters
    ----------
    duration
        The step's length-of-stay distribution (hours).
    elapsed_minutes
        Time already spent [minutes].
    uniform
        The patient's uniform number in [0, 1).
    """
    elapsed_minutes = max(float(elapsed_minutes), 0.0)
    elapsed_hours = elapsed_minutes / MINUTES_PER_HOUR
    if isinstance(duration, ExponentialHours):
        return -duration.mean_hours * math.log1p(-uniform) * MINUTES_PER_HOUR
    if isinstance(duration, FixedHours):
        return max(duration.hours - elapsed_hours, 0.0) * MINUTES_PER_HOUR
    if elapsed_hours <= 0.0:
        return float(duration_minutes(duration, np.array([uniform]))[0])
    total_hours = math.nan
    if isinstance(duration, LognormalHours):
        z_elapsed = math.log(elapsed_hours / duration.median_hours) / duration.sigma
        tail = float(special.ndtr(-z_elapsed)) * (1.0 - uniform)
        if tail > 1e-300:
            total_hours = duration.median_hours * math.exp(-duration.sigma * float(special.ndtri(tail)))
    elif isinstance(duration, GammaHours):
        scale = duration.mean_hours / duration.shape
        tail = float(special.gammaincc(duration.shape, elapsed_hours / scale)) * (1.0 - uniform)
        if tail > 1e-300:
            total_hours = float(special.gammainccinv(duration.shape, tail)) * scale
    if math.isfinite(total_hours) and total_hours >= elapsed_hours:
        return (total_hours - elapsed_hours) * MINUTES_PER_HOUR
    return -mean_minutes(duration) * math.log1p(-uniform)


def remaining_stay_minutes(remaining: RemainingStay, uniform: float, generator: np.random.Generator) -> float:
    """Remaining stay [minutes] from a patient's own distribution (see :data:`RemainingStay`)."""
    if callable(remaining):
        hours = float(remaining(generator))
    else:
        quantiles = np.sort(np.asarray(remaining, dtype=np.float64).ravel())
        if quantiles.size == 0:
            raise ValueError("a remaining-stay quantile array needs at least one value")
        probabilities = (np.arange(quantiles.size) + 0.5) / quantiles.size
        hours = float(np.interp(uniform, probabilities, quantiles))
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"a remaining stay must be a non-negative number of hours, got {hours!r}")
    return hours * MINUTES_PER_HOUR


def categorical(weights: NDArray[np.float64], uniforms: NDArray[np.float64]) -> NDArray[np.intp]:
    """Index drawn from ``weights`` (not necessarily normalised) for each uniform, by inversion."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    total = cumulative[-1]
    if total <= 0:
        raise ValueError("categorical weights add up to zero")
    index = np.searchsorted(cumulative / total, uniforms, side="right")
    return np.minimum(index, len(cumulative) - 1).astype(np.intp)
