"""Unit segments: the stays of a history cut at every move, the raw material of the stay models.

A segment is the time one encounter spends in one unit, from the event that put it there (register,
admit, transfer) to the next ADT event of the encounter (a transfer, the admission, the discharge), or
open (null ``ended_at``) when the history ends first.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from patients.events import EventKind
from scenarios.schema import Scenario, UnitKind

SEGMENTS_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "segment": pl.Int32(),  # 0, 1, ... in time order within the encounter
    "status": pl.String(),  # "registered" (ED, not admitted) or "admitted"
    "unit": pl.String(),
    "unit_kind": pl.String(),  # UnitKind value ("ward" for a unit the scenario does not declare)
    "service": pl.String(),  # the encounter's service (null when never given, e.g. an ED attendance)
    "acuity_band": pl.String(),  # low / medium / high
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),  # null: still there when the history ends
    "next_unit": pl.String(),  # unit moved to; null when the segment ends the stay (or is open)
    "admitted_at": pl.Datetime("us", "UTC"),  # the encounter's admission; null for an ED attendance
    "discharged_at": pl.Datetime("us", "UTC"),  # the encounter's discharge; null while in hospital
}
"""One row per encounter and unit stay, see the module docstring."""

THREE_BANDS: dict[str, str] = {"low": "low", "low_medium": "medium", "medium": "medium", "high": "high"}
"""NEWS2 band (four levels) to the census bands of :data:`patients.census.ACUITY_BANDS` (three)."""

_MOVES = (EventKind.REGISTER.value, EventKind.ADMIT.value, EventKind.TRANSFER.value)
_ORDER = {
    EventKind.REGISTER.value: 0,
    EventKind.ADMIT.value: 1,
    EventKind.TRANSFER.value: 2,
    EventKind.DISCHARGE.value: 3,
}


def unit_kinds(scenario: Scenario) -> dict[str, str]:
    """Unit id to :class:`~scenarios.schema.UnitKind` value for every unit of the scenario."""
    return {unit.id: UnitKind(unit.kind).value for unit in scenario.hospital.units}


def segments_from_events(events: pl.DataFrame, scenario: Scenario) -> pl.DataFrame:
    """Cut a history of events into unit segments.

    Only register, admit, transfer and discharge events are read; observations are ignored and the
    acuity of a segment is the ``acuity`` its opening event's payload carries (the synthetic history
    does; an HL7 feed does not, and its segments count as ``low``). Cancellations in history are not
    undone here: they are rare in a history extract and only shift a segment's end.

    Parameters
    ----------
    events
        Events with :data:`patients.events.EVENT_SCHEMA`.
    scenario
        Gives each unit its kind.

    Returns
    -------
    polars.DataFrame
        :data:`SEGMENTS_SCHEMA`, sorted by encounter and segment.
    """
    kinds = unit_kinds(scenario)
    adt = (
        events.filter(pl.col("kind").is_in([*_MOVES, EventKind.DISCHARGE.value]))
        .select("encounter_id", "kind", "occurred_at", "unit", "service", "payload")
        .with_columns(pl.col("kind").replace_strict(_ORDER, return_dtype=pl.Int8).alias("_order"))
        .sort(["encounter_id", "occurred_at", "_order"])
    )
    per_encounter = adt.group_by("encounter_id").agg(
        pl.col("occurred_at").filter(pl.col("kind") == EventKind.ADMIT.value).min().alias("admitted_at"),
        pl.col("occurred_at")
        .filter(pl.col("kind") == EventKind.DISCHARGE.value)
        .max()
        .alias("discharged_at"),
        pl.col("service").drop_nulls().last().alias("service"),
    )
    moves = (
        adt.with_columns(
            pl.col("occurred_at").shift(-1).over("encounter_id").alias("ended_at"),
            pl.col("kind").shift(-1).over("encounter_id").alias("_next_kind"),
            pl.col("unit").shift(-1).over("encounter_id").alias("_next_unit"),
        )
        .filter(pl.col("kind").is_in(_MOVES) & pl.col("unit").is_not_null())
        .drop("service")
        .join(per_encounter, on="encounter_id", how="left")
    )
    acuity = pl.col("payload").str.json_path_match("$.acuity")
    frame = moves.select(
        "encounter_id",
        pl.int_range(pl.len()).over("encounter_id").cast(pl.Int32).alias("segment"),
        pl.when(pl.col("admitted_at").is_not_null() & (pl.col("occurred_at") >= pl.col("admitted_at")))
        .then(pl.lit("admitted"))
        .otherwise(pl.lit("registered"))
        .alias("status"),
        "unit",
        pl.col("unit")
        .replace_strict(kinds, default=UnitKind.WARD.value, return_dtype=pl.String)
        .alias("unit_kind"),
        "service",
        acuity.replace_strict(THREE_BANDS, default="low", return_dtype=pl.String)
        .fill_null("low")
        .alias("acuity_band"),
        pl.col("occurred_at").alias("started_at"),
        "ended_at",
        pl.when(pl.col("_next_kind").is_in(_MOVES) & (pl.col("_next_unit") != pl.col("unit")))
        .then(pl.col("_next_unit"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("next_unit"),
        "admitted_at",
        "discharged_at",
    )
    return frame.cast(pl.Schema(SEGMENTS_SCHEMA)).sort(["encounter_id", "segment"])


def complete_from(segments: pl.DataFrame) -> datetime | None:
    """When the history's record of new encounters becomes complete [UTC, midnight].

    An extract taken from a running hospital also holds the stays that were open when it began, with
    their earlier records: before that day, only the long stays are there (length-biased). This is the
    first day on which the number of new encounters reaches half that of a busy day (the
    90th percentile of the daily numbers).

    Returns
    -------
    datetime or None
        ``None`` for an empty history.
    """
    starts = segments.filter(pl.col("segment") == 0).select(
        pl.col("started_at").dt.truncate("1d").alias("day")
    )
    if starts.height == 0:
        return None
    daily = starts.group_by("day").len().sort("day")
    busy = float(daily["len"].quantile(0.9) or 0.0)  # a busy day (the median may still be warm-up)
    enough = daily.filter(pl.col("len") >= 0.5 * busy)
    first = enough["day"][0]
    assert isinstance(first, datetime)
    return first
