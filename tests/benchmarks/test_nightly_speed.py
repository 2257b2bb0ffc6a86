"""Benchmark: the nightly staffing plan of the ~500-bed demo hospital, 28-day roster, in at most 3 minutes.

The store holds eight weeks of synthetic history (not timed). Timed: the whole nightly run (twins,
census forecast with 1,000 paths over 14 days, staffing demand, roster of every nurse for 28 days,
publication). Run with ``make bench`` (or
``.venv/bin/pytest tests/benchmarks/test_nightly_speed.py -s -o addopts=""``).
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import polars as pl

from ops.nightly import run_nightly
from ops.store import open_store
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path

GOAL_SECONDS = 180.0
HISTORY_START = date(2024, 2, 19)
HISTORY_DAYS = 56
PLAN_DATE = date(2024, 4, 15)


def test_nightly_plan_of_the_demo_hospital_within_three_minutes(tmp_path: Path) -> None:
    baseline = load_scenario(scenario_path("baseline"))
    history = generate_history(baseline, HISTORY_START, HISTORY_DAYS, seed=11)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}", results_dir=tmp_path / "results") as store:
        store.append_events(history.events)
        stages: dict[str, float] = {}
        started = time.perf_counter()
        result = run_nightly(store, baseline, plan_date=PLAN_DATE, days=28, out_dir=tmp_path / "out")
        seconds = time.perf_counter() - started
        stages.update(result.seconds)
    cover = result.roster.cover_frame()
    totals = cover.select(pl.col("required", "staff", "agency", "unfilled").sum()).row(0, named=True)
    nurses = sum(len(team.team.nurse_ids) for team in result.roster.teams)
    print()
    print(
        f"nightly plan, baseline, 28-day roster of {nurses} nurses in {len(result.roster.teams)} teams: "
        f"{seconds:.1f} s (goal <= {GOAL_SECONDS:.0f} s) on {os.cpu_count()} cores"
    )
    print("  by stage: " + ", ".join(f"{stage} {value:.1f} s" for stage, value in stages.items()))
    print(f"  roster status {result.roster.status.value}, objective {result.roster.objective:,}")
    print("  nurse-shifts: " + ", ".join(f"{name} {value:,}" for name, value in totals.items()))
    print(f"  alerts: {len(result.alerts)}")
    assert result.roster.status.value in {"optimal", "feasible"}
    assert seconds <= GOAL_SECONDS
