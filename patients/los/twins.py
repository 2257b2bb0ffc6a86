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
    model: LengthOfStayModel,
    scenario: Scenario,
    now: datetime,
    *,
    quantiles: int = 50,
    twins: pl.DataFrame | None = None,
) -> Callable[[Mapping[str, Any]], NDArray[np.float64] | None]:
    """Give each twin its own remaining-stay distribution, in the form the hospital model's warm start takes.

    The distribution is of the time left until the twin leaves the **hospital** (the stay model's
    outcome is the discharge), whatever unit it is in now.

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
    twins
        The twins the function will be asked about (:data:`patients.twin.TWIN_SCHEMA`): their
        distributions are then computed at once, by encounter id (others are still computed one by one).

    Returns
    -------
    callable
        Takes a twin (a row of :data:`patients.twin.TWIN_SCHEMA` as a dict) and returns its remaining-stay
        quantiles [hours] at ``(i + 0.5) / quantiles`` (``ops.sim.distributions.RemainingStay``), or
        ``None`` for a twin that is not admitted, or whose discharge the model cannot foresee from the
        unit it is in (:func:`foreseeable_discharge`, e.g. intensive care): the hospital model then uses
        the scenario's stays along the twin's route.

    Examples
    --------
    >>> remaining = remaining_stay_function(model, scenario, now)  # doctest: +SKIP
    >>> start_state_from_twins(scenario, twins, now, remaining_stay=remaining)  # doctest: +SKIP
    """
    kinds = unit_kinds(scenario)
    known: dict[str, NDArray[np.float64] | None] = {}

    def distributions(features: pl.DataFrame) -> list[NDArray[np.float64] | None]:
        table = model.remaining_stay_quantiles(features, now, quantiles=quantiles)
        foreseeable = foreseeable_discharge(model, features, now)
        return [row if ok else None for row, ok in zip(table, foreseeable, strict=True)]

    if twins is not None:
        admitted = twins.filter(pl.col("status") == "admitted")
        if admitted.height:
            values = distributions(twin_features(admitted, kinds))
            known = dict(zip(admitted["encounter_id"].to_list(), values, strict=True))

    def remaining_stay(twin: Mapping[str, Any]) -> NDArray[np.float64] | None:
        if twin.get("status") != "admitted":
            return None
        if twin.get("encounter_id") in known:
            return known[twin["encounter_id"]]
        row = pl.DataFrame(
            [{name: twin.get(name) for name in ("service", "unit", "acuity_band")}]
        ).with_columns(pl.lit(float(twin.get("length_of_stay_hours") or 0.0)).alias("length_of_stay_hours"))
        features = twin_features(
            row.cast({"service": pl.String, "unit": pl.String, "acuity_band": pl.String}), kinds
        )
        return distributions(features)[0]

    return remaining_stay


MIN_DISCHARGE_WITHIN_14_DAYS = 0.05
"""Below this probability of discharge within 14 days the stay model cannot foresee a twin's discharge."""


def foreseeable_discharge(
    model: LengthOfStayModel, features: pl.DataFrame, now: datetime
) -> NDArray[np.bool_]:
    """Whether the stay model can foresee each stay's discharge from where it is now.

    The hazard holds the unit and acuity at their current values, so in a unit that (almost) never
    discharges anyone home, such as intensive care, the remaining stay it gives is endless: the patient
    will leave through a transfer the model does not see. Such a stay has a probability of discharge
    within 14 days below :data:`MIN_DISCHARGE_WITHIN_14_DAYS`; its remaining stay must come from its route
    (the hospital model's pathway steps, the census Monte Carlo's unit stays) instead.

    Parameters
    ----------
    model
        A fitted stay model.
    features
        :data:`~patients.los.LOS_FEATURES_SCHEMA` rows.
    now
        Reading time [UTC, timezone-aware].
    """
    if features.height == 0:
        return np.zeros(0, dtype=bool)
    within = model.discharge_within(features, now, (14 * 24.0,))[:, 0]
    return np.asarray(within >= MIN_DISCHARGE_WITHIN_14_DAYS, dtype=bool)
