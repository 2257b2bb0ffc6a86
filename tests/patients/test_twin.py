"""Patient twins: exact state through a stay, cancellations, duplicates, late events, census invariants."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.events import AdmissionType, EventKind, PatientEvent, events_to_frame
from patients.fhir import parse_fhir
from patients.hl7v2 import parse_hl7_message
from patients.identity import encounter_key, patient_key
from patients.news2 import AcuityBand
from patients.twin import (
    INSIDE_STATUSES,
    TWIN_SCHEMA,
    ApplyOutcome,
    StayStatus,
    TwinRegistry,
    event_order,
)

MESSAGES = Path(__file__).parent / "messages"
SALT = "test-salt-0123456789"
STAY = encounter_key("V240301001", salt=SALT)
PATIENT = patient_key("100234", salt=SALT)
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
NORMAL_VITALS = {
    "respiration_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "temperature_c": 37.0,
    "systolic_bp": 125,
    "heart_rate": 72,
    "consciousness": "A",
}


def hl7(name: str) -> PatientEvent:
    return parse_hl7_message((MESSAGES / name).read_text().replace("\n", "\r"), salt=SALT)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(
    event_id: str,
    kind: EventKind,
    hours: float,
    *,
    encounter: str = "E1",
    unit: str | None = None,
    bed: str | None = None,
    service: str | None = None,
    payload: dict[str, Any] | None = None,
) -> PatientEvent:
    return PatientEvent(
        event_id=event_id,
        source="synthetic",
        kind=kind,
        occurred_at=T0 + timedelta(hours=hours),
        patient_key=f"patient-of-{encounter}",
        encounter_id=encounter,
        unit=unit,
        bed=bed,
        service=service,
        payload=payload or {},
    )


def where(registry: TwinRegistry, encounter: str = "E1") -> tuple[StayStatus, str | None, str | None]:
    twin = registry.get(encounter)
    assert twin is not None
    return twin.status, twin.unit, twin.bed


# --------------------------------------------------------------------------------------------------
# A stay told by the HL7 fixtures
# --------------------------------------------------------------------------------------------------


def story() -> TwinRegistry:
    return TwinRegistry.from_events(
        [
            hl7("oru_r01_vitals.hl7"),  # any order: from_events replays by time
            hl7("adt_a02_transfer.hl7"),
            hl7("adt_a01_admit.hl7"),
            hl7("adt_a08_update_vitals.hl7"),
            hl7("adt_a04_register.hl7"),
        ]
    )


def test_twin_follows_admission_update_transfer_and_vitals() -> None:
    registry = story()
    twin = registry.get(STAY)
    assert twin is not None
    assert (twin.status, twin.unit, twin.bed, twin.unit_since) == (
        StayStatus.ADMITTED,
        "WARD7",
        "3-A",
        at("2024-03-02T11:00:00"),
    )
    assert (twin.patient_key, twin.service, twin.admission_type) == (PATIENT, "MED", AdmissionType.EMERGENCY)
    assert (twin.arrived_at, twin.admitted_at, twin.discharged_at) == (
        at("2024-03-01T08:20:00"),
        at("2024-03-01T08:20:00"),
        None,
    )
    # A08 vitals at 10:15 scored 7 (high); the ORU set at 14:00 the next day replaced it: 3 (voice).
    assert (twin.news2_score, twin.acuity_band, twin.news2_observed_at) == (
        3,
        AcuityBand.LOW_MEDIUM,
        at("2024-03-02T14:00:00"),
    )
    assert twin.length_of_stay_hours(at("2024-03-02T14:20:00")) == 30.0
    assert registry.census() == 2
    assert registry.census_by_unit() == {"WARD7": 1, "ED": 1}


def test_to_frame_has_the_declared_schema_and_exact_rows() -> None:
    frame = story().to_frame(at("2024-03-02T14:20:00"))
    expected = pl.DataFrame(
        {
            "encounter_id": [encounter_key("V240301777", salt=SALT), STAY],
            "patient_key": [patient_key("100981", salt=SALT), PATIENT],
            "status": ["registered", "admitted"],
            "unit": ["ED", "WARD7"],
            "bed": ["MAJ-4", "3-A"],
            "unit_since": [at("2024-03-01T02:05:00"), at("2024-03-02T11:00:00")],
            "service": ["EM", "MED"],
            "admission_type": ["emergency", "emergency"],
            "arrived_at": [at("2024-03-01T02:05:00"), at("2024-03-01T08:20:00")],
            "admitted_at": [None, at("2024-03-01T08:20:00")],
            "discharged_at": [None, None],
            "length_of_stay_hours": [36.25, 30.0],
            "news2_score": [None, 3],
            "acuity_band": [None, "low_medium"],
            "news2_observed_at": [None, at("2024-03-02T14:00:00")],
        },
        schema=TWIN_SCHEMA,
    )
    assert frame.schema == pl.Schema(TWIN_SCHEMA)
    assert frame.equals(expected)


def test_to_frame_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        story().to_frame(datetime(2024, 3, 2, 14, 20))


def test_cancelled_transfer_moves_the_patient_back() -> None:
    registry = story()
    assert registry.apply(hl7("adt_a12_cancel_transfer.hl7")) is ApplyOutcome.APPLIED
    assert where(registry, STAY) == (StayStatus.ADMITTED, "AMU", "12-B")
    assert registry.census_by_unit() == {"AMU": 1, "ED": 1}


def test_cancelled_transfer_without_location_uses_the_twin_history() -> None:
    registry = TwinRegistry.from_events(
        [
            event("a1", EventKind.ADMIT, 0, unit="AMU", bed="1"),
            event("t1", EventKind.TRANSFER, 5, unit="WARD7", bed="2"),
            event("t2", EventKind.TRANSFER, 9, unit="ICU", bed="3"),
            event("c1", EventKind.CANCEL_TRANSFER, 10),
        ]
    )
    assert where(registry) == (StayStatus.ADMITTED, "WARD7", "2")
    registry.apply(event("c2", EventKind.CANCEL_TRANSFER, 11))
    assert where(registry) == (StayStatus.ADMITTED, "AMU", "1")
    registry.apply(event("c3", EventKind.CANCEL_TRANSFER, 12))  # nothing left to undo
    assert where(registry) == (StayStatus.ADMITTED, "AMU", "1")


def test_discharge_then_cancelled_discharge_reinstates_the_patient() -> None:
    registry = story()
    registry.apply(hl7("adt_a03_discharge.hl7"))
    twin = registry.get(STAY)
    assert twin is not None
    assert (twin.status, twin.discharged_at) == (StayStatus.DISCHARGED, at("2024-03-05T15:30:00"))
    assert registry.census() == 1
    assert registry.to_frame(at("2024-03-06T00:00:00"))["encounter_id"].to_list() == [
        encounter_key("V240301777", salt=SALT)
    ]
    closed = registry.to_frame(at("2024-03-06T00:00:00"), include_closed=True).filter(
        pl.col("encounter_id") == STAY
    )
    # Length of stay stops at the discharge: 1 March 08:20 to 5 March 15:30.
    assert closed["length_of_stay_hours"].to_list() == [pytest.approx(103 + 10 / 60)]

    registry.apply(hl7("adt_a13_cancel_discharge.hl7"))
    assert where(registry, STAY) == (StayStatus.ADMITTED, "WARD7", "3-A")
    assert twin.discharged_at is None
    assert registry.census() == 2


def test_cancelled_admission_removes_the_stay() -> None:
    registry = TwinRegistry.from_events([hl7("adt_a01_admit.hl7"), hl7("adt_a11_cancel_admit.hl7")])
    assert where(registry, STAY)[0] is StayStatus.CANCELLED
    assert registry.census() == 0
    assert registry.census_by_unit() == {}
    assert registry.to_frame(at("2024-03-02T00:00:00")).height == 0
    closed = registry.to_frame(at("2024-03-02T00:00:00"), include_closed=True)
    assert closed["status"].to_list() == ["cancelled"]


def test_cancelled_admission_after_registration_returns_to_the_emergency_department() -> None:
    registry = TwinRegistry.from_events(
        [
            event("r", EventKind.REGISTER, 0, unit="ED", bed="MAJ-4"),
            event("a", EventKind.ADMIT, 3, unit="AMU", bed="12-B"),
            event("t", EventKind.TRANSFER, 6, unit="WARD7", bed="3-A"),
            event("x", EventKind.CANCEL_ADMIT, 7),
        ]
    )
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.status, twin.unit, twin.bed, twin.admitted_at, twin.arrived_at) == (
        StayStatus.REGISTERED,
        "ED",
        "MAJ-4",
        None,
        T0,
    )
    assert twin.length_of_stay_hours(T0 + timedelta(hours=8)) == 8.0


def test_registration_then_admission_counts_stay_from_admission() -> None:
    registry = TwinRegistry.from_events(
        [
            event("r", EventKind.REGISTER, 0, unit="ED", bed="MAJ-4"),
            event("a", EventKind.ADMIT, 3, unit="AMU", bed="12-B", service="MED"),
        ]
    )
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.status, twin.unit, twin.arrived_at, twin.admitted_at) == (
        StayStatus.ADMITTED,
        "AMU",
        T0,
        T0 + timedelta(hours=3),
    )
    assert twin.length_of_stay_hours(T0 + timedelta(hours=5)) == 2.0
    assert registry.census_by_unit() == {"AMU": 1}


def test_readmission_after_cancelled_admission_opens_a_new_stay() -> None:
    registry = TwinRegistry.from_events(
        [
            event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"),
            event("x", EventKind.CANCEL_ADMIT, 1),
            event("b", EventKind.ADMIT, 2, unit="WARD7", bed="2"),
        ]
    )
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.status, twin.unit, twin.admitted_at) == (
        StayStatus.ADMITTED,
        "WARD7",
        T0 + timedelta(hours=2),
    )


# --------------------------------------------------------------------------------------------------
# Duplicates and late events
# --------------------------------------------------------------------------------------------------


def test_duplicate_event_ids_are_ignored() -> None:
    registry = TwinRegistry()
    admission = hl7("adt_a01_admit.hl7")
    assert registry.apply(admission) is ApplyOutcome.APPLIED
    assert registry.apply(admission) is ApplyOutcome.DUPLICATE
    same_id_other_content = event(admission.event_id, EventKind.DISCHARGE, 30, encounter=STAY)
    assert registry.apply(same_id_other_content) is ApplyOutcome.DUPLICATE
    assert registry.census() == 1
    assert where(registry, STAY) == (StayStatus.ADMITTED, "AMU", "12-B")


def test_late_transfer_after_discharge_ends_where_in_order_delivery_would() -> None:
    admission = event("a", EventKind.ADMIT, 0, unit="AMU", bed="1")
    move = event("t", EventKind.TRANSFER, 5, unit="WARD7", bed="2")
    leave = event("d", EventKind.DISCHARGE, 9)
    registry = TwinRegistry()
    assert [registry.apply(item) for item in (admission, leave, move)] == [
        ApplyOutcome.APPLIED,
        ApplyOutcome.APPLIED,
        ApplyOutcome.REPLAYED,
    ]
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.status, twin.unit, twin.discharged_at) == (
        StayStatus.DISCHARGED,
        "WARD7",
        T0 + timedelta(hours=9),
    )
    assert registry.census() == 0


def test_cancelled_transfer_arriving_before_its_transfer() -> None:
    registry = TwinRegistry()
    for item in (
        event("c", EventKind.CANCEL_TRANSFER, 6),
        event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"),
        event("t", EventKind.TRANSFER, 5, unit="WARD7", bed="2"),
    ):
        registry.apply(item)
    assert where(registry) == (StayStatus.ADMITTED, "AMU", "1")
    assert registry.census_by_unit() == {"AMU": 1}


def test_admission_arriving_after_its_cancellation_stays_cancelled() -> None:
    registry = TwinRegistry()
    registry.apply(hl7("adt_a11_cancel_admit.hl7"))
    assert registry.apply(hl7("adt_a01_admit.hl7")) is ApplyOutcome.REPLAYED
    assert where(registry, STAY)[0] is StayStatus.CANCELLED
    assert registry.census() == 0


def test_transfer_without_admission_opens_an_admitted_stay_of_unknown_start() -> None:
    registry = TwinRegistry()
    registry.apply(event("t", EventKind.TRANSFER, 5, unit="WARD7", bed="2"))
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.status, twin.unit, twin.admitted_at) == (StayStatus.ADMITTED, "WARD7", None)
    assert twin.length_of_stay_hours(T0 + timedelta(hours=6)) is None
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"))  # the admission turns up late
    assert (twin.admitted_at, twin.unit) == (T0, "WARD7")


def test_update_for_an_unknown_stay_is_kept_out_of_the_census() -> None:
    registry = TwinRegistry()
    registry.apply(event("u", EventKind.UPDATE, 1, unit="AMU", service="MED"))
    assert where(registry) == (StayStatus.UNKNOWN, None, None)
    assert registry.census() == 0
    assert registry.to_frame(T0, include_closed=True).height == 0


def test_update_naming_another_location_moves_the_patient() -> None:
    registry = TwinRegistry.from_events(
        [
            event("a", EventKind.ADMIT, 0, unit="AMU", bed="1", service="MED"),
            event("u", EventKind.UPDATE, 2, unit="AMU", bed="4", service="GER"),
        ]
    )
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.unit, twin.bed, twin.service, twin.unit_since) == (
        "AMU",
        "4",
        "GER",
        T0 + timedelta(hours=2),
    )


def test_event_order_puts_cancellations_after_what_they_cancel_at_the_same_time() -> None:
    same_time = [
        event("x", EventKind.CANCEL_ADMIT, 1),
        event("d", EventKind.DISCHARGE, 1),
        event("a", EventKind.ADMIT, 1),
        event("t", EventKind.TRANSFER, 1),
        event("r", EventKind.REGISTER, 1),
    ]
    assert [item.event_id for item in sorted(same_time, key=event_order)] == ["r", "a", "t", "d", "x"]


# --------------------------------------------------------------------------------------------------
# Vital signs and NEWS2
# --------------------------------------------------------------------------------------------------


def test_fhir_observations_are_gathered_into_one_scored_set() -> None:
    events = parse_fhir((MESSAGES / "fhir_admission_bundle.json").read_text(), salt=SALT)
    registry = TwinRegistry()
    scores = []
    for item in events:
        registry.apply(item)
        twin = registry.get(STAY)
        assert twin is not None
        scores.append(twin.news2_score)
    # Only the seventh parameter completes the set: RR 23 (2), SpO2 94 (1), oxygen (2), HR 96 (1).
    assert scores == [None, None, None, None, None, None, None, 6]
    assert twin.acuity_band is AcuityBand.MEDIUM


def test_vitals_before_the_admission_are_kept_for_the_twin() -> None:
    registry = TwinRegistry()
    registry.apply(event("o", EventKind.OBSERVATION, 1, payload={**NORMAL_VITALS, "heart_rate": 135}))
    assert registry.census() == 0
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"))
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.news2_score, twin.acuity_band, twin.status) == (
        3,
        AcuityBand.LOW_MEDIUM,
        StayStatus.ADMITTED,
    )


def test_older_vital_signs_do_not_replace_a_newer_score() -> None:
    registry = TwinRegistry()
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"))
    registry.apply(event("new", EventKind.OBSERVATION, 5, payload=NORMAL_VITALS))
    registry.apply(event("old", EventKind.OBSERVATION, 4, payload={**NORMAL_VITALS, "consciousness": "U"}))
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.news2_score, twin.news2_observed_at) == (0, T0 + timedelta(hours=5))


def test_a_correction_at_the_same_time_rescores_the_set() -> None:
    registry = TwinRegistry()
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"))
    registry.apply(event("set", EventKind.OBSERVATION, 5, payload=NORMAL_VITALS))
    registry.apply(event("fix", EventKind.OBSERVATION, 5, payload={"respiration_rate": 26}))
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.news2_score, twin.acuity_band) == (3, AcuityBand.LOW_MEDIUM)


def test_spo2_scale_2_is_used_once_prescribed() -> None:
    registry = TwinRegistry()
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1", payload={"spo2_scale": 2}))
    registry.apply(event("o", EventKind.OBSERVATION, 1, payload={**NORMAL_VITALS, "spo2": 89}))
    twin = registry.get("E1")
    assert twin is not None
    assert (twin.spo2_scale, twin.news2_score) == (2, 0)  # 89% is in the 88-92% target on scale 2


def test_implausible_vital_signs_are_not_scored() -> None:
    registry = TwinRegistry()
    registry.apply(event("a", EventKind.ADMIT, 0, unit="AMU", bed="1"))
    registry.apply(event("o", EventKind.OBSERVATION, 1, payload={**NORMAL_VITALS, "temperature_c": 98.6}))
    twin = registry.get("E1")
    assert twin is not None
    assert twin.news2_score is None


def test_registry_from_an_events_frame() -> None:
    events = [
        hl7(name) for name in ("adt_a01_admit.hl7", "adt_a02_transfer.hl7", "adt_a08_update_vitals.hl7")
    ]
    registry = TwinRegistry.from_frame(events_to_frame(events))
    assert where(registry, STAY) == (StayStatus.ADMITTED, "WARD7", "3-A")
    twin = registry.get(STAY)
    assert twin is not None
    assert (twin.news2_score, twin.acuity_band) == (7, AcuityBand.HIGH)


# --------------------------------------------------------------------------------------------------
# Properties: whatever the arrival order and duplicates, the census stays sound
# --------------------------------------------------------------------------------------------------

WARDS = ["AMU", "WARD7", "ICU", "SAU"]


@dataclass(frozen=True)
class Expected:
    """The end of a stay as its story says, worked out without the twin."""

    encounter_id: str
    status: StayStatus
    unit: str | None
    bed: str | None
    was_admitted: bool
    admission_cancelled: bool


@st.composite
def stay_story(draw: st.DrawFn, number: int) -> tuple[list[PatientEvent], Expected]:
    encounter = f"E{number}"
    events: list[PatientEvent] = []
    clock = T0 + timedelta(minutes=draw(st.integers(0, 24 * 60)))

    def add(kind: EventKind, unit: str | None = None, bed: str | None = None, **payload: Any) -> None:
        nonlocal clock
        clock += timedelta(minutes=draw(st.integers(1, 12 * 60)))
        events.append(
            PatientEvent(
                event_id=f"{encounter}-{len(events)}",
                source="synthetic",
                kind=kind,
                occurred_at=clock,
                patient_key=f"P{number}",
                encounter_id=encounter,
                unit=unit,
                bed=bed,
                payload=payload,
            )
        )

    registered_first = draw(st.booleans())
    admitted = not registered_first or draw(st.booleans())
    places: list[tuple[str, str]] = []
    if registered_first:
        places.append(("ED", "ED-1"))
        add(EventKind.REGISTER, "ED", "ED-1")
    if admitted:
        ward = draw(st.sampled_from(WARDS))
        places.append((ward, f"{ward}-admission"))
        add(EventKind.ADMIT, *places[-1])
    for move in range(draw(st.integers(0, 3))):
        ward = draw(st.sampled_from(WARDS))
        places.append((ward, f"{ward}-move-{move}"))  # every move changes bed
        add(EventKind.TRANSFER, *places[-1])
        if draw(st.booleans()):
            add(EventKind.OBSERVATION, **NORMAL_VITALS)
    transfers_made = len(places) - int(registered_first) - int(admitted)
    if transfers_made and draw(st.booleans()):
        add(EventKind.CANCEL_TRANSFER)
        places.pop()
    discharged = draw(st.booleans())
    if discharged:
        add(EventKind.DISCHARGE)
        if draw(st.booleans()):
            add(EventKind.CANCEL_DISCHARGE)
            discharged = False
    cancelled = not discharged and draw(st.booleans())
    if cancelled:
        add(EventKind.CANCEL_ADMIT)

    unit, bed = places[-1]
    if cancelled and registered_first and admitted:
        status, (unit, bed) = StayStatus.REGISTERED, places[0]
    elif cancelled:
        status = StayStatus.CANCELLED
    elif discharged:
        status = StayStatus.DISCHARGED
    else:
        status = StayStatus.ADMITTED if admitted else StayStatus.REGISTERED
    return events, Expected(encounter, status, unit, bed, admitted, cancelled)


hospital_stories = st.integers(1, 6).flatmap(lambda count: st.tuples(*[stay_story(n) for n in range(count)]))


def check_census(registry: TwinRegistry) -> None:
    by_unit = registry.census_by_unit()
    assert all(count > 0 for count in by_unit.values())
    inside = registry.inside()
    assert registry.census() == len(inside) == sum(by_unit.values())
    for twin in inside:
        assert twin.status in INSIDE_STATUSES
    assert {unit: sum(1 for twin in inside if twin.unit == unit) for unit in by_unit} == by_unit


@settings(max_examples=300, deadline=None)
@given(stories=hospital_stories, data=st.data())
def test_census_is_sound_whatever_the_arrival_order(
    stories: tuple[tuple[list[PatientEvent], Expected], ...], data: st.DataObject
) -> None:
    events = [item for story_events, _ in stories for item in story_events]
    arrival = list(data.draw(st.permutations(events), label="arrival order"))
    for replayed in data.draw(st.lists(st.sampled_from(events), max_size=5), label="re-sent"):
        arrival.insert(data.draw(st.integers(0, len(arrival)), label="re-sent at"), replayed)

    registry = TwinRegistry()
    for item in arrival:
        registry.apply(item)
        check_census(registry)

    for _, expected in stories:
        twin = registry.get(expected.encounter_id)
        assert twin is not None
        assert twin.status is expected.status
        if twin.inside:
            assert (twin.unit, twin.bed) == (expected.unit, expected.bed)
        if expected.was_admitted and not expected.admission_cancelled:
            # Every admitted patient is either discharged or still inside.
            assert twin.status is StayStatus.DISCHARGED or twin in registry.inside()


@settings(max_examples=100, deadline=None)
@given(stories=hospital_stories, data=st.data())
def test_incremental_updates_equal_a_replay_in_time_order(
    stories: tuple[tuple[list[PatientEvent], Expected], ...], data: st.DataObject
) -> None:
    events = [item for story_events, _ in stories for item in story_events]
    incremental = TwinRegistry()
    for item in data.draw(st.permutations(events), label="arrival order"):
        incremental.apply(item)
    replayed = TwinRegistry.from_events(events)
    now = T0 + timedelta(days=30)
    assert incremental.to_frame(now, include_closed=True).equals(replayed.to_frame(now, include_closed=True))
    assert json.dumps(incremental.census_by_unit(), sort_keys=True) == json.dumps(
        replayed.census_by_unit(), sort_keys=True
    )
