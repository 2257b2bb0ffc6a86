"""Warm start: the model begins with the twins' patients, in their units, with their own remaining stays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ops.sim import SimulationOptions, simulate
from ops.warm_start import start_state_from_twins
from patients.synthetic import generate_history
from patients.twin import TwinRegistry
from scenarios import Scenario, load_scenario, scenario_path

DAYS = 21


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def twins_now(baseline: Scenario) -> tuple[pl.DataFrame, datetime]:
    history = generate_history(baseline, date(2025, 3, 3), DAYS, seed=5, warm_up_days=20)
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
