"""Remaining length of stay of the patients in hospital: a discrete-time hazard GLM fitted on history.

- :func:`segments_from_events` cuts a history of events into unit segments (:data:`SEGMENTS_SCHEMA`);
- :func:`fit_length_of_stay` fits the hazard model (:class:`LengthOfStayModel`);
- :func:`twin_features` turns twins into the model's input; :func:`discharge_probabilities` gives each
  twin its probability of discharge within 24 h and 48 h, :func:`remaining_stay_function` its own
  remaining-stay distribution for the hospital model's warm start;
- :func:`calibration` checks the probabilities on held-out readings (reliability table, Brier score).
"""

from patients.los.calibration import CALIBRATION_SCHEMA, Calibration, calibration
from patients.los.model import (
    LOS_FEATURES_SCHEMA,
    PERIOD_HOURS,
    LengthOfStayModel,
    daily_readings,
    fit_length_of_stay,
    person_periods,
)
from patients.los.segments import SEGMENTS_SCHEMA, THREE_BANDS, segments_from_events, unit_kinds
from patients.los.twins import (
    DISCHARGE_PROBABILITIES_SCHEMA,
    MIN_DISCHARGE_WITHIN_14_DAYS,
    discharge_probabilities,
    foreseeable_discharge,
    remaining_stay_function,
    twin_features,
)

__all__ = [
    "CALIBRATION_SCHEMA",
    "DISCHARGE_PROBABILITIES_SCHEMA",
    "LOS_FEATURES_SCHEMA",
    "MIN_DISCHARGE_WITHIN_14_DAYS",
    "PERIOD_HOURS",
    "SEGMENTS_SCHEMA",
    "THREE_BANDS",
    "Calibration",
    "LengthOfStayModel",
    "calibration",
    "daily_readings",
    "discharge_probabilities",
    "fit_length_of_stay",
    "foreseeable_discharge",
    "person_periods",
    "remaining_stay_function",
    "segments_from_events",
    "twin_features",
    "unit_kinds",
]
