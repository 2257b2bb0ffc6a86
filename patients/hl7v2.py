r"""HL7 v2 ADT (and ORU vital signs) messages turned into :class:`~patients.events.PatientEvent` s.

Supported messages (HL7 v2.5 chapter 3 and 7):

=========  ===============================  ===========================================================
message    kind                             fields read
=========  ===============================  ===========================================================
ADT^A01    admit                            PV1-3 location (required), PV1-4, PV1-10, PV1-44
ADT^A02    transfer                         PV1-3 new location (required), PV1-6 prior location
ADT^A03    discharge                        PV1-45
ADT^A04    register (ED / outpatient)       PV1-3, PV1-44
ADT^A08    update                           PV1-3, PV1-4, PV1-10, OBX vital signs
ADT^A11    cancel_admit                     the visit only
ADT^A12    cancel_transfer                  PV1-3 location the patient returns to, PV1-6 cancelled one
ADT^A13    cancel_discharge                 PV1-3
ORU^R01    observation                      OBX vital signs, OBX-14 / OBR-7 time
=========  ===============================  ===========================================================

Every message needs MSH-7, MSH-9, MSH-10 (the event id), MSH-12, PID-3 (the MRN) and the visit number
PV1-19 (PID-18 is used when PV1-19 is empty). The event time is EVN-6 (event occurred), else PV1-44
(admit) / PV1-45 (discharge) for A01, A04 and A03, else EVN-2 (recorded), else MSH-7. Timestamps without
a UTC offset are read in ``local_timezone`` (UTC unless given).

The MRN and visit number are replaced by salted keys (:mod:`patients.identity`); the name, date of birth,
address and every other PID field are never read.

PV1-3 is a PL (point of care ^ room ^ bed ^ facility ...): the point of care is the unit, and the bed is
written ``room-bed`` (``"101-A"``), or the room alone when there is no bed component.

Examples
--------
>>> message = (
...     "MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301083000||ADT^A01^ADT_A01|MSG0001|P|2.5\r"
...     "EVN|A01|20240301083000\r"
...     "PID|1||123456^^^RGH^MR||DOE^JANE||19600101|F\r"
...     "PV1|1|I|WARD1^101^A|||||||MED|||||||||V0001"
... )
>>> event = parse_hl7_message(message, salt="example")
>>> event.kind.value, event.unit, event.bed, event.service
('admit', 'WARD1', '101-A', 'MED')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import hl7

from patients.errors import HL7ParseError, UnsupportedMessageError
from patients.events import AdmissionType, EventKind, PatientEvent
from patients.identity import encounter_key, patient_key, resolve_salt
from patients.news2 import (
    OXYGEN_FINDING_CODES,
    VITAL_SIGN_LOINC,
    VITAL_SIGN_SNOMED,
    consciousness_from_answer,
)

SOURCE = "hl7"
"""Value of :attr:`PatientEvent.source` for events from this module."""

ADT_TRIGGER_EVENTS: dict[str, EventKind] = {
    "A01": EventKind.ADMIT,
    "A02": EventKind.TRANSFER,
    "A03": EventKind.DISCHARGE,
    "A04": EventKind.REGISTER,
    "A08": EventKind.UPDATE,
    "A11": EventKind.CANCEL_ADMIT,
    "A12": EventKind.CANCEL_TRANSFER,
    "A13": EventKind.CANCEL_DISCHARGE,
}
"""ADT trigger events (MSH-9.2) we turn into events, and the event kind of each."""

ADMISSION_TYPE_CODES: dict[str, AdmissionType] = {
    "A": AdmissionType.EMERGENCY,  # accident
    "E": AdmissionType.EMERGENCY,
    "U": AdmissionType.EMERGENCY,  # urgent
    "L": AdmissionType.EMERGENCY,  # labour and delivery: unscheduled
    "N": AdmissionType.EMERGENCY,  # newborn: unscheduled
    "C": AdmissionType.ELECTIVE,
    "R": AdmissionType.ELECTIVE,  # routine
}
"""HL7 table 0007 (admission type, PV1-4) mapped to :class:`AdmissionType`."""

_LOCATION_REQUIRED = {EventKind.ADMIT, EventKind.TRANSFER}
_OBX_SKIPPED_STATUSES = {"D", "W", "X", "N"}  # deleted, wrong patient, cannot be obtained, not asked
_LOINC_SYSTEMS = {"LN", "LOINC"}
_SNOMED_SYSTEMS = {"SCT", "SNM", "SNOMED", "SNOMEDCT"}
_FAHRENHEIT_UNITS = {"[DEGF]", "DEGF", "F", "°F"}
_DTM = re.compile(
    r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?"
    r"(?P<offset>[+-]\d{4})?$"
)


def _location(segment_id: str, field_num: int, component: int | None = None, occurrence: int = 1) -> str:
    segment = segment_id if occurrence == 1 and segment_id != "OBX" else f"{segment_id}[{occurrence}]"
    text = f"{segment}-{field_num}"
    return f"{text}.{component}" if component is not None else text


class _Message:
    """Field access on a parsed message, with errors that name the field."""

    def __init__(self, parsed: hl7.Message, message_id: str | None = None) -> None:
        self.parsed = parsed
        self.message_id = message_id

    def error(self, location: str, reason: str) -> HL7ParseError:
        return HL7ParseError(location, reason, message_id=self.message_id)

    def segments(self, segment_id: str) -> list[hl7.Segment]:
        return [segment for segment in self.parsed if str(segment[0][0]) == segment_id]

    def optional_segment(self, segment_id: str) -> hl7.Segment | None:
        found = self.segments(segment_id)
        return found[0] if found else None

    def required_segment(self, segment_id: str) -> hl7.Segment:
        found = self.segments(segment_id)
        if not found:
            raise self.error(segment_id, f"the {segment_id} segment is missing")
        return found[0]

    @staticmethod
    def value(segment: hl7.Segment | None, field_num: int, component: int = 1, repetition: int = 1) -> str:
        if segment is None:
            return ""
        try:
            text = segment.extract_field(
                field_num=field_num, repeat_num=repetition, component_num=component, subcomponent_num=1
            )
        except IndexError:
            return ""  # an absent optional component
        return str(text).strip()

    @staticmethod
    def repetitions(segment: hl7.Segment | None, field_num: int) -> int:
        if segment is None or field_num >= len(segment):
            return 0
        field = segment[field_num]
        if len(field) and isinstance(field[0], hl7.Repetition):
            return len(field)
        return 1 if str(field) else 0


def _parse_timestamp(text: str, location: str, local_timezone: tzinfo, message: _Message) -> datetime:
    """Parse an HL7 DTM (``YYYYMMDD[HH[MM[SS[.S...]]]][+/-ZZZZ]``) to an aware UTC datetime."""
    match = _DTM.match(text)
    if not match:
        raise message.error(location, f"'{text}' is not an HL7 date/time YYYYMMDD[HHMM[SS]][+/-ZZZZ]")
    parts = match.groupdict()
    fraction = parts["fraction"] or ""
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError as problem:
        raise message.error(location, f"'{text}' is not a valid date/time ({problem})") from None
    offset = parts["offset"]
    if offset:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 14 or minutes > 59:
            raise message.error(location, f"'{offset}' is not a valid UTC offset")
        zone: tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
    else:
        zone = local_timezone
    try:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 00010101+1400 falls before year 1 in UTC
        raise message.error(location, "is out of range: outside years 1-9999 in UTC") from None


def _split_segments(message: str | bytes) -> str:
    text = message.decode("utf-8") if isinstance(message, bytes) else message
    # Tolerate MLLP framing and files written with \n or \r\n between segments.
    text = text.strip("\x0b\x1c\r\n\t ")
    return "\r".join(line for line in re.split(r"\r\n|\r|\n", text) if line.strip())


def _translate(
    code: str, codes: Mapping[str, str] | None, location: str, what: str, message: _Message
) -> str:
    if codes is None:
        return code
    if code not in codes:
        known = ", ".join(sorted(codes))
        raise message.error(location, f"{what} '{code}' is not known to the hospital (known: {known})")
    return codes[code]


def _patient_location(
    segment: hl7.Segment | None,
    field_num: int,
    *,
    unit_codes: Mapping[str, str] | None,
    message: _Message,
) -> tuple[str | None, str | None]:
    point_of_care = _Message.value(segment, field_num, 1)
    room = _Message.value(segment, field_num, 2)
    bed = _Message.value(segment, field_num, 3)
    if not point_of_care:
        if room or bed:
            raise message.error(_location("PV1", field_num, 1), "a room or bed is given without its unit")
        return None, None
    unit = _translate(point_of_care, unit_codes, _location("PV1", field_num, 1), "point of care", message)
    bed_label = "-".join(part for part in (room, bed) if part) or None
    return unit, bed_label


def _medical_record_number(pid: hl7.Segment, message: _Message) -> str:
    """PID-3: the identifier whose type (CX.5) is ``MR``, else the first one."""
    count = _Message.repetitions(pid, 3)
    first = ""
    for repetition in range(1, count + 1):
        value = _Message.value(pid, 3, 1, repetition)
        if not value:
            continue
        if _Message.value(pid, 3, 5, repetition).upper() == "MR":
            return value
        first = first or value
    if not first:
        raise message.error("PID-3", "no patient identifier (medical record number)")
    return first


def _number(text: str, location: str, message: _Message) -> float:
    try:
        value = float(text)
    except ValueError:
        raise message.error(location, f"'{text}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise message.error(location, f"'{text}' is not a finite number")
    return value


def _oxygen_answer(text: str) -> bool | None:
    answer = text.strip().upper()
    if answer in OXYGEN_FINDING_CODES:
        return OXYGEN_FINDING_CODES[answer]
    if answer in {"Y", "YES", "TRUE", "OXYGEN", "O2"}:
        return True
    if answer in {"N", "NO", "FALSE", "AIR", "RA"}:
        return False
    return None


def _vital_sign_key(obx: hl7.Segment) -> str | None:
    for code_component, system_component in ((1, 3), (4, 6)):
        code = _Message.value(obx, 3, code_component)
        system = _Message.value(obx, 3, system_component).upper()
        if system in _LOINC_SYSTEMS and code in VITAL_SIGN_LOINC:
            return VITAL_SIGN_LOINC[code]
        if system in _SNOMED_SYSTEMS and code in VITAL_SIGN_SNOMED:
            return VITAL_SIGN_SNOMED[code]
    # An "air or oxygen?" observation may be identified only by its coded answer.
    if _Message.value(obx, 5, 1) in OXYGEN_FINDING_CODES:
        return "on_oxygen"
    return None


def _vital_sign_value(key: str, obx: hl7.Segment, occurrence: int, message: _Message) -> Any:
    location = _location("OBX", 5, occurrence=occurrence)
    answer = _Message.value(obx, 5, 1)
    if not answer:
        raise message.error(location, f"the {key} observation has no value")
    if key == "consciousness":
        level = consciousness_from_answer(answer) or consciousness_from_answer(_Message.value(obx, 5, 2))
        if level is None:
            raise message.error(location, f"'{answer}' is not an ACVPU answer (A, C, V, P or U)")
        return level.value
    if key == "on_oxygen":
        coded = _oxygen_answer(answer)
        if coded is not None:
            return coded
        amount = _number(answer, location, message)
        code = _Message.value(obx, 3, 1)
        if code == "3150-0":  # inhaled oxygen concentration, as % or as a fraction
            percent = amount * 100 if amount <= 1 else amount
            return percent > 21
        return amount > 0  # inhaled oxygen flow rate [L/min]
    value = _number(answer, location, message)
    if key == "temperature_c" and _Message.value(obx, 6, 1).upper() in _FAHRENHEIT_UNITS:
        value = round((value - 32) * 5 / 9, 2)
    return int(value) if value.is_integer() else value


def _vital_signs(message: _Message, local_timezone: tzinfo) -> tuple[dict[str, Any], datetime | None]:
    """Read the NEWS2 vital signs of every OBX segment; return them with the latest OBX-14."""
    vitals: dict[str, Any] = {}
    observed_at: datetime | None = None
    for occurrence, obx in enumerate(message.segments("OBX"), start=1):
        if _Message.value(obx, 11).upper() in _OBX_SKIPPED_STATUSES:
            continue
        key = _vital_sign_key(obx)
        if key is None:
            continue
        vitals[key] = _vital_sign_value(key, obx, occurrence, message)
        observed_text = _Message.value(obx, 14)
        if observed_text:
            moment = _parse_timestamp(
                observed_text, _location("OBX", 14, occurrence=occurrence), local_timezone, message
            )
            observed_at = moment if observed_at is None else max(observed_at, moment)
    return vitals, observed_at


def _kind(message: _Message) -> tuple[EventKind, str]:
    msh = message.required_segment("MSH")
    message_code = _Message.value(msh, 9, 1).upper()
    trigger = _Message.value(msh, 9, 2).upper()
    if not message_code:
        raise message.error("MSH-9", "the message type is missing")
    if message_code == "ADT" and trigger in ADT_TRIGGER_EVENTS:
        return ADT_TRIGGER_EVENTS[trigger], trigger
    if message_code == "ORU" and trigger == "R01":
        return EventKind.OBSERVATION, trigger
    supported = ", ".join([f"ADT^{code}" for code in ADT_TRIGGER_EVENTS] + ["ORU^R01"])
    raise UnsupportedMessageError(
        "MSH-9",
        f"message type {message_code}^{trigger} is not supported (supported: {supported})",
        message_id=message.message_id,
    )


def _event_time(
    kind: EventKind,
    message: _Message,
    local_timezone: tzinfo,
    observed_at: datetime | None,
) -> datetime:
    msh = message.required_segment("MSH")
    evn = message.optional_segment("EVN")
    pv1 = message.optional_segment("PV1")
    candidates: list[tuple[str, str]] = [("EVN-6", _Message.value(evn, 6))]
    if kind in (EventKind.ADMIT, EventKind.REGISTER):
        candidates.append(("PV1-44", _Message.value(pv1, 44)))
    elif kind is EventKind.DISCHARGE:
        candidates.append(("PV1-45", _Message.value(pv1, 45)))
    candidates.append(("EVN-2", _Message.value(evn, 2)))
    if kind is EventKind.OBSERVATION:
        if observed_at is not None:
            return observed_at
        obr = message.optional_segment("OBR")
        candidates.append(("OBR-7", _Message.value(obr, 7)))
    candidates.append(("MSH-7", _Message.value(msh, 7)))
    for location, text in candidates:
        if text:
            return _parse_timestamp(text, location, local_timezone, message)
    raise message.error("MSH-7", "no date/time: MSH-7 is empty and no event date/time is given")


def parse_hl7_message(
    message: str | bytes,
    *,
    salt: str | bytes | None = None,
    local_timezone: tzinfo = UTC,
    unit_codes: Mapping[str, str] | None = None,
    service_codes: Mapping[str, str] | None = None,
) -> PatientEvent:
    r"""Turn one HL7 v2 ADT or ORU^R01 message into a :class:`~patients.events.PatientEvent`.

    Parameters
    ----------
    message
        The message text; segments separated by ``\r`` (``\n`` and ``\r\n`` are accepted too) and
        MLLP framing characters, if left on, are stripped. Bytes are decoded as UTF-8.
    salt
        Pseudonymisation salt (see :func:`patients.identity.resolve_salt`).
    local_timezone
        Zone of timestamps that carry no UTC offset (e.g. ``ZoneInfo("Europe/London")``).
    unit_codes
        Optional translation of points of care (PV1-3.1) to the scenario's unit ids; when given, a code
        not in it is an error.
    service_codes
        Optional translation of hospital services (PV1-10) to the scenario's service ids; when given, a
        code not in it is an error.

    Returns
    -------
    PatientEvent
        ``event_id`` is MSH-10; ``source`` is ``"hl7"``; the payload holds ``trigger`` (e.g. ``"A02"``),
        ``patient_class`` (PV1-2) when given, ``prior_unit`` / ``prior_bed`` (PV1-6) for A02 and A12,
        and any NEWS2 vital signs from OBX segments (with ``observed_at`` for A08).

    Raises
    ------
    HL7ParseError
        If the message is malformed or misses a field the event needs; ``location`` names the field,
        e.g. ``"PV1-3"``.
    UnsupportedMessageError
        If the message type or trigger event is not one we handle (named ``"MSH-9"``).
    """
    text = _split_segments(message)
    if not text.startswith("MSH"):
        raise HL7ParseError("MSH", "the message does not start with an MSH segment")
    try:
        parsed = hl7.parse(text)
    except Exception as problem:  # the hl7 package raises several types for unusable separators
        raise HL7ParseError("MSH-2", f"the message cannot be split into fields ({problem})") from None
    reader = _Message(parsed)
    msh = reader.required_segment("MSH")
    message_id = _Message.value(msh, 10)
    if not message_id:
        raise HL7ParseError("MSH-10", "the message control id is missing")
    reader.message_id = message_id
    version = _Message.value(msh, 12, 1)
    if not version:
        raise reader.error("MSH-12", "the version id is missing")
    if not version.startswith("2."):
        raise reader.error("MSH-12", f"version '{version}' is not HL7 v2")
    if not _Message.value(msh, 7):
        raise reader.error("MSH-7", "the date/time of the message is missing")
    _parse_timestamp(_Message.value(msh, 7), "MSH-7", local_timezone, reader)

    kind, trigger = _kind(reader)
    if kind is not EventKind.OBSERVATION:
        reader.required_segment("EVN")
    pid = reader.required_segment("PID")
    pv1 = reader.optional_segment("PV1") if kind is EventKind.OBSERVATION else reader.required_segment("PV1")

    salt_bytes = resolve_salt(salt)
    mrn = _medical_record_number(pid, reader)
    visit_number = _Message.value(pv1, 19, 1) or _Message.value(pid, 18, 1)
    if not visit_number:
        raise reader.error("PV1-19", "the visit number is missing (and PID-18 is empty)")

    unit, bed = _patient_location(pv1, 3, unit_codes=unit_codes, message=reader)
    if kind in _LOCATION_REQUIRED and unit is None:
        raise reader.error("PV1-3", f"ADT^{trigger} needs the assigned patient location")

    admission_type: AdmissionType | None = None
    admission_code = _Message.value(pv1, 4, 1).upper()
    if admission_code:
        if admission_code not in ADMISSION_TYPE_CODES:
            known = ", ".join(sorted(ADMISSION_TYPE_CODES))
            raise reader.error(
                "PV1-4", f"admission type '{admission_code}' is not in HL7 table 0007 ({known})"
            )
        admission_type = ADMISSION_TYPE_CODES[admission_code]

    service_code = _Message.value(pv1, 10, 1)
    service = (
        _translate(service_code, service_codes, "PV1-10", "hospital service", reader)
        if service_code
        else None
    )

    vitals, observed_at = _vital_signs(reader, local_timezone)
    if kind is EventKind.OBSERVATION and not vitals:
        raise UnsupportedMessageError(
            "OBX-3", "the ORU^R01 message carries no NEWS2 vital sign", message_id=message_id
        )
    occurred_at = _event_time(kind, reader, local_timezone, observed_at)

    payload: dict[str, Any] = {"trigger": trigger}
    patient_class = _Message.value(pv1, 2, 1).upper()
    if patient_class:
        payload["patient_class"] = patient_class
    if kind in (EventKind.TRANSFER, EventKind.CANCEL_TRANSFER):
        prior_unit, prior_bed = _patient_location(pv1, 6, unit_codes=unit_codes, message=reader)
        if prior_unit is not None:
            payload["prior_unit"] = prior_unit
            payload["prior_bed"] = prior_bed
    if vitals:
        payload.update(vitals)
        if kind is not EventKind.OBSERVATION:
            payload["observed_at"] = (observed_at or occurred_at).isoformat()

    return PatientEvent(
        event_id=message_id,
        source=SOURCE,
        kind=kind,
        occurred_at=occurred_at,
        patient_key=patient_key(mrn, salt=salt_bytes),
        encounter_id=encounter_key(visit_number, salt=salt_bytes),
        unit=unit,
        bed=bed,
        service=service,
        admission_type=admission_type,
        payload=payload,
    )
