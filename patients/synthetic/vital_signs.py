"""Vital-sign observations of the synthetic history, consistent with each stay's acuity band.

Every observation is a full NEWS2 set (respiration rate, SpO2 on scale 1, air or oxygen, systolic blood
pressure, pulse, consciousness, temperature). It is drawn *backwards from the score*:

1. the seven parameter scores are drawn together from the NEWS2 chart's possible score vectors
   (respiration rate, SpO2, systolic blood pressure, pulse and temperature score 0-3; oxygen 0 or 2;
   consciousness 0 or 3): first an aggregate score for the stay's band (``low`` 0-4 with no parameter
   scoring 3, ``low_medium`` 3-4 with one parameter scoring 3, ``medium`` 5-6, ``high`` 7-12), then one
   of the vectors with that aggregate and band, with probability proportional to the product of each
   parameter score's relative likelihood (:data:`SCORE_LIKELIHOOD`: abnormal pulse and breathing are
   common, a low blood pressure or hypothermia rare);
2. each parameter's value is drawn inside the chart's range for its score (whole numbers, temperature to
   0.1 degC), e.g. a respiration-rate score of 2 gives 21-24 breaths/min.

So the NEWS2 score of every observation lands in the band of the stay it belongs to. Observations of a
stay are taken at a fixed interval set by the band and the unit's kind (:data:`INTERVAL_HOURS_BY_BAND`,
:data:`LONGEST_INTERVAL_HOURS_BY_KIND`), the first within the hour of arrival, each later one within
+-10 % of its slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.synthetic.frames import label_series
from patients.synthetic.sampling import choose_categories
from scenarios.schema import UnitKind

OBSERVATIONS_SCHEMA: dict[str, pl.DataType] = {
    "observation_id": pl.String(),
    "encounter_id": pl.String(),
    "unit": pl.String(),
    "observed_at": pl.Datetime("us", "UTC"),
    "respiration_rate": pl.Int16(),
    "spo2": pl.Int16(),
    "on_oxygen": pl.Boolean(),
    "temperature_c": pl.Float64(),
    "systolic_bp": pl.Int16(),
    "heart_rate": pl.Int16(),
    "consciousness": pl.String(),
    "news2_score": pl.Int8(),
    "acuity": pl.String(),
}
"""One row per set of vital signs.

Units: respiration rate [breaths/min], SpO2 [%] (scale 1), systolic blood pressure [mmHg], heart rate
[beats/min], temperature [degC]; consciousness is the ACVPU letter (``A``, ``C``, ``V``, ``P``, ``U``).
``news2_score`` is the aggregate the set was drawn for and ``acuity`` the band of the stay.
"""

INTERVAL_HOURS_BY_BAND: dict[str, float] = {"low": 6.0, "low_medium": 4.0, "medium": 2.0, "high": 1.0}
"""Hours between observations by acuity band (NEWS2 guidance: 4-12 hourly when low, hourly from 5)."""

LONGEST_INTERVAL_HOURS_BY_KIND: dict[str, float] = {
    UnitKind.ICU.value: 1.0,
    UnitKind.STEP_DOWN.value: 2.0,
    UnitKind.PACU.value: 0.5,
    UnitKind.ED.value: 1.0,
    UnitKind.ASSESSMENT.value: 4.0,
    UnitKind.WARD.value: 6.0,
}
"""Longest interval between observations by kind of unit [hours] (hourly in ICU, half-hourly in PACU)."""

CONSCIOUSNESS_LEVELS: tuple[str, ...] = ("A", "C", "V", "P", "U")

SCORE_LIKELIHOOD: dict[str, tuple[float, float, float, float]] = {
    "respiration_rate": (1.0, 0.6, 0.5, 0.25),
    "spo2": (1.0, 0.6, 0.4, 0.25),
    "on_oxygen": (1.0, 0.0, 0.5, 0.0),
    "systolic_bp": (1.0, 0.4, 0.25, 0.15),
    "heart_rate": (1.0, 0.7, 0.4, 0.2),
    "consciousness": (1.0, 0.0, 0.0, 0.2),
    "temperature_c": (1.0, 0.5, 0.25, 0.05),
}
"""Relative likelihood of each NEWS2 parameter score 0-3 (0 = impossible on the chart)."""

AGGREGATE_LIKELIHOOD: dict[str, dict[int, float]] = {
    "low": {0: 0.30, 1: 0.28, 2: 0.22, 3: 0.13, 4: 0.07},
    "low_medium": {3: 0.6, 4: 0.4},
    "medium": {5: 0.6, 6: 0.4},
    "high": {7: 0.30, 8: 0.25, 9: 0.18, 10: 0.12, 11: 0.09, 12: 0.06},
}
"""Probability of each aggregate NEWS2 score within an acuity band."""

_BANDS = ("low", "low_medium", "medium", "high")


def _score_vectors() -> tuple[NDArray[np.int64], list[NDArray[np.float64]]]:
    """Every possible vector of the seven parameter scores and, per band, its cumulative probability."""
    likelihood = np.array(list(SCORE_LIKELIHOOD.values()), dtype=np.float64)
    options = [np.flatnonzero(row > 0) for row in likelihood]
    grids = np.meshgrid(*options, indexing="ij")
    vectors = np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)
    weight = np.prod(likelihood[np.arange(7), vectors], axis=1)
    total = vectors.sum(axis=1)
    red = (vectors == 3).any(axis=1)
    band = np.where(total >= 7, 3, np.where(total >= 5, 2, np.where(red, 1, 0)))
    probabilities = []
    for code, name in enumerate(_BANDS):
        p = np.zeros(len(vectors), dtype=np.float64)
        for aggregate, share in AGGREGATE_LIKELIHOOD[name].items():
            members = (band == code) & (total == aggregate)
            p[members] = share * weight[members] / weight[members].sum()
        probabilities.append(p)
    return vectors, probabilities


_VECTORS, _VECTOR_PROBABILITIES = _score_vectors()

# Value ranges (inclusive, whole numbers; temperature in tenths of a degree) for each parameter score,
# as (low, high, weight) options; values are drawn triangular inside the chosen range.
_RANGES: dict[str, tuple[tuple[tuple[int, int, float], ...], ...]] = {
    "respiration_rate": (((12, 20, 1.0),), ((9, 11, 1.0),), ((21, 24, 1.0),), ((5, 8, 0.15), (25, 36, 0.85))),
    "spo2": (((96, 100, 1.0),), ((94, 95, 1.0),), ((92, 93, 1.0),), ((82, 91, 1.0),)),
    "systolic_bp": (
        ((111, 160, 0.95), (161, 219, 0.05)),
        ((101, 110, 1.0),),
        ((91, 100, 1.0),),
        ((70, 90, 0.9), (220, 240, 0.1)),
    ),
    "heart_rate": (
        ((51, 90, 1.0),),
        ((41, 50, 0.2), (91, 110, 0.8)),
        ((111, 130, 1.0),),
        ((30, 40, 0.1), (131, 160, 0.9)),
    ),
    "temperature_c": (
        ((361, 380, 1.0),),
        ((351, 360, 0.4), (381, 390, 0.6)),
        ((391, 405, 1.0),),
        ((335, 350, 1.0),),
    ),
}


@dataclass(frozen=True)
class VitalSignSets:
    """Vital signs as parallel arrays, one element per observation."""

    respiration_rate: NDArray[np.int64]
    spo2: NDArray[np.int64]
    on_oxygen: NDArray[np.bool_]
    temperature_c: NDArray[np.float64]
    systolic_bp: NDArray[np.int64]
    heart_rate: NDArray[np.int64]
    consciousness: NDArray[np.int64]
    news2_score: NDArray[np.int64]


def parameter_scores_for_bands(rng: np.random.Generator, band: NDArray[np.int64]) -> NDArray[np.int64]:
    """Draw the seven NEWS2 parameter scores of each observation so its aggregate lands in its band.

    Parameters
    ----------
    rng
        The ``vital_signs`` stream.
    band
        Acuity code of each observation: 0 low, 1 low_medium, 2 medium, 3 high.

    Returns
    -------
    numpy.ndarray
        ``(observations, 7)`` parameter scores in the order respiration rate, SpO2, air/oxygen, systolic
        blood pressure, heart rate, consciousness, temperature.
    """
    scores = np.zeros((band.size, 7), dtype=np.int64)
    for code, probabilities in enumerate(_VECTOR_PROBABILITIES):
        rows = np.flatnonzero(band == code)
        scores[rows] = _VECTORS[choose_categories(rng, probabilities, rows.size)]
    return scores


def _values_for_scores(
    rng: np.random.Generator, parameter: str, scores: NDArray[np.int64]
) -> NDArray[np.int64]:
    values = np.zeros(scores.size, dtype=np.int64)
    for score, options in enumerate(_RANGES[parameter]):
        rows = np.nonzero(scores == score)[0]
        if rows.size == 0:
            continue
        pick = choose_categories(rng, np.array([w for _, _, w in options]), rows.size)
        low = np.array([lo for lo, _, _ in options], dtype=np.int64)[pick]
        high = np.array([hi for _, hi, _ in options], dtype=np.int64)[pick]
        triangular = (rng.random(rows.size) + rng.random(rows.size)) / 2.0
        values[rows] = low + np.floor(triangular * (high - low + 1)).astype(np.int64)
    return values


def sample_vital_signs(rng: np.random.Generator, band: NDArray[np.int64]) -> VitalSignSets:
    """Draw a full set of vital signs for each observation, with its NEWS2 score in its band.

    Parameters
    ----------
    rng
        The ``vital_signs`` stream.
    band
        Acuity code of each observation: 0 low, 1 low_medium, 2 medium, 3 high.

    Returns
    -------
    VitalSignSets
        The values and the aggregate NEWS2 score of each set.

    Examples
    --------
    >>> import numpy as np
    >>> sets = sample_vital_signs(np.random.default_rng(1), np.array([3, 3, 0]))
    >>> bool((sets.news2_score[:2] >= 7).all()) and int(sets.news2_score[2]) <= 4
    True
    """
    scores = parameter_scores_for_bands(rng, band)
    consciousness = np.zeros(band.size, dtype=np.int64)
    confused = np.nonzero(scores[:, 5] == 3)[0]
    consciousness[confused] = 1 + choose_categories(rng, np.array([0.6, 0.25, 0.1, 0.05]), confused.size)
    return VitalSignSets(
        respiration_rate=_values_for_scores(rng, "respiration_rate", scores[:, 0]),
        spo2=_values_for_scores(rng, "spo2", scores[:, 1]),
        on_oxygen=scores[:, 2] == 2,
        temperature_c=_values_for_scores(rng, "temperature_c", scores[:, 6]) / 10.0,
        systolic_bp=_values_for_scores(rng, "systolic_bp", scores[:, 3]),
        heart_rate=_values_for_scores(rng, "heart_rate", scores[:, 4]),
        consciousness=consciousness,
        news2_score=scores.sum(axis=1),
    )


@dataclass(frozen=True)
class ObservationTimes:
    """When observations are taken: the stay each belongs to and its time [continuous hours]."""

    stay: NDArray[np.int64]
    observed: NDArray[np.float64]


def observation_times(
    rng: np.random.Generator,
    observe_from: NDArray[np.float64],
    observe_until: NDArray[np.float64],
    interval_hours: NDArray[np.float64],
) -> ObservationTimes:
    """Schedule observations in each stay at its interval.

    Parameters
    ----------
    rng
        The ``observations`` stream.
    observe_from, observe_until
        Window of each stay in which observations are taken [continuous hours].
    interval_hours
        Hours between observations of each stay.

    Returns
    -------
    ObservationTimes
        Sorted by stay then time; every time lies in its stay's window.
    """
    first = observe_from + rng.random(observe_from.size) * np.minimum(interval_hours, 1.0)
    span = observe_until - first
    count = np.where(span > 0, np.floor(span / interval_hours).astype(np.int64) + 1, 0)
    stay = np.repeat(np.arange(observe_from.size), count)
    slot = np.arange(stay.size) - np.repeat(np.cumsum(count) - count, count)
    jitter = np.where(slot > 0, (rng.random(stay.size) - 0.5) * 0.2, 0.0)
    observed = first[stay] + (slot + jitter) * interval_hours[stay]
    inside = observed < observe_until[stay]
    return ObservationTimes(stay=stay[inside], observed=observed[inside])


def observations_frame(
    observation_ids: pl.Series,
    encounter_ids: pl.Series,
    unit_ids: pl.Series,
    observed_at: pl.Series,
    vitals: VitalSignSets,
    acuity: pl.Series,
) -> pl.DataFrame:
    """Assemble the observations frame with :data:`OBSERVATIONS_SCHEMA` from aligned columns."""
    frame = pl.DataFrame(
        [
            observation_ids.alias("observation_id"),
            encounter_ids.alias("encounter_id"),
            unit_ids.alias("unit"),
            observed_at.alias("observed_at"),
            pl.Series("respiration_rate", vitals.respiration_rate, dtype=pl.Int16),
            pl.Series("spo2", vitals.spo2, dtype=pl.Int16),
            pl.Series("on_oxygen", vitals.on_oxygen, dtype=pl.Boolean),
            pl.Series("temperature_c", vitals.temperature_c, dtype=pl.Float64),
            pl.Series("systolic_bp", vitals.systolic_bp, dtype=pl.Int16),
            pl.Series("heart_rate", vitals.heart_rate, dtype=pl.Int16),
            label_series("consciousness", CONSCIOUSNESS_LEVELS, vitals.consciousness),
            pl.Series("news2_score", vitals.news2_score, dtype=pl.Int8),
            acuity.alias("acuity"),
        ]
    )
    return frame.select(list(OBSERVATIONS_SCHEMA)).cast(pl.Schema(OBSERVATIONS_SCHEMA))
