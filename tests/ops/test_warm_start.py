"""Warm start: the model begins with the twins' patients, in their units, with their own remaining stays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ops.sim import SimulationOptions, StartState, simulate
from ops.warm_start import start_state_from_twins
from patients.los import LengthOfStayModel, fit_length_of_stay, remaining_stay_function, segments_from_events
from patients.synthetic import generate_history
from patients.synthetic.history import History
from patients.twin import TwinRegistry
from scenarios import Scenario, load_scenario, scenario_path

DAYS = 21


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(baseline: Scenario) -> History:
    return generate_history(baseline, date(2025, 3, 3), DAYS, seed=5, warm_up_days=20)


@pytest.fixture(scope="module")
def twins_now(history: History) -> tuple[pl.DataFrame, datetime]:
    now = history.ends_at - timedelta(hours=7)
    events = history.events.filter(pl.col("occurred_at") < now)
    registry = TwinRegistry.from_frame(events)
    return registry.to_frame(now), now


def test_every_open_twin_in_a_known_unit_starts_in_that_unit(
    baseline: Scenario, twins_now: tuple[pl.DataFrame, datetime]
) -> None:
    twins, now = twins_now
    warm = start_state_from_twins(baseline, twins, now)
    open_twins = twins.filter(pl.col("status").is_in(["registered", "admitted"]))
    placed = len(warm.state.patients) + len(warm.state.ed_patients)
    assert placed + sum(warm.skipped.values()) == open_twins.height
    assert warm.skipped == {}  # the synthetic history only uses the scenario's units
    inpatient_units = {u.id for u in baseline.hospital.units if u.kind.value not in ("ed", "pacu")}
    expected = Counter_by_unit(open_twins.filter(pl.col("unit").is_in(sorted(inpatient_units))))
    got: dict[str, int] = {}
    for patient in warm.state.patients:
        got[patient.unit] = got.get(patient.unit, 0) + 1
    assert got == expected
    assert all(p.elapsed_hours >= 0 for p in warm.state.patients)


def Counter_by_unit(frame: pl.DataFrame) -> dict[str, int]:
    return {str(unit): int(n) for unit, n in frame.group_by("unit").len().iter_rows()}


def test_the_first_hour_of_the_run_holds_the_twins(
    baseline: Scenario, twins_now: tuple[pl.DataFrame, datetime]
) -> None:
    twins, now = twins_now
    warm = start_state_from_twins(baseline, twins, now)
    result = simulate(baseline, warm.state, seed=3, horizon_days=1)
    first = result.unit_flow.select("unit", "inside_at_start")
    by_unit = dict(first.iter_rows())
    placed: dict[str, int] = {}
    for patient in warm.state.patients:
        placed[patient.unit] = placed.get(patient.unit, 0) + 1
    # The history does not cap census at the beds (escalation beds), so the model moves the excess of an
    # over-full unit to free beds of the same step at once: nobody is lost, and units that fit keep theirs.
    assert sum(by_unit[unit] for unit in placed) == sum(placed.values()) == len(warm.state.patients)
    beds = {unit.id: unit.beds for unit in baseline.hospital.units}
    for unit, count in placed.items():
        if count <= beds[unit]:
            assert by_unit[unit] >= count, unit


def test_each_patient_leaves_when_their_own_remaining_stay_says(
    baseline: Scenario, twins_now: tuple[pl.DataFrame, datetime]
) -> None:
    twins, now = twins_now
    hours = {row["encounter_id"]: 2.0 + (i % 10) for i, row in enumerate(twins.iter_rows(named=True))}
    warm = start_state_from_twins(
        baseline, twins, now, remaining_stay=lambda twin: np.array([hours[twin["encounter_id"]]])
    )
    # Patients on the last step of their route go home when their stay ends (no discharge-hour hold).
    last_step = {p.patient_id for p in warm.state.patients if not p.remaining_steps}
    assert len(last_step) > 100
    result = simulate(
        baseline,
        warm.state,
        seed=4,
        horizon_days=1,
        options=SimulationOptions(event_log=True, discharge_profile=False),
    )
    log = result.event_log
    assert log is not None
    left = log.filter(pl.col("patient").is_in(sorted(last_step)) & (pl.col("event") == "discharge"))
    assert left.height == len(last_step)  # all stays are at most 11 hours
    start = now.astimezone(UTC)
    for patient, t in left.select("patient", "t").iter_rows():
        assert abs((t - start).total_seconds() / 3600.0 - hours[patient]) < 1e-6, patient


def test_unknown_units_and_services_are_counted_not_lost(baseline: Scenario) -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    base = {name: None for name in ("patient_key", "bed", "admission_type", "discharged_at", "news2_score")}
    rows = [
        {
            **base,
            "encounter_id": "a",
            "status": "admitted",
            "unit": "NOPE",
            "unit_since": now,
            "service": "x",
        },
        {**base, "encounter_id": "b", "status": "admitted", "unit": None, "unit_since": now, "service": "x"},
        {
            **base,
            "encounter_id": "c",
            "status": "discharged",
            "unit": "NOPE",
            "unit_since": now,
            "service": "x",
        },
    ]
    warm = start_state_from_twins(baseline, pl.DataFrame(rows), now)
    assert warm.skipped == {"unit 'NOPE' is not in the scenario": 1, "no unit": 1}
    assert warm.state.patients == () and warm.state.ed_patients == ()
    with pytest.raises(ValueError, match="timezone-aware"):
        start_state_from_twins(baseline, pl.DataFrame(rows), now.replace(tzinfo=None))
    with pytest.raises(ValueError, match="unit_since"):
        start_state_from_twins(baseline, pl.DataFrame(rows).drop("unit_since"), now)


# ---- the twin's own remaining stay is the time left in hospital, not in the current unit -------------


@pytest.fixture(scope="module")
def own_stays(
    baseline: Scenario, twins_now: tuple[pl.DataFrame, datetime], history_segments: pl.DataFrame
) -> tuple[pl.DataFrame, datetime, LengthOfStayModel]:
    twins, now = twins_now
    return twins, now, fit_length_of_stay(history_segments, now)


@pytest.fixture(scope="module")
def history_segments(baseline: Scenario, history: History) -> pl.DataFrame:
    events = history.events.filter(pl.col("kind") != "observation")
    return segments_from_events(events, baseline)


def _own_median_shares(
    scenario: Scenario, state: StartState, seeds: range, critical: set[str]
) -> tuple[float, int, float, int]:
    """Share of patients with their own distribution discharged before its median (all, and by unit set)."""
    patients = {p.patient_id: p for p in state.patients if p.remaining_stay is not None}
    before: list[bool] = []
    before_critical: list[bool] = []
    for seed in seeds:
        result = simulate(
            scenario,
            state,
            seed=seed,
            horizon_days=28,
            options=SimulationOptions(event_log=True, discharge_profile=False),
        )
        assert result.event_log is not None
        discharged = dict(
            result.event_log.filter(pl.col("event") == "discharge").select("patient", "t").iter_rows()
        )
        for patient_id, patient in patients.items():
            quantiles = np.asarray(patient.remaining_stay, dtype=np.float64)
            median = float(np.interp(0.5, (np.arange(quantiles.size) + 0.5) / quantiles.size, quantiles))
            left = discharged.get(patient_id)
            hours = (left - state.now).total_seconds() / 3600.0 if left is not None else np.inf
            before.append(hours <= median)
            if patient.unit in critical:
                before_critical.append(hours <= median)
    return float(np.mean(before)), len(before), float(np.mean(before_critical)), len(before_critical)


def test_the_simulated_remaining_hospital_stay_follows_the_stay_model(
    baseline: Scenario, own_stays: tuple[pl.DataFrame, datetime, LengthOfStayModel]
) -> None:
    """Each warm-started patient leaves the hospital before the median of its own distribution half the time.

    The stay model gives the time left until the patient leaves the hospital; the route still to come
    (AMU → ward, ICU → HDU → ward) must not be added on top. With each patient's own median, the share
    discharged before it is a binomial 1/2 over patients and seeds: it must lie in the 95 % interval,
    overall and for the patients in AMU, ICU and HDU, where adding the later steps doubled the stay.
    """
    twins, now, model = own_stays
    remaining = remaining_stay_function(model, baseline, now, twins=twins)
    warm = start_state_from_twins(baseline, twins, now, remaining_stay=remaining)
    share, count, critical_share, critical_count = _own_median_shares(
        baseline, warm.state, range(3), {"AMU", "ICU", "HDU"}
    )
    print(
        f"discharged before their own median: {share:.3f} of {count}; "
        f"in AMU/ICU/HDU {critical_share:.3f} of {critical_count}"
    )
    assert count > 900 and critical_count > 60
    assert abs(share - 0.5) <= 1.96 * np.sqrt(0.25 / count), (share, count)
    assert abs(critical_share - 0.5) <= 1.96 * np.sqrt(0.25 / critical_count), (
        critical_share,
        critical_count,
    )


def test_twins_whose_discharge_the_stay_model_cannot_foresee_follow_their_route(
    baseline: Scenario, own_stays: tuple[pl.DataFrame, datetime, LengthOfStayModel]
) -> None:
    """Nobody goes home from intensive care: the hazard there is nil, so the twin walks its route instead."""
    twins, now, model = own_stays
    remaining = remaining_stay_function(model, baseline, now, twins=twins)
    warm = start_state_from_twins(baseline, twins, now, remaining_stay=remaining)
    in_icu = [p for p in warm.state.patients if p.unit == "ICU"]
    assert in_icu and all(p.remaining_stay is None and p.remaining_steps for p in in_icu)
    wards = [p for p in warm.state.patients if p.unit.startswith(("MED-", "SURG-", "ORTH-"))]
    assert sum(p.remaining_stay is not None for p in wards) >= 0.95 * len(wards)
    result = simulate(
        baseline, warm.state, seed=2, horizon_days=14, options=SimulationOptions(event_log=True)
    )
    assert result.event_log is not None
    moved = result.event_log.filter(
        pl.col("patient").is_in([p.patient_id for p in in_icu]) & (pl.col("event") == "transfer")
    )
    assert moved.height >= len(in_icu) // 2  # most move on within two weeks, as their route says


def test_a_twin_in_recovery_starts_in_its_post_operative_unit(baseline: Scenario) -> None:
    now = datetime(2025, 3, 4, 15, tzinfo=UTC)
    base = {name: None for name in ("patient_key", "bed", "admission_type", "discharged_at", "news2_score")}
    twin = {
        **base,
        "encounter_id": "op",
        "status": "admitted",
        "unit": "PACU",
        "unit_since": now - timedelta(hours=1),
        "service": "orthopaedics",
        "acuity_band": "low",
        "admitted_at": now - timedelta(hours=3),
        "arrived_at": now - timedelta(hours=3),
        "length_of_stay_hours": 3.0,
    }
    day_case = {**twin, "encounter_id": "dc", "service": "cardiology"}  # no elective route
    warm = start_state_from_twins(
        baseline, pl.DataFrame([twin, day_case]), now, remaining_stay=lambda _: np.array([6.0])
    )
    (patient,) = warm.state.patients
    assert (patient.unit, patient.elapsed_hours, patient.remaining_steps) == ("SURG-C", 0.0, ())
    assert warm.details["moved_from_recovery"] == 1
    assert warm.skipped == {"in recovery (PACU) under a service with no post-operative route": 1}
    result = simulate(
        baseline,
        warm.state,
        seed=1,
        horizon_days=1,
        options=SimulationOptions(event_log=True, discharge_profile=False),
    )
    assert result.event_log is not None
    left = result.event_log.filter((pl.col("patient") == "op") & (pl.col("event") == "discharge"))
    assert left["t"].to_list() == [now + timedelta(hours=6)]
