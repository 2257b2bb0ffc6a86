"""Supply orders by mixed-integer programming (OR-Tools linear solver, SCIP).

For each item (items share nothing, so each is its own small model) choose the whole packs ordered on each
day so as to minimise purchase + ordering + expected holding + expected shortage cost, where the expectation
is the average over the problem's demand paths (sample average approximation), subject to:

* an order placed on day t is delivered on day ``t + lead_time_days`` (orders delivered past the horizon are
  not made);
* on the expected demand, the stock at the end of every day from the first possible delivery on stays at or
  above the safety stock (the service level);
* on the expected demand, the stock after the day's delivery fits the item's storage.

:func:`solve_supply` returns a typed :class:`SupplyPlan` whose costs are the independent checker's, the par
levels, and the risk of stock-out estimated on fresh demand paths.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import polars as pl
from ortools.linear_solver import pywraplp

from scheduler.supply.checker import SupplyCheck, check_supply_plan, replay_stock
from scheduler.supply.problem import ItemSpec, SupplyProblem, sample_demand

__all__ = [
    "ORDERS_SCHEMA",
    "PAR_LEVELS_SCHEMA",
    "STOCK_SCHEMA",
    "SupplyPlan",
    "SupplyStatus",
    "solve_supply",
    "stockout_risk",
]

ORDERS_SCHEMA: dict[str, pl.DataType] = {
    "item": pl.String(),
    "order_day": pl.Int64(),
    "delivery_day": pl.Int64(),
    "packs": pl.Int64(),
    "units": pl.Int64(),
    "cost": pl.Float64(),
}
"""One row per order: item, day placed, day on the shelf, packs and units, purchase price [currency]."""

PAR_LEVELS_SCHEMA: dict[str, pl.DataType] = {
    "item": pl.String(),
    "mean_daily_demand": pl.Float64(),
    "lead_time_days": pl.Int64(),
    "safety_stock": pl.Float64(),
    "reorder_point": pl.Float64(),
    "par_level": pl.Float64(),
    "units_ordered": pl.Int64(),
    "stockout_risk": pl.Float64(),
    "daily_stockout_risk": pl.Float64(),
    "expected_shortage_units": pl.Float64(),
    "fill_rate": pl.Float64(),
}
"""One row per item: mean demand [units/day], safety stock, reorder point and par (order-up-to) level
[units], units ordered over the horizon, and on fresh demand paths with the plan's orders: the probability
of running out at least once over the horizon, the mean share of days short, the expected units short and
the share of demand met from the shelf (fill rate)."""

STOCK_SCHEMA: dict[str, pl.DataType] = {
    "item": pl.String(),
    "day": pl.Int64(),
    "expected_on_hand": pl.Float64(),
    "p05_on_hand": pl.Float64(),
    "safety_stock": pl.Float64(),
}
"""End-of-day stock per item and day: on the expected demand, and the 5th percentile over fresh demand
paths [units]."""


class SupplyStatus(StrEnum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class SupplyPlan:
    """What :func:`solve_supply` returns.

    Attributes
    ----------
    status
        Optimal (every item proved optimal), feasible, infeasible (some item cannot keep its safety stock
        within its storage; see ``relax``) or timeout.
    orders
        The orders (:data:`ORDERS_SCHEMA`).
    par_levels
        Par levels and stock-out risk per item (:data:`PAR_LEVELS_SCHEMA`).
    stock
        Projected stock (:data:`STOCK_SCHEMA`).
    check
        The independent checker's verdict; ``cost_by_term`` comes from it.
    objective
        The solver's objective (equal to the checker's total when the model is right) [currency].
    relax
        For an infeasible item, the extra storage space that makes it feasible [units].
    seconds
        Wall-clock time [seconds].
    """

    status: SupplyStatus
    orders: pl.DataFrame
    par_levels: pl.DataFrame
    stock: pl.DataFrame
    check: SupplyCheck
    objective: float
    relax: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def cost_by_term(self) -> dict[str, float]:
        """Cost by term from the checker [currency]."""
        return self.check.cost_by_term

    @property
    def total_cost(self) -> float:
        """Total cost from the checker [currency]."""
        return self.check.total_cost


@dataclass(frozen=True)
class _ItemAnswer:
    status: SupplyStatus
    packs: dict[int, int]
    objective: float
    peak_after_delivery: float


@dataclass
class _ItemVariables:
    """The solver variables of one item's model."""

    packs: dict[int, pywraplp.Variable]
    order_placed: dict[int, pywraplp.Variable]

    def delivered(self, item: ItemSpec, day: int) -> pywraplp.LinearExpr | float:
        """Units delivered on a day: the packs ordered ``lead_time_days`` earlier."""
        order_day = day - item.lead_time_days
        return item.pack_size * self.packs[order_day] if order_day in self.packs else 0.0


def add_orders(
    solver: pywraplp.Solver, item: ItemSpec, days: int, pack_bound: int, order_cost: float
) -> tuple[_ItemVariables, list[pywraplp.LinearExpr]]:
    """Whole packs per order day (deliveries inside the horizon only); purchase and ordering cost."""
    order_days = range(max(days - item.lead_time_days, 0))
    packs = {t: solver.IntVar(0, pack_bound, f"packs[{item.id},day{t}]") for t in order_days}
    placed = {}
    if order_cost > 0:
        for t in order_days:
            placed[t] = solver.BoolVar(f"order_placed[{item.id},day{t}]")
            solver.Add(packs[t] <= pack_bound * placed[t], f"order_if_placed[{item.id},day{t}]")
    costs = [item.unit_cost * item.pack_size * packs[t] for t in order_days]
    costs += [order_cost * placed[t] for t in placed]
    return _ItemVariables(packs, placed), costs


def add_safety_stock(
    solver: pywraplp.Solver, variables: _ItemVariables, item: ItemSpec, mean_demand: np.ndarray, safety: float
) -> list[pywraplp.LinearExpr]:
    """On the expected demand, end-of-day stock >= safety stock from the first possible delivery on."""
    projected: pywraplp.LinearExpr | float = float(item.stock_on_hand)
    for day, demand in enumerate(mean_demand):
        projected = projected + variables.delivered(item, day) - float(demand)
        if day >= item.lead_time_days:
            solver.Add(projected >= safety, f"safety_stock[{item.id},day{day}]")
    return []


def add_storage(
    solver: pywraplp.Solver, variables: _ItemVariables, item: ItemSpec, mean_demand: np.ndarray
) -> list[pywraplp.LinearExpr]:
    """On the expected demand, stock after the day's delivery fits the storage (from day ``lead`` on)."""
    if item.max_stock is None:
        return []
    projected: pywraplp.LinearExpr | float = float(item.stock_on_hand)
    for day, demand in enumerate(mean_demand):
        after_delivery = projected + variables.delivered(item, day)
        if day >= item.lead_time_days:
            solver.Add(after_delivery <= item.max_stock, f"storage[{item.id},day{day}]")
        projected = after_delivery - float(demand)
    return []


def add_lost_sales(
    solver: pywraplp.Solver, variables: _ItemVariables, item: ItemSpec, demand_paths: np.ndarray
) -> list[pywraplp.LinearExpr]:
    """Stock on each demand path, unmet demand lost; expected holding and shortage cost over the paths."""
    path_count, days = demand_paths.shape
    holding: list[pywraplp.Variable] = []
    shortage: list[pywraplp.Variable] = []
    for p in range(path_count):
        stock: pywraplp.LinearExpr | float = float(item.stock_on_hand)
        for day in range(days):
            wanted = float(demand_paths[p, day])
            on_hand = solver.NumVar(0, solver.infinity(), f"on_hand[{item.id},path{p},day{day}]")
            short = solver.NumVar(0, wanted, f"short[{item.id},path{p},day{day}]")
            solver.Add(
                on_hand == stock + variables.delivered(item, day) - wanted + short,
                f"stock_balance[{item.id},path{p},day{day}]",
            )
            holding.append(on_hand)
            shortage.append(short)
            stock = on_hand
    return [
        (item.holding_cost_per_day / path_count) * solver.Sum(holding),
        (item.shortage_cost / path_count) * solver.Sum(shortage),
    ]


def _solve_item(problem: SupplyProblem, i: int, time_limit_s: float, storage: bool = True) -> _ItemAnswer:
    """One item's model, assembled from the rule helpers; the objective is the sum of their cost terms."""
    item: ItemSpec = problem.items[i]
    paths = problem.demand_paths[:, i, :]
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - SCIP ships with OR-Tools
        raise RuntimeError("OR-Tools was built without SCIP")
    solver.SetTimeLimit(max(int(time_limit_s * 1000), 1))
    most_needed = float(paths.sum(axis=1).max()) + float(problem.safety_stock[i]) + item.pack_size
    if storage and item.max_stock is not None:
        most_needed = min(most_needed, float(item.max_stock))
    pack_bound = max(math.ceil(most_needed / item.pack_size), 1)
    variables, costs = add_orders(solver, item, problem.days, pack_bound, problem.order_cost)
    costs += add_safety_stock(solver, variables, item, problem.mean_demand[i], float(problem.safety_stock[i]))
    if storage:
        costs += add_storage(solver, variables, item, problem.mean_demand[i])
    costs += add_lost_sales(solver, variables, item, paths)
    solver.Minimize(solver.Sum(costs))
    code = solver.Solve()
    if code == pywraplp.Solver.INFEASIBLE:
        return _ItemAnswer(SupplyStatus.INFEASIBLE, {}, math.nan, math.nan)
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return _ItemAnswer(SupplyStatus.TIMEOUT, {}, math.nan, math.nan)
    chosen = {
        t: round(v.solution_value()) for t, v in variables.packs.items() if round(v.solution_value()) > 0
    }
    level = float(item.stock_on_hand)
    peak = level
    for day in range(problem.days):
        after = level + item.pack_size * chosen.get(day - item.lead_time_days, 0)
        if day >= item.lead_time_days:
            peak = max(peak, after)
        level = after - float(problem.mean_demand[i, day])
    status = SupplyStatus.OPTIMAL if code == pywraplp.Solver.OPTIMAL else SupplyStatus.FEASIBLE
    return _ItemAnswer(status, chosen, solver.Objective().Value(), peak)


def stockout_risk(
    problem: SupplyProblem, orders: dict[tuple[str, int], int], paths: int = 2000, seed: int = 1
) -> pl.DataFrame:
    """Risk of running out with the given orders, on fresh demand paths (not those the solver saw).

    Returns
    -------
    polars.DataFrame
        ``item``, ``stockout_risk``, ``daily_stockout_risk``, ``expected_shortage_units``, ``fill_rate``,
        ``p05_on_hand`` (a list per day).
    """
    if problem.bill is None or problem.planned_cases is None or problem.forecast_cases is None:
        demand = problem.demand_paths
    else:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        demand = sample_demand(problem.bill, problem.planned_cases, problem.forecast_cases, paths, rng)
    on_hand, shortage = replay_stock(problem, orders, demand)
    short_day = shortage > 0
    wanted = demand.sum(axis=(0, 2)).astype(float)
    return pl.DataFrame(
        {
            "item": list(problem.item_ids),
            "stockout_risk": short_day.any(axis=2).mean(axis=0),
            "daily_stockout_risk": short_day.mean(axis=(0, 2)),
            "expected_shortage_units": shortage.sum(axis=2).mean(axis=0),
            "fill_rate": np.where(
                wanted > 0, 1.0 - shortage.sum(axis=(0, 2)) / np.maximum(wanted, 1e-12), 1.0
            ),
            "p05_on_hand": [
                list(np.percentile(on_hand[:, i, :], 5, axis=0)) for i in range(len(problem.items))
            ],
        }
    )


def solve_supply(
    problem: SupplyProblem, time_limit_s: float = 30.0, risk_paths: int = 2000, seed: int = 1
) -> SupplyPlan:
    """Choose the orders of every item, check them, and estimate the risk of stock-out.

    Parameters
    ----------
    problem
        The problem (:func:`~scheduler.supply.problem.build_supply_problem`).
    time_limit_s
        Wall-clock budget shared by the items [seconds].
    risk_paths
        Fresh demand paths used to estimate the stock-out risk.
    seed
        Seed of those paths.

    Returns
    -------
    SupplyPlan
    """
    started = time.monotonic()
    answers = []
    relax: dict[str, int] = {}
    for i, item in enumerate(problem.items):
        left = max(time_limit_s - (time.monotonic() - started), 0.1)
        answer = _solve_item(problem, i, left / (len(problem.items) - i))
        if answer.status == SupplyStatus.INFEASIBLE:
            unbounded = _solve_item(problem, i, left / (len(problem.items) - i), storage=False)
            if (
                unbounded.status in (SupplyStatus.OPTIMAL, SupplyStatus.FEASIBLE)
                and item.max_stock is not None
            ):
                relax[item.id] = max(math.ceil(unbounded.peak_after_delivery - item.max_stock), 1)
        answers.append(answer)
    statuses = {a.status for a in answers}
    if SupplyStatus.INFEASIBLE in statuses:
        status = SupplyStatus.INFEASIBLE
    elif SupplyStatus.TIMEOUT in statuses:
        status = SupplyStatus.TIMEOUT
    elif statuses == {SupplyStatus.OPTIMAL}:
        status = SupplyStatus.OPTIMAL
    else:
        status = SupplyStatus.FEASIBLE
    orders = {
        (item.id, day): n
        for item, a in zip(problem.items, answers, strict=True)
        for day, n in a.packs.items()
    }
    check = check_supply_plan(problem, orders)
    risk = stockout_risk(problem, orders, risk_paths, seed)
    order_rows = [
        {
            "item": item_id,
            "order_day": day,
            "delivery_day": day + problem.items[problem.item_ids.index(item_id)].lead_time_days,
            "packs": n,
            "units": n * problem.items[problem.item_ids.index(item_id)].pack_size,
            "cost": n
            * problem.items[problem.item_ids.index(item_id)].pack_size
            * problem.items[problem.item_ids.index(item_id)].unit_cost,
        }
        for (item_id, day), n in sorted(orders.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    orders_frame = pl.DataFrame(order_rows, schema=ORDERS_SCHEMA)
    units_by_item = {item_id: 0 for item_id in problem.item_ids}
    for row in order_rows:
        units_by_item[str(row["item"])] += int(row["units"])  # type: ignore[call-overload]
    par_levels = pl.DataFrame(
        [
            {
                "item": item.id,
                "mean_daily_demand": float(problem.mean_demand[i].mean()),
                "lead_time_days": item.lead_time_days,
                "safety_stock": float(problem.safety_stock[i]),
                "reorder_point": problem.reorder_point(i),
                "par_level": problem.par_level(i),
                "units_ordered": units_by_item[item.id],
                "stockout_risk": float(risk["stockout_risk"][i]),
                "daily_stockout_risk": float(risk["daily_stockout_risk"][i]),
                "expected_shortage_units": float(risk["expected_shortage_units"][i]),
                "fill_rate": float(risk["fill_rate"][i]),
            }
            for i, item in enumerate(problem.items)
        ],
        schema=PAR_LEVELS_SCHEMA,
    )
    stock = pl.DataFrame(
        [
            {
                "item": item.id,
                "day": day,
                "expected_on_hand": float(check.expected_on_hand[i, day]),
                "p05_on_hand": float(risk["p05_on_hand"][i][day]),
                "safety_stock": float(problem.safety_stock[i]),
            }
            for i, item in enumerate(problem.items)
            for day in range(problem.days)
        ],
        schema=STOCK_SCHEMA,
    )
    objective = float(sum(a.objective for a in answers)) if status != SupplyStatus.INFEASIBLE else math.nan
    return SupplyPlan(
        status=status,
        orders=orders_frame,
        par_levels=par_levels,
        stock=stock,
        check=check,
        objective=objective,
        relax=relax,
        seconds=time.monotonic() - started,
    )
