"""The annealing search's incrementally kept cost must equal the independent checker's, move after move."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scheduler.ihtc.admission_model import NurseCostCache
from scheduler.ihtc.checker import evaluate
from scheduler.ihtc.construction import admit_greedily
from scheduler.ihtc.instance import Instance, load_instance, parse_instance
from scheduler.ihtc.local_search import IncrementalPlan, _random_move, anneal
from scheduler.ihtc.nurse_model import fill_room_shifts
from scheduler.ihtc.solver import SolveStatus, solve
from scheduler.ihtc.state import PlanState
from scheduler.ihtc.tables import ProblemTables, build_tables
from tests.scheduler.test_ihtc_instance import tiny_instance_json

PENALTY = 1_000_000


def _score(instance: Instance, tables: ProblemTables, state: PlanState) -> tuple[int, int]:
    """(cost + penalty per mandatory patient left out, other hard violations) by the checker."""
    evaluation = evaluate(instance, state.to_plan(tables))
    mandatory = evaluation.violations.mandatory_unscheduled
    return evaluation.total_cost + PENALTY * mandatory, evaluation.violations.total - mandatory


def _greedy_plan(instance: Instance) -> tuple[ProblemTables, PlanState]:
    tables = build_tables(instance)
    state = PlanState.empty(tables)
    fill_room_shifts(tables, state)
    admit_greedily(tables, state, NurseCostCache(tables.room_count))
    return tables, state


def _check_random_walk(instance: Instance, seed: int, rounds: int, moves: int, temperature: float) -> None:
    tables, state = _greedy_plan(instance)
    plan = IncrementalPlan(tables, state, PENALTY)
    assert (plan.cost, 0) == _score(instance, tables, state)
    rng = random.Random(seed)
    for _ in range(rounds):
        for _ in range(moves):
            _random_move(plan, rng, temperature)
        walked = plan.to_state(state)
        assert _score(instance, tables, walked) == (plan.cost, 0)
        # rebuilding from scratch gives the same cost as the updates
        assert IncrementalPlan(tables, walked, PENALTY).cost == plan.cost


def test_incremental_cost_follows_the_checker_on_the_tiny_ward() -> None:
    data = tiny_instance_json()
    data["operating_theaters"][1]["availability"] = [200, 200]
    instance = parse_instance(data, name="tiny")
    _check_random_walk(instance, seed=3, rounds=20, moves=25, temperature=1000.0)


def test_anneal_never_returns_a_worse_plan() -> None:
    data = tiny_instance_json()
    data["operating_theaters"][1]["availability"] = [200, 200]
    instance = parse_instance(data, name="tiny")
    tables, state = _greedy_plan(instance)
    before, _ = _score(instance, tables, state)
    result = anneal(tables, state, seconds=0.3, rng=random.Random(1), mandatory_penalty=PENALTY)
    assert result.cost_change <= 0
    if result.best is not None:
        after, hard = _score(instance, tables, result.best)
        assert hard == 0
        assert after == before + result.cost_change


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["test01", "test04", "i08"])
def test_incremental_cost_follows_the_checker_on_competition_instances(shared_data: Path, name: str) -> None:
    instance = load_instance(shared_data / "ihtc2024" / "instances" / f"{name}.json")
    # a hot walk (many worse moves kept), then a cold one
    _check_random_walk(instance, seed=7, rounds=4, moves=3000, temperature=200.0)
    _check_random_walk(instance, seed=8, rounds=2, moves=3000, temperature=1.0)


@pytest.mark.shared_data
def test_solver_with_annealing_and_two_workers_stays_feasible(shared_data: Path) -> None:
    instance = load_instance(shared_data / "ihtc2024" / "instances" / "test01.json")
    # 5 s of neighbourhoods, then annealing with the second worker solving sub-models meanwhile
    result = solve(instance, time_limit_s=9, workers=2, seed=3)
    assert result.status is SolveStatus.FEASIBLE
    assert evaluate(instance, result.plan) == result.evaluation
    assert result.seconds < 12
