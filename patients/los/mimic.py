"""MIMIC-IV (demo) admissions as unit segments, to check the stay model on real stays.

Used by tests and benchmarks only (the data lives in ``../shared/data``, never in the product). MIMIC
shifts every patient's dates by its own offset, so a held-out set is split by admission, not by time.
MIMIC carries no NEWS2 here: every segment counts as ``low`` acuity; services are MIMIC's
(``MED``, ``SURG``, ``CMED``...), the first one of the admission.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from patients.los.segments import SEGMENTS_SCHEMA
from patients.synthetic.calibration import read_mimic_unit_stays


def mimic_segments(folder: str | Path) -> pl.DataFrame:
    """Unit segments of the MIMIC-IV demo admissions (:data:`patients.los.SEGMENTS_SCHEMA`).

    Parameters
    ----------
    folder
        Folder holding ``admissions.csv.gz``, ``transfers.csv.gz`` and ``services.csv.gz``.

    Returns
    -------
    polars.DataFrame
        One row per care-unit stay inside an admission; segments before the admission time (the ED)
        have status ``registered``.
    """
    source = Path(folder)
    admissions = pl.read_csv(source / "admissions.csv.gz", try_parse_dates=True).select(
        pl.col("hadm_id").cast(pl.Int64),
        pl.col("admittime").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("admitted_at"),
        pl.col("dischtime").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("discharged_at"),
    )
    services = (
        pl.read_csv(source / "services.csv.gz", try_parse_dates=True)
        .sort(["hadm_id", "transfertime"])
        .group_by("hadm_id")
        .agg(pl.col("curr_service").first().alias("service"))
    )
    stays = (
        read_mimic_unit_stays(source)
        .join(admissions, on="hadm_id", how="inner")
        .join(services, on="hadm_id", how="left")
        .sort(["hadm_id", "intime"])
    )
    frame = stays.select(
        pl.col("hadm_id").cast(pl.String).alias("encounter_id"),
        pl.int_range(pl.len()).over("hadm_id").cast(pl.Int32).alias("segment"),
        pl.when(pl.col("intime").dt.replace_time_zone("UTC") >= pl.col("admitted_at"))
        .then(pl.lit("admitted"))
        .otherwise(pl.lit("registered"))
        .alias("status"),
        pl.col("careunit").alias("unit"),
        "unit_kind",
        "service",
        pl.lit("low").alias("acuity_band"),
        pl.col("intime").dt.replace_time_zone("UTC").alias("started_at"),
        pl.col("outtime").dt.replace_time_zone("UTC").alias("ended_at"),
        pl.col("careunit").shift(-1).over("hadm_id").alias("next_unit"),
        "admitted_at",
        "discharged_at",
    )
    return frame.cast(pl.Schema(SEGMENTS_SCHEMA))
