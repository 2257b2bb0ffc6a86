"""Independent checker of supply order plans, written from the problem statement (not from the model).

Given the problem and the orders (packs of each item placed on each day), it replays the stock day by day:
deliveries arrive ``lead_time_days`` after the order; each day's demand is taken from the shelf; demand the
shelf cannot meet is lost (a shortage, bought in urgently at ``shortage_cost``). It counts the rule breaks
(orders whose delivery falls beyond the horizon; on the expected demand, from the first day a delivery can
arrive: stock after the day's delivery beyond the item's storage, end-of-day stock below the safety stock)
and recomputes every cost term.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from scheduler.supply.problem import SupplyProblem

__all__ = ["SupplyCheck", "check_supply_plan", "replay_stock"]

SAFETY_TOLERANCE_UNITS = 1e-6


@dataclass(frozen=True)
class SupplyCheck:
    """The checker's verdict.

    Attributes
    ----------
    violations
        One readable line per broken rule (empty when the plan keeps every rule).
    cost_by_term
        ``purchase``, ``ordering``, ``holding`` (expected), ``shortage`` (expected) [currency].
    expected_on_hand
        Projected end-of-day stock on the expected demand, shape (items, days) [units].
    """

    violations: tuple[str, ...]
    cost_by_term: dict[str, float]
    expected_on_hand: NDArray[np.float64] = field(repr=False)

    @property
    def feasible(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def total_cost(self) -> float:
        """Sum of the cost terms [currency]."""
        return sum(self.cost_by_term.values())


def _arrivals(problem: SupplyProblem, orders: Mapping[tuple[str, int], int]) -> NDArray[np.float64]:
    index = {item_id: i for i, item_id in enumerate(problem.item_ids)}
    arrivals = np.zeros((len(problem.items), problem.days))
    for (item_id, day), packs in orders.items():
        item = problem.items[index[item_id]]
        arrival = day + item.lead_time_days
        if 0 <= arrival < problem.days:
            arrivals[index[item_id], arrival] += packs * item.pack_size
    return arrivals


def replay_stock(
    problem: SupplyProblem, orders: Mapping[tuple[str, int], int], demand: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """End-of-day stock and lost units on demand paths, given the orders.

    Parameters
    ----------
    problem
        The problem (items, horizon, opening stock).
    orders
        Packs ordered per (item id, order day).
    demand
        Units wanted, shape (paths, items, days).

    Returns
    -------
    (on_hand, shortage)
        Both of shape (paths, items, days) [units].
    """
    arrivals = _arrivals(problem, orders)
    paths = demand.shape[0]
    on_hand = np.zeros(demand.shape)
    shortage = np.zeros(demand.shape)
    stock = np.tile(np.array([item.stock_on_hand for item in problem.items], dtype=float), (paths, 1))
    for day in range(problem.days):
        available = stock + arrivals[:, day]
        used = np.minimum(available, demand[:, :, day])
        shortage[:, :, day] = demand[:, :, day] - used
        stock = available - used
        on_hand[:, :, day] = stock
    return on_hand, shortage


def check_supply_plan(problem: SupplyProblem, orders: Mapping[tuple[str, int], int]) -> SupplyCheck:
    """Check an order plan and recompute its costs.

    Parameters
    ----------
    problem
        The problem.
    orders
        Packs ordered per (item id, order day); zero entries may be left out.

    Returns
    -------
    SupplyCheck
    """
    violations: list[str] = []
    index = {item_id: i for i, item_id in enumerate(problem.item_ids)}
    purchase = 0.0
    ordering = 0.0
    for (item_id, day), packs in sorted(orders.items()):
        if item_id not in index:
            violations.append(f"order of unknown item '{item_id}'")
            continue
        item = problem.items[index[item_id]]
        if packs != int(packs) or packs < 0:
            violations.append(f"{item_id} day {day}: {packs} is not a whole number of packs")
        if not 0 <= day < problem.days:
            violations.append(f"{item_id}: order day {day} is outside the horizon")
        elif day + item.lead_time_days >= problem.days and packs > 0:
            violations.append(
                f"{item_id} day {day}: delivery on day {day + item.lead_time_days} is past the horizon"
            )
        if packs > 0:
            purchase += packs * item.pack_size * item.unit_cost
            ordering += problem.order_cost
    known = {key: packs for key, packs in orders.items() if key[0] in index}
    arrivals = _arrivals(problem, known)
    expected = np.zeros((len(problem.items), problem.days))
    for i, item in enumerate(problem.items):
        stock = float(item.stock_on_hand)
        for day in range(problem.days):
            after_delivery = stock + arrivals[i, day]
            if (
                item.max_stock is not None
                and day >= item.lead_time_days
                and after_delivery > item.max_stock + 1e-6
            ):
                violations.append(
                    f"{item.id} day {day}: {after_delivery:.0f} units after delivery exceed storage "
                    f"{item.max_stock}"
                )
            stock = after_delivery - problem.mean_demand[i, day]
            expected[i, day] = stock
            if day >= item.lead_time_days and stock < problem.safety_stock[i] - SAFETY_TOLERANCE_UNITS:
                violations.append(
                    f"{item.id} day {day}: expected stock {stock:.1f} is below the safety stock "
                    f"{problem.safety_stock[i]:.1f}"
                )
    on_hand, shortage = replay_stock(problem, known, problem.demand_paths)
    holding_rate = np.array([item.holding_cost_per_day for item in problem.items])
    shortage_rate = np.array([item.shortage_cost for item in problem.items])
    holding = float((on_hand.sum(axis=2) * holding_rate).sum(axis=1).mean())
    lost = float((shortage.sum(axis=2) * shortage_rate).sum(axis=1).mean())
    return SupplyCheck(
        violations=tuple(violations),
        cost_by_term={"purchase": purchase, "ordering": ordering, "holding": holding, "shortage": lost},
        expected_on_hand=expected,
    )
