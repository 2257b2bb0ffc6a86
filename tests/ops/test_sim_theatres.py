"""Theatres in the hospital model, on a tiny hospital with fixed durations: the KPIs are exact.

One elective theatre (a 4-hour Monday morning list), a two-hour operation and a one-hour recovery, a
one-bed post-operative ward, no ED demand (a zero arrival forecast) and no nurses: every number below
follows from the fixed durations by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from ops.sim import (
    SURGICAL_PLAN_SCHEMA,
    InpatientAtStart,
    SimulationOptions,
    StartState,
    kpi_values,
    simulate,
)
from scenarios import Scenario
from scenarios.schema import FixedHours

MONDAY = datetime(2024, 1, 8, tzinfo=UTC)
CANCELLED_OPERATION_COST = 1500.0
OVERTIME_HOUR_COST = 200.0


def _hospital(session_end: str, cases_per_week: float) -> Scenario:
    """ED, PACU (2 bays), one one-bed ward; one surgical service with a fixed 2 h operation, 1 h recovery."""
    day = (1.0,) * 24

    def unit(unit_id: str, kind: str, beds: int) -> dict[str, Any]:
        return {
            "id": unit_id,
            "kind": kind,
            "beds": beds,
            "skill": "rn",
            "patients_per_nurse": {"all_day": 1},
        }

    return Scenario.model_validate(
        {
            "name": "tiny theatre",
            "hospital": {
                "name": "Tiny",
                "timezone": "UTC",
                "shifts": [{"id": "all_day", "start": "00:00", "end": "00:00"}],
                "skills": [{"id": "rn"}],
                "contracts": [{"id": "any", "max_minutes_per_week": 10080}],
                "units": [unit("ED", "ed", 10), unit("PACU", "pacu", 2), unit("WARD", "ward", 1)],
                "theatres": [
                    {
                        "id": "TH1",
                        "sessions": {"mon": {"start": "08:00", "end": session_end, "service": "surgery"}},
                    }
                ],
                "services": [
                    {
                        "id": "surgery",
                        "emergency_share": 1.0,
                        "pathways": [
                            {
                                "probability": 1.0,
                                "steps": [{"units": ["WARD"], "length_of_stay": _fixed_dict(24)}],
                            }
                        ],
                        "surgery": {
                            "elective_cases_per_week": cases_per_week,
                            "duration": _fixed_dict(2),
                            "recovery": _fixed_dict(1),
                            "day_case_share": 0.0,
                            "elective_pathways": [
                                {
                                    "probability": 1.0,
                                    "steps": [{"units": ["WARD"], "length_of_stay": _fixed_dict(48)}],
                                }
                            ],
                        },
                    }
                ],
                "ed": {
                    "unit": "ED",
                    "attendances_per_day": 1.0,
                    "hourly_profile": day,
                    "weekday_profile": (1.0,) * 7,
                    "triage": [
                        {
                            "category": 3,
                            "share": 1.0,
                            "admit_probability": 0.0,
                            "treatment": _fixed_dict(1),
                        }
                    ],
                    "diversion_boarding_threshold": 100,
                },
                "seasonality": {"winter_amplitude": 0.0},
                "costs": {
                    "agency_nurse_hour": 0,
                    "overtime_hour": OVERTIME_HOUR_COST,
                    "cancelled_operation": CANCELLED_OPERATION_COST,
                    "diversion_hour": 0,
                },
                "policies": {"discharge_hourly_profile": day},
            },
        }
    )


def _fixed_dict(hours: float) -> dict[str, Any]:
    return {"distribution": "fixed", "hours": hours}


def _no_ed_demand(patients: tuple[InpatientAtStart, ...] = ()) -> StartState:
    hours = 24
    forecast = pl.DataFrame(
        {
            "t": [MONDAY + timedelta(hours=k) for k in range(hours)],
            "service": ["ed"] * hours,
            "arrivals_per_hour": [0.0] * hours,
        },
        schema={"t": pl.Datetime("us", "UTC"), "service": pl.String, "arrivals_per_hour": pl.Float64},
    )
    return StartState(now=MONDAY, patients=patients, arrival_forecast=forecast)


def _ward_patient(hours_left: float) -> InpatientAtStart:
    return InpatientAtStart(
        "in-the-ward-bed",
        "WARD",
        "surgery",
        elapsed_hours=0.0,
        length_of_stay=FixedHours(distribution="fixed", hours=hours_left),
    )


OPTIONS = SimulationOptions(event_log=True, discharge_profile=False)


def test_electives_are_cancelled_when_no_post_operative_bed_is_free() -> None:
    """The ward's only bed is taken all day: both cases on the list are cancelled at 08:00, no bed."""
    scenario = _hospital("12:00", cases_per_week=2)
    result = simulate(scenario, _no_ed_demand((_ward_patient(30),)), seed=1, horizon_days=1, options=OPTIONS)
    (session,) = result.theatres.iter_rows(named=True)
    assert (session["cases_booked"], session["cases_performed"]) == (2, 0)
    assert (session["cancelled_no_bed"], session["cancelled_no_time"]) == (2, 0)
    kpis = kpi_values(result)
    assert kpis["cancelled_operations"] == kpis["cancelled_operations_no_bed"] == 2
    assert kpis["cancelled_operations_no_time"] == 0 and kpis["elective_operations"] == 0
    assert kpis["cancellation_cost"] == 2 * CANCELLED_OPERATION_COST
    assert kpis["theatre_utilisation"] == 0.0 and kpis["theatre_overtime_hours"] == 0.0
    assert result.event_log is not None
    cancelled = result.event_log.filter(pl.col("event") == "cancelled_no_bed")
    assert cancelled["t"].to_list() == [MONDAY + timedelta(hours=8)] * 2


def test_with_the_bed_free_the_same_list_is_operated() -> None:
    """Control: the ward patient leaves at 07:00; both cases are operated (08-10, 10-12), none cancelled."""
    scenario = _hospital("12:00", cases_per_week=2)
    result = simulate(scenario, _no_ed_demand((_ward_patient(7),)), seed=1, horizon_days=1, options=OPTIONS)
    kpis = kpi_values(result)
    assert kpis["elective_operations"] == 2 and kpis["cancelled_operations"] == 0
    assert kpis["theatre_utilisation"] == pytest.approx(1.0)  # 4 h of operating in a 4 h list
    assert kpis["theatre_overtime_hours"] == 0.0
    assert result.event_log is not None
    starts = result.event_log.filter(pl.col("event") == "operation_start")["t"].to_list()
    assert starts == [MONDAY + timedelta(hours=8), MONDAY + timedelta(hours=10)]
    # the first case takes the ward bed at 11:00; the second recovers by 13:00 and waits in PACU for it
    admissions = result.event_log.filter((pl.col("event") == "admission") & (pl.col("place") == "WARD"))
    assert admissions["t"].to_list() == [MONDAY + timedelta(hours=11)]


def test_a_list_that_overruns_its_session_gives_the_overtime_its_durations_imply() -> None:
    """Two 2-hour cases planned on a 3-hour list (08:00-11:00): the second runs 10:00-12:00, 1 h over."""
    scenario = _hospital("11:00", cases_per_week=0)
    plan = pl.DataFrame(
        {"day": [0, 0], "theatre": ["TH1", "TH1"], "service": ["surgery"] * 2, "sequence": [1, 2]},
        schema={name: SURGICAL_PLAN_SCHEMA[name] for name in ("day", "theatre", "service", "sequence")},
    )
    options = SimulationOptions(event_log=True, discharge_profile=False, surgical_plan=plan)
    result = simulate(scenario, _no_ed_demand(), seed=1, horizon_days=1, options=options)
    (session,) = result.theatres.iter_rows(named=True)
    assert session["cases_performed"] == 2
    assert session["overtime_minutes"] == pytest.approx(60.0)
    assert session["operating_minutes"] == pytest.approx(240.0)
    assert session["operating_minutes_in_session"] == pytest.approx(180.0)
    kpis = kpi_values(result)
    assert kpis["theatre_overtime_hours"] == pytest.approx(1.0)
    assert kpis["overtime_cost"] == pytest.approx(OVERTIME_HOUR_COST)
    assert kpis["theatre_utilisation"] == pytest.approx(1.0)
    assert kpis["cancelled_operations"] == 0


def test_a_case_that_would_start_after_the_session_end_is_cancelled_for_time() -> None:
    """Three 2-hour cases on the 3-hour list: the third finds the list over at 12:00 and is cancelled."""
    scenario = _hospital("11:00", cases_per_week=0)
    plan = pl.DataFrame(
        {"day": [0] * 3, "theatre": ["TH1"] * 3, "service": ["surgery"] * 3, "sequence": [1, 2, 3]},
        schema={name: SURGICAL_PLAN_SCHEMA[name] for name in ("day", "theatre", "service", "sequence")},
    )
    options = SimulationOptions(event_log=True, discharge_profile=False, surgical_plan=plan)
    result = simulate(scenario, _no_ed_demand(), seed=1, horizon_days=1, options=options)
    kpis = kpi_values(result)
    assert kpis["elective_operations"] == 2
    assert kpis["cancelled_operations_no_time"] == kpis["cancelled_operations"] == 1
    assert kpis["theatre_overtime_hours"] == pytest.approx(1.0)
    assert kpis["cancellation_cost"] == CANCELLED_OPERATION_COST
