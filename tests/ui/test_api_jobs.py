"""The job runner behind ``/jobs``: progress, cancel (queued, running, from another process), failure,
state that survives the process (ops/jobs.py, ops/store/jobs.py), and one real, small run of each of the
nightly, roster and surgical plan pipelines."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from ops.jobs import JobContext, JobKind, JobParamsError, JobRunner, JobUnavailable, WhatIfParams
from ops.store import Store, open_store
from ops.store.jobs import get_job, insert_job, mark_started, request_cancel
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path
from tests.ui import test_api_support as support

# Fixtures shared by the API tests.
api_store = support.api_store


def _accept(store: Store, params: Any) -> dict[str, Any]:
    return dict(params)


def _wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Steps:
    """A job of ``steps`` steps that waits for a go-ahead before each step after the first."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.go = threading.Event()
        self.ran: list[str] = []

    def __call__(self, store: Store, params: Any, context: JobContext) -> dict[str, Any]:
        self.ran.append(context.job_id)
        done = 0
        for done in range(1, self.steps + 1):
            context.progress(done, self.steps, f"step {done}")
            if done == 1:
                self.go.wait(30)
            if context.cancelled:
                break
        return {"steps_done": done}


def test_progress_is_visible_while_the_job_runs_and_the_result_once_it_ends(api_store: Store) -> None:
    steps = Steps(5)
    runner = JobRunner(api_store, kinds={"whatif": JobKind("whatif", _accept, steps)})

    job = runner.submit("whatif", {"replications": 5}, submitted_by="ana (planner)")
    _wait_until(lambda: runner.status(job.id).progress_done == 1)
    running = runner.status(job.id)
    steps.go.set()
    ended = runner.wait(job.id, timeout=30)
    runner.shutdown()

    assert (running.status, running.progress_total, running.message) == ("running", 5, "step 1")
    assert ended.status == "finished"
    assert ended.result == {"steps_done": 5}
    assert (ended.progress_done, ended.progress_total) == (5, 5)
    assert ended.params == {"replications": 5}
    audit = api_store.audit_entries(action="run whatif job")
    assert [(entry.actor, entry.outcome) for entry in audit] == [("ana (planner)", "finished")]


def test_cancel_stops_a_running_job_and_a_queued_job_never_starts(api_store: Store) -> None:
    steps = Steps(100)
    runner = JobRunner(api_store, workers=1, kinds={"whatif": JobKind("whatif", _accept, steps)})

    running = runner.submit("whatif", {}, submitted_by="a")
    queued = runner.submit("whatif", {}, submitted_by="a")
    _wait_until(lambda: runner.status(running.id).status == "running")
    cancelled_in_queue = runner.cancel(queued.id)
    runner.cancel(running.id)
    steps.go.set()
    ended = runner.wait(running.id, timeout=30)
    runner.wait(queued.id, timeout=30)
    runner.shutdown()

    assert cancelled_in_queue.status == "cancelled"
    assert steps.ran == [running.id]
    assert ended.status == "cancelled"
    assert ended.result is not None and ended.result["steps_done"] < 100  # what was done is kept


def test_a_cancel_asked_through_the_store_reaches_the_running_job(api_store: Store) -> None:
    steps = Steps(3)
    runner = JobRunner(api_store, kinds={"whatif": JobKind("whatif", _accept, steps)})
    job = runner.submit("whatif", {}, submitted_by="a")
    _wait_until(lambda: runner.status(job.id).status == "running")

    request_cancel(api_store, job.id)  # as another process serving the API would
    context = JobContext(job.id, api_store)

    assert context.poll_cancel()
    runner.cancel(job.id)
    steps.go.set()
    assert runner.wait(job.id, timeout=30).status == "cancelled"
    runner.shutdown()


def test_a_failing_job_is_recorded_with_its_error_and_the_runner_goes_on(api_store: Store) -> None:
    def broken(store: Store, params: Any, context: JobContext) -> dict[str, Any]:
        raise RuntimeError("the roster model has no staff")

    def fine(store: Store, params: Any, context: JobContext) -> dict[str, Any]:
        return {"ok": 1}

    kinds = {"roster": JobKind("roster", _accept, broken), "nightly": JobKind("nightly", _accept, fine)}
    runner = JobRunner(api_store, kinds=kinds)

    failed = runner.wait(runner.submit("roster", {}, submitted_by="a").id, timeout=30)
    finished = runner.wait(runner.submit("nightly", {}, submitted_by="a").id, timeout=30)
    runner.shutdown()

    assert failed.status == "failed" and failed.error == "RuntimeError: the roster model has no staff"
    assert failed.result is None
    assert finished.status == "finished"


def test_unknown_kinds_and_wrong_parameters_are_refused_before_queueing(api_store: Store) -> None:
    def refuse(store: Store, params: Any) -> dict[str, Any]:
        raise JobParamsError([("days", "must be at least 1")])

    runner = JobRunner(api_store, kinds={"whatif": JobKind("whatif", refuse, Steps(1))})

    with pytest.raises(JobUnavailable, match="surgery"):
        runner.submit("surgery", {}, submitted_by="a")
    with pytest.raises(JobParamsError, match=r"params\.days"):
        runner.submit("whatif", {"days": 0}, submitted_by="a")
    runner.shutdown()
    with api_store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM jobs").scalar() == 0


def test_job_state_survives_the_process_and_orphans_are_marked_interrupted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with open_store(url) as store:
        runner = JobRunner(store, kinds={"nightly": JobKind("nightly", _accept, lambda s, p, c: {"plan": 7})})
        finished = runner.wait(runner.submit("nightly", {}, submitted_by="a").id, timeout=30)
        runner.shutdown()
        orphan = insert_job(store, "f" * 32, "nightly", {}, submitted_by="a")
        assert mark_started(store, orphan.id)

    with open_store(url) as store:  # the service starts again
        JobRunner(store).shutdown()
        assert get_job(store, finished.id).result == {"plan": 7}
        interrupted = get_job(store, orphan.id)
    assert interrupted.status == "interrupted" and interrupted.final


def test_a_whatif_can_be_cancelled_and_keeps_the_replications_finished(api_store: Store) -> None:
    runner = JobRunner(api_store)
    job = runner.submit(
        "whatif", {"scenario": "winter_surge", "replications": 200, "days": 1}, submitted_by="a"
    )
    _wait_until(lambda: runner.status(job.id).progress_done >= 1, timeout=120)

    runner.cancel(job.id)
    ended = runner.wait(job.id, timeout=120)
    runner.shutdown()

    assert ended.status == "cancelled"
    assert ended.result is not None and 1 <= ended.result["replications"] < 200
    assert api_store.scenario_run(ended.result["run_id"]).status == "cancelled"


def test_a_whatif_job_can_ask_for_a_cold_start_and_its_warm_up(api_store: Store) -> None:
    from ops.twin_run import DEFAULT_WARM_UP_DAYS

    assert WhatIfParams.model_fields["warm_up_days"].default == DEFAULT_WARM_UP_DAYS  # the CLI's default
    runner = JobRunner(api_store)
    params = {"scenario": "winter_surge", "replications": 2, "days": 1, "cold": True, "warm_up_days": 2}
    with pytest.raises(JobParamsError) as refused:
        runner.submit("whatif", {**params, "warm_up_days": -1}, submitted_by="a")
    ended = runner.wait(runner.submit("whatif", params, submitted_by="a").id, timeout=300)
    runner.shutdown()

    assert "warm_up_days" in str(refused.value)
    assert ended.status == "finished", ended.error
    assert ended.result is not None
    assert ended.result["start"] == "cold start: an empty hospital after a 2-day warm-up (asked for)"


def test_the_api_tables_are_created_by_the_migrations_as_declared(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from ops.store import metadata

    with open_store(f"sqlite:///{tmp_path / 'schema.db'}") as store, store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": metadata}
        )
        drift = list(compare_metadata(context, metadata))

    assert {"api_tokens", "jobs"} <= set(metadata.tables)
    assert drift == []


def test_serve_runs_uvicorn_with_the_app_on_the_given_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    import uvicorn
    from fastapi import FastAPI
    from typer.testing import CliRunner

    from ui.commands.serve import serve

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    app = typer.Typer()
    app.command("serve")(serve)
    app.command("other")(lambda: None)  # two commands, so "serve" is addressed by name

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    answer = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123", "--database", url])

    assert answer.exit_code == 0, answer.output
    served, options = calls[0]
    assert isinstance(served, FastAPI)
    assert (options["host"], options["port"]) == ("0.0.0.0", 8123)
    assert served.state.store.url.endswith("serve.db")
    served.state.jobs.shutdown()
    served.state.store.close()


# -- the real pipelines through the runner (small hospital, short limits) --------------------------------

REAL_HISTORY_START = date(2024, 3, 4)
REAL_PLAN_DATE = date(2024, 3, 12)


def small_hospital_toml() -> str:
    """The demo hospital with two small staff pools (AMU and critical care), so a roster takes seconds."""
    data = tomllib.loads(scenario_path("baseline").read_text())
    pools = {pool["id"]: pool for pool in data["staff_pools"]}
    data["scenario"]["name"] = "Small hospital"
    data["staff_pools"] = [
        {**pools["amu_nurses"], "headcount": 30},
        {**pools["critical_care_nurses"], "headcount": 24},
    ]
    return tomli_w.dumps(data)


@pytest.fixture
def real_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """Nine days of the demo hospital's synthetic history and the small hospital saved as a scenario; the
    working folder is the test's own (the nightly plan writes its files under ``var/nightly``)."""
    monkeypatch.chdir(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'real.db'}", results_dir=tmp_path / "results") as store:
        baseline = load_scenario(scenario_path("baseline"))
        store.append_events(generate_history(baseline, REAL_HISTORY_START, 9, seed=3, warm_up_days=2).events)
        store.save_scenario("small_hospital", small_hospital_toml())
        yield store


def test_the_real_nightly_roster_and_surgery_jobs_run_through_the_runner(
    real_store: Store, tmp_path: Path
) -> None:
    runner = JobRunner(real_store)
    with pytest.raises(JobUnavailable, match="run the nightly plan"):
        runner.submit("roster", {"scenario": "small_hospital"}, submitted_by="ana (planner)")

    nightly = runner.wait(
        runner.submit(
            "nightly",
            {"scenario": "small_hospital", "date": REAL_PLAN_DATE.isoformat(), "days": 7},
            submitted_by="ana (planner)",
        ).id,
        timeout=600,
    )
    assert nightly.status == "finished", nightly.error
    published = real_store.latest_plan("roster")
    assert nightly.result is not None and published is not None
    assert nightly.result["plan_version"] == published.version
    assert published.payload["plan_date"] == REAL_PLAN_DATE.isoformat() and published.payload["demand"]
    assert (tmp_path / "var" / "nightly" / "latest" / "roster.csv").is_file()
    assert real_store.latest_forecast("census") is not None

    first_day = REAL_PLAN_DATE + timedelta(days=1)
    roster = runner.wait(
        runner.submit(
            "roster",
            {"scenario": "small_hospital", "date": first_day.isoformat(), "days": 7, "seconds_per_team": 0.5},
            submitted_by="ana (planner)",
        ).id,
        timeout=600,
    )
    assert roster.status == "finished", roster.error
    assert roster.result is not None and roster.progress_done == roster.progress_total == 1
    draft = real_store.plan("roster", roster.result["plan_version"])
    assert draft is not None and draft.status == "draft" and draft.version == published.version + 1
    assert real_store.latest_plan("roster") == published  # a draft until a planner publishes it
    assert draft.payload["first_day"] == first_day.isoformat() and draft.payload["days"] == 7
    # The days the published plan covers (13-18 March) are kept as published; 19 March is new.
    last_published = REAL_PLAN_DATE + timedelta(days=6)

    def worked(payload: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {
            (row["nurse_id"], row["day"], row["shift"])
            for row in payload["assignments"]
            if first_day.isoformat() <= row["day"] <= last_published.isoformat()
        }

    assert worked(draft.payload) == worked(published.payload) != set()
    assert {row["day"] for row in draft.payload["assignments"]} >= {
        (first_day + timedelta(days=6)).isoformat()
    }
    required = sum(int(row["required"]) for row in draft.payload["cover"])
    assert draft.payload["summary"]["required"] == required

    surgery = runner.wait(
        runner.submit(
            "surgery",
            {"days": 2, "time_limit_s": 3, "start": "2024-03-12T00:00:00Z", "seed": 1},
            submitted_by="ana (planner)",
        ).id,
        timeout=600,
    )
    runner.shutdown()
    assert surgery.status == "finished", surgery.error
    plan = real_store.latest_plan("surgery")
    assert surgery.result is not None and plan is not None
    assert surgery.result["plan_version"] == plan.version
    assert (
        surgery.result["cases_planned"] + surgery.result["cases_unscheduled"]
        == surgery.result["cases_listed"]
    )
    assert 0 < surgery.result["theatre_utilisation"] <= 1
    ends = {entry.action: entry.outcome for entry in real_store.audit_entries(actor="ana (planner)")}
    assert ends["run nightly job"] == ends["run roster job"] == ends["run surgery job"] == "finished"
