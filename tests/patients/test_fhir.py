"""FHIR R4B bundles and resources to patient events: exact events, pseudonymisation, and named errors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from patients.errors import EventParseError, FHIRParseError
from patients.events import AdmissionType, EventKind, PatientEvent
from patients.fhir import parse_fhir
from patients.hl7v2 import parse_hl7_message
from patients.identity import encounter_key, patient_key

MESSAGES = Path(__file__).parent / "messages"
SALT = "test-salt-0123456789"
PATIENT = patient_key("100234", salt=SALT)
STAY = encounter_key("V240301001", salt=SALT)
ENCOUNTER = 4  # position of the Encounter in the admission bundle
RESPIRATION = 5
ACVPU = 10


def bundle() -> dict[str, Any]:
    return json.loads((MESSAGES / "fhir_admission_bundle.json").read_text())


def transfer() -> dict[str, Any]:
    return json.loads((MESSAGES / "fhir_transfer_encounter.json").read_text())


def parse(document: Any, **options: Any) -> list[PatientEvent]:
    return parse_fhir(document, salt=SALT, **options)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def resource(document: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = document["entry"][number]["resource"]
    return found


# --------------------------------------------------------------------------------------------------
# The admission bundle
# --------------------------------------------------------------------------------------------------


def test_bundle_admission_is_read_exactly() -> None:
    events = parse((MESSAGES / "fhir_admission_bundle.json").read_text())
    assert events[0] == PatientEvent(
        event_id=f"Encounter/{STAY}/_history/1",
        source="fhir",
        kind=EventKind.ADMIT,
        occurred_at=at("2024-03-01T08:20:00"),
        patient_key=PATIENT,
        encounter_id=STAY,
        unit="WARD7",  # bed A -> room 3 -> ward WARD7 through Location.partOf
        bed="3-A",
        service="MED",
        admission_type=AdmissionType.EMERGENCY,
        payload={"status": "in-progress", "encounter_class": "IMP"},
    )


def test_bundle_observations_give_one_event_each() -> None:
    events = parse(bundle())
    observations = events[1:]
    assert [event.payload for event in observations] == [
        {"respiration_rate": 23},
        {"spo2": 94},
        {"systolic_bp": 128},  # from the blood pressure panel's component; diastolic is not a NEWS2 sign
        {"heart_rate": 96},
        {"temperature_c": 37.1},
        {"consciousness": "A"},
        {"on_oxygen": True},
    ]  # Patient, Locations, body weight and Condition give no event
    for event in observations:
        assert (event.kind, event.source, event.occurred_at) == (
            EventKind.OBSERVATION,
            "fhir",
            at("2024-03-02T14:00:00"),
        )
        assert (event.patient_key, event.encounter_id, event.unit) == (PATIENT, STAY, None)
        assert event.event_id.startswith("Observation/") and event.event_id.endswith("/_history/1")
    assert len({event.event_id for event in events}) == len(events)


def test_no_direct_identifier_reaches_the_events() -> None:
    text = "".join(repr(event) + json.dumps(event.payload) for event in parse(bundle()) + parse(transfer()))
    for identifier in [
        "100234",
        "O'Brien",
        "Margaret",
        "1947",
        "Park Row",
        "9434765919",
        "V240301001",
        "p-100234",
    ]:
        assert identifier not in text, identifier
    assert "enc-778812" not in text and "obs-rr-1" not in text  # FHIR ids may be visit numbers too


def test_fhir_and_hl7_agree_on_patient_and_stay_keys() -> None:
    hl7_text = (MESSAGES / "adt_a01_admit.hl7").read_text().replace("\n", "\r")
    hl7_event = parse_hl7_message(hl7_text, salt=SALT)
    fhir_event = parse(bundle())[0]
    assert (fhir_event.patient_key, fhir_event.encounter_id) == (
        hl7_event.patient_key,
        hl7_event.encounter_id,
    )


def test_codes_translate_to_scenario_ids() -> None:
    event = parse(bundle(), unit_codes={"WARD7": "ward_7"}, service_codes={"MED": "general_medicine"})[0]
    assert (event.unit, event.service) == ("ward_7", "general_medicine")


def test_patient_without_mrn_type_uses_its_first_identifier() -> None:
    document = bundle()
    del resource(document, 0)["identifier"][0]["type"]
    assert parse(document)[0].patient_key == PATIENT


def test_unresolved_patient_reference_falls_back_to_a_key_of_the_reference() -> None:
    document = bundle()
    del document["entry"][0]
    first = parse(document)[0]
    assert first.patient_key not in (PATIENT, "")
    assert first.patient_key == parse(document)[0].patient_key


def test_encounter_without_visit_number_is_keyed_by_its_id() -> None:
    document = bundle()
    del resource(document, ENCOUNTER)["identifier"]
    events = parse(document)
    assert {event.encounter_id for event in events} == {encounter_key("enc-778812", salt=SALT)}


# --------------------------------------------------------------------------------------------------
# Encounter snapshots
# --------------------------------------------------------------------------------------------------


def test_encounter_snapshot_with_a_completed_ward_since_admission_is_a_transfer() -> None:
    assert parse(transfer()) == [
        PatientEvent(
            event_id=f"Encounter/{STAY}/_history/3",
            source="fhir",
            kind=EventKind.TRANSFER,
            occurred_at=at("2024-03-02T11:00:00"),
            patient_key=PATIENT,  # from subject.identifier (a logical reference)
            encounter_id=STAY,
            unit="WARD7",  # no Location resource: the reference id
            bed=None,
            service="MED",
            admission_type=AdmissionType.EMERGENCY,
            payload={
                "status": "in-progress",
                "encounter_class": "IMP",
                "prior_unit": "AMU",
                "prior_bed": None,
            },
        )
    ]


def test_emergency_encounter_that_becomes_inpatient_is_admitted_at_the_class_change() -> None:
    document = transfer()
    document["location"] = document["location"][:2]
    document["location"][1]["status"] = "active"
    del document["location"][1]["period"]["end"]
    [event] = parse(document)
    assert (event.kind, event.occurred_at, event.unit) == (EventKind.ADMIT, at("2024-03-01T08:20:00"), "AMU")


def test_emergency_encounter_in_progress_is_a_registration() -> None:
    document = transfer()
    document["class"]["code"] = "EMER"
    del document["classHistory"]
    document["location"] = document["location"][:1]
    document["location"][0]["status"] = "active"
    [event] = parse(document)
    assert (event.kind, event.occurred_at, event.unit) == (
        EventKind.REGISTER,
        at("2024-03-01T02:05:00"),
        "ED",
    )


def test_arrived_encounter_is_a_registration() -> None:
    document = transfer()
    document["status"] = "triaged"
    [event] = parse(document)
    assert (event.kind, event.occurred_at) == (EventKind.REGISTER, at("2024-03-01T02:05:00"))


def test_finished_encounter_is_a_discharge_at_period_end() -> None:
    document = transfer()
    document["status"] = "finished"
    document["period"]["end"] = "2024-03-05T15:30:00+00:00"
    document["location"][2]["status"] = "completed"
    document["meta"]["versionId"] = "4"
    [event] = parse(document)
    assert (event.kind, event.occurred_at, event.event_id) == (
        EventKind.DISCHARGE,
        at("2024-03-05T15:30:00"),
        f"Encounter/{STAY}/_history/4",
    )


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
def test_cancelled_encounter_cancels_the_admission_at_last_update(status: str) -> None:
    document = transfer()
    document["status"] = status
    [event] = parse(document)
    assert (event.kind, event.occurred_at) == (EventKind.CANCEL_ADMIT, at("2024-03-02T11:00:41"))


@pytest.mark.parametrize("status", ["planned", "unknown"])
def test_planned_encounter_gives_no_event(status: str) -> None:
    document = transfer()
    document["status"] = status
    assert parse(document) == []


def test_onleave_encounter_is_an_update() -> None:
    document = transfer()
    document["status"] = "onleave"
    [event] = parse(document)
    assert (event.kind, event.occurred_at, event.unit) == (
        EventKind.UPDATE,
        at("2024-03-02T11:00:41"),
        "WARD7",
    )


def test_snapshot_without_version_has_a_deterministic_event_id() -> None:
    document = transfer()
    del document["meta"]
    [first] = parse(document)
    [again] = parse(copy.deepcopy(document))
    assert first.event_id == again.event_id == f"Encounter/{STAY}/transfer@20240302T110000Z"


# --------------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "count"), [("amended", 8), ("preliminary", 8), ("entered-in-error", 7)])
def test_observation_status(status: str, count: int) -> None:
    document = bundle()
    resource(document, RESPIRATION)["status"] = status
    assert len(parse(document)) == count


def test_fahrenheit_temperature_is_converted() -> None:
    document = bundle()
    resource(document, 9)["valueQuantity"] = {"value": 101.3, "unit": "degF", "code": "[degF]"}
    assert parse(document)[5].payload == {"temperature_c": 38.5}


@pytest.mark.parametrize(
    ("observation", "on_oxygen"),
    [
        (
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "3150-0"}]},
                "valueQuantity": {"value": 0.4},
            },
            True,
        ),
        (
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "3150-0"}]},
                "valueQuantity": {"value": 21, "code": "%"},
            },
            False,
        ),
        (
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "3151-8"}]},
                "valueQuantity": {"value": 2},
            },
            True,
        ),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "722742002"}]}}, False),
        (
            {"code": {"coding": [{"system": "http://loinc.org", "code": "3151-8"}]}, "valueBoolean": False},
            False,
        ),
    ],
)
def test_supplemental_oxygen_observations(observation: dict[str, Any], on_oxygen: bool) -> None:
    document = bundle()
    oxygen = resource(document, 11)
    del oxygen["valueCodeableConcept"]
    oxygen.update(observation)
    assert parse(document)[7].payload == {"on_oxygen": on_oxygen}


def test_acvpu_as_text() -> None:
    document = bundle()
    resource(document, ACVPU)["valueCodeableConcept"] = {"text": "New confusion"}
    assert parse(document)[6].payload == {"consciousness": "C"}


# --------------------------------------------------------------------------------------------------
# Malformed documents: every error names its element path
# --------------------------------------------------------------------------------------------------


def _broken(edit: Any) -> dict[str, Any]:
    document = bundle()
    edit(document)
    return document


MALFORMED_BUNDLES: list[tuple[Any, str, str]] = [
    ("{not json", "(document)", "not valid JSON"),
    ("[]", "(document)", "expected a JSON object"),
    ({"id": "x"}, "resourceType", "missing"),
    ({"resourceType": "Condition", "id": "c"}, "resourceType", "this resource type is not supported"),
    (_broken(lambda d: d.pop("type")), "Bundle.type", "required"),
    (_broken(lambda d: d.update(entry={"resource": {}})), "Bundle.entry", "expected a list"),
    (_broken(lambda d: d["entry"].__setitem__(3, "bed")), "Bundle.entry[3]", "expected an object"),
    (
        _broken(lambda d: resource(d, 1).pop("resourceType")),
        "Bundle.entry[1].resource.resourceType",
        "missing",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER).update(status="admitted")),
        "Bundle.entry[4].resource.status",
        "not an R4B encounter status (expected one of arrived, cancelled",
    ),
    (_broken(lambda d: resource(d, ENCOUNTER).pop("class")), "Bundle.entry[4].resource.class", "required"),
    (
        _broken(lambda d: resource(d, ENCOUNTER)["period"].update(start="1 March")),
        "Bundle.entry[4].resource.period.start",
        "DateTime",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER).pop("subject")),
        "Bundle.entry[4].resource.subject",
        "missing: the event needs the patient",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER).pop("location")),
        "Bundle.entry[4].resource.location",
        "an inpatient admission needs an active location",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER).pop("period")),
        "Bundle.entry[4].resource.period.start",
        "missing: the stay needs its start",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER)["location"][0].update(location={"display": "somewhere"})),
        "Bundle.entry[4].resource.location[0].location",
        "names no Location",
    ),
    (
        _broken(lambda d: resource(d, ENCOUNTER).update(unexpected=1)),
        "Bundle.entry[4].resource.unexpected",
        "Extra inputs are not permitted",
    ),
    (
        _broken(lambda d: resource(d, RESPIRATION)["valueQuantity"].update(value="twenty")),
        "Bundle.entry[5].resource.valueQuantity.value",
        "Decimal",
    ),
    (
        _broken(lambda d: resource(d, RESPIRATION).pop("encounter")),
        "Bundle.entry[5].resource.encounter",
        "missing: the observation needs its encounter",
    ),
    (
        _broken(lambda d: resource(d, RESPIRATION).pop("effectiveDateTime")),
        "Bundle.entry[5].resource.effective[x]",
        "missing: the observation needs its time",
    ),
    (
        _broken(lambda d: resource(d, RESPIRATION).update(effectiveDateTime="2024-03-02")),
        "Bundle.entry[5].resource.effectiveDateTime",
        "is not a date and time with a timezone (expected a date and time with a time zone",
    ),
    (
        _broken(lambda d: resource(d, ACVPU).update(valueCodeableConcept={"text": "drowsy"})),
        "Bundle.entry[10].resource.valueCodeableConcept",
        "not an ACVPU answer (expected alert, new confusion, voice, pain or unresponsive",
    ),
    (
        _broken(lambda d: resource(d, 7)["component"][0]["valueQuantity"].update(value="high")),
        "Bundle.entry[7].resource.component[0].valueQuantity.value",
        "Decimal",
    ),
]


@pytest.mark.parametrize(("document", "location", "reason"), MALFORMED_BUNDLES)
def test_malformed_document_names_the_element(document: Any, location: str, reason: str) -> None:
    with pytest.raises(FHIRParseError) as raised:
        parse(document)
    assert raised.value.location == location
    assert reason in raised.value.reason
    assert isinstance(raised.value, EventParseError)
    for echoed in ("Condition", "admitted", "2024-03-02", "drowsy", "twenty", "1 March", "somewhere"):
        assert echoed not in raised.value.reason  # the value found is never repeated


def test_transfer_without_arrival_time_names_the_location_period() -> None:
    document = transfer()
    del document["location"][2]["period"]
    with pytest.raises(FHIRParseError) as raised:
        parse(document)
    assert raised.value.location == "Encounter.location[2].period.start"
    assert raised.value.message_id == "enc-778812"


def test_finished_encounter_without_end_names_period_end() -> None:
    document = transfer()
    document["status"] = "finished"
    with pytest.raises(FHIRParseError) as raised:
        parse(document)
    assert (raised.value.location, raised.value.reason) == (
        "Encounter.period.end",
        "missing: a finished encounter needs its end",
    )


def test_unknown_location_code_names_the_reference() -> None:
    with pytest.raises(FHIRParseError) as raised:
        parse(transfer(), unit_codes={"AMU": "acute_medical_unit"})
    assert raised.value.location == "Encounter.location[2].location"
    assert raised.value.reason == "location code not known to the hospital (known: AMU)"


def test_resource_types_we_do_not_read_are_skipped_even_if_unknown() -> None:
    document = bundle()
    document["entry"].append({"resource": {"resourceType": "Flag", "status": "active"}})
    document["entry"].append({"request": {"method": "DELETE", "url": "Observation/old"}})
    assert len(parse(document)) == 8


# --------------------------------------------------------------------------------------------------
# Values from the record never come back in an error; extreme values are errors, not crashes
# --------------------------------------------------------------------------------------------------

PHI_NAME = "Zebulonsky"


@pytest.mark.parametrize(
    ("edit", "location"),
    [
        (lambda d: resource(d, ENCOUNTER).update(status=PHI_NAME), "Bundle.entry[4].resource.status"),
        (
            lambda d: resource(d, ENCOUNTER)["period"].update(start=f"{PHI_NAME} 2024"),
            "Bundle.entry[4].resource.period.start",
        ),
        (
            lambda d: resource(d, ACVPU).update(valueCodeableConcept={"text": PHI_NAME}),
            "Bundle.entry[10].resource.valueCodeableConcept",
        ),
        (
            lambda d: resource(d, RESPIRATION)["valueQuantity"].update(value=PHI_NAME),
            "Bundle.entry[5].resource.valueQuantity.value",
        ),
        (lambda d: resource(d, ENCOUNTER).update(id=f"{PHI_NAME}!"), "Bundle.entry[4].resource.id"),
        (
            lambda d: resource(d, ENCOUNTER)["identifier"][0].update(value=[PHI_NAME]),
            "Bundle.entry[4].resource.identifier[0].value",
        ),
    ],
)
def test_errors_name_the_path_never_the_value(edit: Any, location: str) -> None:
    document = bundle()
    edit(document)
    with pytest.raises(FHIRParseError) as raised:
        parse(document, unit_codes={"WARD7": "ward_7"})
    assert raised.value.location == location
    assert PHI_NAME.lower() not in raised.value.reason.lower()
    assert PHI_NAME.lower() not in raised.value.location.lower()


def test_an_unknown_location_code_is_not_repeated() -> None:
    with pytest.raises(FHIRParseError) as raised:
        parse(transfer(), unit_codes={"AMU": "acute_medical_unit"})
    assert "WARD7" not in raised.value.reason


@pytest.mark.parametrize(
    ("where", "moment"),
    [
        ("period.start", "0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        ("period.start", "9999-12-31T23:59:59-14:00"),  # after year 9999 in UTC
        ("meta.lastUpdated", "0001-01-01T00:00:00+14:00"),
        ("location[0].period.start", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_a_moment_out_of_range_in_utc_is_an_error_naming_it(where: str, moment: str) -> None:
    document = bundle()
    encounter = resource(document, ENCOUNTER)
    encounter.setdefault("meta", {}).pop("versionId", None)
    if where == "meta.lastUpdated":
        encounter["meta"]["lastUpdated"] = moment
    elif where == "period.start":
        encounter["period"]["start"] = moment
        encounter["location"][0].setdefault("period", {})["start"] = "2024-03-01T08:20:00Z"
    else:
        encounter["location"][0]["period"] = {"start": moment}
        encounter["status"] = "in-progress"
        encounter["location"].insert(0, {**encounter["location"][0], "status": "completed"})
    with pytest.raises(FHIRParseError) as raised:
        parse(document)
    assert raised.value.location.startswith("Bundle.entry[4].resource.")
    assert raised.value.location.endswith(where)
    assert "out of range" in raised.value.reason and moment not in raised.value.reason


@pytest.mark.parametrize("value", [1e30, 10**40, "1e400"])
def test_an_absurd_vital_sign_is_an_error_not_a_crash(value: Any) -> None:
    document = bundle()
    resource(document, RESPIRATION)["valueQuantity"]["value"] = value
    with pytest.raises(FHIRParseError) as raised:
        parse(document)
    assert raised.value.location == "Bundle.entry[5].resource.valueQuantity.value"


@pytest.mark.parametrize("moment", ["00010101000000+1400", "99991231235959-1400"])
def test_an_hl7_time_out_of_range_in_utc_is_an_error_not_a_crash(moment: str) -> None:
    # The HL7 v2 parser shares the pitfall: an offset that pushes a time past year 1 or 9999 in UTC.
    from patients.errors import HL7ParseError

    hl7_text = (MESSAGES / "adt_a01_admit.hl7").read_text().replace("\n", "\r")
    with pytest.raises(HL7ParseError) as raised:
        parse_hl7_message(hl7_text.replace("20240301082000+0000", moment), salt=SALT)
    assert raised.value.location == "EVN-6"
    assert "out of range" in raised.value.reason


def test_the_text_of_an_error_never_carries_the_resource_id() -> None:
    from patients.errors import FHIRParseError, HL7ParseError

    fhir = FHIRParseError("Encounter.status", "is not an R4B encounter status", message_id="V12345678")
    assert "V12345678" not in str(fhir) and fhir.message_id == "V12345678"
    hl7 = HL7ParseError("PV1-3", "is missing", message_id="MSG-1")
    assert str(hl7).endswith("(message MSG-1)")
