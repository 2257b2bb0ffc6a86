"""Piecewise-constant levels over time (a census, open beds, patients boarding), integrated with numpy.

Each change is logged, then integrated in bulk into hourly and per-shift totals.

Logging a change is one list append, so the hot path of the model stays cheap; the integrals are computed in
bulk, and the logs are compacted from time to time so that memory stays bounded on long runs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class LevelLog:
    """Changes of a level since the last compaction: ``times[i]`` is when it became ``levels[i]``.

    Parameters
    ----------
    start
        Minute the log starts at.
    level
        Level at ``start``.
    """

    __slots__ = ("levels", "times")

    def __init__(self, start: float = 0.0, level: float = 0.0) -> None:
        self.times: list[float] = [start]
        self.levels: list[float] = [level]

    def set(self, now: float, level: float) -> None:
        """The level becomes ``level`` at ``now``."""
        self.times.append(now)
        self.levels.append(level)

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The log as arrays (times [minutes], levels)."""
        return np.asarray(self.times, dtype=np.float64), np.asarray(self.levels, dtype=np.float64)

    def segments(
        self,
        until: float,
        edges: NDArray[np.float64],
        arrays: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Constant pieces from the log's start to ``until``, split at ``edges``.

        Returns
        -------
        start, level, duration
            Start [minutes], level and length [minutes] of each piece, in time order (pieces may be empty).
        """
        times, levels = arrays if arrays is not None else self.arrays()
        inner = edges[(edges > times[0]) & (edges < until)]
        points = np.sort(np.concatenate((times[times < until], inner)))
        if points.size == 0:
            points = times[:1]
        level = levels[np.searchsorted(times, points, side="right") - 1]
        duration = np.diff(np.append(points, until))
        return points, level, duration

    def hourly_areas(
        self,
        until: float,
        hours: int,
        arrays: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> tuple[int, NDArray[np.float64]]:
        """Level x minutes in each simulated hour from the log's start to ``until``.

        Returns
        -------
        first, areas
            The first hour touched, and the area of it and each following hour up to ``until``.
        """
        times, levels = arrays if arrays is not None else self.arrays()
        start = times[0]
        if until <= start:
            return 0, np.zeros(0)
        first = int(start // 60.0)
        last = min(int(np.ceil(until / 60.0)), hours)
        points = np.concatenate(([start], np.arange(first + 1, last, dtype=np.float64) * 60.0, [until]))
        cumulative = np.concatenate(([0.0], np.cumsum(levels[:-1] * np.diff(times))))
        index = np.searchsorted(times, points, side="right") - 1
        area = cumulative[index] + levels[index] * (points - times[index])
        return first, np.diff(area)

    def restart(self, now: float) -> None:
        """Forget the changes before ``now``, keeping the level at ``now`` (the lists are kept, emptied)."""
        level = self.levels[-1]
        self.times.clear()
        self.levels.clear()
        self.times.append(now)
        self.levels.append(level)


def hourly_sums(start: NDArray[np.float64], weight: NDArray[np.float64], hours: int) -> NDArray[np.float64]:
    """Add ``weight`` of each piece to the simulated hour it starts in (pieces never cross an hour)."""
    hour = np.minimum((start // 60.0).astype(np.intp), hours - 1)
    return np.asarray(np.bincount(hour, weights=weight, minlength=hours)[:hours], dtype=np.float64)
