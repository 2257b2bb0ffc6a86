"""The supply ordering problem: consumables, their demand from the case mix, and the stock policy.

Demand for item *i* on day *t* comes from the cases of each service *s* on that day: ``planned_cases`` are
known (from the surgical plan), ``forecast_cases`` are a Poisson number with that mean (emergency operations,
electives beyond the plan). Each case uses a Poisson number of units with mean the bill of materials'
quantity. :class:`SupplyProblem` holds the mean demand, sampled demand paths for the optimiser, and the
safety stock that the scenario's service level asks for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl
from numpy.typing import NDArray

from scenarios.schema import Scenario

__all__ = [
    "CASE_VOLUMES_SCHEMA",
    "ItemSpec",
    "SupplyProblem",
    "SupplyProblemError",
    "build_supply_problem",
    "sample_demand",
]

CASE_VOLUMES_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Int64(),
    "service": pl.String(),
    "planned_cases": pl.Int64(),
    "forecast_cases": pl.Float64(),
}
"""Operations per day and service: ``planned_cases`` known (a surgical plan), ``forecast_cases`` the mean of
a Poisson number of further cases (emergency operations, electives beyond the plan) [cases/day]."""


class SupplyProblemError(ValueError):
    """The supply problem cannot be built: the message names the field, item or row at fault."""


@dataclass(frozen=True)
class ItemSpec:
    """One consumable as the optimiser sees it.

    Attributes
    ----------
    id
        Item id from the scenario.
    unit_cost, holding_cost_per_day, shortage_cost
        Price of a unit [currency], cost of keeping a unit a day [currency/day], cost of a unit missing
        [currency].
    lead_time_days
        Days from order to delivery; an order placed on day t is on the shelf from day ``t + lead`` [days].
    pack_size
        Units per pack [units].
    max_stock
        Storage space [units], ``None`` when unlimited.
    stock_on_hand
        Units on the shelf at the start of day 0 [units].
    """

    id: str
    unit_cost: float
    holding_cost_per_day: float
    shortage_cost: float
    lead_time_days: int
    pack_size: int
    max_stock: int | None
    stock_on_hand: int

    def __post_init__(self) -> None:
        for name in ("unit_cost", "holding_cost_per_day", "shortage_cost"):
            if getattr(self, name) < 0:
                raise SupplyProblemError(f"item '{self.id}': {name} must be >= 0")
        if self.lead_time_days < 0:
            raise SupplyProblemError(f"item '{self.id}': lead_time_days must be >= 0")
        if self.pack_size < 1:
            raise SupplyProblemError(f"item '{self.id}': pack_size must be >= 1")
        if self.stock_on_hand < 0:
            raise SupplyProblemError(f"item '{self.id}': stock_on_hand must be >= 0")


@dataclass(frozen=True)
class SupplyProblem:
    """Items, demand and policy over a horizon of ``days`` days.

    Attributes
    ----------
    items
        The consumables.
    days
        Days planned [days].
    mean_demand
        Expected units used, shape (items, days) [units].
    demand_variance
        Variance of the units used, shape (items, days) [units^2].
    demand_paths
        Sampled units used, shape (paths, items, days): the optimiser's expected shortage and holding are
        averages over these paths [units].
    safety_stock
        Stock kept above the expected demand to meet the service level, per item [units].
    service_level
        Wanted probability of not running out on a day.
    order_cost
        Cost of one order of one item [currency].
    services
        Services with a bill of materials, in the order of ``bill``'s rows.
    bill
        Units per case, shape (services, items) [units/case].
    planned_cases, forecast_cases
        Known cases and mean further cases, shape (services, days) (to draw fresh demand paths).
    """

    items: tuple[ItemSpec, ...]
    days: int
    mean_demand: NDArray[np.float64]
    demand_variance: NDArray[np.float64]
    demand_paths: NDArray[np.int64]
    safety_stock: NDArray[np.float64]
    service_level: float
    order_cost: float
    services: tuple[str, ...] = ()
    bill: NDArray[np.float64] | None = None
    planned_cases: NDArray[np.float64] | None = None
    forecast_cases: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if self.days < 1:
            raise SupplyProblemError(f"days must be >= 1, got {self.days}")
        shape = (len(self.items), self.days)
        if self.mean_demand.shape != shape or self.demand_variance.shape != shape:
            raise SupplyProblemError(f"mean_demand and demand_variance must have shape {shape}")
        if self.demand_paths.ndim != 3 or self.demand_paths.shape[1:] != shape:
            raise SupplyProblemError(f"demand_paths must have shape (paths, {shape[0]}, {shape[1]})")
        if self.safety_stock.shape != (len(self.items),):
            raise SupplyProblemError("safety_stock needs one value per item")
        if not 0 < self.service_level < 1:
            raise SupplyProblemError(f"service_level must be within (0, 1), got {self.service_level}")

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in problem order."""
        return tuple(item.id for item in self.items)

    def par_level(self, i: int) -> float:
        """Order-up-to level of item ``i``: mean demand over lead time plus one day, plus safety stock."""
        daily = float(self.mean_demand[i].mean())
        return daily * (self.items[i].lead_time_days + 1) + float(self.safety_stock[i])

    def reorder_point(self, i: int) -> float:
        """Stock at which item ``i`` is reordered: mean demand over the lead time plus safety stock."""
        daily = float(self.mean_demand[i].mean())
        return daily * self.items[i].lead_time_days + float(self.safety_stock[i])


def _check_volumes(volumes: pl.DataFrame, days: int, services: set[str]) -> None:
    missing = set(CASE_VOLUMES_SCHEMA) - set(volumes.columns)
    if missing:
        raise SupplyProblemError(f"case volumes lack column(s) {sorted(missing)}")
    for row, (day, service, planned, forecast) in enumerate(
        volumes.select(list(CASE_VOLUMES_SCHEMA)).iter_rows()
    ):
        if day is None or not 0 <= day < days:
            raise SupplyProblemError(f"case volumes row {row}: day {day} is outside 0..{days - 1}")
        if service not in services:
            raise SupplyProblemError(f"case volumes row {row}: unknown service '{service}'")
        if (planned or 0) < 0 or (forecast or 0.0) < 0:
            raise SupplyProblemError(f"case volumes row {row}: cases must be >= 0")


def sample_demand(
    bill: NDArray[np.float64],
    planned: NDArray[np.float64],
    forecast: NDArray[np.float64],
    paths: int,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Draw units used per item and day.

    Parameters
    ----------
    bill
        Units per case, shape (services, items) [units/case].
    planned
        Known cases, shape (services, days).
    forecast
        Mean of the further (Poisson) cases, shape (services, days).
    paths
        Number of demand paths.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Shape (paths, items, days) [units].
    """
    cases = planned[None, :, :] + rng.poisson(forecast[None, :, :], size=(paths, *forecast.shape))
    mean_units = np.einsum("psd,si->pid", cases, bill)
    return rng.poisson(mean_units).astype(np.int64)


def build_supply_problem(
    scenario: Scenario,
    volumes: pl.DataFrame,
    days: int,
    *,
    stock_on_hand: Mapping[str, int] | None = None,
    paths: int = 40,
    seed: int = 0,
) -> SupplyProblem:
    """The supply problem of a scenario's consumables for given case volumes.

    Parameters
    ----------
    scenario
        The hospital, with its ``supply`` section.
    volumes
        Cases per day and service (:data:`CASE_VOLUMES_SCHEMA`); missing days mean no case.
    days
        Days planned.
    stock_on_hand
        Units on the shelf at day 0 per item; an item left out starts with its expected use up to the
        first possible delivery plus the safety stock, and at least its par level (rounded up, capped by
        storage).
    paths
        Demand paths the optimiser averages over.
    seed
        Seed of the demand paths.

    Returns
    -------
    SupplyProblem

    Raises
    ------
    SupplyProblemError
        When the scenario has no supply section or the volumes are malformed.
    """
    supply = scenario.hospital.supply
    if supply is None or not supply.items:
        raise SupplyProblemError("the scenario has no [supply] section with items")
    services = [b.service for b in supply.bills_of_materials]
    _check_volumes(volumes, days, {s.id for s in scenario.hospital.services})
    item_index = {item.id: i for i, item in enumerate(supply.items)}
    bill = np.zeros((len(services), len(supply.items)))
    for s, bom in enumerate(supply.bills_of_materials):
        for item_id, quantity in bom.items.items():
            bill[s, item_index[item_id]] = quantity
    planned = np.zeros((len(services), days))
    forecast = np.zeros((len(services), days))
    service_index = {service: s for s, service in enumerate(services)}
    for day, service, planned_cases, forecast_cases in volumes.select(list(CASE_VOLUMES_SCHEMA)).iter_rows():
        if service in service_index:
            planned[service_index[service], day] += planned_cases or 0
            forecast[service_index[service], day] += forecast_cases or 0.0
    # Compound Poisson: usage | cases ~ Poisson(q * cases), cases = planned + Poisson(forecast).
    mean = np.einsum("sd,si->id", planned + forecast, bill)
    variance = np.einsum("sd,si->id", planned + forecast, bill) + np.einsum("sd,si->id", forecast, bill**2)
    z = NormalDist().inv_cdf(supply.service_level)
    lead = np.array([item.lead_time_days for item in supply.items])
    safety = z * np.sqrt(variance.mean(axis=1) * (lead + 1))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    demand_paths = sample_demand(bill, planned, forecast, paths, rng)
    on_hand = dict(stock_on_hand or {})
    unknown = set(on_hand) - set(item_index)
    if unknown:
        raise SupplyProblemError(f"stock on hand names unknown item(s) {sorted(unknown)}")
    specs = []
    for i, item in enumerate(supply.items):
        # Enough to reach the first possible delivery at the service level, and at least the par level.
        opening = (
            max(mean[i].mean() * (item.lead_time_days + 1), mean[i, : item.lead_time_days + 1].sum())
            + safety[i]
        )
        specs.append(
            ItemSpec(
                id=item.id,
                unit_cost=item.unit_cost,
                holding_cost_per_day=item.holding_cost_per_day,
                shortage_cost=item.shortage_cost_per_unit,
                lead_time_days=item.lead_time_days,
                pack_size=item.pack_size,
                max_stock=item.max_stock,
                stock_on_hand=int(
                    on_hand.get(item.id, min(math.ceil(opening), item.max_stock or math.ceil(opening)))
                ),
            )
        )
    return SupplyProblem(
        items=tuple(specs),
        days=days,
        mean_demand=mean,
        demand_variance=variance,
        demand_paths=demand_paths,
        safety_stock=safety,
        service_level=supply.service_level,
        order_cost=supply.order_cost,
        services=tuple(services),
        bill=bill,
        planned_cases=planned,
        forecast_cases=forecast,
    )
