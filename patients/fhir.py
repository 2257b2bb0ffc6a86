"""FHIR R4B bundles and resources turned into :class:`~patients.events.PatientEvent` s.

Resources read (validated with ``fhir.resources.R4B``):

- ``Encounter``: each version is a snapshot of the stay and becomes one event:

  ==========================  ===========================================================  =================
  status                      event kind                                                   time
  ==========================  ===========================================================  =================
  planned, unknown            none
  arrived, triaged            register                                                     period.start
  in-progress, inpatient      admit, or transfer once a location since admission is         class start /
  class (IMP, ACUTE, NONAC)   completed                                                    location start
  in-progress, other class    register, or transfer once a location is completed            period.start /
                                                                                           location start
  onleave                     update                                                       meta.lastUpdated
  finished                    discharge                                                    period.end
  cancelled, entered-in-error cancel_admit                                                 meta.lastUpdated
  ==========================  ===========================================================  =================

  When an emergency encounter becomes inpatient (``classHistory``), the admission time is the start of
  the inpatient class period. ``serviceType`` gives the service and ``priority`` (v3 ActPriority) the
  admission type.
- ``Observation`` (status final, amended, corrected or preliminary): NEWS2 vital signs by LOINC or
  SNOMED CT code, alone or as components of a panel; becomes one ``observation`` event at its effective
  time.
- ``Patient`` and ``Location``: never events themselves; they resolve references in the same bundle. The
  patient key is the salted MRN (``Patient.identifier`` of type ``MR``, else its first identifier), so
  HL7 v2 and FHIR feeds agree; a subject that cannot be resolved to an identifier falls back to a key of
  the reference itself (consistent within the FHIR feed only). A ``Location`` chain (bed, room, ward via
  ``partOf``) gives the unit (the ward, from its first identifier, else its id) and the bed (``room-bed``,
  as for HL7 v2).

The stay key is the salted visit number (``Encounter.identifier`` of type ``VN``), else the encounter id.
Event ids are ``Encounter/<stay key>/_history/<versionId>`` and ``Observation/<key>/_history/<versionId>``
(pseudonymised, since a FHIR id may be a visit number); a resource without ``meta.versionId`` gets a
deterministic id from its kind and time so that a re-sent snapshot is recognised as a duplicate.

Errors name the element path from the outermost resource, e.g. ``Bundle.entry[2].resource.status``, and
say what form was expected; they never repeat the value found there (it may be a name, an identifier or a
date from a patient's record), so an error can be returned to the sender and logged safely.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.encounter import Encounter, EncounterLocation
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from patients.errors import FHIRParseError
from patients.events import AdmissionType, EventKind, PatientEvent
from patients.identity import encounter_key, patient_key, resolve_salt, resource_key
from patients.news2 import (
    LOINC_SYSTEM,
    OXYGEN_FINDING_CODES,
    SNOMED_SYSTEM,
    VITAL_SIGN_LOINC,
    VITAL_SIGN_SNOMED,
    consciousness_from_answer,
)

SOURCE = "fhir"
"""Value of :attr:`PatientEvent.source` for events from this module."""

RESOURCE_MODELS: dict[str, type[Resource]] = {
    "Encounter": Encounter,
    "Patient": Patient,
    "Observation": Observation,
    "Location": Location,
}
"""Resource types we read; other resources in a bundle are skipped."""

INPATIENT_CLASSES = frozenset({"IMP", "ACUTE", "NONAC"})
"""v3 ActCode encounter classes that count as an inpatient admission."""

PRIORITY_ADMISSION_TYPES: dict[str, AdmissionType] = {
    "EM": AdmissionType.EMERGENCY,
    "UR": AdmissionType.EMERGENCY,
    "S": AdmissionType.EMERGENCY,  # stat
    "A": AdmissionType.EMERGENCY,  # as soon as possible
    "EL": AdmissionType.ELECTIVE,
    "R": AdmissionType.ELECTIVE,  # routine
    "P": AdmissionType.ELECTIVE,  # pre-operative
}
"""v3 ActPriority codes (``Encounter.priority``) mapped to :class:`AdmissionType`."""

_OBSERVATION_STATUSES = {"final", "amended", "corrected", "preliminary"}
_ENCOUNTER_STATUSES = {
    "planned",
    "arrived",
    "triaged",
    "in-progress",
    "onleave",
    "finished",
    "cancelled",
    "entered-in-error",
    "unknown",
}
_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
_FAHRENHEIT = {"[degF]", "degF", "°F"}
_MAX_LOCATION_DEPTH = 8
_LARGEST_VITAL_SIGN = Decimal(1_000_000)  # far above any plausible reading; keeps the arithmetic exact


@dataclass(frozen=True, slots=True)
class _Entry:
    """A validated resource and where it sits in the document."""

    path: str
    resource: Any
    full_url: str | None


@dataclass(slots=True)
class _Index:
    """Resources of the document by every name a reference may use."""

    by_reference: dict[str, _Entry] = field(default_factory=dict)

    def add(self, entry: _Entry) -> None:
        resource = entry.resource
        if entry.full_url:
            self.by_reference[entry.full_url] = entry
        if getattr(resource, "id", None):
            self.by_reference[f"{resource.get_resource_type()}/{resource.id}"] = entry

    def resolve(self, reference: Reference | None, resource_type: str) -> _Entry | None:
        if reference is None or not reference.reference:
            return None
        text = reference.reference
        found = self.by_reference.get(text)
        if found is None:
            found = self.by_reference.get(_relative_reference(text) or "")
        if found is None or found.resource.get_resource_type() != resource_type:
            return None
        return found


def _relative_reference(text: str) -> str | None:
    """``Type/id`` of a relative or absolute literal reference, without ``/_history/...``."""
    parts = text.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return None


def _pydantic_path(base: str, location: Iterable[Any]) -> str:
    path = base
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        else:
            path += f".{part}"
    return path


def _validate(model: type[Resource], data: Mapping[str, Any], path: str) -> Any:
    message_id = _message_id(data)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as problem:
        first = problem.errors()[0]
        reason = _without_value(str(first["msg"]).split("\n")[0].strip(), first.get("input"))
        raise FHIRParseError(_pydantic_path(path, first["loc"]), reason, message_id=message_id) from None
    except (KeyError, TypeError, ValueError, RecursionError) as problem:
        # fhir.resources raises these for unknown types; their text may quote the input, so only the kind
        raise FHIRParseError(
            path, f"invalid resource ({type(problem).__name__})", message_id=message_id
        ) from None


def _message_id(data: Mapping[str, Any]) -> str | None:
    """The resource's id when it is a FHIR id (text of at most 64 characters), for the error."""
    value = data.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _without_value(reason: str, value: Any) -> str:
    """The validator's reason with the offending value taken out, should the validator have quoted it."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 2 and text in reason:
            return reason.replace(text, "the value")
    return reason


def _load_document(document: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    try:
        loaded = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise FHIRParseError("(document)", f"not valid JSON ({problem})") from None
    if not isinstance(loaded, dict):
        raise FHIRParseError("(document)", "expected a JSON object (a FHIR resource or Bundle)")
    return loaded


def _entries(root: Mapping[str, Any]) -> list[_Entry]:
    resource_type = root.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise FHIRParseError("resourceType", "missing: not a FHIR resource")
    if resource_type != "Bundle":
        if resource_type not in RESOURCE_MODELS:
            known = ", ".join(["Bundle", *RESOURCE_MODELS])
            raise FHIRParseError("resourceType", f"this resource type is not supported (supported: {known})")
        return [_Entry(resource_type, _validate(RESOURCE_MODELS[resource_type], root, resource_type), None)]

    raw_entries = root.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FHIRParseError("Bundle.entry", "expected a list of entries")
    # Validate the bundle skeleton (type, fullUrl, request...) without the resources, which are validated
    # one by one below so that resource types we do not read are skipped rather than rejected.
    skeleton: list[Any] = []
    for number, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise FHIRParseError(f"Bundle.entry[{number}]", "expected an object")
        skeleton.append({key: value for key, value in raw.items() if key != "resource"})
    _validate(Bundle, {**root, "entry": skeleton or None}, "Bundle")

    entries: list[_Entry] = []
    for number, raw in enumerate(raw_entries):
        resource = raw.get("resource")
        path = f"Bundle.entry[{number}].resource"
        if resource is None:
            continue  # e.g. a DELETE in a transaction or history bundle
        if not isinstance(resource, dict):
            raise FHIRParseError(path, "expected a resource object")
        entry_type = resource.get("resourceType")
        if not isinstance(entry_type, str) or not entry_type:
            raise FHIRParseError(f"{path}.resourceType", "missing")
        if entry_type in RESOURCE_MODELS:
            model = _validate(RESOURCE_MODELS[entry_type], resource, path)
            entries.append(_Entry(path, model, raw.get("fullUrl")))
    return entries


def _codes(concept: CodeableConcept | None) -> list[tuple[str | None, str]]:
    if concept is None:
        return []
    return [(coding.system, coding.code) for coding in concept.coding or [] if coding.code]


def _first_code(concept: CodeableConcept | None) -> str | None:
    codes = _codes(concept)
    return codes[0][1] if codes else None


_MOMENT_FORM = "expected a date and time with a time zone, e.g. 2025-06-30T14:30:00+01:00"


def _moment(value: Any, path: str, message_id: str | None) -> datetime:
    """``value`` in UTC; an error naming ``path`` (never the value) when it is not an instant in range."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
            raise FHIRParseError(
                path,
                f"out of range: the moment falls outside years 1-9999 in UTC ({_MOMENT_FORM})",
                message_id=message_id,
            ) from None
    raise FHIRParseError(
        path, f"is not a date and time with a timezone ({_MOMENT_FORM})", message_id=message_id
    )


def _identifier_of_type(identifiers: Iterable[Any] | None, type_code: str) -> str | None:
    for identifier in identifiers or []:
        if not identifier.value:
            continue
        for system, code in _codes(identifier.type):
            if code == type_code and system in (None, _IDENTIFIER_TYPES):
                return str(identifier.value)
    return None


@dataclass(slots=True)
class _Reader:
    """Shared context while reading one document."""

    index: _Index
    salt: bytes
    unit_codes: Mapping[str, str] | None
    service_codes: Mapping[str, str] | None

    def translate(
        self, code: str, codes: Mapping[str, str] | None, path: str, what: str, entry_id: Any
    ) -> str:
        if codes is None:
            return code
        if code not in codes:
            known = ", ".join(sorted(codes))
            raise FHIRParseError(
                path, f"{what} code not known to the hospital (known: {known})", message_id=entry_id
            )
        return codes[code]

    def patient_key(self, subject: Reference | None, path: str, entry_id: str | None) -> str:
        if subject is None:
            raise FHIRParseError(
                f"{path}.subject", "missing: the event needs the patient", message_id=entry_id
            )
        if subject.identifier is not None and subject.identifier.value:
            return patient_key(str(subject.identifier.value), salt=self.salt)
        patient = self.index.resolve(subject, "Patient")
        if patient is not None:
            identifiers = patient.resource.identifier or []
            mrn = _identifier_of_type(identifiers, "MR") or next(
                (str(identifier.value) for identifier in identifiers if identifier.value), None
            )
            if mrn:
                return patient_key(mrn, salt=self.salt)
            if patient.resource.id:
                return resource_key("Patient", str(patient.resource.id), salt=self.salt)
        relative = _relative_reference(subject.reference or "")
        if relative is None or not relative.startswith("Patient/"):
            raise FHIRParseError(
                f"{path}.subject", "neither a Patient reference nor an identifier", message_id=entry_id
            )
        return resource_key("Patient", relative.removeprefix("Patient/"), salt=self.salt)

    def stay_key(self, encounter: Encounter, path: str) -> str:
        visit_number = _identifier_of_type(encounter.identifier, "VN")
        if visit_number:
            return encounter_key(visit_number, salt=self.salt)
        if not encounter.id:
            raise FHIRParseError(f"{path}.id", "missing: the encounter needs an id or a visit number")
        return encounter_key(str(encounter.id), salt=self.salt)

    def observation_stay_key(self, reference: Reference | None, path: str, entry_id: str | None) -> str:
        if reference is None:
            raise FHIRParseError(
                f"{path}.encounter", "missing: the observation needs its encounter", message_id=entry_id
            )
        if reference.identifier is not None and reference.identifier.value:
            return encounter_key(str(reference.identifier.value), salt=self.salt)
        found = self.index.resolve(reference, "Encounter")
        if found is not None:
            return self.stay_key(found.resource, found.path)
        relative = _relative_reference(reference.reference or "")
        if relative is None or not relative.startswith("Encounter/"):
            raise FHIRParseError(
                f"{path}.encounter", "neither an Encounter reference nor an identifier", message_id=entry_id
            )
        return encounter_key(relative.removeprefix("Encounter/"), salt=self.salt)

    def place(
        self, reference: Reference | None, path: str, entry_id: str | None
    ) -> tuple[str | None, str | None]:
        """Unit and bed label of a location reference, following ``partOf`` up to the ward."""
        if reference is None:
            return None, None
        found = self.index.resolve(reference, "Location")
        if found is None:
            code = (reference.identifier.value if reference.identifier is not None else None) or (
                (_relative_reference(reference.reference or "") or "").removeprefix("Location/") or None
            )
            if code is None:
                raise FHIRParseError(path, "the location reference names no Location", message_id=entry_id)
            return self.translate(str(code), self.unit_codes, path, "location", entry_id), None
        chain: list[Location] = [found.resource]
        while len(chain) < _MAX_LOCATION_DEPTH:
            parent = self.index.resolve(chain[-1].partOf, "Location")
            if parent is None or parent.resource in chain:
                break
            chain.append(parent.resource)
        kinds = [_first_code(location.physicalType) for location in chain]
        codes = [_location_code(location) for location in chain]
        bed = next((code for kind, code in zip(kinds, codes, strict=True) if kind == "bd"), None)
        room = next((code for kind, code in zip(kinds, codes, strict=True) if kind == "ro"), None)
        unit_at = next((i for i, kind in enumerate(kinds) if kind == "wa"), None)
        if unit_at is None:
            unit_at = next((i for i, kind in enumerate(kinds) if kind not in ("bd", "ro")), len(chain) - 1)
        unit = self.translate(codes[unit_at], self.unit_codes, path, "location", entry_id)
        bed_label = "-".join(part for part in (room, bed) if part) or None
        return unit, bed_label


def _location_code(location: Location) -> str:
    for identifier in location.identifier or []:
        if identifier.value:
            return str(identifier.value)
    return str(location.id)


def _active_location(encounter: Encounter) -> tuple[int, EncounterLocation] | None:
    """The most specific current location: active (or open-ended), beds before rooms before wards."""
    current = [
        (number, location)
        for number, location in enumerate(encounter.location or [])
        if location.status == "active"
        or (location.status is None and (location.period is None or location.period.end is None))
    ]
    if not current:
        return None
    rank = {"bd": 0, "ro": 1}
    return min(current, key=lambda item: (rank.get(_first_code(item[1].physicalType) or "", 2), -item[0]))


def _version(resource: Any, path: str) -> str | None:
    meta = resource.meta
    if meta is None:
        return None
    if meta.versionId:
        return str(meta.versionId)
    if isinstance(meta.lastUpdated, datetime):
        moment = _moment(meta.lastUpdated, f"{path}.meta.lastUpdated", getattr(resource, "id", None))
        return moment.strftime("%Y%m%dT%H%M%S%fZ")
    return None


def _encounter_event(entry: _Entry, reader: _Reader) -> PatientEvent | None:
    encounter: Encounter = entry.resource
    path = entry.path
    entry_id = encounter.id
    status = encounter.status
    if status not in _ENCOUNTER_STATUSES:
        expected = ", ".join(sorted(_ENCOUNTER_STATUSES))
        raise FHIRParseError(
            f"{path}.status", f"not an R4B encounter status (expected one of {expected})", message_id=entry_id
        )
    if status in ("planned", "unknown"):
        return None
    encounter_class = encounter.class_fhir.code if encounter.class_fhir is not None else None
    if not encounter_class:
        raise FHIRParseError(
            f"{path}.class.code", "missing: the encounter class is needed", message_id=entry_id
        )
    inpatient = encounter_class in INPATIENT_CLASSES
    period = encounter.period

    def period_start() -> datetime:
        if period is None or period.start is None:
            raise FHIRParseError(
                f"{path}.period.start", "missing: the stay needs its start", message_id=entry_id
            )
        return _moment(period.start, f"{path}.period.start", entry_id)

    def last_updated() -> datetime:
        if encounter.meta is not None and encounter.meta.lastUpdated is not None:
            return _moment(encounter.meta.lastUpdated, f"{path}.meta.lastUpdated", entry_id)
        if period is not None and (period.end or period.start):
            which = "end" if period.end else "start"
            return _moment(period.end or period.start, f"{path}.period.{which}", entry_id)
        raise FHIRParseError(
            f"{path}.meta.lastUpdated", "missing: no time for the event", message_id=entry_id
        )

    active = _active_location(encounter)
    completed = [
        (number, location)
        for number, location in enumerate(encounter.location or [])
        if location.status == "completed"
    ]
    kind: EventKind
    if status in ("arrived", "triaged"):
        kind, occurred_at = EventKind.REGISTER, period_start()
    elif status == "in-progress":
        since = _inpatient_since(encounter, path, period_start) if inpatient else period_start()
        moved = [
            (number, location)
            for number, location in completed
            if location.period is None
            or location.period.start is None
            or _moment(location.period.start, f"{path}.location[{number}].period.start", entry_id) >= since
        ]
        if not moved:
            kind, occurred_at = (EventKind.ADMIT if inpatient else EventKind.REGISTER), since
        else:
            kind = EventKind.TRANSFER
            if active is None:
                raise FHIRParseError(
                    f"{path}.location", "a transfer needs an active location", message_id=entry_id
                )
            number, location = active
            if location.period is None or location.period.start is None:
                raise FHIRParseError(
                    f"{path}.location[{number}].period.start",
                    "missing: the transfer needs the time the patient arrived",
                    message_id=entry_id,
                )
            occurred_at = _moment(location.period.start, f"{path}.location[{number}].period.start", entry_id)
        if kind is EventKind.ADMIT and active is None:
            raise FHIRParseError(
                f"{path}.location", "an inpatient admission needs an active location", message_id=entry_id
            )
    elif status == "onleave":
        kind, occurred_at = EventKind.UPDATE, last_updated()
    elif status == "finished":
        if period is None or period.end is None:
            raise FHIRParseError(
                f"{path}.period.end", "missing: a finished encounter needs its end", message_id=entry_id
            )
        kind, occurred_at = EventKind.DISCHARGE, _moment(period.end, f"{path}.period.end", entry_id)
    else:  # cancelled, entered-in-error
        kind, occurred_at = EventKind.CANCEL_ADMIT, last_updated()

    unit = bed = None
    if active is not None:
        number, location = active
        unit, bed = reader.place(location.location, f"{path}.location[{number}].location", entry_id)
    payload: dict[str, Any] = {"status": status, "encounter_class": encounter_class}
    if kind is EventKind.TRANSFER and completed:
        # Encounter.location lists where the patient has been in order; the last completed is the prior one.
        number, previous = completed[-1]
        prior_unit, prior_bed = reader.place(
            previous.location, f"{path}.location[{number}].location", entry_id
        )
        payload["prior_unit"] = prior_unit
        payload["prior_bed"] = prior_bed

    service_code = _first_code(encounter.serviceType)
    service = (
        reader.translate(service_code, reader.service_codes, f"{path}.serviceType", "service", entry_id)
        if service_code
        else None
    )
    priority = _first_code(encounter.priority)
    stay = reader.stay_key(encounter, path)
    version = _version(encounter, path)
    event_id = (
        f"Encounter/{stay}/_history/{version}"
        if version
        else f"Encounter/{stay}/{kind.value}@{occurred_at.strftime('%Y%m%dT%H%M%SZ')}"
    )
    return PatientEvent(
        event_id=event_id,
        source=SOURCE,
        kind=kind,
        occurred_at=occurred_at,
        patient_key=reader.patient_key(encounter.subject, path, entry_id),
        encounter_id=stay,
        unit=unit,
        bed=bed,
        service=service,
        admission_type=PRIORITY_ADMISSION_TYPES.get(priority or ""),
        payload=payload,
    )


def _inpatient_since(encounter: Encounter, path: str, period_start: Callable[[], datetime]) -> datetime:
    """Start of the inpatient part: the latest inpatient ``classHistory`` period, else the stay."""
    starts = [
        _moment(history.period.start, f"{path}.classHistory[{number}].period.start", encounter.id)
        for number, history in enumerate(encounter.classHistory or [])
        if history.class_fhir is not None
        and history.class_fhir.code in INPATIENT_CLASSES
        and history.period is not None
        and history.period.start is not None
    ]
    return max(starts) if starts else period_start()


def _vital_key(concept: CodeableConcept | None) -> str | None:
    for system, code in _codes(concept):
        if system == LOINC_SYSTEM and code in VITAL_SIGN_LOINC:
            return VITAL_SIGN_LOINC[code]
        if system == SNOMED_SYSTEM and code in VITAL_SIGN_SNOMED:
            return VITAL_SIGN_SNOMED[code]
    return None


def _vital_value(
    key: str, concept: CodeableConcept | None, holder: Any, path: str, entry_id: str | None
) -> Any:
    """The value of one vital sign from an Observation or one of its components; ``None`` when absent."""
    quantity = holder.valueQuantity
    if key == "consciousness":
        answers = [code for _, code in _codes(holder.valueCodeableConcept)]
        if holder.valueCodeableConcept is not None and holder.valueCodeableConcept.text:
            answers.append(holder.valueCodeableConcept.text)
        if holder.valueString:
            answers.append(holder.valueString)
        if not answers:
            return None
        for answer in answers:
            level = consciousness_from_answer(str(answer))
            if level is not None:
                return level.value
        raise FHIRParseError(
            f"{path}.valueCodeableConcept",
            "not an ACVPU answer (expected alert, new confusion, voice, pain or unresponsive, coded or text)",
            message_id=entry_id,
        )
    if key == "on_oxygen":
        if holder.valueBoolean is not None:
            return bool(holder.valueBoolean)
        for _, code in _codes(holder.valueCodeableConcept):
            if code in OXYGEN_FINDING_CODES:
                return OXYGEN_FINDING_CODES[code]
        if quantity is not None and quantity.value is not None:
            amount = Decimal(quantity.value)
            if any(code == "3150-0" for _, code in _codes(concept)):  # inhaled O2 concentration
                percent = amount * 100 if quantity.code != "%" and amount <= 1 else amount
                return bool(percent > 21)
            return bool(amount > 0)  # inhaled O2 flow rate [L/min]
        if holder.valueCodeableConcept is not None:
            raise FHIRParseError(
                f"{path}.valueCodeableConcept", "not an air-or-oxygen answer", message_id=entry_id
            )
        return None
    if quantity is None or quantity.value is None:
        if holder.valueInteger is not None:
            return int(holder.valueInteger)
        return None
    number = Decimal(quantity.value)
    if not number.is_finite() or abs(number) > _LARGEST_VITAL_SIGN:
        raise FHIRParseError(
            f"{path}.valueQuantity.value",
            f"out of range: a vital sign is a number below {_LARGEST_VITAL_SIGN:,}",
            message_id=entry_id,
        )
    if key == "temperature_c" and (quantity.code in _FAHRENHEIT or quantity.unit in _FAHRENHEIT):
        number = ((number - 32) * 5 / 9).quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN)
    return int(number) if number == number.to_integral_value() else float(number)


def _observation_event(entry: _Entry, reader: _Reader) -> PatientEvent | None:
    observation: Observation = entry.resource
    path = entry.path
    entry_id = observation.id
    if observation.status not in _OBSERVATION_STATUSES:
        return None
    vitals: dict[str, Any] = {}
    parts: list[tuple[CodeableConcept | None, Any, str]] = [(observation.code, observation, path)]
    parts += [
        (component.code, component, f"{path}.component[{number}]")
        for number, component in enumerate(observation.component or [])
    ]
    for concept, holder, holder_path in parts:
        key = _vital_key(concept)
        if key is None and any(code in OXYGEN_FINDING_CODES for _, code in _codes(concept)):
            # "Breathing room air" / "Patient on oxygen" recorded as the observation code itself.
            code = next(code for _, code in _codes(concept) if code in OXYGEN_FINDING_CODES)
            vitals["on_oxygen"] = OXYGEN_FINDING_CODES[code]
            continue
        if key is None and any(
            code in OXYGEN_FINDING_CODES for _, code in _codes(holder.valueCodeableConcept)
        ):
            key = "on_oxygen"
        if key is None:
            continue
        value = _vital_value(key, concept, holder, holder_path, entry_id)
        if value is not None:
            vitals[key] = value
    if not vitals:
        return None

    if observation.effectiveDateTime is not None:
        observed_at = _moment(observation.effectiveDateTime, f"{path}.effectiveDateTime", entry_id)
    elif observation.effectiveInstant is not None:
        observed_at = _moment(observation.effectiveInstant, f"{path}.effectiveInstant", entry_id)
    elif observation.effectivePeriod is not None and observation.effectivePeriod.start is not None:
        observed_at = _moment(observation.effectivePeriod.start, f"{path}.effectivePeriod.start", entry_id)
    elif observation.issued is not None:
        observed_at = _moment(observation.issued, f"{path}.issued", entry_id)
    else:
        raise FHIRParseError(
            f"{path}.effective[x]", "missing: the observation needs its time", message_id=entry_id
        )

    record_id = observation.id or entry.full_url
    if not record_id:
        raise FHIRParseError(f"{path}.id", "missing: the observation needs an id", message_id=entry_id)
    version = _version(observation, path)
    base = f"Observation/{resource_key('Observation', str(record_id), salt=reader.salt)}"
    return PatientEvent(
        event_id=f"{base}/_history/{version}" if version else base,
        source=SOURCE,
        kind=EventKind.OBSERVATION,
        occurred_at=observed_at,
        patient_key=reader.patient_key(observation.subject, path, entry_id),
        encounter_id=reader.observation_stay_key(observation.encounter, path, entry_id),
        payload=vitals,
    )


def parse_fhir(
    document: str | bytes | Mapping[str, Any],
    *,
    salt: str | bytes | None = None,
    unit_codes: Mapping[str, str] | None = None,
    service_codes: Mapping[str, str] | None = None,
) -> list[PatientEvent]:
    """Turn a FHIR R4B Bundle, or a single Encounter or Observation, into patient events.

    Parameters
    ----------
    document
        JSON text or an already decoded JSON object.
    salt
        Pseudonymisation salt (see :func:`patients.identity.resolve_salt`).
    unit_codes
        Optional translation of location codes to the scenario's unit ids; when given, a code not in it is
        an error.
    service_codes
        Optional translation of ``Encounter.serviceType`` codes to the scenario's service ids; when given,
        a code not in it is an error.

    Returns
    -------
    list of PatientEvent
        In document order; ``Patient``, ``Location``, planned encounters, non-vital observations and other
        resource types yield none.

    Raises
    ------
    FHIRParseError
        If the document is not valid R4B or misses an element an event needs; ``location`` is the element
        path, e.g. ``"Bundle.entry[2].resource.status"``.
    """
    entries = _entries(_load_document(document))
    index = _Index()
    for entry in entries:
        index.add(entry)
    reader = _Reader(index, resolve_salt(salt), unit_codes, service_codes)
    events: list[PatientEvent] = []
    for entry in entries:
        resource_type = entry.resource.get_resource_type()
        event: PatientEvent | None = None
        if resource_type == "Encounter":
            event = _encounter_event(entry, reader)
        elif resource_type == "Observation":
            event = _observation_event(entry, reader)
        if event is not None:
            events.append(event)
    return events
