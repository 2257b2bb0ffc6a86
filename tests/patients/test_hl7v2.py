"""HL7 v2 ADT / ORU messages to patient events: exact events, pseudonymisation, and named errors."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients import hl7v2
from patients.errors import EventParseError, HL7ParseError, UnsupportedMessageError
from patients.events import AdmissionType, EventKind, PatientEvent
from patients.fhir import parse_fhir
from patients.hl7v2 import EVENT_ID_PREFIX, hl7_event_id, parse_hl7_message
from patients.identity import SALT_ENVIRONMENT_VARIABLE, encounter_key, patient_key

MESSAGES = Path(__file__).parent / "messages"
SALT = "test-salt-0123456789"
MRN = "100234"
VISIT = "V240301001"
DIRECT_IDENTIFIERS = [
    "100234",
    "O'BRIEN",
    "MARGARET",
    "19470312",
    "PARK ROW",
    "LS1 5HD",
    "9434765919",
    "0113",
]


def load(name: str) -> str:
    """A fixture message with HL7's carriage-return segment separators."""
    return (MESSAGES / name).read_text().strip().replace("\n", "\r")


def set_field(message: str, segment_id: str, field_num: int, value: str, occurrence: int = 1) -> str:
    """Replace one field of the ``occurrence``-th ``segment_id`` segment."""
    segments = message.split("\r")
    seen = 0
    for number, segment in enumerate(segments):
        if not segment.startswith(segment_id + "|"):
            continue
        seen += 1
        if seen != occurrence:
            continue
        fields = segment.split("|")
        # MSH-1 is the field separator itself, so MSH-n sits at index n - 1.
        index = field_num - 1 if segment_id == "MSH" else field_num
        fields.extend([""] * (index + 1 - len(fields)))
        fields[index] = value
        segments[number] = "|".join(fields)
        return "\r".join(segments)
    raise AssertionError(f"no {segment_id} segment number {occurrence}")


def drop_segment(message: str, segment_id: str) -> str:
    return "\r".join(segment for segment in message.split("\r") if not segment.startswith(segment_id + "|"))


def parse(message: str | bytes, **options: object) -> PatientEvent:
    return parse_hl7_message(message, salt=SALT, **options)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PATIENT = patient_key(MRN, salt=SALT)
STAY = encounter_key(VISIT, salt=SALT)


# --------------------------------------------------------------------------------------------------
# Each trigger event, exactly
# --------------------------------------------------------------------------------------------------


def test_a01_admission_is_read_exactly() -> None:
    assert parse(load("adt_a01_admit.hl7")) == PatientEvent(
        event_id="hl7:PAS^RGH:MSG-A01-0001",  # sending application ^ facility : MSH-10
        source="hl7",
        kind=EventKind.ADMIT,
        occurred_at=at("2024-03-01T08:20:00"),  # EVN-6, the event occurred
        patient_key=PATIENT,
        encounter_id=STAY,
        unit="AMU",
        bed="12-B",
        service="MED",
        admission_type=AdmissionType.EMERGENCY,
        payload={"trigger": "A01", "patient_class": "I"},
    )


def test_a02_transfer_carries_new_and_prior_location() -> None:
    event = parse(load("adt_a02_transfer.hl7"))
    assert (event.kind, event.occurred_at, event.unit, event.bed) == (
        EventKind.TRANSFER,
        at("2024-03-02T11:00:00"),
        "WARD7",
        "3-A",
    )
    assert event.payload == {"trigger": "A02", "patient_class": "I", "prior_unit": "AMU", "prior_bed": "12-B"}
    assert (event.patient_key, event.encounter_id) == (PATIENT, STAY)


def test_a03_discharge_time_is_pv1_45_when_evn_6_is_empty() -> None:
    event = parse(load("adt_a03_discharge.hl7"))
    assert (event.event_id, event.kind, event.occurred_at, event.unit) == (
        "hl7:PAS^RGH:MSG-A03-0003",
        EventKind.DISCHARGE,
        at("2024-03-05T15:30:00"),
        "WARD7",
    )


def test_a04_registration_in_the_emergency_department() -> None:
    event = parse(load("adt_a04_register.hl7"))
    assert event == PatientEvent(
        event_id="hl7:EDIS^RGH:MSG-A04-0004",
        source="hl7",
        kind=EventKind.REGISTER,
        occurred_at=at("2024-03-01T02:05:00"),  # PV1-44
        patient_key=patient_key("100981", salt=SALT),
        encounter_id=encounter_key("V240301777", salt=SALT),
        unit="ED",
        bed="MAJ-4",
        service="EM",
        admission_type=AdmissionType.EMERGENCY,
        payload={"trigger": "A04", "patient_class": "E"},
    )


def test_a08_update_carries_news2_vital_signs() -> None:
    event = parse(load("adt_a08_update_vitals.hl7"))
    assert (event.kind, event.occurred_at, event.service) == (
        EventKind.UPDATE,
        at("2024-03-01T10:19:00"),
        "GER",
    )
    assert event.payload == {
        "trigger": "A08",
        "patient_class": "I",
        "respiration_rate": 22,
        "spo2": 95,
        "on_oxygen": False,  # inhaled oxygen flow 0 L/min
        "temperature_c": 38.4,
        "systolic_bp": 105,
        "heart_rate": 115,
        "consciousness": "A",
        "observed_at": "2024-03-01T10:15:00+00:00",  # OBX-14; body weight (OBX 8) is not a NEWS2 sign
    }


@pytest.mark.parametrize(
    ("name", "kind", "unit", "bed"),
    [
        ("adt_a11_cancel_admit.hl7", EventKind.CANCEL_ADMIT, "AMU", "12-B"),
        ("adt_a12_cancel_transfer.hl7", EventKind.CANCEL_TRANSFER, "AMU", "12-B"),
        ("adt_a13_cancel_discharge.hl7", EventKind.CANCEL_DISCHARGE, "WARD7", "3-A"),
    ],
)
def test_cancellations(name: str, kind: EventKind, unit: str, bed: str) -> None:
    event = parse(load(name))
    assert (event.kind, event.unit, event.bed, event.encounter_id) == (kind, unit, bed, STAY)


def test_a12_names_the_cancelled_location_as_prior() -> None:
    event = parse(load("adt_a12_cancel_transfer.hl7"))
    assert (event.payload["prior_unit"], event.payload["prior_bed"]) == ("WARD7", "3-A")
    assert event.occurred_at == at("2024-03-02T11:40:00")  # EVN-2: no EVN-6


def test_oru_r01_vital_signs_observation() -> None:
    event = parse(load("oru_r01_vitals.hl7"))
    assert (event.event_id, event.kind, event.occurred_at, event.unit) == (
        "hl7:EOBS^RGH:MSG-ORU-0009",
        EventKind.OBSERVATION,
        at("2024-03-02T14:00:00"),
        "WARD7",
    )
    assert event.payload == {
        "trigger": "R01",
        "patient_class": "I",
        "respiration_rate": 18,
        "spo2": 97,
        "on_oxygen": False,  # SNOMED 722742002 breathing room air
        "temperature_c": 37.11,  # 98.8 °F
        "systolic_bp": 128,
        "heart_rate": 84,  # OBX 8 (150, status W: wrong result) is skipped
        "consciousness": "V",  # SNOMED 300202002 responds to voice
    }


# --------------------------------------------------------------------------------------------------
# Pseudonymisation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(path.name for path in MESSAGES.glob("*.hl7")))
def test_no_direct_identifier_reaches_the_event(name: str) -> None:
    event = parse(load(name))
    text = repr(event) + json.dumps(event.payload)
    for identifier in [
        *DIRECT_IDENTIFIERS,
        "KOWALSKI",
        "100981",
        "19880721",
        "MILL LANE",
        VISIT,
        "V240301777",
    ]:
        assert identifier not in text, identifier


def test_same_patient_and_stay_share_keys_across_messages() -> None:
    events = [
        parse(load(name)) for name in ("adt_a01_admit.hl7", "adt_a02_transfer.hl7", "oru_r01_vitals.hl7")
    ]
    assert {event.patient_key for event in events} == {PATIENT}
    assert {event.encounter_id for event in events} == {STAY}
    assert PATIENT != STAY


def test_salt_comes_from_the_environment_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, "environment-salt")
    from_environment = parse_hl7_message(load("adt_a01_admit.hl7"))
    assert from_environment.patient_key == patient_key(MRN, salt="environment-salt")
    assert from_environment.patient_key != PATIENT
    assert parse(load("adt_a01_admit.hl7")).patient_key == PATIENT


def test_mrn_is_the_identifier_of_type_mr_whatever_its_position() -> None:
    message = set_field(load("adt_a01_admit.hl7"), "PID", 3, "9434765919^^^NHS^NH~100234^^^RGH^MR")
    assert parse(message).patient_key == PATIENT


def test_visit_number_falls_back_to_pid_18() -> None:
    message = set_field(load("adt_a01_admit.hl7"), "PV1", 19, "")
    assert parse(message).encounter_id == encounter_key("ACC778812", salt=SALT)


# --------------------------------------------------------------------------------------------------
# Times, separators, code translation
# --------------------------------------------------------------------------------------------------


def test_admission_time_falls_back_from_evn_6_to_pv1_44_to_evn_2() -> None:
    message = set_field(load("adt_a01_admit.hl7"), "EVN", 6, "")
    assert parse(message).occurred_at == at("2024-03-01T08:15:00")
    message = set_field(message, "PV1", 44, "")
    assert parse(message).occurred_at == at("2024-03-01T08:35:00")
    message = drop_segment(set_field(message, "EVN", 2, ""), "ZPV")
    assert parse(message).occurred_at == at("2024-03-01T08:35:12")  # MSH-7


def test_timestamps_without_offset_are_read_in_the_local_timezone() -> None:
    message = set_field(load("adt_a01_admit.hl7"), "EVN", 6, "20240701120000")
    assert parse(message).occurred_at == at("2024-07-01T12:00:00")
    london = parse(message, local_timezone=ZoneInfo("Europe/London")).occurred_at
    assert london == at("2024-07-01T11:00:00")  # British Summer Time


def test_negative_offset_and_fractional_seconds() -> None:
    message = set_field(load("adt_a01_admit.hl7"), "EVN", 6, "20240301031500.25-0500")
    assert parse(message).occurred_at == datetime(2024, 3, 1, 8, 15, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segment_separators_and_mllp_framing_are_tolerated(separator: str) -> None:
    framed = "\x0b" + load("adt_a01_admit.hl7").replace("\r", separator) + "\x1c\r"
    assert parse(framed).event_id == "hl7:PAS^RGH:MSG-A01-0001"
    assert parse(framed.encode()).event_id == "hl7:PAS^RGH:MSG-A01-0001"


def test_unit_and_service_codes_are_translated_to_scenario_ids() -> None:
    event = parse(
        load("adt_a01_admit.hl7"),
        unit_codes={"AMU": "acute_medical_unit"},
        service_codes={"MED": "general_medicine"},
    )
    assert (event.unit, event.service) == ("acute_medical_unit", "general_medicine")


# --------------------------------------------------------------------------------------------------
# Malformed messages: every error names its field
# --------------------------------------------------------------------------------------------------


def _a01() -> str:
    return load("adt_a01_admit.hl7")


MALFORMED: list[tuple[str, str, str]] = [
    ("not HL7", "MSH", "does not start with an MSH segment"),
    (set_field(_a01(), "MSH", 10, ""), "MSH-10", "message control id is missing"),
    (set_field(_a01(), "MSH", 9, ""), "MSH-9", "message type is missing"),
    (set_field(_a01(), "MSH", 12, ""), "MSH-12", "version id is missing"),
    (set_field(_a01(), "MSH", 12, "3.0"), "MSH-12", "'3.0' is not HL7 v2"),
    (set_field(_a01(), "MSH", 7, ""), "MSH-7", "date/time of the message is missing"),
    (set_field(_a01(), "MSH", 7, "2024-03-01"), "MSH-7", "is not an HL7 date/time"),
    (drop_segment(_a01(), "EVN"), "EVN", "EVN segment is missing"),
    (drop_segment(_a01(), "PID"), "PID", "PID segment is missing"),
    (drop_segment(_a01(), "PV1"), "PV1", "PV1 segment is missing"),
    (set_field(_a01(), "PID", 3, ""), "PID-3", "no patient identifier"),
    (set_field(set_field(_a01(), "PV1", 19, ""), "PID", 18, ""), "PV1-19", "visit number is missing"),
    (set_field(_a01(), "PV1", 3, ""), "PV1-3", "needs the assigned patient location"),
    (set_field(_a01(), "PV1", 3, "^12^B"), "PV1-3.1", "room or bed is given without its unit"),
    (set_field(_a01(), "PV1", 4, "Z"), "PV1-4", "admission type 'Z' is not in HL7 table 0007"),
    (set_field(_a01(), "EVN", 6, "2024030"), "EVN-6", "'2024030' is not an HL7 date/time"),
    (set_field(_a01(), "EVN", 6, "20240230082000"), "EVN-6", "is not a valid date/time"),
    (set_field(_a01(), "EVN", 6, "20240301082000+2500"), "EVN-6", "'+2500' is not a valid UTC offset"),
    (set_field(_a01(), "PID", 3, "^^^RGH^MR"), "PID-3", "no patient identifier"),
]


@pytest.mark.parametrize(("message", "location", "reason"), MALFORMED)
def test_malformed_adt_names_the_field(message: str, location: str, reason: str) -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(message)
    assert raised.value.location == location
    assert reason in raised.value.reason
    assert isinstance(raised.value, EventParseError)
    assert str(raised.value).startswith(f"{location}: ")


def test_error_quotes_the_message_id() -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(set_field(_a01(), "PV1", 4, "Z"))
    assert raised.value.message_id == "MSG-A01-0001"
    assert str(raised.value).endswith("(message MSG-A01-0001)")


def test_transfer_without_new_location_names_pv1_3() -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(set_field(load("adt_a02_transfer.hl7"), "PV1", 3, ""))
    assert (raised.value.location, raised.value.reason) == (
        "PV1-3",
        "ADT^A02 needs the assigned patient location",
    )


def test_prior_location_without_unit_names_pv1_6_1() -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(set_field(load("adt_a02_transfer.hl7"), "PV1", 6, "^12^B"))
    assert raised.value.location == "PV1-6.1"


@pytest.mark.parametrize(
    ("message_type", "reason"),
    [
        ("ADT^A05^ADT_A05", "message type ADT^A05 is not supported"),
        ("SIU^S12^SIU_S12", "message type SIU^S12 is not supported"),
    ],
)
def test_unsupported_message_types_name_msh_9(message_type: str, reason: str) -> None:
    with pytest.raises(UnsupportedMessageError) as raised:
        parse(set_field(_a01(), "MSH", 9, message_type))
    assert raised.value.location == "MSH-9"
    assert raised.value.reason.startswith(reason)


def test_unknown_unit_code_names_pv1_3_1() -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(_a01(), unit_codes={"WARD7": "ward_7"})
    assert raised.value.location == "PV1-3.1"
    assert raised.value.reason == "point of care 'AMU' is not known to the hospital (known: WARD7)"


def test_unknown_service_code_names_pv1_10() -> None:
    with pytest.raises(HL7ParseError) as raised:
        parse(_a01(), service_codes={"SUR": "surgery"})
    assert raised.value.location == "PV1-10"


@pytest.mark.parametrize(
    ("occurrence", "field_num", "value", "location", "reason"),
    [
        (1, 5, "twenty", "OBX[1]-5", "'twenty' is not a number"),
        (1, 5, "", "OBX[1]-5", "the respiration_rate observation has no value"),
        (7, 5, "Z^Zonked^L", "OBX[7]-5", "'Z' is not an ACVPU answer (A, C, V, P or U)"),
        (2, 14, "yesterday", "OBX[2]-14", "'yesterday' is not an HL7 date/time YYYYMMDD[HHMM[SS]][+/-ZZZZ]"),
        (3, 5, "lots", "OBX[3]-5", "'lots' is not a number"),
    ],
)
def test_malformed_vital_sign_names_the_obx(
    occurrence: int, field_num: int, value: str, location: str, reason: str
) -> None:
    message = set_field(load("adt_a08_update_vitals.hl7"), "OBX", field_num, value, occurrence)
    with pytest.raises(HL7ParseError) as raised:
        parse(message)
    assert (raised.value.location, raised.value.reason) == (location, reason)


def test_oru_without_vital_signs_is_unsupported_and_names_obx_3() -> None:
    message = "\r".join(
        segment for segment in load("oru_r01_vitals.hl7").split("\r") if not segment.startswith("OBX|")
    )
    message += "\rOBX|1|NM|2823-3^Potassium^LN||4.1|mmol/L|||||F"
    with pytest.raises(UnsupportedMessageError) as raised:
        parse(message)
    assert raised.value.location == "OBX-3"


def test_oru_time_falls_back_to_obr_7() -> None:
    message = load("oru_r01_vitals.hl7")
    for occurrence in range(1, 9):
        message = set_field(message, "OBX", 14, "", occurrence)
    assert parse(message).occurred_at == at("2024-03-02T14:00:00")
    message = set_field(message, "OBR", 7, "20240302135500+0000")
    assert parse(message).occurred_at == at("2024-03-02T13:55:00")


@pytest.mark.parametrize(
    ("code", "value", "units", "on_oxygen"),
    [
        ("3150-0^Inhaled oxygen concentration^LN", "28", "%", True),
        ("3150-0^Inhaled oxygen concentration^LN", "21", "%", False),
        ("3150-0^Inhaled oxygen concentration^LN", "0.35", "", True),
        ("3151-8^Inhaled oxygen flow rate^LN", "2", "L/min", True),
        ("AIROX^Air or oxygen^L", "371825009^Patient on oxygen^SCT", "", True),
    ],
)
def test_supplemental_oxygen_codes(code: str, value: str, units: str, on_oxygen: bool) -> None:
    message = load("adt_a08_update_vitals.hl7")
    message = set_field(set_field(message, "OBX", 3, code, 3), "OBX", 5, value, 3)
    message = set_field(message, "OBX", 6, units, 3)
    assert parse(message).payload["on_oxygen"] is on_oxygen


# --------------------------------------------------------------------------------------------------
# Event ids: the sender and its control id
# --------------------------------------------------------------------------------------------------


def test_two_senders_with_the_same_control_id_give_different_events() -> None:
    pas = _a01()
    lab = set_field(pas, "MSH", 3, "LAB")
    other_site = set_field(pas, "MSH", 4, "SJH")
    ids = {parse(message).event_id for message in (pas, lab, other_site)}
    assert ids == {"hl7:PAS^RGH:MSG-A01-0001", "hl7:LAB^RGH:MSG-A01-0001", "hl7:PAS^SJH:MSG-A01-0001"}


def test_a_resent_message_gives_the_same_event_id() -> None:
    first = parse(_a01())
    resent = "\x0b" + _a01().replace("\r", "\r\n") + "\x1c\r"  # as a file or another engine frames it
    assert parse(resent).event_id == first.event_id
    assert parse(resent) == first


def test_empty_sending_application_and_facility_are_kept_apart() -> None:
    message = set_field(set_field(_a01(), "MSH", 3, ""), "MSH", 4, "")
    assert parse(message).event_id == "hl7:^:MSG-A01-0001"
    assert parse(set_field(message, "MSH", 4, "RGH")).event_id == "hl7:^RGH:MSG-A01-0001"
    assert parse(set_field(message, "MSH", 3, "RGH")).event_id == "hl7:RGH^:MSG-A01-0001"


def test_a_sender_named_by_its_universal_id_only() -> None:
    message = set_field(_a01(), "MSH", 3, "^2.16.840.1.113883.19.5^ISO")
    assert parse(message).event_id == "hl7:2.16.840.1.113883.19.5^RGH:MSG-A01-0001"
    both = set_field(_a01(), "MSH", 3, "PAS^2.16.840.1.113883.19.5^ISO")
    assert parse(both).event_id == "hl7:PAS^RGH:MSG-A01-0001"  # the namespace id wins


def test_separators_in_the_sender_names_are_escaped() -> None:
    # "A^B" from "A" at facility "B": an escaped component separator (\S\) must not merge the two.
    escaped = parse(set_field(set_field(_a01(), "MSH", 3, "A\\S\\B"), "MSH", 4, "")).event_id
    plain = parse(set_field(set_field(_a01(), "MSH", 3, "A"), "MSH", 4, "B")).event_id
    assert (escaped, plain) == ("hl7:A%5EB^:MSG-A01-0001", "hl7:A^B:MSG-A01-0001")
    assert hl7_event_id("A:B", "C", "1") == "hl7:A%3AB^C:1" != hl7_event_id("A", "B:C", "1")
    assert hl7_event_id("A", "B", "C:1") == "hl7:A^B:C:1" != hl7_event_id("A", "B:C", "1")
    assert hl7_event_id("%5E", "", "1") == "hl7:%255E^:1" != hl7_event_id("^", "", "1")


@given(
    first=st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(min_size=1, max_size=6)),
    second=st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(min_size=1, max_size=6)),
)
def test_different_senders_or_control_ids_never_share_an_event_id(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    assert (hl7_event_id(*first) == hl7_event_id(*second)) == (first == second)


def test_a_control_id_with_components_is_refused() -> None:
    # Only MSG^1 would be read: MSG^1 and MSG^2 would share an id and the second would be dropped.
    with pytest.raises(HL7ParseError) as raised:
        parse(set_field(_a01(), "MSH", 10, "MSG^1"))
    assert (raised.value.location, raised.value.message_id) == ("MSH-10", "MSG")
    assert "one value" in raised.value.reason
    with pytest.raises(HL7ParseError, match="MSH-10"):
        parse(set_field(_a01(), "MSH", 10, "MSG~2"))
    assert parse(set_field(_a01(), "MSH", 10, "MSG\\S\\1")).event_id == "hl7:PAS^RGH:MSG^1"  # escaped


def test_hl7_event_ids_cannot_collide_with_fhir_event_ids() -> None:
    hl7_ids = {parse(load(path.name)).event_id for path in MESSAGES.glob("*.hl7")}
    bundle = (MESSAGES / "fhir_admission_bundle.json").read_text()
    fhir_ids = {event.event_id for event in parse_fhir(bundle, salt=SALT)}
    assert all(event_id.startswith(EVENT_ID_PREFIX) for event_id in hl7_ids)
    # FHIR ids start with a resource type and a slash ("Encounter/<key>/_history/1").
    assert fhir_ids and not any(event_id.startswith(EVENT_ID_PREFIX) for event_id in fhir_ids)


# --------------------------------------------------------------------------------------------------
# Parsing only the fields read gives what parsing the whole message gives
# --------------------------------------------------------------------------------------------------


def with_separators(message: str, field: str, encoding: str) -> str:
    """The message written with other separators (the fixtures hold none of these characters)."""
    separators = field + (encoding + "&")[:4]  # with three encoding characters, "&" stays
    table = str.maketrans(dict(zip("|^~\\&", separators, strict=True)))
    header, rest = message[:8], message[8:]  # "MSH|^~\&"
    return "MSH" + field + encoding + rest.translate(table) if header == "MSH|^~\\&" else message


@pytest.mark.parametrize(
    ("field", "encoding"),
    [
        ("|", "^~\\&"),
        ("#", "$*@!"),  # other separators: still cut down
        ("|", "^~\\&#"),  # v2.7 truncation character
        ("|", "^~\\"),  # no subcomponent separator: parsed whole
        ("|", "^^\\&"),  # a separator twice: parsed whole, as the hl7 package reads it
    ],
)
def test_other_separators_give_the_same_event(field: str, encoding: str) -> None:
    for path in sorted(MESSAGES.glob("*.hl7")):
        expected = parse(load(path.name))
        message = with_separators(load(path.name), field, encoding)
        if len(set(encoding)) < len(encoding):
            with pytest.raises(HL7ParseError) as raised:
                parse(message)
            assert raised.value.location == "MSH-2"  # the hl7 package cannot split it, as before
            continue
        assert parse(message) == expected, path.name


def test_segments_and_fields_not_read_do_not_change_the_event() -> None:
    expected = parse(_a01())
    noisy = set_field(_a01(), "PID", 5, "O\\F\\BRIEN^MAR~GARET&X^^^MRS")
    noisy = noisy.replace("\rPV1|", "\rNK1|1|DOE^JOHN|SPO\rAL1|1||^PENICILLIN\rPV1|", 1)
    noisy = set_field(noisy, "PV1", 7, "C4411^ADEBAYO~C5522^OKAFOR")
    assert parse(noisy) == expected


def _mutations(count: int, seed: int) -> list[str]:
    """Fixture messages with random characters, fields and segments changed."""
    rng = random.Random(seed)
    originals = [load(path.name) for path in sorted(MESSAGES.glob("*.hl7"))]
    noise = list("|^~\\&#$ \t\r\n0123456789.+-MSHPIDVOBXEN")
    values = ["", "X^Y", "A~B", "\\S\\", "a&b", " ", "20240301", "MSH", "^^^", "~", "\\E\\", "A\\F\\B"]
    messages = []
    for _ in range(count):
        text = rng.choice(originals)
        for _ in range(rng.randint(1, 3)):
            roll, position = rng.random(), rng.randrange(len(text))
            if roll < 0.4:
                text = text[:position] + rng.choice(noise) + text[position:]
            elif roll < 0.6:
                text = text[:position] + text[position + 1 :]
            elif roll < 0.8:
                fields = text.split("|")
                fields[rng.randrange(1, len(fields))] = rng.choice(values)
                text = "|".join(fields)
            else:
                segments = text.split("\r")
                number = rng.randrange(1, len(segments))
                segments[number] = (
                    segments[number][:3] + rng.choice(["~X", "^X", "", " "]) + segments[number][3:]
                )
                text = "\r".join(segments)
        messages.append(text)
    return messages


def _outcome(message: str) -> object:
    try:
        return parse(message, local_timezone=ZoneInfo("Europe/London"))
    except HL7ParseError as error:
        return (type(error).__name__, error.location, error.reason, error.message_id)


@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")  # hl7's logger
def test_cut_down_parsing_agrees_with_parsing_the_whole_message(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = _mutations(600, seed=20240301)
    cut_down = [_outcome(message) for message in messages]
    monkeypatch.setattr(hl7v2, "_cut_down", lambda segments: None)  # every message parsed whole
    whole = [_outcome(message) for message in messages]
    assert sum(isinstance(outcome, PatientEvent) for outcome in whole) > 100
    assert sum(isinstance(outcome, tuple) for outcome in whole) > 100
    for message, mine, reference in zip(messages, cut_down, whole, strict=True):
        assert mine == reference, message


def test_every_field_read_is_handed_to_the_hl7_package() -> None:
    segment = hl7v2._Segment(hl7.parse("MSH|^~\\&|A\rPV1|I")[1], "PV1", {2: 1})
    assert hl7v2._Message.value(segment, 2) == "I"
    with pytest.raises(LookupError, match="PV1-7 is read but not in _FIELDS_READ"):
        hl7v2._Message.value(segment, 7)
