"""The routes the command view needs in API mode, the audit entry of every write and run, the coarsened
twins, and the salt the service refuses to start without."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ops.jobs import JobContext, JobKind, JobRunner, check_whatif_params
from ops.settings import (
    DEMO_MODE_ENVIRONMENT_VARIABLE,
    SALT_FILE_ENVIRONMENT_VARIABLE,
    SaltNotConfigured,
    store_salt_file,
)
from ops.store import Store, open_store
from patients.identity import DEMO_SALT, SALT_ENVIRONMENT_VARIABLE, patient_key
from scenarios import scenario_path
from tests.ui import test_api_support as support
from tests.ui.test_api_support import admission_bundle, bearer
from ui.api import ApiSettings, create_app
from ui.api.services import TWIN_TIME_COLUMNS

# Fixtures shared by the API tests.
api_app = support.api_app
api_store = support.api_store
client = support.client
tokens = support.tokens


@pytest.fixture(autouse=True)
def _no_salt_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SALT_ENVIRONMENT_VARIABLE, SALT_FILE_ENVIRONMENT_VARIABLE, DEMO_MODE_ENVIRONMENT_VARIABLE):
        monkeypatch.delenv(name, raising=False)


def _audit(store: Store, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, outcome, details) of every entry of ``action``, oldest first."""
    return [(e.actor, e.outcome, e.details) for e in reversed(store.audit_entries(action=action))]


# -- twins ------------------------------------------------------------------------------------------------


def test_twins_give_hours_not_minutes_and_no_bed(client: TestClient, tokens: dict[str, str]) -> None:
    feed, planner = bearer(tokens["feed"]), bearer(tokens["planner"])
    start = "2024-03-01T08:20:37Z"
    assert client.post("/fhir", json=admission_bundle(start=start), headers=feed).status_code == 200

    (twin,) = client.get("/twins", headers=planner).json()["twins"]

    assert "bed" not in twin
    assert twin["admitted_at"].startswith("2024-03-01T08:00:00")
    times = [twin[column] for column in TWIN_TIME_COLUMNS if twin[column] is not None]
    assert times and all(datetime.fromisoformat(value).minute == 0 for value in times)
    assert twin["length_of_stay_hours"] == int(twin["length_of_stay_hours"])
    assert twin["length_of_stay_hours"] > 24  # the stay started in 2024
    assert (
        "bed" not in client.get("/openapi.json").json()["components"]["schemas"]["TwinPublic"]["properties"]
    )


# -- the salt ---------------------------------------------------------------------------------------------


def test_fhir_keys_are_made_with_the_salt_kept_beside_the_store(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    client.post("/fhir", json=admission_bundle(mrn="100234"), headers=bearer(tokens["feed"]))
    (twin,) = client.get("/twins", headers=bearer(tokens["planner"])).json()["twins"]

    salt_file = store_salt_file(api_store)
    assert salt_file is not None and salt_file.is_file()
    assert twin["patient_key"] == patient_key("100234", salt=salt_file.read_bytes().strip())
    assert twin["patient_key"] != patient_key("100234", salt=DEMO_SALT)


def test_the_service_refuses_to_start_without_a_secret_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store("sqlite://") as store:  # no file beside which to keep a salt, as with PostgreSQL
        with pytest.raises(SaltNotConfigured, match=SALT_ENVIRONMENT_VARIABLE):
            create_app(ApiSettings(), store=store)
        monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, DEMO_SALT)
        with pytest.raises(SaltNotConfigured, match="public demo salt"):
            create_app(ApiSettings(), store=store)
        demo = create_app(ApiSettings(demo=True), store=store)
        assert demo.state.salt == DEMO_SALT.encode()
        monkeypatch.setenv(SALT_ENVIRONMENT_VARIABLE, "a-long-random-secret")
        assert create_app(ApiSettings(), store=store).state.salt == b"a-long-random-secret"


def test_serve_says_what_to_set_and_exits_when_no_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from ui.commands.serve import EXIT_NO_SALT, serve

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(app))
    app = typer.Typer()
    app.command("serve")(serve)
    app.command("other")(lambda: None)

    answer = CliRunner().invoke(app, ["serve", "--database", "sqlite://"])

    assert answer.exit_code == EXIT_NO_SALT
    assert SALT_ENVIRONMENT_VARIABLE in answer.output and SALT_FILE_ENVIRONMENT_VARIABLE in answer.output
    assert started == []


# -- audit ------------------------------------------------------------------------------------------------


def test_every_write_and_every_run_leaves_an_audit_entry(api_app: FastAPI, api_store: Store) -> None:
    started = threading.Event()

    def wait_for_cancel(store: Store, params: Any, context: JobContext) -> dict[str, Any]:
        started.set()
        context.cancel_event.wait(30)
        return {"stopped": True}

    api_app.state.jobs = JobRunner(
        api_store, kinds={"whatif": JobKind("whatif", check_whatif_params, wait_for_cancel)}
    )
    from ops.store.tokens import create_token

    planner = bearer(create_token(api_store, name="ana", role="planner")[0])
    feed = bearer(create_token(api_store, name="pas-feed", role="feed")[0])
    draft = api_store.save_plan("roster", {"days": 1}, status="draft")
    surge = scenario_path("winter_surge").read_text()
    with TestClient(api_app) as client:
        saved = client.post("/scenarios", json={"name": "surge", "toml_text": surge}, headers=planner)
        ingested = client.post("/fhir", json=admission_bundle(), headers=feed)
        job = client.post(
            "/jobs",
            json={"kind": "whatif", "params": {"scenario": "surge", "replications": 2}},
            headers=planner,
        ).json()
        assert started.wait(30)
        cancelled = client.post(f"/jobs/{job['id']}/cancel", headers=planner)
        api_app.state.jobs.wait(job["id"], timeout=30)
        published = client.post(f"/plans/roster/{draft.version}/publish", headers=planner)

    assert saved.status_code == 201 and ingested.status_code == 200
    assert cancelled.status_code == 202 and published.status_code == 200
    assert _audit(api_store, "save scenario") == [("ana (planner)", "ok", {"name": "surge", "version": 1})]
    assert _audit(api_store, "ingest FHIR bundle") == [
        ("pas-feed (feed)", "ok", {"entries": len(admission_bundle()["entry"])})
    ]
    assert _audit(api_store, "submit whatif job") == [("ana (planner)", "ok", {"job_id": job["id"]})]
    assert _audit(api_store, "cancel whatif job") == [("ana (planner)", "ok", {"job_id": job["id"]})]
    assert _audit(api_store, "run whatif job") == [
        ("ana (planner)", "cancelled", {"job_id": job["id"], "status": "cancelled"})
    ]
    assert _audit(api_store, "publish plan") == [
        ("ana (planner)", "ok", {"plan_kind": "roster", "version": draft.version})
    ]


# -- routes of the command view's API mode ----------------------------------------------------------------


def test_census_history_counts_the_stays_up_to_the_newest_event(
    client: TestClient, tokens: dict[str, str]
) -> None:
    feed, viewer = bearer(tokens["feed"]), bearer(tokens["viewer"])
    assert client.get("/census/history", headers=viewer).status_code == 409
    for number, unit in enumerate(("AMU", "AMU", "ICU")):
        bundle = admission_bundle(
            mrn=f"7{number}", visit=f"W{number}", unit=unit, start="2024-03-01T08:20:00Z"
        )
        assert client.post("/fhir", json=bundle, headers=feed).status_code == 200

    answer = client.get(
        "/census/history", params={"until": "2024-03-01T12:00:00Z", "days": 1}, headers=viewer
    )
    naive = client.get("/census/history", params={"until": "2024-03-01T12:00:00"}, headers=viewer)
    absurd = client.get("/census/history", params={"until": "0001-01-01T00:00:00+14:00"}, headers=viewer)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    readings = {(r["unit_id"], r["at"][:16]): r["census"] for r in body["readings"]}
    # Readings stop at the newest event (08:20) and go back 6 h at a time over the day asked for.
    assert max(at for _, at in readings) == "2024-03-01T08:20"
    assert readings[("AMU", "2024-03-01T08:20")] == 2 and readings[("ICU", "2024-03-01T08:20")] == 1
    assert readings[("AMU", "2024-03-01T02:20")] == 0
    assert body["step_hours"] == 6 and len({at for _, at in readings}) == 4
    assert naive.status_code == 422 and absurd.status_code == 422


def test_shipped_scenarios_are_listed_and_readable(client: TestClient, tokens: dict[str, str]) -> None:
    viewer = bearer(tokens["viewer"])
    listed = {row["name"]: row for row in client.get("/shipped-scenarios", headers=viewer).json()}
    surge = client.get("/shipped-scenarios/winter_surge", headers=viewer).json()

    assert {"baseline", "winter_surge"} <= set(listed)
    assert listed["baseline"]["title"] == "Baseline"
    assert surge["toml_text"] == scenario_path("winter_surge").read_text()
    assert surge["digest"] == listed["winter_surge"]["digest"]
    assert client.get("/shipped-scenarios/no_such_one", headers=viewer).status_code == 404


def test_a_draft_is_shown_then_published_by_a_planner(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    viewer, planner = bearer(tokens["viewer"]), bearer(tokens["planner"])
    first = api_store.save_plan("roster", {"days": 28})
    draft = api_store.save_plan("roster", {"days": 7}, status="draft")

    shown = client.get("/plans/roster/draft", headers=viewer)
    refused = client.post(f"/plans/roster/{draft.version}/publish", headers=viewer)
    published = client.post(f"/plans/roster/{draft.version}/publish", headers=planner)
    unknown = client.post("/plans/roster/99/publish", headers=planner)

    assert shown.status_code == 200 and shown.json()["version"] == draft.version
    assert shown.json()["status"] == "draft" and shown.json()["payload"] == {"days": 7}
    assert refused.status_code == 403
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert client.get("/plans/roster/latest", headers=viewer).json()["version"] == draft.version
    assert client.get(f"/plans/roster/{first.version}", headers=viewer).json()["status"] == "superseded"
    assert client.get("/plans/roster/draft", headers=viewer).status_code == 404
    assert unknown.status_code == 404
    assert [outcome for _, outcome, _ in _audit(api_store, "publish plan")] == ["ok", "rejected"]


def test_the_last_nightly_run_says_where_it_failed(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    viewer = bearer(tokens["viewer"])
    before = client.get("/nightly/last-run", headers=viewer)
    api_store.write_audit("nightly-plan", "nightly_plan", "ok", {"plan_kind": "roster", "plan_version": 3})
    reason = "roster: no roster found for 1 team(s) (MED-A-1)"
    api_store.write_audit(
        "nightly-plan",
        "nightly_plan",
        "failed",
        {"plan_date": "2024-03-05", "stage": "roster", "error": reason},
    )

    last = client.get("/nightly/last-run", headers=viewer).json()

    assert before.status_code == 404
    assert (last["outcome"], last["stage"], last["error"], last["plan_date"]) == (
        "failed",
        "roster",
        reason,
        "2024-03-05",
    )
    assert last["plan_version"] is None


def test_whatif_runs_are_listed_newest_first(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    viewer = bearer(tokens["viewer"])
    older = api_store.start_scenario_run(
        "surge", "d1", seed=1, replications=5, details={"against": "baseline"}
    )
    newer = api_store.start_scenario_run("closure", "d2", seed=2, replications=3, scenario_version=2)
    api_store.finish_scenario_run(older, "finished", result_name=f"runs/{older}/kpis")

    runs = client.get("/runs", headers=viewer).json()
    limited = client.get("/runs", params={"limit": 1}, headers=viewer).json()

    assert [run["run_id"] for run in runs] == [newer, older]
    assert runs[1]["against"] == "baseline" and runs[1]["status"] == "finished" and runs[1]["has_results"]
    assert runs[0]["scenario_version"] == 2 and runs[0]["status"] == "running" and not runs[0]["has_results"]
    assert [run["run_id"] for run in limited] == [newer]


def test_read_routes_run_off_the_event_loop(api_app: FastAPI) -> None:
    import inspect

    from fastapi.routing import APIRoute

    blocking = [
        route.path
        for route in api_app.routes
        if isinstance(route, APIRoute)
        and route.path != "/health"
        and inspect.iscoroutinefunction(route.endpoint)
    ]
    assert blocking == []


def test_every_route_declares_its_error_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    missing = [
        (method, path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if path != "/health" and not {"401", "403"} <= set(operation["responses"])
    ]
    assert missing == []
    assert {"200", "404"} <= set(paths["/plans/{kind}/{version}/publish"]["post"]["responses"])
    assert "409" in paths["/census/history"]["get"]["responses"]


def test_path_and_salt_are_relative_to_the_store_folder(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'deep' / 'store.db'}") as store:
        app = create_app(ApiSettings(), store=store)
        assert (tmp_path / "deep" / "salt").read_bytes().strip() == app.state.salt
        app.state.jobs.shutdown()
