"""Synthetic hospital history: patient-level records of a scenario's hospital, from a seed.

:func:`generate_history` turns a :class:`~scenarios.schema.Scenario` into ED attendances, admissions, unit
stays, elective surgical cases, vital-sign observations and the same history as canonical patient events;
:mod:`patients.synthetic.calibration` fits lengths of stay to the MIMIC-IV demo transfers.
"""

from patients.synthetic.admissions import ADMISSIONS_SCHEMA, UNIT_STAYS_SCHEMA
from patients.synthetic.emergency_department import ED_ATTENDANCES_SCHEMA
from patients.synthetic.history import (
    HISTORY_SCHEMAS,
    History,
    HistoryCancelled,
    HistoryProgress,
    generate_history,
    read_parquet,
)
from patients.synthetic.theatres import SURGICAL_CASES_SCHEMA
from patients.synthetic.vital_signs import OBSERVATIONS_SCHEMA

__all__ = [
    "ADMISSIONS_SCHEMA",
    "ED_ATTENDANCES_SCHEMA",
    "HISTORY_SCHEMAS",
    "OBSERVATIONS_SCHEMA",
    "SURGICAL_CASES_SCHEMA",
    "UNIT_STAYS_SCHEMA",
    "History",
    "HistoryCancelled",
    "HistoryProgress",
    "generate_history",
    "read_parquet",
]
