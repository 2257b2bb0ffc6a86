"""Fixtures and builders shared by the API tests (no tests here): a store, the app, tokens per role, and
FHIR bundles / HL7 messages carrying PHI-shaped values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ops.store import Store, open_store
from ops.store.tokens import ROLES, create_token
from ui.api import ApiSettings, create_app

_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def admission_bundle(
    *,
    mrn: str = "100234",
    family: str = "O'Brien",
    given: str = "Margaret",
    birth_date: str = "1947-03-12",
    visit: str = "V240301001",
    unit: str = "AMU",
    bed: str = "A",
    start: str = "2024-03-01T08:20:00Z",
    respiratory_rate: float | None = 23,
    bundle_type: str = "batch",
) -> dict[str, Any]:
    """A batch Bundle admitting one patient to ``unit``/``bed``, with a respiratory rate observation."""
    patient_id = f"p-{mrn}"
    encounter_id = f"enc-{visit}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"https://fhir.example/Patient/{patient_id}",
            "resource": {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                            ]
                        },
                        "value": mrn,
                    }
                ],
                "name": [{"family": family, "given": [given]}],
                "birthDate": birth_date,
            },
            "request": {"method": "PUT", "url": f"Patient/{patient_id}"},
        },
        {
            "fullUrl": f"https://fhir.example/Location/loc-{unit}",
            "resource": {
                "resourceType": "Location",
                "id": f"loc-{unit}",
                "identifier": [{"value": unit}],
                "physicalType": {"coding": [{"system": _PHYSICAL_TYPE, "code": "wa"}]},
            },
            "request": {"method": "PUT", "url": f"Location/loc-{unit}"},
        },
        {
            "fullUrl": f"https://fhir.example/Location/loc-{unit}-{bed}",
            "resource": {
                "resourceType": "Location",
                "id": f"loc-{unit}-{bed}",
                "identifier": [{"value": bed}],
                "physicalType": {"coding": [{"system": _PHYSICAL_TYPE, "code": "bd"}]},
                "partOf": {"reference": f"Location/loc-{unit}"},
            },
            "request": {"method": "PUT", "url": f"Location/loc-{unit}-{bed}"},
        },
        {
            "fullUrl": f"https://fhir.example/Encounter/{encounter_id}",
            "resource": {
                "resourceType": "Encounter",
                "id": encounter_id,
                "meta": {"versionId": "1"},
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "VN"}
                            ]
                        },
                        "value": visit,
                    }
                ],
                "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": f"Patient/{patient_id}"},
                "period": {"start": start},
                "location": [
                    {
                        "location": {"reference": f"Location/loc-{unit}-{bed}"},
                        "status": "active",
                        "period": {"start": start},
                    }
                ],
            },
            "request": {"method": "PUT", "url": f"Encounter/{encounter_id}"},
        },
    ]
    if respiratory_rate is not None:
        entries.append(
            {
                "fullUrl": f"https://fhir.example/Observation/rr-{visit}",
                "resource": {
                    "resourceType": "Observation",
                    "id": f"rr-{visit}",
                    "meta": {"versionId": "1"},
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "9279-1"}]},
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "encounter": {"reference": f"Encounter/{encounter_id}"},
                    "effectiveDateTime": start,
                    "valueQuantity": {"value": respiratory_rate, "unit": "/min", "code": "/min"},
                },
                "request": {"method": "PUT", "url": f"Observation/rr-{visit}"},
            }
        )
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}


def adt_admit(
    *, control_id: str, mrn: str, family: str, given: str, birth_date: str, visit: str, unit: str = "AMU"
) -> str:
    """An HL7 v2.5 ADT^A01 admitting a patient (segments separated by carriage returns)."""
    segments = [
        f"MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301083512+0000||ADT^A01^ADT_A01|{control_id}|P|2.5|||AL|NE|GBR",
        "EVN|A01|20240301083500+0000",
        f"PID|1||{mrn}^^^RGH^MR||{family.upper()}^{given.upper()}||{birth_date.replace('-', '')}|F",
        f"PV1|1|I|{unit}^12^B^RGH|E||||||MED||||7|||||{visit}^^^RGH^VN|||||||||||||||||||||||||"
        "20240301081500+0000",
    ]
    return "\r".join(segments) + "\r"


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    """An empty SQLite store for the service."""
    with open_store(f"sqlite:///{tmp_path / 'api.db'}", results_dir=tmp_path / "results") as store:
        yield store


@pytest.fixture
def api_app(api_store: Store) -> FastAPI:
    """The service over ``api_store`` (twins rebuilt on every request, so tests see their events)."""
    return create_app(ApiSettings(twins_cache_seconds=0.0, answer_cache_seconds=0.0), store=api_store)


@pytest.fixture
def client(api_app: FastAPI) -> Iterator[TestClient]:
    """An in-process client of the service."""
    with TestClient(api_app) as test_client:
        yield test_client


@pytest.fixture
def tokens(api_store: Store) -> dict[str, str]:
    """One bearer token per role: role -> secret."""
    return {role: create_token(api_store, name=f"test-{role}", role=role)[0] for role in ROLES}


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {secret}"}
