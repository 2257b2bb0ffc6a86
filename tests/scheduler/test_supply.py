"""Supply orders: demand from the case mix, a pinned optimum, the independent checker, stock-out risk."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from scenarios import load_scenario, scenario_path
from scenarios.schema import Scenario
from scheduler.supply import (
    CASE_VOLUMES_SCHEMA,
    ORDERS_SCHEMA,
    PAR_LEVELS_SCHEMA,
    STOCK_SCHEMA,
    ItemSpec,
    SupplyProblem,
    SupplyProblemError,
    SupplyStatus,
    build_supply_problem,
    check_supply_plan,
    sample_demand,
    solve_supply,
    stockout_risk,
)

DAYS = 10


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def volumes() -> pl.DataFrame:
    rows = []
    for day in range(DAYS):
        weekday = day % 7
        rows.append(
            {
                "day": day,
                "service": "general_surgery",
                "planned_cases": 16 if weekday < 5 else 0,
                "forecast_cases": 5.0,
            }
        )
        rows.append(
            {
                "day": day,
                "service": "orthopaedics",
                "planned_cases": 14 if weekday < 5 else 0,
                "forecast_cases": 4.0,
            }
        )
    return pl.DataFrame(rows, schema=CASE_VOLUMES_SCHEMA)


def _one_item_problem(
    demand: list[int],
    *,
    lead: int = 0,
    pack: int = 10,
    order_cost: float = 0.0,
    on_hand: int = 0,
    safety: float = 0.0,
    max_stock: int | None = None,
) -> SupplyProblem:
    item = ItemSpec("gauze", 1.0, 0.1, 100.0, lead, pack, max_stock, on_hand)
    mean = np.array([demand], dtype=float)
    return SupplyProblem(
        items=(item,),
        days=len(demand),
        mean_demand=mean,
        demand_variance=np.zeros_like(mean),
        demand_paths=np.array([[demand]], dtype=np.int64),
        safety_stock=np.array([safety]),
        service_level=0.95,
        order_cost=order_cost,
    )


def test_pinned_optimum_without_order_cost() -> None:
    # 5 a day for 3 days, packs of 10, delivered the same day: one pack on day 0, one on day 2.
    plan = solve_supply(_one_item_problem([5, 5, 5]), time_limit_s=5, risk_paths=10)
    assert plan.status is SupplyStatus.OPTIMAL
    assert plan.total_cost == pytest.approx(20 + 0.1 * (5 + 0 + 5))
    assert plan.objective == pytest.approx(plan.total_cost)
    assert sorted(plan.orders.select("order_day", "packs").iter_rows()) == [(0, 1), (2, 1)]


def test_pinned_optimum_with_order_cost() -> None:
    # An order costs 5: two packs at once (holding 1.5 more) beat two orders.
    plan = solve_supply(_one_item_problem([5, 5, 5], order_cost=5.0), time_limit_s=5, risk_paths=10)
    assert plan.total_cost == pytest.approx(20 + 5 + 0.1 * (15 + 10 + 5))
    assert plan.orders.select("order_day", "packs").rows() == [(0, 2)]


def test_checker_replays_stock_by_hand() -> None:
    problem = _one_item_problem([4, 8, 3], lead=1, on_hand=6, safety=1.0, max_stock=12)
    # order one pack on day 0 -> 10 units on day 1; day 0: 6-4=2; day 1: 2+10-8=4; day 2: 4-3=1
    check = check_supply_plan(problem, {("gauze", 0): 1})
    assert check.feasible
    assert check.cost_by_term == pytest.approx(
        {"purchase": 10.0, "ordering": 0.0, "holding": 0.1 * 7, "shortage": 0.0}
    )
    assert list(check.expected_on_hand[0]) == [2.0, 4.0, 1.0]
    late = check_supply_plan(problem, {("gauze", 2): 1})
    assert any("past the horizon" in v for v in late.violations)
    short = check_supply_plan(problem, {})
    assert short.cost_by_term["shortage"] == pytest.approx(100.0 * (8 - 2 + 3))
    assert any("below the safety stock" in v for v in short.violations)
    crowded = check_supply_plan(problem, {("gauze", 0): 2})
    assert any("exceed storage 12" in v for v in crowded.violations)


def test_storage_too_small_is_infeasible_and_says_what_to_relax() -> None:
    problem = _one_item_problem([6, 6, 6, 6], safety=5.0, max_stock=8, on_hand=8, pack=1)
    plan = solve_supply(problem, time_limit_s=5, risk_paths=10)
    assert plan.status is SupplyStatus.INFEASIBLE
    extra = plan.relax["gauze"]
    assert extra >= 1
    bigger = _one_item_problem([6, 6, 6, 6], safety=5.0, max_stock=8 + extra, on_hand=8, pack=1)
    assert solve_supply(bigger, time_limit_s=5, risk_paths=10).check.feasible


def test_mean_demand_follows_the_bill_of_materials(baseline: Scenario, volumes: pl.DataFrame) -> None:
    problem = build_supply_problem(baseline, volumes, DAYS, paths=5)
    supply = baseline.hospital.supply
    assert supply is not None
    bills = {b.service: b.items for b in supply.bills_of_materials}
    for i, item_id in enumerate(problem.item_ids):
        for day, group in volumes.group_by("day"):
            expected = sum(
                (planned + forecast) * bills[service].get(item_id, 0.0)
                for _, service, planned, forecast in group.iter_rows()
            )
            assert problem.mean_demand[i, day[0]] == pytest.approx(expected)


def test_sampled_demand_matches_its_mean_and_variance() -> None:
    bill = np.array([[2.0], [0.5]])
    planned = np.array([[10.0, 0.0], [4.0, 4.0]])
    forecast = np.array([[3.0, 3.0], [1.0, 0.0]])
    paths = sample_demand(bill, planned, forecast, 20_000, np.random.default_rng(7))
    mean = (planned + forecast).T @ bill[:, 0]
    variance = (planned + forecast).T @ bill[:, 0] + forecast.T @ bill[:, 0] ** 2
    observed = paths[:, 0, :]
    standard_error = np.sqrt(variance / observed.shape[0])
    assert np.all(np.abs(observed.mean(axis=0) - mean) < 4 * standard_error)
    assert np.allclose(observed.var(axis=0), variance, rtol=0.05)


def test_baseline_orders_are_optimal_whole_packs_and_checked(
    baseline: Scenario, volumes: pl.DataFrame
) -> None:
    problem = build_supply_problem(baseline, volumes, DAYS, paths=20, seed=2)
    plan = solve_supply(problem, time_limit_s=30, risk_paths=500)
    assert plan.status is SupplyStatus.OPTIMAL
    assert plan.check.feasible, plan.check.violations
    assert plan.objective == pytest.approx(plan.total_cost, rel=1e-6)
    assert dict(plan.orders.schema) == ORDERS_SCHEMA
    assert dict(plan.par_levels.schema) == PAR_LEVELS_SCHEMA
    assert dict(plan.stock.schema) == STOCK_SCHEMA
    packs = {item.id: item.pack_size for item in problem.items}
    lead = {item.id: item.lead_time_days for item in problem.items}
    for item_id, day, delivery, n, units, _ in plan.orders.iter_rows():
        assert units == n * packs[item_id] and n > 0
        assert delivery == day + lead[item_id] < DAYS
    stock = plan.stock.filter(pl.col("day") >= 7)
    assert (stock["expected_on_hand"] >= stock["safety_stock"] - 1e-6).all()
    assert (plan.par_levels["par_level"] > plan.par_levels["reorder_point"]).all()


def test_stockout_risk_agrees_with_the_poisson_tail() -> None:
    """No delivery can arrive in the horizon: P(stock-out) = P(Poisson(total demand) > stock on hand)."""
    days, per_day, on_hand = 5, 3.0, 18
    item = ItemSpec(
        "suture", 1.0, 0.0, 10.0, lead_time_days=9, pack_size=1, max_stock=None, stock_on_hand=on_hand
    )
    problem = SupplyProblem(
        items=(item,),
        days=days,
        mean_demand=np.full((1, days), per_day),
        demand_variance=np.full((1, days), per_day),
        demand_paths=np.zeros((1, 1, days), dtype=np.int64),
        safety_stock=np.zeros(1),
        service_level=0.9,
        order_cost=0.0,
        services=("general_surgery",),
        bill=np.array([[1.0]]),
        planned_cases=np.full((1, days), per_day),
        forecast_cases=np.zeros((1, days)),
    )
    paths = 4000
    risk = stockout_risk(problem, {}, paths=paths, seed=5)["stockout_risk"][0]
    theory = stats.poisson.sf(on_hand, per_day * days)
    assert abs(risk - theory) < 4 * math.sqrt(theory * (1 - theory) / paths)


def test_bad_volumes_are_named(baseline: Scenario, volumes: pl.DataFrame) -> None:
    with pytest.raises(SupplyProblemError, match=r"row 0: unknown service 'dermatology'"):
        build_supply_problem(
            baseline, volumes.with_columns(pl.lit("dermatology").alias("service")), DAYS, paths=2
        )
    with pytest.raises(SupplyProblemError, match=r"day 10 is outside"):
        build_supply_problem(baseline, volumes.with_columns(pl.col("day") + 1), DAYS, paths=2)
    with pytest.raises(SupplyProblemError, match=r"unknown item"):
        build_supply_problem(baseline, volumes, DAYS, stock_on_hand={"unicorn": 3}, paths=2)
