"""The canonical patient event: what every feed (HL7 v2, FHIR R4, synthetic history) is turned into.

The event store keeps these rows append-only; ``event_id`` is the source message id (for HL7 v2 the
sender and its control id, ``hl7:<MSH-3>^<MSH-4>:<MSH-10>``; the resource id + version for FHIR; a
deterministic id for synthetic history), unique in the store so a replayed message is harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import polars as pl


class EventKind(StrEnum):
    """What happened to the patient, in ADT terms."""

    ADMIT = "admit"  # HL7 A01, FHIR Encounter in-progress (inpatient)
    TRANSFER = "transfer"  # HL7 A02, FHIR Encounter location change
    DISCHARGE = "discharge"  # HL7 A03, FHIR Encounter finished
    REGISTER = "register"  # HL7 A04 (ED / outpatient registration)
    UPDATE = "update"  # HL7 A08 (demographics or visit update)
    CANCEL_ADMIT = "cancel_admit"  # HL7 A11
    CANCEL_TRANSFER = "cancel_transfer"  # HL7 A12
    CANCEL_DISCHARGE = "cancel_discharge"  # HL7 A13
    OBSERVATION = "observation"  # vital signs (HL7 ORU / FHIR Observation)


class AdmissionType(StrEnum):
    """How the stay began."""

    EMERGENCY = "emergency"
    ELECTIVE = "elective"


@dataclass(frozen=True, slots=True)
class PatientEvent:
    """One event about one patient's stay.

    Attributes
    ----------
    event_id
        Source message id; unique in the store (idempotency key).
    source
        Feed it came from: ``hl7``, ``fhir`` or ``synthetic``.
    kind
        What happened.
    occurred_at
        When it happened [UTC, timezone-aware].
    patient_key
        Salted hash of the MRN; the event never carries a direct identifier.
    encounter_id
        The stay (visit number / Encounter id); pseudonymised like the patient.
    unit, bed
        Where the patient is after the event (``None`` when the event does not say).
    service
        Specialty responsible for the stay, as declared in the scenario.
    admission_type
        Emergency or elective, when known.
    payload
        Extra fields by kind, e.g. vital signs for an observation:
        ``{"respiration_rate": 18, "spo2": 96, ...}``.
    """

    event_id: str
    source: str
    kind: EventKind
    occurred_at: datetime
    patient_key: str
    encounter_id: str
    unit: str | None = None
    bed: str | None = None
    service: str | None = None
    admission_type: AdmissionType | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.event_id:
            raise ValueError("event_id must not be empty")
        if self.occurred_at.tzinfo is None:
            raise ValueError(f"event {self.event_id}: occurred_at must be timezone-aware (UTC)")
        if self.occurred_at.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))


EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "source": pl.String(),
    "kind": pl.String(),
    "occurred_at": pl.Datetime("us", "UTC"),
    "patient_key": pl.String(),
    "encounter_id": pl.String(),
    "unit": pl.String(),
    "bed": pl.String(),
    "service": pl.String(),
    "admission_type": pl.String(),
    "payload": pl.String(),  # JSON text
}
"""Schema of an events frame (one row per :class:`PatientEvent`); ``payload`` is JSON text."""


def events_to_frame(events: list[PatientEvent]) -> pl.DataFrame:
    """Turn events into a frame with :data:`EVENT_SCHEMA`."""
    rows = {
        "event_id": [e.event_id for e in events],
        "source": [e.source for e in events],
        "kind": [e.kind.value for e in events],
        "occurred_at": [e.occurred_at for e in events],
        "patient_key": [e.patient_key for e in events],
        "encounter_id": [e.encounter_id for e in events],
        "unit": [e.unit for e in events],
        "bed": [e.bed for e in events],
        "service": [e.service for e in events],
        "admission_type": [e.admission_type.value if e.admission_type else None for e in events],
        "payload": [json.dumps(e.payload, sort_keys=True) for e in events],
    }
    return pl.DataFrame(rows, schema=EVENT_SCHEMA)


def frame_to_events(frame: pl.DataFrame) -> list[PatientEvent]:
    """Inverse of :func:`events_to_frame`."""
    out: list[PatientEvent] = []
    for row in frame.select(list(EVENT_SCHEMA)).iter_rows(named=True):
        out.append(
            PatientEvent(
                event_id=row["event_id"],
                source=row["source"],
                kind=EventKind(row["kind"]),
                occurred_at=row["occurred_at"],
                patient_key=row["patient_key"],
                encounter_id=row["encounter_id"],
                unit=row["unit"],
                bed=row["bed"],
                service=row["service"],
                admission_type=AdmissionType(row["admission_type"]) if row["admission_type"] else None,
                payload=json.loads(row["payload"]) if row["payload"] else {},
            )
        )
    return out
