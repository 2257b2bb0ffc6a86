"""Small helpers to build the history's polars frames from numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import NDArray


def label_series(name: str, vocabulary: Sequence[str], index: NDArray[np.int64]) -> pl.Series:
    """String column of ``vocabulary[index]``; a negative index gives null.

    Examples
    --------
    >>> import numpy as np
    >>> label_series("unit", ["AMU", "ICU"], np.array([1, -1, 0])).to_list()
    ['ICU', None, 'AMU']
    """
    positions = pl.Series(name, np.asarray(index, dtype=np.int64))
    positions = positions.set(positions < 0, None)
    return pl.Series(name, list(vocabulary), dtype=pl.String).gather(positions).alias(name)
