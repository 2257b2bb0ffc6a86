"""Staffing demand from census paths: schema, the ratio arithmetic, quantiles, shift days, bad input."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.census.schema import CENSUS_PATHS_SCHEMA
from scenarios import Scenario, load_scenario, scenario_path
from scheduler.staffing import (
    STAFFING_DEMAND_SCHEMA,
    StaffingDemandError,
    extend_weekly,
    shift_of_hours,
    staffing_demand,
)
from scheduler.staffing.demand import acuity_weights


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


# Monday 15 April 2024, 07:00 in London (BST, UTC+1) = 06:00 UTC: the start of an early shift.
EARLY_START = datetime(2024, 4, 15, 6, tzinfo=UTC)


def _paths(rows: list[tuple[int, str, datetime, int, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(p, u, at, lo + me + hi, lo, me, hi) for p, u, at, lo, me, hi in rows],
        schema=CENSUS_PATHS_SCHEMA,
        orient="row",
    )


def test_output_has_the_declared_schema(baseline: Scenario) -> None:
    paths = _paths([(0, "MED-A", EARLY_START + timedelta(hours=h), 10, 2, 1) for h in range(24)])
    demand = staffing_demand(paths, baseline, quantile=0.8)
    assert demand.schema == pl.Schema(STAFFING_DEMAND_SCHEMA)
    assert set(demand.get_column("shift")) == {"early", "late", "night"}
    assert set(demand.get_column("skill")) == {baseline.hospital.unit("MED-A").skill}


def test_nurses_are_the_acuity_weighted_census_over_the_ratio_rounded_up(baseline: Scenario) -> None:
    low, medium, high = 11, 4, 3
    paths = _paths([(0, "MED-A", EARLY_START + timedelta(hours=h), low, medium, high) for h in range(24)])
    demand = staffing_demand(paths, baseline, quantile=0.5)
    weights = acuity_weights(baseline)
    workload = low * weights["low"] + medium * weights["medium"] + high * weights["high"]
    ratios = baseline.hospital.unit("MED-A").patients_per_nurse
    for row in demand.iter_rows(named=True):
        assert row["nurses"] == math.ceil(workload / ratios[row["shift"]])
        assert row["workload"] == pytest.approx(workload)
        assert row["census"] == low + medium + high


def test_a_shift_is_staffed_for_its_peak_hour(baseline: Scenario) -> None:
    # Eight early-shift hours: 5 low-acuity patients, except one hour with 30.
    rows = [(0, "AMU", EARLY_START + timedelta(hours=h), 30 if h == 5 else 5, 0, 0) for h in range(8)]
    demand = staffing_demand(_paths(rows), baseline, quantile=0.5)
    ratio = baseline.hospital.unit("AMU").patients_per_nurse["early"]
    (row,) = demand.iter_rows(named=True)
    assert row["shift"] == "early" and row["hours"] == 8
    assert row["nurses"] == math.ceil(30 / ratio)


def test_the_quantile_is_taken_over_paths(baseline: Scenario) -> None:
    rng = np.random.default_rng(7)
    censuses = rng.poisson(40, size=400)
    rows = [(p, "ICU", EARLY_START, int(c), 0, 0) for p, c in enumerate(censuses)]
    ratio = baseline.hospital.unit("ICU").patients_per_nurse["early"]
    previous = -1
    for q in (0.1, 0.5, 0.8, 0.95):
        (row,) = staffing_demand(_paths(rows), baseline, quantile=q).iter_rows(named=True)
        expected = np.quantile(censuses / ratio, q)
        assert row["nurses"] == math.ceil(expected - 1e-9)
        assert row["census"] == pytest.approx(np.quantile(censuses, q))
        assert row["nurses"] >= previous
        previous = row["nurses"]


@settings(max_examples=25, deadline=None)
@given(
    counts=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 10), st.integers(0, 5)), min_size=1, max_size=30
    ),
    q=st.floats(0.05, 0.95),
)
def test_more_acuity_never_needs_fewer_nurses(counts: list[tuple[int, int, int]], q: float) -> None:
    scenario = load_scenario(scenario_path("baseline"))
    base = [(p, "RESP", EARLY_START, lo, me, hi) for p, (lo, me, hi) in enumerate(counts)]
    # The same patients, one low-acuity patient per path turned high-acuity.
    sicker = [(p, u, at, max(0, lo - 1), me, hi + (1 if lo > 0 else 0)) for p, u, at, lo, me, hi in base]
    calm = staffing_demand(_paths(base), scenario, quantile=q).get_column("nurses")[0]
    sick = staffing_demand(_paths(sicker), scenario, quantile=q).get_column("nurses")[0]
    assert sick >= calm >= 0


def test_night_hours_after_midnight_belong_to_the_night_that_started_the_day_before(
    baseline: Scenario,
) -> None:
    # 01:00 UTC on 16 April is 02:00 in London (BST): the night shift of Monday 15 April.
    hours = pl.Series("at", [datetime(2024, 4, 16, 1, tzinfo=UTC), datetime(2024, 4, 15, 21, tzinfo=UTC)])
    mapped = shift_of_hours(hours, baseline.hospital).sort("at")
    assert mapped.rows() == [
        (datetime(2024, 4, 15, 21, tzinfo=UTC), date(2024, 4, 15), "late"),
        (datetime(2024, 4, 16, 1, tzinfo=UTC), date(2024, 4, 15), "night"),
    ]


def test_days_past_the_forecast_repeat_the_same_weekday(baseline: Scenario) -> None:
    rng = np.random.default_rng(3)
    rows = [
        (0, "CARD", EARLY_START + timedelta(hours=h), int(rng.integers(5, 30)), 1, 0) for h in range(7 * 24)
    ]
    demand = staffing_demand(_paths(rows), baseline)
    first = EARLY_START.date()
    extended = extend_weekly(demand, baseline, first, 21)
    assert extended.schema == pl.Schema(STAFFING_DEMAND_SCHEMA)
    assert extended.height == 21 * 3
    complete = demand.filter(pl.col("hours") == 8)
    by_key = {(r["day"].weekday(), r["shift"]): r["nurses"] for r in complete.iter_rows(named=True)}
    for row in extended.filter(pl.col("basis") == "weekly_pattern").iter_rows(named=True):
        assert row["nurses"] == by_key[(row["day"].weekday(), row["shift"])]
        assert row["hours"] == 0
    assert extended.filter(pl.col("day") >= first + timedelta(days=8)).get_column(
        "basis"
    ).unique().to_list() == ["weekly_pattern"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.drop("medium"), "'medium' is missing"),
        (lambda f: f.with_columns(pl.col("census") + 1), "low + medium + high != census"),
        (lambda f: f.with_columns(pl.lit("WARD-9").alias("unit_id")), "unknown unit 'WARD-9'"),
        (lambda f: f.with_columns(pl.col("at").dt.replace_time_zone(None)), "paths.at"),
        (lambda f: f.with_columns(pl.col("low").cast(pl.Float64)), "paths.low"),
    ],
)
def test_bad_paths_name_the_field(
    baseline: Scenario, change: Callable[[pl.DataFrame], pl.DataFrame], field: str
) -> None:
    paths = _paths([(0, "MED-A", EARLY_START, 3, 1, 0)])
    with pytest.raises(StaffingDemandError, match=field.replace("+", r"\+")):
        staffing_demand(change(paths), baseline)


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5, -0.2])
def test_quantile_outside_zero_one_is_refused(baseline: Scenario, q: float) -> None:
    with pytest.raises(StaffingDemandError, match="quantile"):
        staffing_demand(_paths([(0, "MED-A", EARLY_START, 3, 1, 0)]), baseline, quantile=q)


def test_weights_can_be_overridden_and_are_checked(baseline: Scenario) -> None:
    paths = _paths([(0, "ICU", EARLY_START, 0, 0, 5)])
    light = staffing_demand(paths, baseline, weights={"high": 1.0}).get_column("nurses")[0]
    heavy = staffing_demand(paths, baseline, weights={"high": 3.0}).get_column("nurses")[0]
    assert heavy > light
    with pytest.raises(StaffingDemandError, match=r"acuity_weights\.critical"):
        staffing_demand(paths, baseline, weights={"critical": 2.0})
    with pytest.raises(StaffingDemandError, match=r"acuity_weights\.high"):
        staffing_demand(paths, baseline, weights={"high": 0.0})


def test_the_scenario_low_medium_weight_is_kept_and_used_when_the_paths_count_that_band(
    baseline: Scenario,
) -> None:
    weights = acuity_weights(baseline)
    assert weights["low_medium"] == baseline.hospital.staffing.acuity_weights["low_medium"] == 1.2
    # 10 patients: 4 low, 6 in NEWS2 low_medium. Three-band paths count them as medium (the heavier
    # weight, the safe side); paths with a low_medium column weigh them with the scenario's 1.2.
    three = _paths([(0, "MED-A", EARLY_START + timedelta(hours=h), 4, 6, 0) for h in range(8)])
    four = three.with_columns(pl.col("medium").alias("low_medium"), pl.lit(0, pl.Int32).alias("medium"))
    (merged,) = staffing_demand(three, baseline, quantile=0.5).iter_rows(named=True)
    (split,) = staffing_demand(four, baseline, quantile=0.5).iter_rows(named=True)
    assert merged["workload"] == pytest.approx(4 * 1.0 + 6 * weights["medium"])
    assert split["workload"] == pytest.approx(4 * 1.0 + 6 * 1.2)
    ratio = baseline.hospital.unit("MED-A").patients_per_nurse["early"]
    assert split["nurses"] == math.ceil((4 + 6 * 1.2) / ratio - 1e-9)
    bad = four.with_columns(pl.col("low_medium") + 1)
    with pytest.raises(StaffingDemandError, match=r"low \+ low_medium \+ medium \+ high != census"):
        staffing_demand(bad, baseline)


def test_an_unknown_scenario_band_is_an_error_not_silently_dropped(baseline: Scenario) -> None:
    staffing = baseline.hospital.staffing.model_copy(update={"acuity_weights": {"critical": 3.0}})
    odd = baseline.model_copy(
        update={"hospital": baseline.hospital.model_copy(update={"staffing": staffing})}
    )
    with pytest.raises(StaffingDemandError, match=r"staffing\.acuity_weights\.critical"):
        acuity_weights(odd)


def test_the_safe_staffing_floor_is_the_same_arithmetic_at_its_quantile(baseline: Scenario) -> None:
    rng = np.random.default_rng(11)
    censuses = rng.poisson(30, size=300)
    rows = [(p, "AMU", EARLY_START, int(c), 0, 0) for p, c in enumerate(censuses)]
    ratio = baseline.hospital.unit("AMU").patients_per_nurse["early"]
    (none,) = staffing_demand(_paths(rows), baseline, quantile=0.9).iter_rows(named=True)
    assert none["minimum_nurses"] == 0
    (row,) = staffing_demand(_paths(rows), baseline, quantile=0.9, floor_quantile=0.5).iter_rows(named=True)
    assert row["minimum_nurses"] == math.ceil(np.quantile(censuses / ratio, 0.5) - 1e-9)
    assert 0 < row["minimum_nurses"] <= row["nurses"]
    (capped,) = staffing_demand(_paths(rows), baseline, quantile=0.2, floor_quantile=0.5).iter_rows(
        named=True
    )
    assert capped["minimum_nurses"] == capped["nurses"]  # never above the target
    extended = extend_weekly(
        staffing_demand(_paths(rows), baseline, floor_quantile=0.5), baseline, EARLY_START.date(), 9
    )
    assert set(extended.get_column("minimum_nurses")) == {row["minimum_nurses"]}
    with pytest.raises(StaffingDemandError, match="floor_quantile"):
        staffing_demand(_paths(rows), baseline, floor_quantile=1.0)
