"""Who may do what: the full role x route matrix, refusals audited, tokens hashed, and the token commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from ops.jobs import JobContext, JobKind, JobRunner
from ops.store import Store, open_store
from ops.store.tokens import ROLES, create_token, find_token, revoke_token
from scenarios import scenario_path
from tests.ui import test_api_support as support
from tests.ui.test_api_support import admission_bundle, bearer
from ui.api import create_app
from ui.api.deps import TokenCache
from ui.api.settings import ApiSettings
from ui.commands.token import token_app

# Fixtures shared by the API tests.
api_app = support.api_app
api_store = support.api_store
client = support.client
tokens = support.tokens

V, P, E, A, F = "viewer", "planner", "executive", "admin", "feed"
EVERYONE = {V, P, E, A, F}
READERS = {V, P, E, A}
JOB_ID = "0" * 32

# The expected table, written from docs/reference/api.md (not from ui/api/auth.py).
MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/health", None, EVERYONE),
    ("GET", "/units", None, READERS),
    ("GET", "/census/now", None, READERS),
    ("GET", "/census/history", None, READERS),
    ("GET", "/twins", None, {P, A}),
    ("GET", "/forecasts/census", None, READERS),
    ("GET", "/kpis/1", None, READERS),
    ("GET", "/runs", None, READERS),
    ("GET", "/plans/roster/latest", None, READERS),
    ("GET", "/plans/roster/draft", None, READERS),
    ("GET", "/plans/roster/1", None, READERS),
    ("POST", "/plans/roster/1/publish", None, {P, A}),
    ("GET", "/nightly/last-run", None, READERS),
    ("GET", "/alerts", None, READERS),
    ("GET", "/scenarios", None, READERS),
    ("POST", "/scenarios", {"name": "surge", "toml_text": "SURGE"}, {P, E, A}),
    ("GET", "/scenarios/surge", None, READERS),
    ("GET", "/scenarios/surge/versions/1", None, READERS),
    ("GET", "/shipped-scenarios", None, READERS),
    ("GET", "/shipped-scenarios/surge", None, READERS),
    ("POST", "/jobs", {"kind": "whatif", "params": {"scenario": "no-such-scenario"}}, {P, E, A}),
    ("POST", "/jobs", {"kind": "roster", "params": {"no": "such-parameter"}}, {P, A}),
    ("POST", "/jobs", {"kind": "nightly", "params": {"no": "such-parameter"}}, {P, A}),
    ("POST", "/jobs", {"kind": "surgery", "params": {"no": "such-parameter"}}, {P, A}),
    ("GET", "/jobs", None, READERS),
    ("GET", f"/jobs/{JOB_ID}", None, READERS),
    ("POST", f"/jobs/{JOB_ID}/cancel", None, {P, E, A}),
    ("GET", f"/jobs/{JOB_ID}/result", None, READERS),
    ("POST", "/fhir", "BUNDLE", {F, A}),  # type: ignore[list-item]
]


def _body(body: Any) -> Any:
    if body == "BUNDLE":
        return admission_bundle()
    if isinstance(body, dict) and body.get("toml_text") == "SURGE":
        return {**body, "toml_text": scenario_path("winter_surge").read_text()}
    return body


def test_every_route_of_the_service_is_in_the_matrix(client: TestClient) -> None:
    def shape(path: str) -> str:
        return path.replace(JOB_ID, "{job_id}")

    documented = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    in_matrix = {(method, shape(path)) for method, path, _, _ in MATRIX}
    normalised = {
        (method, path.replace("{run_id}", "1").replace("{kind}", "roster").replace("{name}", "surge"))
        for method, path in documented
    }
    normalised = {(m, p.replace("/plans/roster/{version}", "/plans/roster/1")) for m, p in normalised}
    normalised = {(m, p.replace("/versions/{version}", "/versions/1")) for m, p in normalised}
    assert normalised == in_matrix


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX]
)
def test_role_by_route(
    client: TestClient,
    tokens: dict[str, str],
    api_store: Store,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    outcomes: dict[str, int] = {}
    for role in ROLES:
        answer = client.request(method, path, json=_body(body), headers=bearer(tokens[role]))
        outcomes[role] = answer.status_code
    anonymous = client.request(method, path, json=_body(body)).status_code

    denied = {role for role, status in outcomes.items() if status == 403}
    assert denied == set(ROLES) - allowed, outcomes
    assert all(outcomes[role] not in {401, 403, 500} for role in allowed), outcomes
    assert anonymous == (200 if path == "/health" else 401)
    audited = [entry for entry in api_store.audit_entries() if entry.outcome == "denied"]
    assert len(audited) == len(denied) + (0 if path == "/health" else 1)


def test_a_role_that_may_run_whatifs_may_not_cancel_a_roster_job(api_app: Any, api_store: Store) -> None:
    started = []

    def wait_for_cancel(store: Store, params: Any, context: JobContext) -> dict[str, Any]:
        started.append(context.job_id)
        context.cancel_event.wait(30)
        return {"stopped": True}

    kinds = {"roster": JobKind("roster", lambda store, params: dict(params), wait_for_cancel)}
    api_app.state.jobs = JobRunner(api_store, kinds=kinds)
    planner = create_token(api_store, name="p", role="planner")[0]
    executive = create_token(api_store, name="e", role="executive")[0]
    with TestClient(api_app) as client:
        job_id = client.post("/jobs", json={"kind": "roster"}, headers=bearer(planner)).json()["id"]
        refused = client.post(f"/jobs/{job_id}/cancel", headers=bearer(executive))
        accepted = client.post(f"/jobs/{job_id}/cancel", headers=bearer(planner))
        record = api_app.state.jobs.wait(job_id, timeout=30)

    assert refused.status_code == 403
    assert accepted.status_code == 202
    assert record.status == "cancelled"


def test_tokens_are_stored_hashed_and_a_revoked_one_is_refused_within_the_cache_time(
    client: TestClient, api_store: Store
) -> None:
    secret, token = create_token(api_store, name="ward-dashboard", role="viewer")
    with api_store.engine.connect() as connection:
        stored = " ".join(
            str(value) for row in connection.execute(text("SELECT * FROM api_tokens")) for value in row
        )
    cache: TokenCache = client.app.state.tokens  # type: ignore[attr-defined]
    now = [0.0]
    cache.clock = lambda: now[0]

    assert secret not in stored
    assert client.get("/units", headers=bearer(secret)).status_code == 200
    revoke_token(api_store, token.id)
    assert find_token(api_store, secret) is None
    now[0] = cache.seconds / 2
    assert client.get("/units", headers=bearer(secret)).status_code == 200  # still trusted from memory
    now[0] = cache.seconds * 1.01
    assert client.get("/units", headers=bearer(secret)).status_code == 401
    assert client.get("/units", headers=bearer(secret)).status_code == 401  # a refusal is not kept
    assert client.get("/units", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401


def test_a_new_token_works_at_once_after_being_refused(client: TestClient, api_store: Store) -> None:
    assert client.get("/units", headers=bearer("not-yet-a-token")).status_code == 401
    secret, _ = create_token(api_store, name="bed-board", role="viewer")
    assert client.get("/units", headers=bearer(secret)).status_code == 200


def test_with_no_cache_time_revocation_is_immediate(api_store: Store) -> None:
    secret, token = create_token(api_store, name="ward-dashboard", role="viewer")
    app = create_app(ApiSettings(twins_cache_seconds=0.0, token_cache_seconds=0.0), store=api_store)
    with TestClient(app) as client:
        assert client.get("/units", headers=bearer(secret)).status_code == 200
        revoke_token(api_store, token.id)
        assert client.get("/units", headers=bearer(secret)).status_code == 401


def test_an_unknown_role_or_an_empty_name_is_refused(api_store: Store) -> None:
    with pytest.raises(ValueError, match="viewer, planner"):
        create_token(api_store, name="x", role="superuser")
    with pytest.raises(ValueError, match="name"):
        create_token(api_store, name="  ", role="viewer")


def test_token_commands_create_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = typer.Typer()
    app.add_typer(token_app, name="token")
    runner = CliRunner()

    created = runner.invoke(
        app, ["token", "create", "--role", "planner", "--name", "bed-manager", "--database", url]
    )
    listed = runner.invoke(app, ["token", "list", "--database", url])
    bad_role = runner.invoke(app, ["token", "create", "--role", "boss", "--name", "x", "--database", url])

    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    with open_store(url) as store:
        token = find_token(store, secret)
    assert token is not None and (token.name, token.role) == ("bed-manager", "planner")
    assert "bed-manager" in listed.stdout and secret not in listed.stdout
    assert bad_role.exit_code != 0
    revoked = runner.invoke(app, ["token", "revoke", str(token.id), "--database", url])
    missing = runner.invoke(app, ["token", "revoke", "999", "--database", url])
    assert revoked.exit_code == 0 and missing.exit_code == 1
    with open_store(url) as store:
        assert find_token(store, secret) is None
        assert {entry.action for entry in store.audit_entries(actor="cli")} == {
            "create API token",
            "revoke API token",
        }
