"""The hospital model: exact event logs on tiny cases, schemas, invariants, verification at extremes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ops.sim.model as model_module
from ops.sim import (
    ED_HOURLY_SCHEMA,
    EVENT_LOG_SCHEMA,
    KPI_SCHEMA,
    NURSING_SCHEMA,
    OCCUPANCY_SCHEMA,
    SURGICAL_PLAN_SCHEMA,
    THEATRE_SCHEMA,
    UNIT_FLOW_SCHEMA,
    EdPatientAtStart,
    InpatientAtStart,
    SimulationOptions,
    SimulationResult,
    StartState,
    simulate,
)
from ops.sim.calendar import SimulationCalendar
from ops.sim.demand import ed_attendances
from ops.sim.distributions import residual_minutes
from ops.sim.streams import RandomStreams
from ops.sim.validation import queue_options, queue_scenario
from scenarios import Scenario, load_scenario, scenario_path
from scenarios.schema import WEEKDAYS, FixedHours, LognormalHours, PathwayStep

MONDAY = datetime(2024, 1, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def baseline_week(baseline: Scenario) -> SimulationResult:
    return simulate(baseline, seed=3, horizon_days=7, options=SimulationOptions(event_log=True))


def _variant(scenario: Scenario, **changes: Any) -> Scenario:
    """The scenario with parts of its dumped form replaced (validated again)."""
    data = scenario.model_dump(mode="json")
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
    return Scenario.model_validate(data)


def _no_arrivals(now: datetime, days: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "t": [now + timedelta(hours=k) for k in range(days * 24)],
            "service": ["ed"] * (days * 24),
            "arrivals_per_hour": [0.0] * (days * 24),
        },
        schema={"t": pl.Datetime("us", "UTC"), "service": pl.String, "arrivals_per_hour": pl.Float64},
    )


# ---- an exact event log ----------------------------------------------------------------------------


def _critical_care_hospital() -> Scenario:
    """ICU (1 bed) -> step-down (1 bed) -> ward (2 beds); no staff, theatres or diversion."""
    day = (1.0,) * 24
    return Scenario.model_validate(
        {
            "name": "tiny critical care",
            "hospital": {
                "name": "Tiny",
                "timezone": "UTC",
                "shifts": [{"id": "all_day", "start": "00:00", "end": "00:00"}],
                "skills": [{"id": "rn"}],
                "contracts": [{"id": "any", "max_minutes_per_week": 10080}],
                "units": [
                    {
                        "id": "ED",
                        "kind": "ed",
                        "beds": 10,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                    },
                    {
                        "id": "ICU",
                        "kind": "icu",
                        "beds": 1,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                    },
                    {
                        "id": "HDU",
                        "kind": "step_down",
                        "beds": 1,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                    },
                    {
                        "id": "WARD",
                        "kind": "ward",
                        "beds": 2,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                    },
                ],
                "services": [
                    {
                        "id": "medicine",
                        "emergency_share": 1.0,
                        "pathways": [
                            {
                                "probability": 1.0,
                                "steps": [
                                    {
                                        "units": ["WARD"],
                                        "length_of_stay": {"distribution": "fixed", "hours": 5},
                                    }
                                ],
                            }
                        ],
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
                            "admit_probability": 1.0,
                            "treatment": {"distribution": "fixed", "hours": 1},
                        }
                    ],
                    "diversion_boarding_threshold": 100,
                },
                "seasonality": {"winter_amplitude": 0.0},
                "costs": {
                    "agency_nurse_hour": 0,
                    "overtime_hour": 0,
                    "cancelled_operation": 0,
                    "diversion_hour": 0,
                },
                "policies": {"discharge_hourly_profile": day},
            },
        }
    )


def _fixed(hours: float) -> FixedHours:
    return FixedHours(distribution="fixed", hours=hours)


def test_bed_blocking_gives_the_exact_event_log() -> None:
    """A leaves ICU at 2 h but waits there for B's step-down bed, freed when B moves to the ward at 4 h."""
    scenario = _critical_care_hospital()
    start = StartState(
        now=MONDAY,
        patients=[
            InpatientAtStart(
                "A",
                "ICU",
                "medicine",
                "high",
                elapsed_hours=0.0,
                length_of_stay=_fixed(2),
                remaining_steps=(
                    PathwayStep(units=("HDU",), acuity="medium", length_of_stay=_fixed(10)),
                    PathwayStep(units=("WARD",), acuity="low", length_of_stay=_fixed(5)),
                ),
            ),
            InpatientAtStart(
                "B",
                "HDU",
                "medicine",
                "medium",
                elapsed_hours=1.0,
                length_of_stay=_fixed(5),
                remaining_steps=(PathwayStep(units=("WARD",), acuity="low", length_of_stay=_fixed(3)),),
            ),
        ],
        arrival_forecast=_no_arrivals(MONDAY, 1),
    )
    result = simulate(
        scenario,
        start,
        seed=0,
        horizon_days=1,
        options=SimulationOptions(event_log=True, discharge_profile=False),
    )
    assert result.event_log is not None
    log = [(t - MONDAY, patient, event, place) for t, patient, event, place in result.event_log.iter_rows()]
    hours = timedelta(hours=1)
    assert log == [
        (4 * hours, "B", "transfer", "WARD"),
        (4 * hours, "A", "transfer", "HDU"),
        (7 * hours, "B", "discharge", "WARD"),
        (14 * hours, "A", "transfer", "WARD"),
        (19 * hours, "A", "discharge", "WARD"),
    ]
    flow = {row["unit"]: row for row in result.unit_flow.iter_rows(named=True)}
    assert flow["ICU"]["blocked_patient_hours"] == pytest.approx(2.0)
    assert flow["ICU"]["census_patient_hours"] == pytest.approx(4.0)
    assert flow["HDU"]["census_patient_hours"] == pytest.approx(4.0 + 10.0)
    assert flow["WARD"]["bed_wait_hours"] == pytest.approx(0.0)
    assert result.flow.arrived == {"ed": 0, "elective": 0, "start_state": 2}
    assert result.flow.left["inpatient_discharge"] == 2
    assert result.flow.total_inside == 0


def test_ed_patients_at_start_board_and_are_admitted() -> None:
    scenario = _critical_care_hospital()
    start = StartState(
        now=MONDAY,
        ed_patients=[EdPatientAtStart("E1", 3, elapsed_hours=2.0, awaiting_bed=True, service="medicine")],
        arrival_forecast=_no_arrivals(MONDAY, 1),
    )
    result = simulate(
        scenario,
        start,
        seed=0,
        horizon_days=1,
        options=SimulationOptions(event_log=True, discharge_profile=False),
    )
    assert result.event_log is not None
    events = result.event_log.select("patient", "event", "place").rows()
    assert events[:2] == [("E1", "decision_to_admit", "ED"), ("E1", "admission", "WARD")]
    ed = result.ed
    assert ed.get_column("departures").sum() == 1
    # arrived two hours before the start: 2 h in the department, within the 4-hour target
    assert ed.get_column("time_in_department_minutes").sum() == pytest.approx(120.0)
    assert ed.get_column("departures_within_target").sum() == 1


# ---- frames and their schemas --------------------------------------------------------------------


def test_every_frame_has_its_declared_schema(baseline_week: SimulationResult) -> None:
    result = baseline_week
    assert result.occupancy.schema == pl.Schema(OCCUPANCY_SCHEMA)
    assert result.ed.schema == pl.Schema(ED_HOURLY_SCHEMA)
    assert result.nursing.schema == pl.Schema(NURSING_SCHEMA)
    assert result.theatres.schema == pl.Schema(THEATRE_SCHEMA)
    assert result.unit_flow.schema == pl.Schema(UNIT_FLOW_SCHEMA)
    assert result.kpis().schema == pl.Schema(KPI_SCHEMA)
    assert result.event_log is not None and result.event_log.schema == pl.Schema(EVENT_LOG_SCHEMA)


def test_frames_cover_the_run_hour_by_hour(baseline_week: SimulationResult, baseline: Scenario) -> None:
    result = baseline_week
    hours = 7 * 24
    assert result.ed.height == hours
    assert result.occupancy.height == hours * len(baseline.hospital.units)
    assert result.ed.get_column("t").min() == datetime(2024, 4, 14, 23, tzinfo=UTC)
    assert result.nursing.get_column("shift").n_unique() == 3
    # 3 shifts a day (the first night shift started before the run) on every staffed unit
    staffed = {u for p in baseline.hospital.staff_pools for u in p.units}
    assert result.nursing.height == len(staffed) * 3 * 7


def test_kpis_are_the_long_frame_with_hospital_and_unit_metrics(baseline_week: SimulationResult) -> None:
    kpis = baseline_week.kpis(replication=4, scenario="base")
    assert set(kpis.get_column("replication").to_list()) == {4}
    metrics = kpis.get_column("metric").to_list()
    for metric in ("ed_four_hour_performance", "diversion_hours", "cancelled_operations", "agency_cost"):
        assert metric in metrics
    assert "occupancy_ICU" in metrics
    values = dict(kpis.select("metric", "value").iter_rows())
    assert 0.0 <= values["ed_four_hour_performance"] <= 1.0
    assert values["agency_cost"] == pytest.approx(values["agency_nurse_hours"] * 62.0)


# ---- invariants ----------------------------------------------------------------------------------


def test_every_patient_who_arrives_leaves_or_is_still_inside(baseline_week: SimulationResult) -> None:
    flow = baseline_week.flow
    assert flow.total_arrived > 1500
    assert flow.total_arrived == flow.total_left + flow.total_inside
    # the patients inside at the end are exactly the census the bed board kept (PACU bays also hold
    # emergency cases recovering, who are inpatients counted in their own ward's bed)
    by_unit = dict(baseline_week.unit_flow.select("unit", "inside_at_end").iter_rows())
    for unit, census in by_unit.items():
        if unit == "PACU":
            assert flow.inside.get(unit, 0) <= census
        else:
            assert flow.inside.get(unit, 0) == census


def test_unit_census_integral_equals_the_time_patients_spent(baseline_week: SimulationResult) -> None:
    """Little's law as an identity over the run: ∫ census dt = Σ time each patient spent in the unit."""
    for row in baseline_week.unit_flow.iter_rows(named=True):
        assert row["census_patient_hours"] == pytest.approx(row["window_stay_hours"], rel=1e-9, abs=1e-6)


def test_census_never_negative_and_never_above_open_beds_plus_overflow(
    baseline_week: SimulationResult,
) -> None:
    occupancy = baseline_week.occupancy
    assert occupancy.get_column("occupied").min() >= 0
    # patients only enter a free bed, so the hourly mean census stays within the hour's peak open beds
    assert (occupancy.get_column("occupied") <= occupancy.get_column("beds_open") + 1e-9).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(1, 6),
    arrival_rate=st.floats(0.5, 12.0),
    mean_stay=st.floats(0.1, 3.0),
    loss=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_flow_is_conserved_on_any_small_queue(
    servers: int, arrival_rate: float, mean_stay: float, loss: bool, seed: int
) -> None:
    scenario = queue_scenario(servers, arrival_rate, 1.0 / mean_stay, loss)
    result = simulate(scenario, seed=seed, horizon_days=2, options=queue_options(loss, 0))
    flow = result.flow
    assert flow.total_arrived == flow.total_left + flow.total_inside
    beds = result.occupancy.filter(pl.col("unit") == "BEDS")
    assert beds.get_column("occupied").min() >= 0
    assert beds.get_column("occupied").max() <= servers + 1e-9
    row = result.unit_flow.filter(pl.col("unit") == "BEDS").row(0, named=True)
    assert row["census_patient_hours"] == pytest.approx(row["window_stay_hours"], rel=1e-9, abs=1e-6)


# ---- randomness ----------------------------------------------------------------------------------


def test_same_seed_same_result_different_seed_different_result(baseline: Scenario) -> None:
    first = simulate(baseline, seed=11, horizon_days=3)
    again = simulate(baseline, seed=np.random.SeedSequence(11), horizon_days=3)
    other = simulate(baseline, seed=12, horizon_days=3)
    assert first.kpis().equals(again.kpis())
    assert first.occupancy.equals(again.occupancy)
    assert first.theatres.equals(again.theatres)
    assert not first.kpis().equals(other.kpis())


def test_a_seed_sequence_can_be_reused(baseline: Scenario) -> None:
    seed = np.random.SeedSequence(5)
    seed.spawn(3)  # a caller spawning from it first does not change the run
    assert (
        simulate(baseline, seed=seed, horizon_days=1)
        .kpis()
        .equals(simulate(baseline, seed=5, horizon_days=1).kpis())
    )


def test_scenarios_with_the_same_seed_see_the_same_attendances(baseline: Scenario) -> None:
    calendar = SimulationCalendar(MONDAY, "Europe/London", 0, 28, baseline.hospital.seasonality)
    closure = load_scenario(scenario_path("ward_closure"))
    surge = load_scenario(scenario_path("winter_surge"))
    base = ed_attendances(baseline, calendar, RandomStreams(9), 0.3)
    same = ed_attendances(closure, calendar, RandomStreams(9), 0.3)
    assert np.array_equal(base.minute, same.minute)
    assert np.array_equal(base.length_of_stay, same.length_of_stay)
    surged = ed_attendances(surge, calendar, RandomStreams(9), 0.3)
    before_surge = base.minute < calendar.minute_at(3, "00:00")
    count = int(before_surge.sum())
    assert np.array_equal(base.minute[:count], surged.minute[:count])
    assert np.array_equal(base.category[:count], surged.category[:count])
    assert len(surged) > len(base) * 1.08  # +15 % for 21 of 28 days, plus extra admissions


def test_the_scenario_is_never_changed(baseline: Scenario) -> None:
    digest = baseline.digest()
    simulate(baseline, seed=1, horizon_days=1)
    assert baseline.digest() == digest


def test_compacting_the_logs_changes_nothing(baseline: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long runs integrate their change logs every day; the totals are the same as integrating once."""
    whole = simulate(baseline, seed=2, horizon_days=4)
    monkeypatch.setattr(model_module, "_COMPACT_AFTER_CHANGES", 10)
    daily = simulate(baseline, seed=2, horizon_days=4)
    for name in ("occupancy", "ed", "nursing"):
        left, right = getattr(whole, name), getattr(daily, name)
        for column in left.columns:
            if left.schema[column] == pl.Float64:
                assert np.allclose(left.get_column(column).to_numpy(), right.get_column(column).to_numpy())
            else:
                assert left.get_column(column).equals(right.get_column(column))


# ---- verification at the extremes ----------------------------------------------------------------


def test_huge_capacity_means_no_boarding_no_waits_no_diversion(baseline: Scenario) -> None:
    roomy = _variant(baseline, hospital__units=lambda units: [{**u, "beds": u["beds"] * 40} for u in units])
    result = simulate(roomy, seed=4, horizon_days=7)
    values = dict(result.kpis().select("metric", "value").iter_rows())
    assert values["ed_mean_boarding_hours"] == 0.0
    assert values["diversion_hours"] == 0.0
    assert values["ambulances_diverted"] == 0.0
    assert values["cancelled_operations_no_bed"] == 0.0
    assert values["ed_mean_wait_to_be_seen_minutes"] == 0.0
    assert result.unit_flow.get_column("bed_wait_hours").sum() == 0.0
    assert result.unit_flow.get_column("blocked_patient_hours").sum() == 0.0


def test_no_theatre_time_means_no_elective_operation(baseline: Scenario) -> None:
    overrides = [
        {"kind": "theatre_block", "theatre": t.id, "weekday": day, "close": True}
        for t in baseline.hospital.theatres
        for day in WEEKDAYS
    ]
    closed = _variant(baseline, overrides=overrides)
    result = simulate(closed, seed=4, horizon_days=7)
    values = dict(result.kpis().select("metric", "value").iter_rows())
    assert values["elective_operations"] == 0
    assert values["emergency_operations"] == 0
    assert result.theatres.height == 0
    # a surgical plan on theatres with no session: every case is cancelled
    plan = pl.DataFrame(
        {
            "day": [0, 0, 1],
            "theatre": ["TH1", "TH1", "TH5"],
            "service": ["general_surgery", "general_surgery", "orthopaedics"],
            "sequence": [1, 2, 1],
            "day_case": [True, False, None],
        },
        schema=SURGICAL_PLAN_SCHEMA,
    )
    planned = simulate(closed, seed=4, horizon_days=3, options=SimulationOptions(surgical_plan=plan))
    values = dict(planned.kpis().select("metric", "value").iter_rows())
    assert values["elective_operations"] == 0
    assert values["cancelled_operations"] == 3


def test_a_surgical_plan_replaces_the_block_lists(baseline: Scenario) -> None:
    plan = pl.DataFrame(
        {
            "day": [0] * 4,
            "theatre": ["TH1"] * 4,
            "service": ["general_surgery"] * 4,
            "sequence": [4, 3, 2, 1],
            "day_case": [True] * 4,
        },
        schema=SURGICAL_PLAN_SCHEMA,
    )
    result = simulate(baseline, seed=1, horizon_days=1, options=SimulationOptions(surgical_plan=plan))
    theatres = result.theatres.filter(~pl.col("emergency"))
    assert theatres.get_column("cases_booked").sum() == 4
    assert theatres.get_column("cases_performed").sum() == 4
    assert result.flow.left["day_case_home"] + result.flow.inside.get("PACU", 0) == 4


def test_diversion_turns_ambulances_away(baseline: Scenario) -> None:
    strict = _variant(baseline, hospital__ed__diversion_boarding_threshold=1)
    result = simulate(strict, seed=4, horizon_days=4)
    values = dict(result.kpis().select("metric", "value").iter_rows())
    assert values["diversion_hours"] > 1
    assert values["ambulances_diverted"] > 0
    assert result.flow.ambulances_diverted == values["ambulances_diverted"]
    relaxed = simulate(baseline, seed=4, horizon_days=4)
    # diverted ambulances never arrive
    assert (
        values["ed_attendances"]
        < dict(relaxed.kpis().select("metric", "value").iter_rows())["ed_attendances"]
    )


def test_close_beds_policy_closes_beds_and_books_no_agency(baseline: Scenario) -> None:
    sickness = load_scenario(scenario_path("nurse_sickness"))
    closing = _variant(sickness, hospital__policies__nurse_shortage="close_beds")
    agency = simulate(sickness, seed=6, horizon_days=3)
    closed = simulate(closing, seed=6, horizon_days=3)
    agency_values = dict(agency.kpis().select("metric", "value").iter_rows())
    closed_values = dict(closed.kpis().select("metric", "value").iter_rows())
    assert agency_values["agency_cost"] > 0
    assert closed_values["agency_cost"] == 0
    medical = closed.occupancy.filter(pl.col("unit") == "MED-A")
    # 18 - 3 night nurses over 150 beds: 3 per ward at 8 patients each = 24 of its 30 beds
    assert medical.get_column("beds_open").min() < 30
    assert agency.occupancy.filter(pl.col("unit") == "MED-A").get_column("beds_open").min() == 30


def test_ward_closure_empties_the_ward(baseline: Scenario) -> None:
    closure = load_scenario(scenario_path("ward_closure"))
    result = simulate(closure, seed=1, horizon_days=10)
    ward = result.occupancy.filter(pl.col("unit") == "MED-C").with_row_index("hour")
    during = ward.filter(pl.col("hour") >= 8 * 24)
    assert during.get_column("beds_open").max() == 0
    assert during.get_column("occupied").max() == 0


def test_discharges_follow_the_discharge_profile(baseline_week: SimulationResult) -> None:
    log = baseline_week.event_log
    assert log is not None
    discharges = log.filter(pl.col("event") == "discharge")
    local_hours = discharges.get_column("t").dt.convert_time_zone("Europe/London").dt.hour()
    profile = np.array(load_scenario(scenario_path("baseline")).hospital.policies.discharge_hourly_profile)
    expected = profile[10:19].sum() / profile.sum()
    observed = float(((local_hours >= 10) & (local_hours < 19)).mean())
    assert observed == pytest.approx(expected, abs=0.05)


# ---- warm start ----------------------------------------------------------------------------------


def test_residual_stay_is_drawn_beyond_the_elapsed_time() -> None:
    stay = LognormalHours(distribution="lognormal", median_hours=100, sigma=0.8)
    uniforms = np.random.default_rng(0).random(4000)
    residual = np.array([residual_minutes(stay, 150 * 60.0, u) for u in uniforms]) / 60
    totals = 150 + residual
    assert residual.min() >= 0
    # the total stay, conditioned on exceeding 150 h, has the conditional median of the lognormal
    from scipy import stats

    law = stats.lognorm(s=0.8, scale=100)
    conditional_median = law.ppf(1 - law.sf(150) / 2)
    assert np.median(totals) == pytest.approx(conditional_median, rel=0.05)


def test_a_warm_start_fills_the_beds_and_uses_the_twins_remaining_stays(baseline: Scenario) -> None:
    patients = [
        InpatientAtStart(f"P{i}", "ICU", "general_medicine", "high", elapsed_hours=30.0) for i in range(10)
    ]
    patients.append(
        InpatientAtStart(
            "Q1", "CARD", "cardiology", "medium", elapsed_hours=5, remaining_stay=np.array([1.0, 2.0, 3.0])
        )
    )
    patients.append(
        InpatientAtStart("Q2", "RESP", "respiratory", "medium", elapsed_hours=5, remaining_stay=lambda g: 4.0)
    )
    start = StartState(now=MONDAY, patients=patients)
    result = simulate(baseline, start, seed=1, horizon_days=2, options=SimulationOptions(event_log=True))
    flow = result.unit_flow.filter(pl.col("unit") == "ICU").row(0, named=True)
    assert flow["inside_at_start"] == 10
    assert result.flow.arrived["start_state"] == 12
    assert result.event_log is not None
    q = result.event_log.filter(pl.col("patient").is_in(["Q1", "Q2"]) & (pl.col("event") == "discharge"))
    # at the end of their remaining stay (at most 4 h), moved to their discharge hour (at most a day later)
    for t in q.get_column("t").to_list():
        assert t - MONDAY <= timedelta(hours=4 + 24)
    icu = result.occupancy.filter(pl.col("unit") == "ICU").get_column("occupied")
    assert icu[0] >= 9.5


def test_patients_of_a_closed_ward_are_moved_to_the_other_wards_of_their_step(baseline: Scenario) -> None:
    closed = _variant(baseline, overrides=[{"kind": "beds", "unit": "MED-C", "change": -30}])
    patients = [
        InpatientAtStart(f"M{i}", "MED-C", "general_medicine", "low", elapsed_hours=20) for i in range(12)
    ]
    result = simulate(closed, StartState(now=MONDAY, patients=patients), seed=2, horizon_days=1)
    ward = result.occupancy.filter(pl.col("unit") == "MED-C")
    assert ward.get_column("occupied").max() == 0  # moved at the start, before the first hour closes
    moved_to = result.unit_flow.filter(pl.col("unit").is_in(["MED-A", "MED-B", "MED-D", "MED-E"]))
    assert moved_to.get_column("entries").sum() >= 12


def test_a_warm_start_rejects_an_unknown_unit(baseline: Scenario) -> None:
    start = StartState(now=MONDAY, patients=[InpatientAtStart("X", "MED-Z", "general_medicine")])
    with pytest.raises(ValueError, match="unknown unit 'MED-Z'"):
        simulate(baseline, start, seed=0, horizon_days=1)


def test_naive_datetimes_are_refused(baseline: Scenario) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        simulate(baseline, StartState(now=datetime(2024, 1, 1)), seed=0, horizon_days=1)


def test_an_arrival_forecast_replaces_the_scenario_rates(baseline: Scenario) -> None:
    hours = 2 * 24
    forecast = pl.DataFrame(
        {
            "t": [MONDAY + timedelta(hours=k) for k in range(hours)],
            "service": ["ed"] * hours,
            "arrivals_per_hour": [20.0] * hours,
        },
        schema={"t": pl.Datetime("us", "UTC"), "service": pl.String, "arrivals_per_hour": pl.Float64},
    )
    result = simulate(baseline, StartState(now=MONDAY, arrival_forecast=forecast), seed=3, horizon_days=2)
    arrivals = result.ed.get_column("arrivals").sum() + result.ed.get_column("ambulances_diverted").sum()
    assert arrivals == pytest.approx(20 * hours, rel=0.1)


def test_a_surge_still_scales_an_arrival_forecast(baseline: Scenario) -> None:
    """A warm start's forecast replaces the expected demand, not the what-if: +15 % ED on days 3-24."""
    surge = load_scenario(scenario_path("winter_surge"))
    hours = 5 * 24
    forecast = pl.DataFrame(
        {
            "t": [MONDAY + timedelta(hours=k) for k in range(hours)],
            "service": ["ed"] * hours,
            "arrivals_per_hour": [12.0] * hours,
        },
        schema={"t": pl.Datetime("us", "UTC"), "service": pl.String, "arrivals_per_hour": pl.Float64},
    )
    start = StartState(now=MONDAY, arrival_forecast=forecast)
    counts = {}
    for scenario in (baseline, surge):
        ed = simulate(scenario, start, seed=5, horizon_days=5).ed
        arrivals = ed.get_column("arrivals").to_numpy() + ed.get_column("ambulances_diverted").to_numpy()
        counts[scenario.name] = (arrivals[: 3 * 24].sum(), arrivals[3 * 24 :].sum())
    before, during = counts[surge.name]
    base_before, base_during = counts[baseline.name]
    assert before == base_before  # common random numbers: the same attendances before the surge
    assert base_during == pytest.approx(12 * 48, rel=0.1)
    # the surge adds a Poisson 15 % (about 86 ± 9 attendances) on top of the same ones
    assert 1.10 <= during / base_during <= 1.20


def test_warm_up_is_left_out_of_the_results(baseline: Scenario) -> None:
    result = simulate(baseline, seed=1, horizon_days=2, options=SimulationOptions(warm_up_days=3))
    assert result.ed.height == 48
    assert result.unit_flow.get_column("inside_at_start").sum() > 100
    with pytest.raises(ValueError, match="exclude each other"):
        simulate(
            baseline,
            StartState(now=MONDAY),
            seed=1,
            horizon_days=1,
            options=SimulationOptions(warm_up_days=1),
        )
