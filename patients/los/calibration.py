"""Calibration of the discharge probabilities on held-out readings: reliability table and Brier score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from patients.los.model import LOS_FEATURES_SCHEMA, LengthOfStayModel

CALIBRATION_SCHEMA: dict[str, pl.DataType] = {
    "within_hours": pl.Int32(),  # 24 or 48
    "bin": pl.Int32(),  # 0..bins-1 over predicted probability
    "readings": pl.Int64(),
    "mean_predicted": pl.Float64(),
    "observed_share": pl.Float64(),
}
"""Reliability table: one row per horizon and predicted-probability bin holding readings."""


@dataclass(frozen=True)
class Calibration:
    """Reliability table and Brier scores on held-out readings.

    Attributes
    ----------
    table
        :data:`CALIBRATION_SCHEMA`.
    brier
        Brier score of the model by horizon [h].
    brier_base_rate
        Brier score of the no-skill forecast (the training base rate) by horizon.
    readings
        Held-out readings scored.
    """

    table: pl.DataFrame
    brier: dict[int, float]
    brier_base_rate: dict[int, float]
    readings: int

    def skill(self, within_hours: int) -> float:
        """Brier skill score ``1 - brier / brier_base_rate`` (above 0: better than no skill)."""
        return 1.0 - self.brier[within_hours] / self.brier_base_rate[within_hours]


def calibration(model: LengthOfStayModel, readings: pl.DataFrame, bins: int = 10) -> Calibration:
    """Score the model's P(discharge within 24 h / 48 h) on held-out readings.

    Parameters
    ----------
    model
        Fitted on history before the readings.
    readings
        From :func:`patients.los.daily_readings` over the held-out period.
    bins
        Equal-width bins of predicted probability.

    Returns
    -------
    Calibration
    """
    if readings.height == 0:
        raise ValueError("readings: no held-out reading to score")
    predicted = np.empty((readings.height, 2))
    for (moment,), rows in readings.with_row_index("_row").group_by(["at"]):
        index = rows["_row"].to_numpy()
        predicted[index] = model.discharge_within(
            rows.select(list(LOS_FEATURES_SCHEMA)), moment, (24.0, 48.0)
        )
    tables = []
    brier: dict[int, float] = {}
    base: dict[int, float] = {}
    for column, (hours, rate) in enumerate(((24, model.base_rate_24h), (48, model.base_rate_48h))):
        outcome = readings[f"discharged_{hours}h"].to_numpy().astype(np.float64)
        p = predicted[:, column]
        brier[hours] = float(np.mean((p - outcome) ** 2))
        base[hours] = float(np.mean((rate - outcome) ** 2))
        bin_of = np.minimum((p * bins).astype(np.int64), bins - 1)
        tables.append(
            pl.DataFrame({"bin": bin_of, "p": p, "y": outcome})
            .group_by("bin")
            .agg(
                pl.len().alias("readings"),
                pl.col("p").mean().alias("mean_predicted"),
                pl.col("y").mean().alias("observed_share"),
            )
            .with_columns(pl.lit(hours).alias("within_hours"))
        )
    table = pl.concat(tables).select(list(CALIBRATION_SCHEMA)).cast(pl.Schema(CALIBRATION_SCHEMA))
    return Calibration(table.sort(["within_hours", "bin"]), brier, base, readings.height)
