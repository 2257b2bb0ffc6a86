"""The solver's pieces, verified against the independent checker.

Each CP-SAT sub-model must be exact: when solved to optimality, the change of its objective equals the change
of the checker's total cost. The greedy construction must respect every hard rule it promises.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scheduler.ihtc.admission_model import (
    NurseCostCache,
    build_admission_model,
    build_admission_spec,
    chosen_places,
)
from scheduler.ihtc.checker import evaluate
from scheduler.ihtc.construction import admit_greedily
from scheduler.ihtc.instance import Instance, load_instance
from scheduler.ihtc.modelling import run_sub_model
from scheduler.ihtc.nurse_model import build_nurse_model, build_nurse_spec, chosen_nurses, fill_room_shifts
from scheduler.ihtc.solution import load_solution
from scheduler.ihtc.state import NOT_ADMITTED, PlanState, measure_occupancy
from scheduler.ihtc.tables import NO_NURSE, ProblemTables, build_tables

PENALTY = 1_000_000


def _score(instance: Instance, tables: ProblemTables, state: PlanState) -> int:
    evaluation = evaluate(instance, state.to_plan(tables))
    return evaluation.total_cost + PENALTY * evaluation.violations.total


@pytest.fixture(scope="module")
def test01_shaken(shared_data: Path) -> tuple[Instance, ProblemTables, PlanState]:
    """The reference plan of test01 with a third of its patients sent home and all nurses re-chosen."""
    folder = shared_data / "ihtc2024"
    instance = load_instance(folder / "instances" / "test01.json")
    tables = build_tables(instance)
    state = PlanState.from_plan(tables, load_solution(folder / "solutions" / "sol_test01.json"))
    rng = random.Random(5)
    for p in range(tables.patient_count):
        if rng.random() < 0.3:
            state.admission_day[p], state.room[p], state.theater[p] = NOT_ADMITTED, -1, -1
    fill_room_shifts(tables, state, only_missing=False)
    return instance, tables, state


@pytest.mark.shared_data
def test_admission_model_objective_change_equals_checker_change(
    test01_shaken: tuple[Instance, ProblemTables, PlanState],
) -> None:
    instance, tables, start = test01_shaken
    state = start.copy()
    rng = random.Random(11)
    checked = 0
    for _ in range(6):
        free = rng.sample(range(tables.patient_count), 8)
        spec = build_admission_spec(tables, state, free, NurseCostCache(tables.room_count), PENALTY)
        pinned_model, pinned, _ = build_admission_model(spec)
        for (p, day, room), stay in pinned.stay.items():
            pinned_model.add(stay == int(state.admission_day[p] == day and state.room[p] == room))
        for (p, day, theater), surgery in pinned.surgery.items():
            pinned_model.add(surgery == int(state.admission_day[p] == day and state.theater[p] == theater))
        before = run_sub_model(pinned_model, 10, 1, 0)
        model, variables, _ = build_admission_model(spec)
        after = run_sub_model(model, 10, 1, 0)
        assert before.proved_optimal  # the current plan is always a solution of the sub-model
        if not after.proved_optimal:
            continue
        moved = state.copy()
        for p, (day, room, theater) in chosen_places(spec, variables, after.solver).items():
            moved.admission_day[p], moved.room[p], moved.theater[p] = day, room, theater
        predicted = after.solver.objective_value - before.solver.objective_value
        assert _score(instance, tables, moved) - _score(instance, tables, state) == predicted
        assert predicted <= 0
        state = moved
        checked += 1
    assert checked >= 4


@pytest.mark.shared_data
def test_nurse_model_objective_change_equals_checker_change(
    test01_shaken: tuple[Instance, ProblemTables, PlanState],
) -> None:
    instance, tables, start = test01_shaken
    state = start.copy()
    rng = random.Random(3)
    checked = 0
    for _ in range(6):
        first_day = rng.randrange(tables.days - 2)
        room_shifts = [
            (room, sigma)
            for room in range(tables.room_count)
            for sigma in range(3 * first_day, 3 * first_day + 6)
        ]
        spec = build_nurse_spec(tables, state, measure_occupancy(tables, state), room_shifts)
        pinned_model, pinned, _ = build_nurse_model(spec)
        for (nurse, room, sigma), cover in pinned.cover.items():
            pinned_model.add(cover == int(state.nurse_of[room][sigma] == nurse))
        before = run_sub_model(pinned_model, 10, 1, 0)
        model, variables, _ = build_nurse_model(spec)
        after = run_sub_model(model, 10, 1, 0)
        assert before.proved_optimal
        if not after.proved_optimal:
            continue
        moved = state.copy()
        for (room, sigma), nurse in chosen_nurses(spec, variables, after.solver).items():
            moved.nurse_of[room][sigma] = nurse
        predicted = after.solver.objective_value - before.solver.objective_value
        assert _score(instance, tables, moved) - _score(instance, tables, state) == predicted
        state = moved
        checked += 1
    assert checked >= 4


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["test01", "test07", "i04", "i08"])
def test_greedy_start_keeps_every_hard_rule_but_admitting_all_mandatory(shared_data: Path, name: str) -> None:
    instance = load_instance(shared_data / "ihtc2024" / "instances" / f"{name}.json")
    tables = build_tables(instance)
    state = PlanState.empty(tables)
    fill_room_shifts(tables, state)
    # every room-shift with a rostered nurse is covered, empty rooms included
    for room in range(tables.room_count):
        for sigma in range(tables.shift_count):
            assert (state.nurse_of[room][sigma] != NO_NURSE) == bool(tables.nurses_on_shift[sigma])
    left_out = admit_greedily(tables, state, NurseCostCache(tables.room_count))
    violations = evaluate(instance, state.to_plan(tables)).violations.as_dict()
    assert violations.pop("mandatory_unscheduled") == len(left_out)
    assert set(violations.values()) == {0}
