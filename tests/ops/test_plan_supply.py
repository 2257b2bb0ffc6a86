"""``plan supply``: case volumes from the stored surgical plan, orders stored and audited, CLI summary."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from ops.sim import DEFAULT_START
from ops.store import open_store
from ops.supply import PLAN_KIND, case_volumes, run_supply_plan
from ops.surgery import run_surgery_plan
from scenarios import load_scenario, scenario_path
from scenarios.schema import Scenario
from scheduler.supply import CASE_VOLUMES_SCHEMA
from ui.commands.plan import plan_app


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


def test_volumes_without_a_plan_follow_the_scenarios_rates(baseline: Scenario) -> None:
    volumes = case_volumes(baseline, DEFAULT_START, 14)
    assert dict(volumes.schema) == CASE_VOLUMES_SCHEMA
    assert volumes["planned_cases"].sum() == 0
    for service in ("general_surgery", "orthopaedics"):
        surgery = baseline.hospital.service(service).surgery
        assert surgery is not None
        total = volumes.filter(pl.col("service") == service)["forecast_cases"].sum()
        # two whole weeks from a Monday without bank holidays: two weeks of electives, 14 days of emergencies
        assert total == pytest.approx(
            2 * surgery.elective_cases_per_week + 14 * surgery.emergency_cases_per_day
        )


def test_supply_uses_the_published_surgical_plan(baseline: Scenario, tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        surgery = run_surgery_plan(baseline, days=4, time_limit_s=1, workers=1, store=store)
        run = run_supply_plan(baseline, days=8, store=store, time_limit_s=20)
        assert run.surgery_plan_version == 1
        counts = surgery.plan.planned.group_by("day", "service").len()
        for day, service, n in counts.iter_rows():
            row = run.volumes.filter((pl.col("day") == day) & (pl.col("service") == service))
            assert row["planned_cases"].to_list() == [n]
        beyond = run.volumes.filter(pl.col("day") >= 4)
        assert beyond["planned_cases"].sum() == 0
        saved = store.latest_plan(PLAN_KIND)
        assert saved is not None and saved.version == run.saved.version  # type: ignore[union-attr]
        assert saved.payload["surgery_plan_version"] == 1
        assert len(saved.payload["orders"]) == run.plan.orders.height
        audit = store.audit_entries(action="plan_supply")
        assert audit[0].outcome == "ok"
    assert run.plan.check.feasible
    assert run.plan.objective == pytest.approx(run.plan.total_cost, rel=1e-6)


def test_cli_prints_par_levels(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(plan_app, name="plan")
    url = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(app, ["plan", "supply", "--days", "7", "--database", url])
    assert result.exit_code == 0, result.output
    assert "Par levels and risk of stock-out" in result.output
    assert "no surgical plan" in result.output
    assert "saved as supply plan version 1 (published)" in result.output
