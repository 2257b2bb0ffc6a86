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

Every message needs MSH-7, MSH-9, MSH-10 (the message control id), MSH-12, PID-3 (the MRN) and the visit
number PV1-19 (PID-18 is used when PV1-19 is empty). The event time is EVN-6 (event occurred), else PV1-44
(admit) / PV1-45 (discharge) for A01, A04 and A03, else EVN-2 (recorded), else MSH-7. Timestamps without
a UTC offset are read in ``local_timezone`` (UTC unless given).

The MRN and visit number are replaced by salted keys (:mod:`patients.identity`); the name, date of birth,
address and every other PID field are never read.

PV1-3 is a PL (point of care ^ room ^ bed ^ facility ...): the point of care is the unit, and the bed is
written ``room-bed`` (``"101-A"``), or the room alone when there is no bed component.

The event id is ``hl7:<MSH-3>^<MSH-4>:<MSH-10>`` (:func:`hl7_event_id`): HL7 v2 makes a control id unique
only per sending system, so two systems (or two facilities behind one interface engine) that use the same
control id still give different events, and a message resent unchanged gives the same id again. MSH-3 and
MSH-4 are read as their namespace id (component 1), or the universal id (component 2) when that is empty;
either may be empty.

Only the segments and fields listed above reach the ``hl7`` package: each message is cut down to them
before it is parsed (see :data:`_FIELDS_READ`), which makes parsing about 2.5 times faster than building
the whole message tree, and every value read, error location and reason is the same. A message with
unusual separators is parsed whole.

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
>>> event.event_id
'hl7:PAS^RGH:MSG0001'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import hl7
from hl7.util import unescape

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

EVENT_ID_PREFIX = "hl7:"
"""Start of every event id from this module (FHIR event ids start with a resource type, ``Encounter/``)."""


def hl7_event_id(sending_application: str, sending_facility: str, control_id: str) -> str:
    """The event id of a message: ``hl7:<sending application>^<sending facility>:<control id>``.

    HL7 v2 makes the message control id (MSH-10) unique only per sending system, so the id names the
    sender too. ``%``, ``^`` and ``:`` in the application and facility are written ``%25``, ``%5E`` and
    ``%3A``, so different senders never share an id; the control id, last, is kept as it is. Either
    sender part may be empty (``hl7:^:MSG1``).

    Parameters
    ----------
    sending_application, sending_facility
        MSH-3 and MSH-4 as :func:`parse_hl7_message` reads them (the namespace id, else the universal id).
    control_id
        MSH-10.

    Examples
    --------
    >>> hl7_event_id("PAS", "RGH", "MSG0001")
    'hl7:PAS^RGH:MSG0001'
    >>> hl7_event_id("LAB^1", "", "42"), hl7_event_id("LAB", "1", "42")
    ('hl7:LAB%5E1^:42', 'hl7:LAB^1:42')
    """
    application = sending_application.translate(_EVENT_ID_ESCAPES)
    facility = sending_facility.translate(_EVENT_ID_ESCAPES)
    return f"{EVENT_ID_PREFIX}{application}^{facility}:{control_id}"


_LOCATION_REQUIRED = {EventKind.ADMIT, EventKind.TRANSFER}
_OBX_SKIPPED_STATUSES = {"D", "W", "X", "N"}  # deleted, wrong patient, cannot be obtained, not asked
_LOINC_SYSTEMS = {"LN", "LOINC"}
_SNOMED_SYSTEMS = {"SCT", "SNM", "SNOMED", "SNOMEDCT"}
_FAHRENHEIT_UNITS = {"[DEGF]", "DEGF", "F", "°F"}
_FIELDS_READ: dict[str, tuple[int, ...]] = {
    "MSH": (3, 4, 7, 9, 10, 12),
    "EVN": (2, 6),
    "PID": (3, 18),
    "PV1": (2, 3, 4, 6, 10, 19, 44, 45),
    "OBR": (7,),
    "OBX": (3, 5, 6, 11, 14),
}
"""Every field the parser reads, by segment. Only these reach the ``hl7`` package (see :func:`_cut_down`):
building the tree of the whole message (names, addresses, next of kin, insurance ...) was most of the
parser's time. A field read must be listed here."""

# Where each field sits in a cut-down segment: after MSH, MSH-1 and MSH-2 in an MSH; after the id elsewhere.
_POSITIONS: dict[str, dict[int, int]] = {
    segment_id: {
        field_num: index for index, field_num in enumerate(fields, start=3 if segment_id == "MSH" else 1)
    }
    for segment_id, fields in _FIELDS_READ.items()
}
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")
_HEADER_SEGMENTS = ("MSH", "BHS", "FHS")  # segments the hl7 package splits in its own way
_EVENT_ID_ESCAPES = str.maketrans({"%": "%25", "^": "%5E", ":": "%3A"})
_DTM = re.compile(
    r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?"
    r"(?P<offset>[+-]\d{4})?$"
)


def _location(segment_id: str, field_num: int, component: int | None = None, occurrence: int = 1) -> str:
    segment = segment_id if occurrence == 1 and segment_id != "OBX" else f"{segment_id}[{occurrence}]"
    text = f"{segment}-{field_num}"
    return f"{text}.{component}" if component is not None else text


class _Segment:
    """One segment as the ``hl7`` package parsed it, and where each field we read sits in it.

    ``positions`` maps a field number to its index in ``fields`` when the segment was cut down to the
    fields in :data:`_FIELDS_READ`; ``None`` when the segment was parsed whole (field n at index n).
    """

    __slots__ = ("escape", "fields", "positions", "segment_id")

    def __init__(self, fields: hl7.Segment, segment_id: str, positions: Mapping[int, int] | None) -> None:
        self.fields = fields
        self.segment_id = segment_id
        self.positions = positions
        self.escape = fields.esc

    def index(self, field_num: int) -> int:
        if self.positions is None:
            return field_num
        try:
            return self.positions[field_num]
        except KeyError:
            # A programming error, not a message fault: every field read must be in _FIELDS_READ.
            raise LookupError(f"{self.segment_id}-{field_num} is read but not in _FIELDS_READ") from None


class _Message:
    """Field access on a parsed message, with errors that name the field."""

    def __init__(self, segments: dict[str, list[_Segment]], message_id: str | None = None) -> None:
        self._segments = segments
        self.message_id = message_id

    def error(self, location: str, reason: str) -> HL7ParseError:
        return HL7ParseError(location, reason, message_id=self.message_id)

    def segments(self, segment_id: str) -> list[_Segment]:
        return self._segments.get(segment_id, [])

    def optional_segment(self, segment_id: str) -> _Segment | None:
        found = self._segments.get(segment_id)
        return found[0] if found else None

    def required_segment(self, segment_id: str) -> _Segment:
        found = self._segments.get(segment_id)
        if not found:
            raise self.error(segment_id, f"the {segment_id} segment is missing")
        return found[0]

    @staticmethod
    def value(segment: _Segment | None, field_num: int, component: int = 1, repetition: int = 1) -> str:
        """A (sub)component's text, unescaped and stripped; ``""`` when it is absent.

        Gives what ``hl7.Segment.extract_field`` gives (first subcomponent; an absent optional part is
        empty) without its per-call bookkeeping. A segment parsed whole, whose separators may be odd,
        still goes through ``extract_field`` itself.
        """
        if segment is None:
            return ""
        fields = segment.fields
        if segment.positions is None:
            try:
                text = fields.extract_field(
                    field_num=field_num, repeat_num=repetition, component_num=component, subcomponent_num=1
                )
            except IndexError:
                return ""  # an absent optional component
            return str(text).strip()
        index = segment.index(field_num)
        if index >= len(fields):
            return ""
        field = fields[index]
        if repetition > len(field):
            return ""
        part = field[repetition - 1]
        if isinstance(part, hl7.Repetition):
            if component > len(part):
                return ""
            part = part[component - 1]
            if isinstance(part, hl7.Component):
                part = part[0] if len(part) else ""
        elif component != 1:
            return ""  # the field has no components
        if segment.escape in part:
            part = unescape(fields, part)
        return str(part).strip()

    @staticmethod
    def repetitions(segment: _Segment | None, field_num: int) -> int:
        if segment is None:
            return 0
        index = segment.index(field_num)
        if index >= len(segment.fields):
            return 0
        field = segment.fields[index]
        if len(field) and isinstance(field[0], hl7.Repetition):
            return len(field)
        return 1 if str(field) else 0

    @staticmethod
    def is_composite(segment: _Segment, field_num: int) -> bool:
        """Whether the field holds a repetition, component or subcomponent separator."""
        index = segment.index(field_num)
        if index >= len(segment.fields):
            return False
        field = segment.fields[index]
        return bool(len(field)) and isinstance(field[0], hl7.Repetition)


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
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 14 or minutes > 59:
            raise message.error(location, f"'{offset}' is not a valid UTC offset")
        zone: tzinfo = _utc_offset(offset)
    else:
        zone = local_timezone
    try:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 00010101+1400 falls before year 1 in UTC
        raise message.error(location, "is out of range: outside years 1-9999 in UTC") from None


@functools.cache
def _utc_offset(offset: str) -> timezone:
    """The zone of a valid ``+HHMM`` / ``-HHMM`` offset (a few are in use: made once each)."""
    sign = -1 if offset[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))


def _split_segments(message: str | bytes) -> list[str]:
    text = message.decode("utf-8") if isinstance(message, bytes) else message
    # Tolerate MLLP framing and files written with \n or \r\n between segments.
    text = text.strip("\x0b\x1c\r\n\t ")
    return [line for line in _SEGMENT_BREAK.split(text) if line.strip()]


def _cut_down(segments: list[str]) -> tuple[str, list[str]] | None:
    """The message reduced to the fields in :data:`_FIELDS_READ`, and the id of each segment kept.

    Each kept segment is rewritten with only the fields we read, in the order of :data:`_FIELDS_READ`;
    other segments are left out. The ``hl7`` package splits a field the same way wherever it stands,
    so every value read is what the whole message would give. ``None`` when the separators are unusual
    (repeated, letters, digits or white space, fewer than four encoding characters) or a later segment
    starts like a header (``MSH``, ``BHS``, ``FHS``): such a message is parsed whole, as sent.
    """
    header = segments[0]
    separator = header[3] if len(header) > 3 else ""
    end = header.find(separator, 4) if separator else -1
    encoding = header[4:end] if end > 0 else ""
    special = separator + encoding[:4]
    if (
        len(encoding) < 4
        or len(set(special)) != 5
        or any(character.isalnum() or character.isspace() for character in special)
    ):
        return None
    repetition = encoding[1]
    fields = header.split(separator)
    # fields[0] is "MSH" and MSH-1 is the separator itself, so MSH-n is fields[n - 1].
    kept = [
        separator.join(
            ["MSH", encoding, *(fields[n - 1] if n <= len(fields) else "" for n in _FIELDS_READ["MSH"])]
        )
    ]
    kept_ids = ["MSH"]
    for segment in segments[1:]:
        segment_id = segment[:3]
        if segment_id in _HEADER_SEGMENTS:
            return None
        wanted = _FIELDS_READ.get(segment_id)
        if wanted is None:
            continue
        fields = segment.split(separator)
        name = fields[0]
        # The hl7 package names a segment by its first field's first repetition ("PID", or "PID" of
        # "PID~X"), and a segment without any separator by its first character.
        if name != segment_id and not name.startswith(segment_id + repetition):
            continue
        if len(fields) == 1 and name == segment_id:
            continue
        kept.append(separator.join([name, *(fields[n] if n < len(fields) else "" for n in wanted)]))
        kept_ids.append(segment_id)
    return "\r".join(kept), kept_ids


def _read_segments(segments: list[str]) -> dict[str, list[_Segment]]:
    """Parse the message with the ``hl7`` package; its segments by id, in order."""
    by_id: dict[str, list[_Segment]] = {}
    cut_down = _cut_down(segments)
    if cut_down is None:
        for segment in hl7.parse("\r".join(segments)):
            segment_id = str(segment[0][0])
            by_id.setdefault(segment_id, []).append(_Segment(segment, segment_id, None))
        return by_id
    text, segment_ids = cut_down
    for segment_id, segment in zip(segment_ids, hl7.parse(text), strict=True):
        by_id.setdefault(segment_id, []).append(_Segment(segment, segment_id, _POSITIONS[segment_id]))
    return by_id


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
    segment: _Segment | None,
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


def _medical_record_number(pid: _Segment, message: _Message) -> str:
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


def _vital_sign_key(obx: _Segment) -> str | None:
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


def _vital_sign_value(key: str, obx: _Segment, occurrence: int, message: _Message) -> Any:
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


def _sender(msh: _Segment, field_num: int) -> str:
    """MSH-3 or MSH-4 (an HD): the namespace id, else the universal id (an OID, say), else ``""``."""
    return _Message.value(msh, field_num, 1) or _Message.value(msh, field_num, 2)


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
        ``event_id`` is ``hl7:<MSH-3>^<MSH-4>:<MSH-10>`` (see :func:`hl7_event_id`); ``source`` is
        ``"hl7"``; the payload holds ``trigger`` (e.g. ``"A02"``), ``patient_class`` (PV1-2) when given,
        ``prior_unit`` / ``prior_bed`` (PV1-6) for A02 and A12, and any NEWS2 vital signs from OBX
        segments (with ``observed_at`` for A08).

    Raises
    ------
    HL7ParseError
        If the message is malformed or misses a field the event needs; ``location`` names the field,
        e.g. ``"PV1-3"``.
        A control id (MSH-10) with component or repetition separators is refused (``"MSH-10"``): only
        its first component would be kept, and two messages could then share an event id.
    UnsupportedMessageError
        If the message type or trigger event is not one we handle (named ``"MSH-9"``).
    """
    segments = _split_segments(message)
    if not segments or not segments[0].startswith("MSH"):
        raise HL7ParseError("MSH", "the message does not start with an MSH segment")
    try:
        reader = _Message(_read_segments(segments))
    except Exception as problem:  # the hl7 package raises several types for unusable separators
        raise HL7ParseError("MSH-2", f"the message cannot be split into fields ({problem})") from None
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

    if _Message.is_composite(msh, 10):
        # Only the first component would be kept: two messages could share an event id.
        raise reader.error(
            "MSH-10", "the message control id must be one value, without component or repetition separators"
        )
    return PatientEvent(
        event_id=hl7_event_id(_sender(msh, 3), _sender(msh, 4), message_id),
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
