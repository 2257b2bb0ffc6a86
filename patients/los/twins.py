"""The stay model applied to patient twins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.los.model import LOS_FEATURES_SCHEMA, LengthOfStayModel
from patients.los.segments import THREE_BANDS, unit_kinds
from scenarios.schema import Scenario, UnitKind

DISCHARGE_PROBABILITIES_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "unit": pl.String(),
    "length_of_stay_hours": pl.Float64(),  # elapsed stay now [hours]
    "p_discharge_24h": pl.Float64(),
    "p_discharge_48h": pl.Float64(),
}
"""One row per admitted twin: its probability of discharge within 24 h and 48 h of the reading."""


def twin_features(twins: pl.DataFrame, scenario: Scenario | Mapping[str, str]) -> pl.DataFrame:
    """The stay model's input for twins (:data:`patients.twin.TWIN_SCHEMA` rows), in the same order.

    The unit kind comes from the scenario, or a mapping of unit id to kind (``ward`` for a unit it does
    not declare); the NEWS2 band is folded into three bands (no score yet counts as ``low``).

    Returns
    -------
    polars.DataFrame
        :data:`~patients.los.LOS_FEATURES_SCHEMA`.
    """
    kinds = dict(scenario) if isinstance(scenario, Mapping) else unit_kinds(scenario)
    return twins.select(
        pl.col("service"),
        pl.col("unit")
        .replace_strict(kinds, default=UnitKind.WARD.value, return_dtype=pl.String)
        .alias("unit_kind"),
        pl.col("acuity_band")
        .replace_strict(THREE_BANDS, default="low", return_dtype=pl.String)
        .fill_null("low")
        .alias("acuity_band"),
        pl.col("length_of_stay_hours").fill_null(0.0),
    ).cast(pl.Schema(LOS_FEATURES_SCHEMA))


def discharge_probabilities(
    model: LengthOfStayModel, twins: pl.DataFrame, scenario: Scenario, now: datetime
) -> pl.DataFrame:
    """Probability that each admitted twin is discharged within 24 h and 48 h of ``now``.

    Parameters
    ----------
    model
        A fitted stay model.
    twins
        Twins at ``now`` (:data:`patients.twin.TWIN_SCHEMA`); only ``admitted`` ones are scored.
    scenario
        Gives each unit its kind.
    now
        Reading time [UTC, timezone-aware].

    Returns
    -------
    polars.DataFrame
        :data:`DISCHARGE_PROBABILITIES_SCHEMA`.
    """
    admitted = twins.filter(pl.col("status") == "admitted")
    if admitted.height == 0:
        return pl.DataFrame(schema=DISCHARGE_PROBABILITIES_SCHEMA)
    probabilities = model.discharge_within(twin_features(admitted, scenario), now, (24.0, 48.0))
    return admitted.select(
        "encounter_id",
        "unit",
        pl.col("length_of_stay_hours"),
        pl.Series("p_discharge_24h", probabilities[:, 0]),
        pl.Series("p_discharge_48h", probabilities[:, 1]),
    ).cast(pl.Schema(DISCHARGE_PROBABILITIES_SCHEMA))


def remaining_stay_function(
    model: LengthOfStayModel, scenario: Scenario, now: datetime, *, quantiles: int = 50
) -> Callable[[Mapping[str, Any]], NDArray[np.float64] | None]:
    """Give each twin its own remaining-stay distribution, in the form the hospital model's warm start takes.

    Parameters
    ----------
    model
        A fitted stay model.
    scenario
        Gives each unit its kind.
    now
        Start of the run [UTC, timezone-aware].
    quantiles
        Number of quantiles of each distribution.

    Returns
    -------
    callable
        Takes a twin (a row of :data:`patients.twin.TWIN_SCHEMA` as a dict) and returns its remaining-stay
        quantiles [hours] at ``(i + 0.5) / quantiles`` (``ops.sim.distributions.RemainingStay``), or
        ``None`` for a twin that is not admitted (the model then uses the scenario's stay).

    Examples
    --------
    >>> remaining = remaining_stay_function(model, scenario, now)  # doctest: +SKIP
    >>> start_state_from_twins(scenario, twins, now, remaining_stay=remaining)  # doctest: +SKIP
    """
    kinds = unit_kinds(scenario)

    def remaining_stay(twin: Mapping[str, Any]) -> NDArray[np.float64] | None:
        if twin.get("status") != "admitted":
            return None
        row = pl.DataFrame(
            [{name: twin.get(name) for name in ("service", "unit", "acuity_band")}]
        ).with_columns(pl.lit(float(twin.get("length_of_stay_hours") or 0.0)).alias("length_of_stay_hours"))
        features = twin_features(
            row.cast({"service": pl.String, "unit": pl.String, "acuity_band": pl.String}), kinds
        )
        return model.remaining_stay_quantiles(features, now, quantiles=quantiles)[0]

    return remaining_stay
