"""The hospital model runs a surgical plan as its elective list: the plan's cases are the ones operated on."""

from __future__ import annotations

import polars as pl
import pytest

from ops.sim import SURGICAL_PLAN_SCHEMA, SimulationOptions, simulate
from ops.surgery import simulation_plan
from scenarios import load_scenario, scenario_path
from scenarios.schema import Scenario
from scheduler.surgery import SURGICAL_PLAN_SCHEMA as SCHEDULER_PLAN_SCHEMA


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


def _plan(rows: list[tuple[int, str, str, bool]]) -> pl.DataFrame:
    """A scheduler-side plan of the given (day, theatre, service, day case) rows, plus one unplanned case."""
    records = []
    sequence: dict[tuple[int, str], int] = {}
    for k, (day, theatre, service, day_case) in enumerate(rows):
        sequence[(day, theatre)] = sequence.get((day, theatre), 0) + 1
        records.append(_case(f"c{k}", service, theatre, day_case, day, sequence[(day, theatre)]))
    records.append(_case("waiting", "general_surgery", None, False, None, None))
    return pl.DataFrame(records, schema=SCHEDULER_PLAN_SCHEMA)


def _case(
    case_id: str, service: str, theatre: str | None, day_case: bool, day: int | None, sequence: int | None
) -> dict[str, object]:
    planned = day is not None
    return {
        "case_id": case_id,
        "service": service,
        "surgeon": f"{service}@{theatre}",
        "mandatory": False,
        "planned": planned,
        "day": day,
        "theatre": theatre,
        "sequence": sequence,
        "ward": ("DAY" if day_case else "SURG-C") if planned else None,
        "room": None,
        "day_case": day_case,
        "duration_minutes": 60,
        "length_of_stay_days": 0 if day_case else 2,
        "earliest_day": 0,
        "due_day": None,
        "delay_days": 0 if planned else None,
        "delay_cost": 0,
        "unscheduled_cost": 0 if planned else 200,
    }


def test_the_plans_cases_are_the_ones_operated_on(baseline: Scenario) -> None:
    plan = _plan(
        [(0, "TH1", "general_surgery", False)] * 3
        + [(0, "TH5", "orthopaedics", True)] * 2
        + [(1, "TH6", "orthopaedics", False)] * 4
    )
    elective_list = simulation_plan(plan)
    assert dict(elective_list.schema) == SURGICAL_PLAN_SCHEMA
    assert elective_list.height == 9  # the unplanned case is not on any list
    result = simulate(
        baseline, seed=4, horizon_days=3, options=SimulationOptions(surgical_plan=elective_list)
    )
    theatres = result.theatres.filter(~pl.col("emergency"))
    booked = {(t, d): n for t, d, n in theatres.select("theatre", "day", "cases_booked").iter_rows() if n > 0}
    assert booked == {("TH1", 0): 3, ("TH5", 0): 2, ("TH6", 1): 4}
    listed = theatres.filter(pl.col("cases_booked") > 0)
    outcome = listed["cases_performed"] + listed["cancelled_no_bed"] + listed["cancelled_no_time"]
    assert (outcome == listed["cases_booked"]).all()
    # the wards start empty, so every case finds a bed; 60-minute lists fit their sessions
    assert int(listed["cases_performed"].sum()) == 9
    services = dict(listed.select("theatre", "service").iter_rows())
    assert services == {"TH1": "general_surgery", "TH5": "orthopaedics", "TH6": "orthopaedics"}


def test_without_a_plan_the_block_schedule_books_the_lists(baseline: Scenario) -> None:
    plan = _plan([(0, "TH1", "general_surgery", False)])
    with_plan = simulate(
        baseline, seed=4, horizon_days=2, options=SimulationOptions(surgical_plan=simulation_plan(plan))
    )
    block = simulate(baseline, seed=4, horizon_days=2)
    assert int(with_plan.theatres["cases_booked"].sum()) == 1
    assert int(block.theatres["cases_booked"].sum()) > 20


def test_a_case_on_a_closed_theatre_is_cancelled(baseline: Scenario) -> None:
    # Day 5 of a run starting on a Monday is a Saturday: TH1 has no session.
    plan = _plan([(5, "TH1", "general_surgery", False)])
    result = simulate(
        baseline, seed=1, horizon_days=7, options=SimulationOptions(surgical_plan=simulation_plan(plan))
    )
    row = result.theatres.filter((pl.col("theatre") == "TH1") & (pl.col("day") == 5))
    assert row["cases_booked"].to_list() == [1]
    assert row["cases_performed"].to_list() == [0]
