"""The synthetic history as canonical patient events (:data:`patients.events.EVENT_SCHEMA`).

One ED attendance and the admission it leads to share an encounter. Its events are:

- ``register`` at arrival in the ED (payload: triage category);
- ``discharge`` from the ED when the patient goes home from there; or
- ``admit`` into the first unit when the patient leaves the ED for a bed (elective patients are admitted
  at the start of their operation), ``transfer`` at the start of every later unit stay, ``discharge`` at
  the end of the last one (payloads of admit and transfer: the acuity band in the new unit);
- ``observation`` for each set of vital signs (payload: the seven NEWS2 parameters).

Event ids are deterministic (``syn-<kind>-<encounter>[-<n>]``) so that loading the same history twice into
the event store adds nothing; ``source`` is ``synthetic``.
"""

from __future__ import annotations

import polars as pl

from patients.events import EVENT_SCHEMA, EventKind

SOURCE = "synthetic"
"""The ``source`` of every synthetic event."""

_KIND_ORDER = {
    EventKind.REGISTER.value: 0,
    EventKind.ADMIT.value: 1,
    EventKind.TRANSFER.value: 2,
    EventKind.OBSERVATION.value: 3,
    EventKind.DISCHARGE.value: 4,
}


def _finish(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.with_columns(pl.lit(SOURCE).alias("source"))
        .select(list(EVENT_SCHEMA))
        .cast(pl.Schema(EVENT_SCHEMA))
    )


def history_events(
    ed_attendances: pl.DataFrame,
    admissions: pl.DataFrame,
    unit_stays: pl.DataFrame,
    observations: pl.DataFrame,
    observation_beds: pl.Series,
    ed_unit: str,
) -> pl.DataFrame:
    """Turn the history's frames into one events frame with :data:`~patients.events.EVENT_SCHEMA`.

    Parameters
    ----------
    ed_attendances, admissions, unit_stays, observations
        The history's frames.
    observation_beds
        Bed of each observation (aligned with ``observations``).
    ed_unit
        Unit id of the ED.

    Returns
    -------
    polars.DataFrame
        Sorted by time, then register / admit / transfer / observation / discharge (ties keep the
        order of the frames, which is deterministic).
    """
    registers = ed_attendances.select(
        pl.concat_str(pl.lit("syn-reg-"), "encounter_id").alias("event_id"),
        pl.lit(EventKind.REGISTER.value).alias("kind"),
        pl.col("arrived_at").alias("occurred_at"),
        "patient_key",
        "encounter_id",
        pl.lit(ed_unit).alias("unit"),
        pl.lit(None, dtype=pl.String).alias("bed"),
        pl.lit(None, dtype=pl.String).alias("service"),
        pl.lit(None, dtype=pl.String).alias("admission_type"),
        pl.concat_str(
            pl.lit('{"triage_category": '), pl.col("triage_category").cast(pl.String), pl.lit("}")
        ).alias("payload"),
    )
    sent_home = ed_attendances.filter(
        (pl.col("disposition") == "discharged") & pl.col("departed_at").is_not_null()
    ).select(
        pl.concat_str(pl.lit("syn-dis-"), "encounter_id").alias("event_id"),
        pl.lit(EventKind.DISCHARGE.value).alias("kind"),
        pl.col("departed_at").alias("occurred_at"),
        "patient_key",
        "encounter_id",
        pl.lit(ed_unit).alias("unit"),
        pl.lit(None, dtype=pl.String).alias("bed"),
        pl.lit(None, dtype=pl.String).alias("service"),
        pl.lit(None, dtype=pl.String).alias("admission_type"),
        pl.lit("{}").alias("payload"),
    )
    stays = unit_stays.join(
        admissions.select("encounter_id", "patient_key", "admission_type", "discharged_at"),
        on="encounter_id",
        how="left",
    )
    moves = stays.select(
        pl.when(pl.col("stay_index") == 0)
        .then(pl.concat_str(pl.lit("syn-adm-"), "encounter_id"))
        .otherwise(
            pl.concat_str(
                pl.lit("syn-trf-"), "encounter_id", pl.lit("-"), pl.col("stay_index").cast(pl.String)
            )
        )
        .alias("event_id"),
        pl.when(pl.col("stay_index") == 0)
        .then(pl.lit(EventKind.ADMIT.value))
        .otherwise(pl.lit(EventKind.TRANSFER.value))
        .alias("kind"),
        pl.col("started_at").alias("occurred_at"),
        "patient_key",
        "encounter_id",
        "unit",
        "bed",
        "service",
        "admission_type",
        pl.concat_str(pl.lit('{"acuity": "'), "acuity", pl.lit('"}')).alias("payload"),
    )
    last_stay = pl.col("stay_index") == pl.col("stay_index").max().over("encounter_id")
    discharges = stays.filter(pl.col("discharged_at").is_not_null() & last_stay).select(
        pl.concat_str(pl.lit("syn-dis-"), "encounter_id").alias("event_id"),
        pl.lit(EventKind.DISCHARGE.value).alias("kind"),
        pl.col("discharged_at").alias("occurred_at"),
        "patient_key",
        "encounter_id",
        "unit",
        "bed",
        "service",
        "admission_type",
        pl.lit("{}").alias("payload"),
    )
    patients = admissions.select("encounter_id", "patient_key", "service", "admission_type")
    measured = (
        observations.with_columns(observation_beds.alias("bed"))
        .join(patients, on="encounter_id", how="left")
        .select(
            pl.col("observation_id").alias("event_id"),
            pl.lit(EventKind.OBSERVATION.value).alias("kind"),
            pl.col("observed_at").alias("occurred_at"),
            "patient_key",
            "encounter_id",
            "unit",
            "bed",
            "service",
            "admission_type",
            observation_payload().alias("payload"),
        )
    )
    events = pl.concat([_finish(part) for part in (registers, sent_home, moves, discharges, measured)])
    return (
        events.with_columns(pl.col("kind").replace_strict(_KIND_ORDER, return_dtype=pl.Int8).alias("_order"))
        .sort(["occurred_at", "_order"], maintain_order=True)
        .drop("_order")
    )


def observation_payload() -> pl.Expr:
    """JSON text of an observation's vital signs, as ``json.dumps(payload, sort_keys=True)`` writes it."""
    return pl.concat_str(
        pl.lit('{"consciousness": "'),
        pl.col("consciousness"),
        pl.lit('", "heart_rate": '),
        pl.col("heart_rate").cast(pl.String),
        pl.lit(', "on_oxygen": '),
        pl.when(pl.col("on_oxygen")).then(pl.lit("true")).otherwise(pl.lit("false")),
        pl.lit(', "respiration_rate": '),
        pl.col("respiration_rate").cast(pl.String),
        pl.lit(', "spo2": '),
        pl.col("spo2").cast(pl.String),
        pl.lit(', "systolic_bp": '),
        pl.col("systolic_bp").cast(pl.String),
        pl.lit(', "temperature_c": '),
        pl.col("temperature_c").cast(pl.String),
        pl.lit("}"),
    )
