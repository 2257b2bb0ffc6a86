"""The hospital roster from the scenario: contracts, teams, demand split, the checker, published days."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest

from scenarios import Scenario, load_scenario, scenario_path
from scheduler.roster import RosterInputError, RosterStatus, check_roster
from scheduler.roster.from_scenario import (
    ROSTER_ASSIGNMENTS_SCHEMA,
    ROSTER_COVER_SCHEMA,
    HospitalRoster,
    RosterSettings,
    cover_floors,
    cover_targets,
    make_teams,
    roster_contract,
    roster_from_scenario,
    roster_shifts,
    split_floors,
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


# -- fairness ---------------------------------------------------------------------------------------------


def _night_spread(roster: HospitalRoster) -> int:
    (team,) = roster.teams
    nights = dict.fromkeys(team.team.nurse_ids, 0)
    for row in roster.assignments_frame().filter(pl.col("shift") == "night").iter_rows(named=True):
        nights[row["nurse_id"]] += 1
    return max(nights.values()) - min(nights.values())


def test_the_default_fairness_weight_spreads_nights_more_evenly_than_none(baseline: Scenario) -> None:
    hospital = baseline.hospital
    amu = next(p for p in hospital.staff_pools if p.id == "amu_nurses")
    ward = baseline.model_copy(
        update={
            "hospital": hospital.model_copy(
                update={"staff_pools": (amu.model_copy(update={"headcount": 12, "units": ("AMU",)}),)}
            )
        }
    )
    demand = _demand(ward, 14, {"AMU": {"early": 3, "late": 3, "night": 2}})
    fair = roster_from_scenario(
        ward, demand, first_day=FIRST_DAY, days=14, settings=RosterSettings(workers=1)
    )
    unfair = roster_from_scenario(
        ward,
        demand,
        first_day=FIRST_DAY,
        days=14,
        settings=RosterSettings(workers=1, night_spread_weight=0, weekend_spread_weight=0),
    )
    assert RosterSettings().night_spread_weight > 0 and RosterSettings().weekend_spread_weight > 0
    spread, spread_without = _night_spread(fair), _night_spread(unfair)
    # Measured (seed 0, the nightly's budget): 1 night between the busiest and the least busy nurse,
    # against 4 without the fairness term.
    assert spread < spread_without
    (team,) = fair.teams
    assert team.solution.roster is not None
    check = check_roster(team.problem, team.solution.roster)
    assert check.feasible and check.penalties["night_spread"] == RosterSettings().night_spread_weight * spread


# -- quality of a team's roster -----------------------------------------------------------------------------

# A 19-nurse AMU team over 28 days (four complete weekends) wanting 6 + 6 + 4 nurses every day, 2 agency
# nurses per shift: its own nurses can give at most 9.5 nurses a weekend day (two weekends each of four),
# so weekends need agency and a few nurse-shifts stay short; weekdays can be met.
WARD_NURSES = 19
WARD_DEMAND = {"AMU": {"early": 6, "late": 6, "night": 4}}
# solve_roster on the team's problem, 120 s on 2 workers (default parameters): objective 47,648, 4 nurse-
# shifts short, 88 agency shifts (bound 35,744).
LONG_SEARCH_UNFILLED = 4
LONG_SEARCH_OBJECTIVE = 47_648


def _ward(baseline: Scenario, headcount: int) -> Scenario:
    hospital = baseline.hospital
    amu = next(p for p in hospital.staff_pools if p.id == "amu_nurses")
    pool = amu.model_copy(update={"headcount": headcount, "units": ("AMU",)})
    return baseline.model_copy(update={"hospital": hospital.model_copy(update={"staff_pools": (pool,)})})


def test_a_ward_roster_is_close_to_a_long_search_and_its_weekends_are_not_starved(
    baseline: Scenario,
) -> None:
    ward = _ward(baseline, WARD_NURSES)
    roster = roster_from_scenario(
        ward,
        _demand(ward, 28, WARD_DEMAND),
        first_day=FIRST_DAY,
        days=28,
        settings=RosterSettings(workers=1, agency_nurses_per_shift=2),
    )
    (team,) = roster.teams
    assert team.solution.roster is not None and team.solution.objective is not None
    assert check_roster(team.problem, team.solution.roster).feasible
    cover = roster.cover_frame()
    unfilled = cover.get_column("unfilled").sum()
    # Measured (seed 0, the nightly's budget): 4 unfilled, objective 51,626; the earlier single CP-SAT run
    # without its LP gave 81 and 131,196.
    assert unfilled <= LONG_SEARCH_UNFILLED + 6, unfilled
    assert team.solution.objective <= 1.15 * LONG_SEARCH_OBJECTIVE, team.solution.objective
    by_day = cover.group_by("day").agg(pl.col("unfilled").sum(), (pl.col("staff") + pl.col("agency")).sum())
    weekend = by_day.filter(pl.col("day").dt.weekday() >= 6)
    weekday = by_day.filter(pl.col("day").dt.weekday() < 6)
    # Weekends get their share: nearly the weekdays' nurses on duty, and no day more than 2 short.
    assert weekend.get_column("staff").mean() >= 0.9 * weekday.get_column("staff").mean()
    assert by_day.get_column("unfilled").max() <= 2


# -- safe-staffing floors and what to relax ------------------------------------------------------------------


def _with_floors(demand: pl.DataFrame, floor: int | None = None) -> pl.DataFrame:
    minimum = pl.col("nurses") if floor is None else pl.lit(floor)
    return demand.with_columns(minimum.cast(pl.Int32).alias("minimum_nurses"))


def test_floors_are_shared_between_teams_within_their_targets(baseline: Scenario) -> None:
    teams = make_teams(baseline.hospital, max_team_size=10)
    demand = _with_floors(_demand(baseline, 2, {"ICU": {"early": 7, "late": 5, "night": 1}}))
    targets = cover_targets(baseline, demand, FIRST_DAY, 2)
    floors = cover_floors(baseline, demand, FIRST_DAY, 2)
    shares = split_targets(teams, targets)
    floor_shares = split_floors(teams, floors, shares)
    icu_teams = [t for t in teams if t.unit_id == "ICU"]
    assert len(icu_teams) > 1
    for key, floor in floors.items():
        parts = [floor_shares[t.team_id].get(key, 0) for t in icu_teams]
        assert sum(parts) == floor
        assert all(part <= shares[t.team_id].get(key, 0) for part, t in zip(parts, icu_teams, strict=True))


def test_met_floors_are_hard_and_the_checker_agrees(small: Scenario) -> None:
    demand = _with_floors(_demand(small, 7, DEMAND))
    roster = roster_from_scenario(small, demand, first_day=FIRST_DAY, days=7, settings=FAST)
    cover = roster.cover_frame()
    amu = cover.filter(pl.col("unit_id") == "AMU")
    assert (amu.get_column("minimum") == amu.get_column("required")).all()
    assert (amu.get_column("staff") + amu.get_column("agency") >= amu.get_column("minimum")).all()
    for team in roster.teams:
        if team.team.unit_id != "AMU":
            continue
        assert team.solution.roster is not None and not team.floors_relaxed
        assert any(line.minimum_nurses > 0 for line in team.problem.cover)
        assert check_roster(team.problem, team.solution.roster).feasible


def test_floors_that_cannot_be_met_say_how_many_more_nurses_and_still_roster_the_ward(
    small: Scenario,
) -> None:
    # 8 nurses on every shift of AMU, agency included: 14 nurses work at most 5 of 7 days and agency brings
    # at most 3 a shift, so at least 168 - 14 * 5 - 3 * 21 = 35 nurse-shifts are missing, whatever the roster.
    demand = _with_floors(_demand(small, 7, {"AMU": {"early": 8, "late": 8, "night": 8}}))
    settings = replace(FAST, explain_deterministic_seconds=2.0, explain_max_checks=2)
    roster = roster_from_scenario(small, demand, first_day=FIRST_DAY, days=7, settings=settings)
    (team,) = [t for t in roster.teams if t.team.unit_id == "AMU"]
    assert team.status is RosterStatus.INFEASIBLE and team.floors_relaxed
    assert roster.status is RosterStatus.INFEASIBLE and team in roster.failed_teams
    assert team.solution.roster is not None  # the ward still has a roster, below its floors
    explanation = team.explanation
    assert explanation is not None and explanation.extra_nurses_suffice
    assert explanation.total_extra_nurses >= 35
    lines = {line.key: line for line in team.problem.cover}
    for extra in explanation.extra_nurses:
        assert (extra.unit_id, extra.skill) == ("AMU", "rn")
        assert (
            0 < extra.nurses <= lines[(extra.day, extra.shift_id, extra.unit_id, extra.skill)].minimum_nurses
        )
    check = check_roster(team.problem, team.solution.roster)
    assert not check.feasible and {v.rule.value for v in check.violations} == {"cover_minimum"}


def test_contracts_that_conflict_leave_a_team_without_roster_and_name_the_rules(small: Scenario) -> None:
    # Five shifts a week, never at a weekend, never more than four days in a row: impossible.
    hospital = small.hospital
    impossible = next(c for c in hospital.contracts if c.id == "full_time").model_copy(
        update={
            "id": "impossible",
            "min_minutes_per_week": 2400,
            "max_minutes_per_week": 2400,
            "max_consecutive_shifts": 4,
            "max_weekends_per_4_weeks": 0,
        }
    )
    pools = tuple(
        p.model_copy(update={"contract": "impossible"}) if p.id == "amu_nurses" else p
        for p in hospital.staff_pools
    )
    scenario = small.model_copy(
        update={
            "hospital": hospital.model_copy(
                update={"contracts": (*hospital.contracts, impossible), "staff_pools": pools}
            )
        }
    )
    settings = replace(FAST, explain_deterministic_seconds=2.0, explain_max_checks=5)
    roster = roster_from_scenario(
        scenario, _demand(scenario, 7, DEMAND), first_day=FIRST_DAY, days=7, settings=settings
    )
    (team,) = [t for t in roster.teams if t.team.unit_id == "AMU"]
    assert team.solution.roster is None and team.status is RosterStatus.INFEASIBLE
    explanation = team.explanation
    assert explanation is not None and explanation.extra_nurses_suffice is False
    rules = {c.rule.value for c in explanation.conflicting_rules}
    assert "min_total_minutes" in rules and rules <= {
        "min_total_minutes",
        "max_total_minutes",
        "max_consecutive_shifts",
        "max_weekends",
        "complete_weekends",
        "min_consecutive_shifts",
        "min_consecutive_days_off",
        "max_shifts_per_type",
        "one_shift_per_day",
        "forbidden_succession",
        "min_rest",
    }
    others = [t for t in roster.teams if t.team.unit_id != "AMU"]
    assert all(t.solution.roster is not None for t in others)  # the other teams are rostered
