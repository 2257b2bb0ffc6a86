"""The hospital roster from the scenario: contracts, teams, demand split, the checker, published days."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl
import pytest

from scenarios import Scenario, load_scenario, scenario_path
from scheduler.roster import RosterInputError, check_roster
from scheduler.roster.from_scenario import (
    ROSTER_ASSIGNMENTS_SCHEMA,
    ROSTER_COVER_SCHEMA,
    HospitalRoster,
    RosterSettings,
    cover_targets,
    make_teams,
    roster_contract,
    roster_from_scenario,
    roster_shifts,
    split_targets,
)
from scheduler.staffing import STAFFING_DEMAND_SCHEMA

FIRST_DAY = date(2024, 4, 15)  # a Monday
FAST = RosterSettings(deterministic_seconds_per_nurse=0.05, max_deterministic_seconds=2.0, workers=2)


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def small(baseline: Scenario) -> Scenario:
    """The demo hospital with two small staff pools: AMU nurses and critical care nurses."""
    hospital = baseline.hospital
    pools = {p.id: p for p in hospital.staff_pools}
    amu = pools["amu_nurses"].model_copy(
        update={"headcount": 14, "establishment": {"early": 3, "late": 3, "night": 2}}
    )
    critical = pools["critical_care_nurses"].model_copy(
        update={"headcount": 16, "establishment": {"early": 4, "late": 4, "night": 3}}
    )
    return baseline.model_copy(
        update={"hospital": hospital.model_copy(update={"staff_pools": (amu, critical)})}
    )


def _demand(scenario: Scenario, days: int, nurses: dict[str, dict[str, int]]) -> pl.DataFrame:
    rows = [
        {
            "unit_id": unit_id,
            "day": FIRST_DAY + timedelta(days=d),
            "shift": shift_id,
            "skill": scenario.hospital.unit(unit_id).skill,
            "nurses": count,
            "quantile": 0.8,
            "census": 0.0,
            "workload": 0.0,
            "hours": 8,
            "basis": "forecast",
        }
        for unit_id, by_shift in nurses.items()
        for d in range(days)
        for shift_id, count in by_shift.items()
    ]
    return pl.DataFrame(rows, schema=STAFFING_DEMAND_SCHEMA)


DEMAND = {"AMU": {"early": 3, "late": 3, "night": 2}, "ICU": {"early": 2, "late": 2, "night": 2}}


@pytest.fixture(scope="module")
def week(small: Scenario) -> HospitalRoster:
    return roster_from_scenario(small, _demand(small, 7, DEMAND), first_day=FIRST_DAY, days=7, settings=FAST)


def test_contracts_scale_weekly_limits_to_the_horizon(baseline: Scenario) -> None:
    source = next(c for c in baseline.hospital.contracts if c.id == "full_time")
    for days in (7, 14, 28, 42):
        contract = roster_contract(baseline.hospital, "full_time", days)
        weeks = days / 7
        assert contract.min_total_minutes <= source.min_minutes_per_week * weeks
        assert contract.max_total_minutes is not None
        assert contract.max_total_minutes >= source.max_minutes_per_week * weeks
        assert contract.max_shifts["night"] == math.ceil(source.max_shifts_per_week["night"] * weeks)
        assert contract.min_rest_minutes == baseline.hospital.staffing.min_rest_hours * 60
        assert contract.complete_weekends is source.complete_weekends


def test_shifts_carry_the_forbidden_successions_and_nights(baseline: Scenario) -> None:
    shifts = {s.shift_id: s for s in roster_shifts(baseline.hospital)}
    for before, after in baseline.hospital.staffing.forbidden_successions:
        assert after in shifts[before].forbidden_next
    assert [s for s in shifts if shifts[s].night] == ["night"]
    assert sum(s.length_minutes for s in shifts.values()) == 24 * 60


def test_teams_hold_every_nurse_once_and_split_the_demand_exactly(baseline: Scenario) -> None:
    targets = cover_targets(baseline, _demand(baseline, 7, {}), FIRST_DAY, 7)
    teams = make_teams(baseline.hospital, max_team_size=25)
    nurse_ids = [n for team in teams for n in team.nurse_ids]
    assert len(nurse_ids) == len(set(nurse_ids)) == sum(p.headcount for p in baseline.hospital.staff_pools)
    assert max(len(team.nurse_ids) for team in teams) <= 25
    for team in teams:
        assert team.unit_id in team.pool.units
    shares = split_targets(teams, targets)
    for key, (required, _) in targets.items():
        assert sum(share.get(key, 0) for share in shares.values()) == required


def test_units_without_forecast_take_the_establishment(small: Scenario) -> None:
    targets = cover_targets(
        small, _demand(small, 2, {"AMU": {"early": 5, "late": 5, "night": 3}}), FIRST_DAY, 2
    )
    assert targets[(1, "early", "AMU", "rn")] == (5, "forecast")
    critical = next(p for p in small.hospital.staff_pools if p.id == "critical_care_nurses")
    expected = math.ceil(critical.establishment["night"] / len(critical.units))
    assert targets[(0, "night", "ICU", "cc_rn")] == (expected, "establishment")


def test_every_team_roster_passes_the_independent_checker(week: HospitalRoster) -> None:
    assert week.status.value in {"optimal", "feasible"}
    for team in week.teams:
        assert team.solution.roster is not None
        check = check_roster(team.problem, team.solution.roster)
        assert check.feasible, check.violations[:3]
        assert check.objective == team.solution.objective


def test_frames_have_their_schemas_and_add_up(week: HospitalRoster) -> None:
    assignments = week.assignments_frame()
    cover = week.cover_frame()
    assert assignments.schema == pl.Schema(ROSTER_ASSIGNMENTS_SCHEMA)
    assert cover.schema == pl.Schema(ROSTER_COVER_SCHEMA)
    assert cover.get_column("staff").sum() == assignments.height
    assert assignments.group_by("nurse_id", "day").len().get_column("len").max() == 1
    expected = (cover["required"] - cover["staff"] - cover["agency"]).clip(lower_bound=0)
    assert (cover.get_column("unfilled") == expected).all()
    amu_early = cover.filter((pl.col("unit_id") == "AMU") & (pl.col("shift") == "early"))
    assert (amu_early.get_column("required") == DEMAND["AMU"]["early"]).all()


def test_same_inputs_give_the_same_roster(small: Scenario, week: HospitalRoster) -> None:
    again = roster_from_scenario(small, _demand(small, 7, DEMAND), first_day=FIRST_DAY, days=7, settings=FAST)
    assert again.assignments_frame().equals(week.assignments_frame())
    assert again.cover_frame().equals(week.cover_frame())


def test_published_days_are_kept(small: Scenario, week: HospitalRoster) -> None:
    published = week.assignments_frame().to_dicts()
    later = FIRST_DAY + timedelta(days=2)
    # Demand doubles: without the published days, the roster of days 2-6 would change.
    heavier = _demand(small, 9, {u: {s: 2 * n for s, n in by.items()} for u, by in DEMAND.items()})
    roster = roster_from_scenario(
        small,
        heavier,
        first_day=later,
        days=7,
        published=published,
        published_until=FIRST_DAY + timedelta(days=6),
        settings=FAST,
    )
    kept = week.assignments_frame().filter(pl.col("day") >= later).sort("nurse_id", "day")
    now = roster.assignments_frame().filter(pl.col("day") <= FIRST_DAY + timedelta(days=6))
    assert now.sort("nurse_id", "day").equals(kept)
    assert all(team.published_changes == 0 for team in roster.teams)


@pytest.mark.parametrize("days", [0, 43])
def test_horizon_outside_one_to_six_weeks_is_refused(small: Scenario, days: int) -> None:
    with pytest.raises(RosterInputError, match="days"):
        roster_from_scenario(small, _demand(small, 1, DEMAND), first_day=FIRST_DAY, days=days)


def test_demand_for_an_unknown_unit_is_refused(small: Scenario) -> None:
    demand = _demand(small, 1, DEMAND).with_columns(pl.lit("WARD-9").alias("unit_id"))
    with pytest.raises(RosterInputError, match="unknown unit 'WARD-9'"):
        roster_from_scenario(small, demand, first_day=FIRST_DAY, days=1)


def test_settings_are_checked() -> None:
    with pytest.raises(RosterInputError, match=r"settings\.workers"):
        RosterSettings(workers=0)
    with pytest.raises(RosterInputError, match=r"settings\.under_cover_weight"):
        RosterSettings(under_cover_weight=-1)
