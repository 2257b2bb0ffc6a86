"""Benchmark: two years of the ~500-bed demo hospital's synthetic history in under 60 seconds.

Run with ``make bench`` (or ``.venv/bin/pytest tests/benchmarks/test_synthetic_speed.py -s -o addopts=""``).
"""

from __future__ import annotations

import time
from datetime import date

import polars as pl

from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path

GOAL_SECONDS = 60.0


def test_two_years_of_history_in_under_a_minute(tmp_path) -> None:
    baseline = load_scenario(scenario_path("baseline"))
    started = time.perf_counter()
    history = generate_history(baseline, date(2023, 1, 2), 730, seed=2024)
    seconds = time.perf_counter() - started

    written = time.perf_counter()
    history.write_parquet(tmp_path / "history")
    write_seconds = time.perf_counter() - written

    inpatient = [u.id for u in baseline.hospital.units if u.kind.value not in ("ed", "pacu")]
    window_hours = (history.ends_at - history.starts_at).total_seconds() / 3600
    occupied = (
        history.unit_stays.filter(pl.col("unit").is_in(inpatient))
        .select(
            (
                pl.col("ended_at").fill_null(history.ends_at).clip(history.starts_at, history.ends_at)
                - pl.col("started_at").clip(history.starts_at, history.ends_at)
            )
            .dt.total_seconds()
            .sum()
            / 3600
            / window_hours
        )
        .item()
    )
    print()
    print(f"synthetic history, baseline, 730 days: {seconds:.1f} s (goal < {GOAL_SECONDS:.0f} s)")
    print(f"written as Parquet in {write_seconds:.1f} s")
    for name, rows in history.row_counts().items():
        print(f"  {name:15s} {rows:>10,d} rows")
    print(f"  mean inpatient occupancy {occupied / baseline.hospital.total_beds:.1%}")
    assert seconds < GOAL_SECONDS
