"""Benchmark: the nightly staffing plan of the ~500-bed demo hospital, 28-day roster, in at most 3 minutes.

The store holds eight weeks of synthetic history (not timed). Timed: the whole nightly run (twins,
census forecast with 1,000 paths over 14 days, staffing demand, roster of every nurse for 28 days,
publication). Then, to say how good the roster is, a sample of teams (the largest team of six staff pools)
is solved again by CP-SAT with its default parameters for ``REFERENCE_SECONDS`` on 2 workers (the
reference, not timed), and the objective and nurse-shifts short of the nightly's teams are printed next to
the reference's. Run with ``make bench`` (or
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
from scheduler.roster import check_roster
from scheduler.roster.from_scenario import RosterSettings, TeamRoster
from scheduler.roster.model import solve_roster
from scheduler.roster.problem import TERM_AGENCY_COST, TERM_COVER_SHORTFALL

GOAL_SECONDS = 180.0
HISTORY_START = date(2024, 2, 19)
HISTORY_DAYS = 56
PLAN_DATE = date(2024, 4, 15)
REFERENCE_SECONDS = 60.0
REFERENCE_WORKERS = 2
SAMPLE_POOLS = (
    "ed_nurses",
    "amu_nurses",
    "medicine_nurses",
    "medicine_part_time",
    "elderly_nurses",
    "critical_care_nurses",
)
QUALITY_FACTOR = 1.25
"""The sample's objective may be at most this many times the reference's."""


def _sample(teams: tuple[TeamRoster, ...]) -> list[TeamRoster]:
    """The largest team (first by id among equals) of each sample pool."""
    chosen = []
    for pool in SAMPLE_POOLS:
        of_pool = [t for t in teams if t.team.pool.id == pool]
        chosen.append(min(of_pool, key=lambda t: (-len(t.team.nurse_ids), t.team.team_id)))
    return chosen


def _short(terms: dict[str, int], settings: RosterSettings) -> int:
    return terms.get(TERM_COVER_SHORTFALL, 0) // settings.under_cover_weight


def test_nightly_plan_of_the_demo_hospital_within_three_minutes(tmp_path: Path) -> None:
    baseline = load_scenario(scenario_path("baseline"))
    history = generate_history(baseline, HISTORY_START, HISTORY_DAYS, seed=11)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}", results_dir=tmp_path / "results") as store:
        store.append_events(history.events)
        stages: dict[str, float] = {}
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        result = run_nightly(store, baseline, plan_date=PLAN_DATE, days=28, out_dir=tmp_path / "out")
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        stages.update(result.seconds)
    cover = result.roster.cover_frame()
    totals = cover.select(pl.col("required", "staff", "agency", "unfilled").sum()).row(0, named=True)
    nurses = sum(len(team.team.nurse_ids) for team in result.roster.teams)
    print()
    print(
        f"nightly plan, baseline, 28-day roster of {nurses} nurses in {len(result.roster.teams)} teams: "
        f"{seconds:.1f} s (goal <= {GOAL_SECONDS:.0f} s) on {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print("  by stage: " + ", ".join(f"{stage} {value:.1f} s" for stage, value in stages.items()))
    print(f"  roster status {result.roster.status.value}, objective {result.roster.objective:,}")
    print("  nurse-shifts: " + ", ".join(f"{name} {value:,}" for name, value in totals.items()))
    print(f"  alerts: {len(result.alerts)}")

    settings = RosterSettings()
    print(
        f"  quality on a sample of teams against CP-SAT, default parameters, {REFERENCE_SECONDS:.0f} s "
        f"on {REFERENCE_WORKERS} workers:"
    )
    print(f"    {'team':<42} {'nurses':>6} {'objective':>10} {'reference':>10} {'short':>5} {'ref.':>5}")
    ours_total = reference_total = 0
    for team in _sample(result.roster.teams):
        assert team.solution.objective is not None and team.solution.roster is not None
        assert check_roster(team.problem, team.solution.roster).feasible
        reference = solve_roster(
            team.problem,
            time_limit_seconds=REFERENCE_SECONDS,
            workers=REFERENCE_WORKERS,
            explain_infeasibility=False,
        )
        assert reference.objective is not None
        ours_total += team.solution.objective
        reference_total += reference.objective
        print(
            f"    {team.team.team_id:<42} {len(team.team.nurse_ids):>6} {team.solution.objective:>10,} "
            f"{reference.objective:>10,} {_short(team.solution.objective_terms, settings):>5} "
            f"{_short(reference.objective_terms, settings):>5}"
            f"   (agency {team.solution.objective_terms.get(TERM_AGENCY_COST, 0):,} against "
            f"{reference.objective_terms.get(TERM_AGENCY_COST, 0):,})"
        )
    print(
        f"    {'sample':<42} {'':>6} {ours_total:>10,} {reference_total:>10,}"
        f"   ({ours_total / max(1, reference_total):.2f} × the reference)"
    )
    assert result.roster.status.value in {"optimal", "feasible"}
    assert seconds <= GOAL_SECONDS
    assert ours_total <= QUALITY_FACTOR * reference_total
