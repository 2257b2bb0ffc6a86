"""Supply orders for theatre consumables, linked to the case mix and solved with OR-Tools.

The scenario's ``[supply]`` section lists the items (price, holding cost, lead time, pack size, storage) and
what each service's operation uses; :func:`build_supply_problem` turns planned and forecast case volumes into
demand and safety stock; :func:`solve_supply` chooses the orders (a mixed-integer programme per item),
checks them with :func:`check_supply_plan` and estimates the risk of stock-out. See
``docs/reference/supply.md``.
"""

from scheduler.supply.checker import SupplyCheck, check_supply_plan, replay_stock
from scheduler.supply.problem import (
    CASE_VOLUMES_SCHEMA,
    ItemSpec,
    SupplyProblem,
    SupplyProblemError,
    build_supply_problem,
    sample_demand,
)
from scheduler.supply.solver import (
    ORDERS_SCHEMA,
    PAR_LEVELS_SCHEMA,
    STOCK_SCHEMA,
    SupplyPlan,
    SupplyStatus,
    solve_supply,
    stockout_risk,
)

__all__ = [
    "CASE_VOLUMES_SCHEMA",
    "ORDERS_SCHEMA",
    "PAR_LEVELS_SCHEMA",
    "STOCK_SCHEMA",
    "ItemSpec",
    "SupplyCheck",
    "SupplyPlan",
    "SupplyProblem",
    "SupplyProblemError",
    "SupplyStatus",
    "build_supply_problem",
    "check_supply_plan",
    "replay_stock",
    "sample_demand",
    "solve_supply",
    "stockout_risk",
]
