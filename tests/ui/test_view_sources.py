"""The view's two data sources answer alike: the store read directly, and the API over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from ops.store import open_store
from ops.store.tokens import create_token
from tests.ui.test_view_support import build_view_store
from ui.api import ApiSettings, create_app
from ui.view.sources import (
    CENSUS_HISTORY_SCHEMA,
    CENSUS_SCHEMA,
    ApiSource,
    EmbeddedSource,
    JobView,
    ViewSourceError,
)


@pytest.fixture
def both_sources(tmp_path: Path) -> Iterator[tuple[EmbeddedSource, ApiSource]]:
    url = build_view_store(tmp_path, days=2)
    with open_store(url, results_dir=tmp_path / "results") as store:
        secret = create_token(store, name="view", role="planner")[0]
        app = create_app(ApiSettings(twins_cache_seconds=0.0, answer_cache_seconds=0.0), store=store)
        with TestClient(app) as client:
            embedded = EmbeddedSource(store)
            yield embedded, ApiSource("http://testserver", secret, client=client)


def test_census_forecast_and_plans_agree(both_sources: tuple[EmbeddedSource, ApiSource]) -> None:
    embedded, api = both_sources
    direct, remote = embedded.census_now(), api.census_now()
    assert direct is not None and remote is not None
    assert dict(remote.units.schema) == CENSUS_SCHEMA
    # The API reads "now" from the clock and the test store's history is in the past: units and beds agree.
    assert remote.units.select("unit_id", "beds").equals(direct.units.select("unit_id", "beds"))
    forecast_direct, forecast_remote = embedded.census_forecast(), api.census_forecast()
    assert forecast_direct is not None and forecast_remote is not None
    assert forecast_remote.as_of == forecast_direct.as_of
    hours = forecast_remote.points.get_column("at").n_unique()
    clipped = forecast_direct.points.filter(pl.col("at").is_in(forecast_remote.points["at"].implode()))
    assert clipped.height == forecast_remote.points.height and hours > 0
    for kind in ("roster", "surgery", "supply"):
        ours, theirs = embedded.plan(kind), api.plan(kind)
        assert ours is not None and theirs is not None
        assert (theirs.version, theirs.payload) == (ours.version, ours.payload)
    assert api.plan("no-such-kind") is None


def test_a_whatif_through_the_api_ends_with_its_comparison(
    both_sources: tuple[EmbeddedSource, ApiSource],
) -> None:
    embedded, api = both_sources
    version = api.save_scenario("surge_copy", embedded.scenario_text("winter_surge") or "")
    assert version == 1 and "surge_copy" in api.scenario_names()
    job_id = api.submit_whatif({"scenario": "surge_copy", "days": 4, "replications": 2})
    deadline = time.monotonic() + 120
    job: JobView = api.job(job_id)
    while not job.final:
        assert time.monotonic() < deadline
        time.sleep(0.2)
        job = api.job(job_id)
    assert job.status == "finished" and job.result is not None
    assert job.fraction_done == 1.0
    remote = api.comparison(int(job.result["run_id"]))
    direct = embedded.comparison(int(job.result["run_id"]))
    assert remote is not None and direct is not None
    assert remote.sort("metric").equals(direct.sort("metric"))


def test_a_refused_token_is_a_plain_error(tmp_path: Path) -> None:
    with (
        open_store(f"sqlite:///{tmp_path / 'x.db'}", results_dir=tmp_path / "r") as store,
        TestClient(create_app(ApiSettings(), store=store)) as client,
    ):
        api = ApiSource("http://testserver", "not-a-token", client=client)
        with pytest.raises(ViewSourceError, match="refused the token"):
            api.census_now()


def test_an_api_that_is_down_is_a_plain_error() -> None:
    api = ApiSource("http://127.0.0.1:9", "x", timeout_s=0.5)
    with pytest.raises(ViewSourceError, match="did not answer"):
        api.scenario_names()


def test_history_drafts_failures_scenarios_and_runs_agree(
    both_sources: tuple[EmbeddedSource, ApiSource],
) -> None:
    embedded, api = both_sources
    forecast = embedded.census_forecast()
    assert forecast is not None
    direct, remote = embedded.census_history(forecast.as_of), api.census_history(forecast.as_of)
    assert direct is not None and remote is not None and direct.height > 0
    assert dict(remote.schema) == CENSUS_HISTORY_SCHEMA
    assert remote.sort("unit_id", "at").equals(direct.sort("unit_id", "at"))
    assert remote.get_column("high_acuity").drop_nulls().len() > 0  # from the twin snapshots kept

    assert embedded.scenario_names() == api.scenario_names()
    assert {"baseline", "winter_surge"} <= set(api.scenario_names())
    surge = api.scenario_text("winter_surge")
    assert surge is not None and surge == embedded.scenario_text("winter_surge")

    assert api.draft_plan("roster") is None and api.last_nightly_failure() is None
    published = embedded.plan("roster")
    assert published is not None
    draft = embedded.store.save_plan("roster", {"days": 1}, status="draft")
    embedded.store.write_audit("nightly-plan", "nightly_plan", "failed", {"stage": "forecast", "error": "x"})
    remote_draft = api.draft_plan("roster")
    assert remote_draft is not None and remote_draft == embedded.draft_plan("roster")
    failure = api.last_nightly_failure()
    assert failure is not None and (failure["stage"], failure["error"], failure["outcome"]) == (
        "forecast",
        "x",
        "failed",
    )
    after = api.publish_plan("roster", draft.version)
    assert after.status == "published" and embedded.plan("roster") == after
    with pytest.raises(ViewSourceError, match="404"):
        api.publish_plan("roster", 999)

    run_id = embedded.store.start_scenario_run(
        "surge", "d", seed=1, replications=2, details={"against": "baseline"}
    )
    assert api.whatif_runs().equals(embedded.whatif_runs())
    assert api.whatif_runs().get_column("run_id").to_list()[0] == run_id


def test_a_viewer_token_may_read_but_not_publish(tmp_path: Path) -> None:
    url = build_view_store(tmp_path, days=1, plans=False)
    with open_store(url, results_dir=tmp_path / "results") as store:
        draft = store.save_plan("roster", {"days": 1}, status="draft")
        secret = create_token(store, name="wall-screen", role="viewer")[0]
        with TestClient(create_app(ApiSettings(), store=store)) as client:
            api = ApiSource("http://testserver", secret, client=client)
            assert api.draft_plan("roster") is not None
            with pytest.raises(ViewSourceError, match="does not let this token"):
                api.publish_plan("roster", draft.version)
            with pytest.raises(ViewSourceError, match="does not let this token"):
                api.submit_whatif({"scenario": "winter_surge"})
        assert store.latest_plan("roster") is None
