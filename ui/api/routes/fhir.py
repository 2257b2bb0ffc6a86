"""``POST /fhir``: a FHIR batch or transaction Bundle of Encounter, Patient, Observation and Location."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from ui.api import fhir
from ui.api.audit import record
from ui.api.deps import Feed, SaltDep, StoreDep
from ui.api.errors import AUTH_ERRORS
from ui.api.schemas import BundleResponse, OperationOutcome

router = APIRouter(tags=["fhir"])

_OUTCOME = {"model": OperationOutcome}


@router.post(
    "/fhir",
    summary="Ingest a FHIR Bundle",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": fhir.BUNDLE_OPENAPI_SCHEMA},
                "application/fhir+json": {"schema": fhir.BUNDLE_OPENAPI_SCHEMA},
            },
        }
    },
    responses={
        **AUTH_ERRORS,
        400: {**_OUTCOME, "description": "Not a batch or transaction Bundle"},
        422: {**_OUTCOME, "description": "Invalid content, naming the failing entry"},
    },
)
def ingest_fhir(
    caller: Feed,
    request: Request,
    store: StoreDep,
    salt: SaltDep,
    bundle: Annotated[dict[str, Any], Body(description="A FHIR R4 Bundle (batch or transaction)")],
) -> BundleResponse:
    """Store the bundle's events (each once, however often it is sent) and answer per entry.

    Errors are FHIR OperationOutcomes whose ``expression`` names the element at fault, e.g.
    ``Bundle.entry[3].resource.status``; the rejected bundle is quarantined.
    """
    try:
        answer = fhir.ingest_bundle(store, bundle, salt)
    except fhir.FhirRejected as rejected:
        where = [issue.expression for issue in rejected.issues]
        record(store, caller, "ingest FHIR bundle", "rejected", {"where": where[:20]})
        raise
    record(store, caller, "ingest FHIR bundle", "ok", {"entries": len(answer["entry"])})
    return BundleResponse(**answer)
