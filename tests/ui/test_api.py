"""The API service: read routes, scenarios (versioned), FHIR ingestion and what-if jobs, in-process."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ops.store import Store
from patients.census.schema import CENSUS_FORECAST_SCHEMA
from scenarios import load_scenario, scenario_path
from tests.ui import test_api_support as support
from tests.ui.test_api_support import admission_bundle, bearer

# Fixtures shared by the API tests.
api_app = support.api_app
api_store = support.api_store
client = support.client
tokens = support.tokens

HEX_KEY = re.compile(r"^[0-9a-f]{32}$")


def test_health_needs_no_token_and_names_the_database(client: TestClient) -> None:
    answer = client.get("/health")

    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["database"] == "sqlite"


def test_units_are_those_of_the_hospital_scenario(client: TestClient, tokens: dict[str, str]) -> None:
    baseline = load_scenario(scenario_path("baseline"))

    answer = client.get("/units", headers=bearer(tokens["viewer"]))

    assert answer.status_code == 200
    assert [(u["id"], u["beds"]) for u in answer.json()] == [(u.id, u.beds) for u in baseline.hospital.units]


def test_census_and_twins_answer_409_before_any_event(client: TestClient, tokens: dict[str, str]) -> None:
    for path in ("/census/now", "/twins"):
        answer = client.get(path, headers=bearer(tokens["planner"]))
        assert answer.status_code == 409
        assert "no patient events" in answer.json()["detail"]


def test_census_counts_the_patients_admitted_through_fhir(client: TestClient, tokens: dict[str, str]) -> None:
    feed, planner = bearer(tokens["feed"]), bearer(tokens["planner"])
    admissions = [("AMU", "A", 23), ("AMU", "B", 12), ("ICU", "A", 30)]
    for number, (unit, bed, rate) in enumerate(admissions):
        bundle = admission_bundle(
            mrn=f"90{number}", visit=f"V{number}", unit=unit, bed=bed, respiratory_rate=rate
        )
        assert client.post("/fhir", json=bundle, headers=feed).status_code == 200

    census = client.get("/census/now", headers=planner).json()
    twins = client.get("/twins", headers=planner).json()

    by_unit = {row["unit"]: row for row in census["units"]}
    assert census["total"] == 3 == twins["count"]
    assert by_unit["AMU"]["census"] == 2 and by_unit["ICU"]["census"] == 1
    assert by_unit["AMU"]["occupancy"] == 2 / by_unit["AMU"]["beds"]
    assert sum(row["census"] for row in census["units"]) == 3
    # respiratory rate 30 scores 3 on its own: a single 3 puts the patient in the medium band, not high.
    assert by_unit["ICU"]["high_acuity"] == 0
    assert all(HEX_KEY.match(t["patient_key"]) and HEX_KEY.match(t["encounter_id"]) for t in twins["twins"])
    assert [t["unit"] for t in client.get("/twins?unit=ICU", headers=planner).json()["twins"]] == ["ICU"]


def _forecast_frame(origin: datetime, hours: int) -> pl.DataFrame:
    generator = np.random.default_rng(7)
    rows = []
    for unit, beds in (("AMU", 40), ("ICU", 16)):
        for hour in range(1, hours + 1):
            mean = float(generator.uniform(0.5, 1.1) * beds)
            rows.append(
                {
                    "unit_id": unit,
                    "at": origin + timedelta(hours=hour),
                    "horizon_hours": hour,
                    "mean": mean,
                    "p05": mean * 0.8,
                    "p50": mean,
                    "p95": mean * 1.2,
                    "mean_high_acuity": mean * 0.1,
                    "beds": beds,
                    "p_over_capacity": float(generator.uniform(0, 0.3)),
                }
            )
    return pl.DataFrame(rows, schema=CENSUS_FORECAST_SCHEMA)


def test_forecast_summary_agrees_with_the_stored_frame(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    viewer = bearer(tokens["viewer"])
    assert client.get("/forecasts/census", headers=viewer).status_code == 404
    origin = datetime(2026, 1, 5, tzinfo=UTC)
    frame = _forecast_frame(origin, 72)
    api_store.save_forecast("census", origin, frame)

    answer = client.get("/forecasts/census?hours=48", headers=viewer).json()

    first_two_days = frame.filter(pl.col("horizon_hours") <= 48)
    amu = first_two_days.filter(pl.col("unit_id") == "AMU")
    line = {unit["unit_id"]: unit for unit in answer["units"]}["AMU"]
    assert len(answer["points"]) == first_two_days.height
    assert line["peak_p95"] == amu["p95"].max()
    assert line["hours_at_risk"] == int((amu["p_over_capacity"] > 0.10).sum())
    only_icu = client.get("/forecasts/census?unit=ICU", headers=viewer).json()
    assert {point["unit_id"] for point in only_icu["points"]} == {"ICU"}


def test_plans_latest_and_by_version_and_alerts(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    viewer = bearer(tokens["viewer"])
    assert client.get("/plans/roster/latest", headers=viewer).status_code == 404
    assert client.get("/alerts", headers=viewer).status_code == 404
    api_store.save_plan("nightly", {"alerts": [{"unit": "AMU", "kind": "over_capacity"}]})
    api_store.save_plan(
        "nightly", {"alerts": [{"unit": "ICU", "kind": "unfilled_shift", "share": float("nan")}]}
    )

    latest = client.get("/plans/nightly/latest", headers=viewer).json()
    first = client.get("/plans/nightly/1", headers=viewer).json()
    alerts = client.get("/alerts", headers=viewer).json()

    assert (latest["version"], latest["status"]) == (2, "published")
    assert (first["version"], first["status"]) == (1, "superseded")
    assert alerts["plan_version"] == 2
    assert alerts["alerts"] == [{"unit": "ICU", "kind": "unfilled_shift", "share": None}]  # NaN is not JSON
    assert client.get("/plans/nightly/3", headers=viewer).status_code == 404


def test_every_scenario_save_is_a_new_version_and_old_ones_stay_readable(
    client: TestClient, tokens: dict[str, str]
) -> None:
    planner = bearer(tokens["planner"])
    text = scenario_path("winter_surge").read_text()
    changed = text.replace("horizon_days = 28", "horizon_days = 21")
    assert changed != text

    first = client.post("/scenarios", json={"name": "surge", "toml_text": text}, headers=planner)
    second = client.post("/scenarios", json={"name": "surge", "toml_text": changed}, headers=planner)

    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert client.get("/scenarios/surge", headers=planner).json()["toml_text"] == changed
    assert client.get("/scenarios/surge/versions/1", headers=planner).json()["toml_text"] == text
    assert client.get("/scenarios/surge", headers=planner).json()["versions"] == [1, 2]
    assert client.get("/scenarios", headers=planner).json()[0]["latest_version"] == 2
    assert client.get("/scenarios/nope", headers=planner).status_code == 404
    assert client.get("/scenarios/surge/versions/3", headers=planner).status_code == 404


def test_an_invalid_scenario_is_refused_naming_every_key_at_fault(
    client: TestClient, tokens: dict[str, str]
) -> None:
    planner = bearer(tokens["planner"])
    text = '[scenario]\nname = "x"\nbase = "baseline.toml"\n\n[[overrides]]\nkind = "beds"\nunit = "AMU"\n'
    outside = '[scenario]\nname = "x"\nbase = "../../etc/passwd"\n'

    answer = client.post("/scenarios", json={"name": "x", "toml_text": text}, headers=planner)
    escaped = client.post("/scenarios", json={"name": "y", "toml_text": outside}, headers=planner)
    broken = client.post("/scenarios", json={"name": "z", "toml_text": "[scenario"}, headers=planner)

    assert answer.status_code == 422
    paths = [".".join(str(part) for part in item["loc"][2:]) for item in answer.json()["detail"]]
    assert any(path.startswith("overrides[0]") for path in paths)
    assert escaped.status_code == 422
    assert escaped.json()["detail"][0]["loc"] == ["body", "toml_text", "scenario", "base"]
    assert broken.status_code == 422 and "TOML" in broken.json()["detail"][0]["msg"]
    assert client.get("/scenarios", headers=planner).json() == []


def test_fhir_bundle_is_stored_once_however_often_it_is_sent(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    feed = bearer(tokens["feed"])
    bundle = admission_bundle()

    first = client.post("/fhir", json=bundle, headers=feed)
    events = api_store.count_events()
    again = client.post("/fhir", json=bundle, headers=feed)

    assert first.status_code == again.status_code == 200
    assert first.json()["type"] == "batch-response"
    assert len(first.json()["entry"]) == len(bundle["entry"])
    assert events == 2  # the admission and the observation
    assert api_store.count_events() == events
    assert {entry["response"]["status"] for entry in again.json()["entry"]} == {"200 OK"}
    transaction = client.post("/fhir", json=admission_bundle(bundle_type="transaction"), headers=feed)
    assert transaction.json()["type"] == "transaction-response"


def test_fhir_errors_are_operation_outcomes_naming_the_failing_entry(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    feed = bearer(tokens["feed"])
    bad_status = admission_bundle()
    bad_status["entry"][3]["resource"]["status"] = "walking"
    foreign = admission_bundle()
    foreign["entry"].insert(1, {"resource": {"resourceType": "MedicationRequest", "id": "m1"}})

    invalid = client.post("/fhir", json=bad_status, headers=feed)
    unsupported = client.post("/fhir", json=foreign, headers=feed)
    collection = client.post("/fhir", json=admission_bundle(bundle_type="collection"), headers=feed)
    not_json = client.post(
        "/fhir", content=b"{not json", headers={**feed, "Content-Type": "application/json"}
    )

    assert invalid.status_code == 422
    assert invalid.json()["resourceType"] == "OperationOutcome"
    assert invalid.json()["issue"][0]["expression"] == ["Bundle.entry[3].resource.status"]
    assert unsupported.status_code == 422
    assert unsupported.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.resourceType"]
    assert collection.status_code == 400 and collection.json()["issue"][0]["expression"] == ["Bundle.type"]
    assert not_json.status_code == 422 and not_json.json()["resourceType"] == "OperationOutcome"
    assert api_store.count_events() == 0
    assert len(api_store.quarantined()) == 3  # the three bundles that were JSON
    rejected = api_store.audit_entries(action="ingest FHIR bundle")
    assert [entry.outcome for entry in rejected] == ["rejected"] * 3


def test_fhir_accepts_the_fhir_json_media_type(client: TestClient, tokens: dict[str, str]) -> None:
    import json

    answer = client.post(
        "/fhir",
        content=json.dumps(admission_bundle()).encode(),
        headers={**bearer(tokens["feed"]), "Content-Type": "application/fhir+json"},
    )

    assert answer.status_code == 200


def test_a_whatif_job_runs_reports_progress_and_its_kpis_are_readable(
    client: TestClient, tokens: dict[str, str], api_app: FastAPI, api_store: Store
) -> None:
    executive = bearer(tokens["executive"])
    params = {"scenario": "winter_surge", "replications": 2, "days": 2, "seed": 3}

    submitted = client.post("/jobs", json={"kind": "whatif", "params": params}, headers=executive)
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    api_app.state.jobs.wait(job_id, timeout=300)
    status = client.get(f"/jobs/{job_id}", headers=executive).json()
    result = client.get(f"/jobs/{job_id}/result", headers=executive).json()["result"]
    kpis = client.get(f"/kpis/{result['run_id']}", headers=executive).json()

    assert status["status"] == "finished"
    assert status["progress_done"] == status["progress_total"] == params["replications"]
    assert result["replications"] == 2
    assert {row["scenario"] for row in kpis["summary"]} == {"Winter surge", "Baseline"}
    attendances = {
        row["scenario"]: row["mean"] for row in kpis["summary"] if row["metric"] == "ed_attendances"
    }
    comparison = {row["metric"]: row for row in kpis["comparison"]}["ed_attendances"]
    assert comparison["difference"] == attendances["Winter surge"] - attendances["Baseline"]
    assert [entry.outcome for entry in api_store.audit_entries(action="run whatif job")] == ["finished"]
    assert client.post(f"/jobs/{job_id}/cancel", headers=executive).status_code == 409  # already ended


def test_job_parameters_are_checked_before_anything_is_queued(
    client: TestClient, tokens: dict[str, str]
) -> None:
    planner = bearer(tokens["planner"])

    unknown = client.post("/jobs", json={"kind": "whatif", "params": {"scenario": "nope"}}, headers=planner)
    wrong = client.post(
        "/jobs", json={"kind": "whatif", "params": {"scenario": "baseline", "days": 0}}, headers=planner
    )

    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "params", "scenario"]
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "params", "days"]
    assert client.get("/jobs", headers=planner).json() == []
    assert client.get(f"/jobs/{'0' * 32}", headers=planner).status_code == 404
    assert client.get(f"/kpis/{12345}", headers=planner).status_code == 404


def test_fhir_uses_the_ingestion_pipeline_when_installed_and_names_its_failing_entry(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.api.fhir as fhir_module

    received: list[dict[str, Any]] = []

    def ingest_fhir_bundle(store: Store, bundle: dict[str, Any]) -> list[dict[str, Any]]:
        received.append(bundle)
        if len(received) == 1:
            return [{"inserted": 1}, {"inserted": 0}] + [{"inserted": 1}] * (len(bundle["entry"]) - 2)
        return [{}, {}, {"location": "Bundle.entry[2].resource.partOf", "reason": "unknown location"}]

    monkeypatch.setattr(fhir_module, "optional_function", lambda module, name: ingest_fhir_bundle)
    feed = bearer(tokens["feed"])

    accepted = client.post("/fhir", json=admission_bundle(), headers=feed)
    refused = client.post("/fhir", json=admission_bundle(), headers=feed)

    assert accepted.status_code == 200
    assert [entry["response"]["status"] for entry in accepted.json()["entry"]][:2] == [
        "201 Created",
        "200 OK",
    ]
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Bundle.entry[2].resource.partOf"]
    assert len(received) == 2
