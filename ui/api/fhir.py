"""``POST /fhir``: a FHIR R4 batch or transaction Bundle in, patient events into the store.

The bundle is checked (a Bundle, of type batch or transaction, holding Encounter, Patient, Observation
and Location resources only), then handed to ``ops.ingest.ingest_fhir_bundle`` when that pipeline is
installed, else parsed with :func:`patients.fhir.parse_fhir` (with the service's salt, from
:func:`ops.settings.ingest_salt`) and appended to the event store in one transaction. Every fault becomes a
FHIR OperationOutcome naming the element, e.g. ``Bundle.entry[3].resource.status``, and the form expected,
never the value found; the rejected bundle is quarantined with the reason. Nothing here logs the bundle or
any value from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops.store import Store
from patients.errors import EventParseError
from patients.fhir import parse_fhir
from ui.api.services import optional_function

ACCEPTED_RESOURCES = frozenset({"Encounter", "Patient", "Observation", "Location"})
"""Resource types a bundle sent to ``POST /fhir`` may hold."""

BUNDLE_TYPES = {"batch": "batch-response", "transaction": "transaction-response"}
"""Bundle types accepted, and the type of the answer to each."""

QUARANTINE_SOURCE = "fhir-api"
"""Source recorded with bundles quarantined by the API."""


@dataclass(frozen=True)
class FhirIssue:
    """One thing wrong with a bundle: where (a FHIR path), what kind (FHIR issue type), and why."""

    expression: str
    code: str
    diagnostics: str


class FhirRejected(ValueError):
    """A bundle refused as a whole; ``status`` is the HTTP status (400 not a bundle, 422 invalid)."""

    def __init__(self, status: int, issues: Sequence[FhirIssue]) -> None:
        self.status = status
        self.issues = list(issues)
        super().__init__("; ".join(f"{issue.expression}: {issue.diagnostics}" for issue in issues))


def operation_outcome(issues: Sequence[FhirIssue]) -> dict[str, Any]:
    """A FHIR OperationOutcome with one error per issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue.code,
                "diagnostics": issue.diagnostics,
                "expression": [issue.expression],
            }
            for issue in issues
        ],
    }


def check_bundle(bundle: Mapping[str, Any]) -> str:
    """Check the bundle's shape; returns the answer's bundle type (:class:`FhirRejected` if wrong)."""
    if bundle.get("resourceType") != "Bundle":
        raise FhirRejected(400, [FhirIssue("Bundle.resourceType", "invalid", "expected a FHIR Bundle")])
    bundle_type = bundle.get("type")
    if not isinstance(bundle_type, str) or bundle_type not in BUNDLE_TYPES:
        raise FhirRejected(
            400,
            [FhirIssue("Bundle.type", "not-supported", "only batch and transaction bundles are accepted")],
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirRejected(422, [FhirIssue("Bundle.entry", "structure", "expected a list of entries")])
    issues: list[FhirIssue] = []
    for number, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            issues.append(FhirIssue(f"Bundle.entry[{number}].resource", "required", "expected a resource"))
            continue
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in ACCEPTED_RESOURCES:
            accepted = ", ".join(sorted(ACCEPTED_RESOURCES))
            issues.append(
                FhirIssue(
                    f"Bundle.entry[{number}].resource.resourceType",
                    "not-supported",
                    f"resource type not accepted here (accepted: {accepted})",
                )
            )
    if issues:
        raise FhirRejected(422, issues)
    return BUNDLE_TYPES[bundle_type]


def ingest_bundle(store: Store, bundle: Mapping[str, Any], salt: bytes) -> dict[str, Any]:
    """Check and ingest a bundle; returns the FHIR batch/transaction response Bundle.

    Parameters
    ----------
    store
        Where the events go.
    bundle
        The decoded bundle.
    salt
        The pseudonymisation salt (:func:`ops.settings.ingest_salt`).

    Raises
    ------
    FhirRejected
        With the OperationOutcome issues, after quarantining the bundle.
    """
    try:
        response_type = check_bundle(bundle)
        entry_statuses = _ingest(store, bundle, salt)
    except FhirRejected as rejected:
        store.quarantine_message(
            json.dumps(bundle, sort_keys=True, default=str), str(rejected), source=QUARANTINE_SOURCE
        )
        raise
    return {
        "resourceType": "Bundle",
        "type": response_type,
        "entry": [{"response": {"status": status}} for status in entry_statuses],
    }


def _ingest(store: Store, bundle: Mapping[str, Any], salt: bytes) -> list[str]:
    entries = bundle.get("entry", [])
    ingest = optional_function("ops.ingest", "ingest_fhir_bundle")
    if ingest is not None:
        try:
            outcomes = ingest(store, dict(bundle))
        except EventParseError as error:
            raise FhirRejected(422, [FhirIssue(error.location, "invalid", error.reason)]) from None
        return _statuses_from_pipeline(outcomes, len(entries))
    try:
        events = parse_fhir(dict(bundle), salt=salt)
    except EventParseError as error:
        raise FhirRejected(422, [FhirIssue(error.location, "invalid", error.reason)]) from None
    result = store.append_events(events)
    status = "201 Created" if result.inserted else "200 OK"
    return [status] * len(entries)


def _statuses_from_pipeline(outcomes: Any, entries: int) -> list[str]:
    """Per-entry HTTP statuses from the ingestion pipeline's outcomes (adapted in one place)."""
    issues: list[FhirIssue] = []
    statuses: list[str] = []
    for name in ("entries", "outcomes"):  # a result object holding the per-entry list
        if not isinstance(outcomes, Sequence | Mapping) and hasattr(outcomes, name):
            outcomes = getattr(outcomes, name)
    per_entry = list(outcomes)[:entries] if isinstance(outcomes, Sequence) else []
    for number, outcome in enumerate(per_entry):
        location = _field(outcome, "location")
        reason = _field(outcome, "reason") or _field(outcome, "error")
        if reason:
            issues.append(FhirIssue(str(location or f"Bundle.entry[{number}]"), "invalid", str(reason)))
            statuses.append("422 Unprocessable Entity")
            continue
        inserted = _field(outcome, "inserted")
        statuses.append("200 OK" if inserted == 0 or inserted is False else "201 Created")
    if issues:
        raise FhirRejected(422, issues)
    statuses.extend(["200 OK"] * (entries - len(statuses)))
    return statuses


def _field(outcome: Any, name: str) -> Any:
    """An outcome's field, whether the pipeline gives objects or mappings."""
    return outcome.get(name) if isinstance(outcome, Mapping) else getattr(outcome, name, None)


_CODING = {
    "type": "object",
    "properties": {"system": {"type": "string"}, "code": {"type": "string"}},
}
_CONCEPT = {"type": "object", "properties": {"coding": {"type": "array", "items": _CODING}, "text": {}}}
_REFERENCE = {
    "type": "object",
    "properties": {"reference": {"type": "string"}, "identifier": {"type": "object"}},
}
_PERIOD = {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}}
_RESOURCE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string", "enum": sorted(ACCEPTED_RESOURCES)},
        "id": {"type": "string"},
        "meta": {
            "type": "object",
            "properties": {"versionId": {"type": "string"}, "lastUpdated": {"type": "string"}},
        },
        "status": {"type": "string"},
        "class": _CODING,
        "identifier": {
            "type": "array",
            "items": {"type": "object", "properties": {"type": _CONCEPT, "value": {"type": "string"}}},
        },
        "subject": _REFERENCE,
        "encounter": _REFERENCE,
        "period": _PERIOD,
        "location": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"location": _REFERENCE, "status": {"type": "string"}, "period": _PERIOD},
            },
        },
        "partOf": _REFERENCE,
        "physicalType": _CONCEPT,
        "code": _CONCEPT,
        "effectiveDateTime": {"type": "string"},
        "valueQuantity": {"type": "object", "properties": {"value": {"type": "number"}, "code": {}}},
    },
}

BUNDLE_OPENAPI_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "type"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string", "enum": sorted(BUNDLE_TYPES)},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": _RESOURCE,
                    "request": {"type": "object"},
                },
            },
        },
    },
    "description": "A FHIR R4 Bundle (batch or transaction) of Encounter, Patient, Observation and Location",
}
"""The request body of ``POST /fhir`` as the OpenAPI document states it.

A sketch of the FHIR structures we read, loose on purpose (FHIR allows far more), so that a fuzzer working
from the OpenAPI document sends bundles that reach the FHIR parser rather than stopping at the shape check.
"""
