"""The supply pipeline: case volumes from the surgical plan and forecasts -> order plan -> store.

Planned cases come from the published surgical plan in the store (kind ``"surgery"``) when there is one;
the days it does not cover get the block schedule's expected elective cases; every day gets the services'
expected emergency operations. :func:`run_supply_plan` solves the orders
(:func:`scheduler.supply.solve_supply`), saves them as plan kind ``"supply"`` (published) with an audit
entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from ops.sim import DEFAULT_START
from ops.store import Plan, Store
from ops.surgery import PLAN_KIND as SURGERY_PLAN_KIND
from ops.surgery import plan_calendar
from scenarios.schema import Scenario
from scenarios.timeline import arrivals_factor, theatre_session_on
from scheduler.supply import CASE_VOLUMES_SCHEMA, SupplyPlan, build_supply_problem, solve_supply

__all__ = ["PLAN_KIND", "SupplyPlanRun", "case_volumes", "run_supply_plan"]

PLAN_KIND = "supply"
"""Kind of the supply order plan in the store."""


@dataclass(frozen=True)
class SupplyPlanRun:
    """The result of :func:`run_supply_plan`.

    Attributes
    ----------
    plan
        The order plan with its checker verdict and stock-out risks.
    volumes
        The case volumes it was built from (:data:`~scheduler.supply.CASE_VOLUMES_SCHEMA`).
    surgery_plan_version
        Version of the surgical plan whose cases were used, if any.
    saved
        The stored plan, when a store was given.
    """

    plan: SupplyPlan
    volumes: pl.DataFrame
    surgery_plan_version: int | None
    saved: Plan | None


def _block_minutes(scenario: Scenario, service_id: str, day_zero: date, day: int) -> float:
    """Elective session minutes of a service on a day of the run [minutes]."""
    weekday = (day_zero.toordinal() + day - 1) % 7  # date.toordinal() is 1 on a Monday (1 January 1)
    total = 0.0
    for theatre in scenario.hospital.theatres:
        session = theatre_session_on(scenario, theatre.id, day, weekday)
        if session is not None and session.service == service_id and not theatre.emergency:
            total += session.minutes
    return total


def case_volumes(
    scenario: Scenario,
    start: datetime,
    days: int,
    surgical_cases: pl.DataFrame | None = None,
    surgical_plan_start: datetime | None = None,
    surgical_plan_days: int | None = None,
) -> pl.DataFrame:
    """Operations per day and service over the horizon (:data:`~scheduler.supply.CASE_VOLUMES_SCHEMA`).

    Parameters
    ----------
    scenario
        The hospital.
    start
        Start of day 0 [UTC].
    days
        Days covered.
    surgical_cases
        A surgical plan (``scheduler.surgery.SURGICAL_PLAN_SCHEMA``); its planned cases are known volumes.
    surgical_plan_start
        Start of that plan's day 0 [UTC]; ``start`` when absent.
    surgical_plan_days
        Days the plan covers; up to its last planned case when absent.

    Returns
    -------
    polars.DataFrame
        Planned cases from the plan on the days it covers; on the others, the block schedule's expected
        elective cases (``elective_cases_per_week`` spread over the week's session minutes, none on public
        holidays) as forecast; plus expected emergency operations every day.
    """
    day_zero, holidays = plan_calendar(scenario, start, days)
    offset = 0
    covered: set[int] = set()
    planned: dict[tuple[int, str], int] = {}
    if surgical_cases is not None:
        if surgical_plan_start is not None:
            offset = (plan_calendar(scenario, surgical_plan_start, 1)[0] - day_zero).days
        plan_days = surgical_cases.filter(pl.col("planned"))
        plan_length = (
            surgical_plan_days
            if surgical_plan_days is not None
            else max(plan_days["day"].cast(pl.Int64).to_list(), default=-1) + 1
        )
        covered = set(range(max(offset, 0), min(offset + plan_length, days)))
        for day, service in plan_days.select("day", "service").iter_rows():
            run_day = int(day) + offset
            if 0 <= run_day < days:
                planned[(run_day, service)] = planned.get((run_day, service), 0) + 1
    rows = []
    for service in scenario.hospital.services:
        surgery = service.surgery
        if surgery is None:
            continue
        minutes = {
            d: 0.0 if d in holidays else _block_minutes(scenario, service.id, day_zero, d)
            for d in range(-7, days + 7)
        }
        for day in range(days):
            forecast = surgery.emergency_cases_per_day * arrivals_factor(scenario, service.id, day)
            if day not in covered and minutes[day] > 0:
                monday = day - (day_zero.toordinal() + day - 1) % 7
                week_minutes = sum(minutes[d] for d in range(monday, monday + 7))
                forecast += (
                    surgery.elective_cases_per_week
                    * arrivals_factor(scenario, service.id, day)
                    * minutes[day]
                    / week_minutes
                )
            rows.append(
                {
                    "day": day,
                    "service": service.id,
                    "planned_cases": planned.get((day, service.id), 0),
                    "forecast_cases": forecast,
                }
            )
    return pl.DataFrame(rows, schema=CASE_VOLUMES_SCHEMA)


def run_supply_plan(
    scenario: Scenario,
    *,
    start: datetime = DEFAULT_START,
    days: int = 14,
    time_limit_s: float = 30.0,
    seed: int = 0,
    stock_on_hand: Mapping[str, int] | None = None,
    use_surgery_plan: bool = True,
    store: Store | None = None,
    actor: str = "plan-supply",
) -> SupplyPlanRun:
    """Plan consumable orders for the coming days and keep the plan in the store.

    Parameters
    ----------
    scenario
        The hospital, with a ``[supply]`` section.
    start
        Start of day 0 [UTC].
    days
        Days planned.
    time_limit_s
        Solver budget [seconds].
    seed
        Seed of the demand paths.
    stock_on_hand
        Units on the shelf per item at day 0; items left out start at their par level.
    use_surgery_plan
        Take planned cases from the store's published surgical plan (when a store is given).
    store
        Where the plan is saved (kind ``"supply"``, published) and the audit entry written.
    actor
        Who asked (audit).

    Returns
    -------
    SupplyPlanRun
    """
    surgical_cases = None
    surgical_start = None
    surgical_days = None
    version = None
    if store is not None and use_surgery_plan:
        saved_surgery = store.latest_plan(SURGERY_PLAN_KIND)
        if saved_surgery is not None:
            from scheduler.surgery import SURGICAL_PLAN_SCHEMA

            surgical_cases = pl.DataFrame(saved_surgery.payload["cases"], schema=SURGICAL_PLAN_SCHEMA)
            surgical_start = datetime.fromisoformat(saved_surgery.payload["start"])
            surgical_days = int(saved_surgery.payload["days"])
            version = saved_surgery.version
    volumes = case_volumes(scenario, start, days, surgical_cases, surgical_start, surgical_days)
    problem = build_supply_problem(scenario, volumes, days, stock_on_hand=stock_on_hand, seed=seed)
    plan = solve_supply(problem, time_limit_s=time_limit_s, seed=seed + 1)
    saved = None
    if store is not None:
        payload = {
            "scenario": scenario.name,
            "scenario_digest": scenario.digest(),
            "start": start.isoformat(),
            "days": days,
            "status": plan.status.value,
            "total_cost": plan.total_cost,
            "cost_by_term": plan.cost_by_term,
            "violations": list(plan.check.violations),
            "relax": plan.relax,
            "surgery_plan_version": version,
            "orders": plan.orders.to_dicts(),
            "par_levels": plan.par_levels.to_dicts(),
        }
        saved = store.save_plan(PLAN_KIND, payload, created_by=actor)
        store.write_audit(
            actor,
            "plan_supply",
            "ok" if plan.check.feasible else plan.status.value,
            {
                "plan_kind": PLAN_KIND,
                "version": saved.version,
                "scenario": scenario.name,
                "status": plan.status.value,
                "total_cost": plan.total_cost,
                "surgery_plan_version": version,
            },
        )
    return SupplyPlanRun(plan, volumes, version, saved)
