"""No direct identifier leaves the service or reaches a log.

PHI-shaped values (a medical record number, a visit number, a name, a birth date) go in through FHIR
(``POST /fhir``, valid and invalid bundles, with the values placed in the very elements an error is about:
a status, a time, an id, a vital sign, an ACVPU answer) and HL7 v2 ingestion; then every read route is called
and every log record, stdout/stderr line, answer body and audit entry is searched for them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops.store import Store
from patients.hl7v2 import parse_hl7_message
from tests.ui import test_api_support as support
from tests.ui.test_api_support import admission_bundle, adt_admit, bearer
from ui.api.services import optional_function

# Fixtures shared by the API tests.
api_app = support.api_app
api_store = support.api_store
client = support.client
tokens = support.tokens

MRN = "MRN4471902"
VISIT = "VN88213377"
FAMILY = "Zebulonsky"
GIVEN = "Philomena"
BIRTH_DATE = "1931-07-29"
PHI = [MRN, VISIT, FAMILY, GIVEN, BIRTH_DATE, BIRTH_DATE.replace("-", ""), FAMILY.upper(), GIVEN.upper()]


def _ingest_hl7(store: Store, raw: str) -> None:
    """Through the listener's ingestion function when installed, else parse and append."""
    ingest_hl7 = optional_function("ops.ingest", "ingest_hl7")
    if ingest_hl7 is not None:
        ingest_hl7(store, raw)
    else:
        store.append_events([parse_hl7_message(raw)])


def _leaks(text: str) -> list[str]:
    return [value for value in PHI if value.lower() in text.lower()]


def test_identifiers_never_leave_the_service_nor_reach_the_logs(
    client: TestClient,
    tokens: dict[str, str],
    api_store: Store,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    feed, admin = bearer(tokens["feed"]), bearer(tokens["admin"])
    phi: dict[str, Any] = {
        "mrn": MRN,
        "family": FAMILY,
        "given": GIVEN,
        "birth_date": BIRTH_DATE,
        "visit": VISIT,
    }
    bundle = admission_bundle(**phi, unit="AMU")
    bad_birth_date = admission_bundle(**{**phi, "birth_date": "1931-13-45"}, unit="AMU")
    bad_status = admission_bundle(**phi, unit="AMU")
    bad_status["entry"][3]["resource"]["status"] = "walking"
    # PHI-shaped values in the very fields an error is about: an error that quoted its value would leak.
    leaky: list[Any] = []
    for where, value in (
        (("entry", 3, "resource", "status"), FAMILY),
        (("entry", 3, "resource", "period", "start"), BIRTH_DATE),
        (("entry", 3, "resource", "period", "start"), f"{BIRTH_DATE}T08:00:00"),
        (("entry", 3, "resource", "id"), f"{MRN}/{GIVEN}"),
        (("entry", 3, "resource", "identifier", 0, "value"), [VISIT]),
        (("entry", 4, "resource", "valueQuantity", "value"), VISIT),
        (("entry", 4, "resource", "effectiveDateTime"), f"{BIRTH_DATE} {FAMILY}"),
        (("entry", 0, "resource", "resourceType"), FAMILY),
        (("entry", 0, "resource", "birthDate"), f"{BIRTH_DATE}-{FAMILY}"),
    ):
        broken = admission_bundle(**phi, unit="AMU")
        node: Any = broken
        for part in where[:-1]:
            node = node[part]
        node[where[-1]] = value
        leaky.append(broken)
    acvpu = admission_bundle(**phi, unit="AMU")
    acvpu["entry"][4]["resource"].pop("valueQuantity")
    acvpu["entry"][4]["resource"]["code"] = {"coding": [{"system": "http://loinc.org", "code": "67775-7"}]}
    acvpu["entry"][4]["resource"]["valueCodeableConcept"] = {"text": f"{GIVEN} {FAMILY}"}
    leaky.append(acvpu)

    answers: list[Any] = [
        client.post("/fhir", json=bundle, headers=feed),
        client.post("/fhir", json=bad_birth_date, headers=feed),
        client.post("/fhir", json=bad_status, headers=feed),
    ]
    refused = [client.post("/fhir", json=broken, headers=feed) for broken in leaky]
    assert [answer.status_code for answer in refused] == [422] * len(leaky), [a.text for a in refused]
    assert all(answer.json()["issue"][0]["expression"][0].startswith("Bundle.entry[") for answer in refused)
    _ingest_hl7(
        api_store,
        adt_admit(
            control_id="PHI-1", mrn=MRN, family=FAMILY, given=GIVEN, birth_date=BIRTH_DATE, visit=VISIT + "B"
        ),
    )
    api_store.save_plan("nightly", {"alerts": [{"unit": "AMU", "kind": "over_capacity"}]})
    for path in (
        "/census/now",
        "/census/history",
        "/twins",
        "/units",
        "/alerts",
        "/plans/nightly/latest",
        "/scenarios",
        "/jobs",
        "/runs",
        "/nightly/last-run",
    ):
        answers.append(client.get(path, headers=admin))

    assert answers[0].status_code == 200 and {a.status_code for a in answers[1:3]} == {422}
    assert answers[3].status_code == 200 and answers[5].json()["count"] == 2  # FHIR and HL7 stays
    bodies = "\n".join(answer.text for answer in [*answers, *refused])
    logs = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records
    )
    captured = capfd.readouterr()
    audit = json.dumps(
        [entry.details for entry in api_store.audit_entries()] + [e.actor for e in api_store.audit_entries()]
    )

    assert _leaks(bodies) == []
    assert _leaks(logs) == []
    assert _leaks(captured.out + captured.err) == []
    assert _leaks(audit) == []
    # The quarantine keeps what was refused, exactly as received, for a person to look at.
    assert all(MRN in message.raw for message in api_store.quarantined())
    assert caplog.records, "the test must see the service's log records to mean anything"
