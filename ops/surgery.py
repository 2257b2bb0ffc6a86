"""The surgical admission plan pipeline: waiting list -> IHTC solve -> checked plan -> store.

:func:`run_surgery_plan` builds (or takes) the elective waiting list, maps the hospital to an IHTC-2024
instance, solves it within a time budget (cancellable: the best plan so far is kept), saves the plan in the
store as kind ``"surgery"`` (published) with an audit entry, and summarises it. :func:`compare_elective_lists`
runs the hospital model with the plan as its elective list and with the block-schedule default, so that
an executive can see the plan's effect on beds and cancellations.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from ops.sim import DEFAULT_START, SimulationOptions, simulate
from ops.sim import SURGICAL_PLAN_SCHEMA as SIM_PLAN_SCHEMA
from ops.sim.calendar import SimulationCalendar
from ops.store import Plan, Store
from scenarios.schema import Scenario, mean_duration_hours
from scheduler.ihtc import SolveProgress, SolveStatus
from scheduler.surgery import (
    OCCUPANTS_SCHEMA,
    SURGICAL_PLAN_SCHEMA,
    SurgicalInstance,
    SurgicalPlan,
    beds_needed,
    build_surgical_instance,
    generate_waiting_list,
    plan_surgery,
    surgical_wards,
    theatre_use,
)

__all__ = [
    "ELECTIVE_COMPARISON_SCHEMA",
    "PLAN_KIND",
    "SurgeryPlanRun",
    "SurgeryPlanSummary",
    "compare_elective_lists",
    "occupants_from_twins",
    "plan_calendar",
    "run_surgery_plan",
    "simulation_plan",
    "stored_surgical_plan",
]

PLAN_KIND = "surgery"
"""Kind of the surgical admission plan in the store."""

ELECTIVE_COMPARISON_SCHEMA: dict[str, pl.DataType] = {
    "replication": pl.Int64(),
    "elective_list": pl.String(),
    "cases_booked": pl.Int64(),
    "cases_performed": pl.Int64(),
    "cancelled_no_bed": pl.Int64(),
    "cancelled_no_time": pl.Int64(),
    "surgical_ward_occupancy": pl.Float64(),
    "surgical_ward_peak_occupied": pl.Float64(),
}
"""One row per replication and elective list (``plan`` or ``block``): elective cases booked, operated and
cancelled, mean occupancy of the surgical wards [share of open beds] and their peak hourly beds occupied."""


@dataclass(frozen=True)
class SurgeryPlanSummary:
    """What a planner reads first.

    Attributes
    ----------
    cases_listed, cases_planned, cases_unscheduled
        Cases on the waiting list, planned, and left off the plan [count].
    mandatory_unscheduled
        Mandatory cases left off (non-zero only for an infeasible plan) [count].
    theatre_utilisation
        Planned operating minutes over session minutes of the elective theatres [share].
    peak_elective_beds
        Most elective patients in the surgical wards' bays on any day [beds].
    elective_beds
        Beds offered to electives [beds].
    beds_by_day
        Elective patients in the bays on each day of the plan [beds].
    total_cost
        Plan cost (IHTC objective) [plan cost units].
    """

    cases_listed: int
    cases_planned: int
    cases_unscheduled: int
    mandatory_unscheduled: int
    theatre_utilisation: float
    peak_elective_beds: int
    elective_beds: int
    beds_by_day: tuple[int, ...]
    total_cost: int


@dataclass(frozen=True)
class SurgeryPlanRun:
    """The result of :func:`run_surgery_plan`."""

    plan: SurgicalPlan
    surgical: SurgicalInstance
    summary: SurgeryPlanSummary
    saved: Plan | None
    cancelled: bool
    start: datetime
    days: int

    @property
    def status(self) -> SolveStatus:
        """Status of the plan."""
        return self.plan.status


def plan_calendar(scenario: Scenario, start: datetime, days: int) -> tuple[date, frozenset[int]]:
    """Local date of day 0 and the public holidays among the plan's days, as the hospital model sees them."""
    calendar = SimulationCalendar(start, scenario.hospital.timezone, 0, days, scenario.hospital.seasonality)
    return calendar.day_date(0), frozenset(calendar.holiday_days)


def occupants_from_twins(scenario: Scenario, twins: pl.DataFrame) -> pl.DataFrame:
    """Elective patients in a surgical ward bed, from a twins frame (``patients.twin.TWIN_SCHEMA``).

    The days still to stay are the mean stay of the service's elective pathway step on that ward less the
    time already spent, rounded up, at least one day. Sex and age group are not in the twins; they are left
    unknown (:data:`~scheduler.surgery.OCCUPANTS_SCHEMA`).
    """
    wards = set(surgical_wards(scenario))
    rows = []
    inside = twins.filter(pl.col("unit").is_in(list(wards)) & (pl.col("admission_type") == "elective"))
    if "discharged_at" in inside.columns:
        inside = inside.filter(pl.col("discharged_at").is_null())
    for encounter, ward, service_id, elapsed in inside.select(
        "encounter_id", "unit", "service", "length_of_stay_hours"
    ).iter_rows():
        mean_hours = 72.0
        try:
            surgery = scenario.hospital.service(service_id).surgery
        except KeyError:
            surgery = None
        if surgery is not None:
            steps = [s for p in surgery.elective_pathways for s in p.steps if ward in s.units]
            if steps:
                mean_hours = mean_duration_hours(steps[0].length_of_stay)
        remaining = max(math.ceil((mean_hours - (elapsed or 0.0)) / 24.0), 1)
        rows.append(
            {
                "patient_id": encounter,
                "ward": ward,
                "sex": None,
                "age_group": None,
                "remaining_days": remaining,
            }
        )
    return pl.DataFrame(rows, schema=OCCUPANTS_SCHEMA)


def _summary(surgical: SurgicalInstance, plan: SurgicalPlan) -> SurgeryPlanSummary:
    use = theatre_use(surgical, plan.cases)
    beds = beds_needed(surgical, plan.cases)
    by_day = beds.group_by("day").agg(pl.col("elective_patients").sum()).sort("day")
    session_minutes = int(use["session_minutes"].sum())
    return SurgeryPlanSummary(
        cases_listed=plan.cases.height,
        cases_planned=plan.planned.height,
        cases_unscheduled=plan.unscheduled.height,
        mandatory_unscheduled=plan.unscheduled.filter(pl.col("mandatory")).height,
        theatre_utilisation=int(use["planned_minutes"].sum()) / session_minutes if session_minutes else 0.0,
        peak_elective_beds=max(by_day["elective_patients"].cast(pl.Int64).to_list(), default=0),
        elective_beds=sum(bay.beds for bay in surgical.bays),
        beds_by_day=tuple(int(n) for n in by_day["elective_patients"]),
        total_cost=plan.total_cost,
    )


def _payload(
    scenario: Scenario, run_start: datetime, days: int, surgical: SurgicalInstance, plan: SurgicalPlan
) -> dict[str, Any]:
    summary = _summary(surgical, plan)
    return {
        "scenario": scenario.name,
        "scenario_digest": scenario.digest(),
        "start": run_start.isoformat(),
        "days": days,
        "status": plan.status.value,
        "feasible": plan.evaluation.feasible,
        "total_cost": plan.total_cost,
        "cost_by_term": plan.cost_by_term,
        "hard_violations": plan.evaluation.violations.as_dict(),
        "summary": {
            "cases_listed": summary.cases_listed,
            "cases_planned": summary.cases_planned,
            "cases_unscheduled": summary.cases_unscheduled,
            "mandatory_unscheduled": summary.mandatory_unscheduled,
            "theatre_utilisation": summary.theatre_utilisation,
            "peak_elective_beds": summary.peak_elective_beds,
            "elective_beds": summary.elective_beds,
            "beds_by_day": list(summary.beds_by_day),
        },
        "cases": plan.cases.to_dicts(),
    }


def run_surgery_plan(
    scenario: Scenario,
    *,
    start: datetime = DEFAULT_START,
    days: int = 14,
    time_limit_s: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    waiting_list: pl.DataFrame | None = None,
    occupants: pl.DataFrame | None = None,
    store: Store | None = None,
    actor: str = "plan-surgery",
    progress: Callable[[SolveProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> SurgeryPlanRun:
    """Plan elective admissions for the coming days and keep the plan in the store.

    Parameters
    ----------
    scenario
        The hospital.
    start
        Start of day 0 [UTC, timezone-aware]; its local date sets the weekdays and holidays.
    days
        Days planned.
    time_limit_s
        Solver budget [seconds].
    workers
        Sub-models solved at the same time.
    seed
        Seed of the waiting-list draw (when none is given) and of the search.
    waiting_list
        The cases (``WAITING_LIST_SCHEMA``); drawn from the scenario's elective rates when absent.
    occupants
        Elective patients already in bed (``OCCUPANTS_SCHEMA``); from the store's latest twin snapshot
        when absent and a store is given.
    store
        Where the plan is saved (kind ``"surgery"``, published) and the audit entry written.
    actor
        Who asked for the plan (audit).
    progress
        Called with the solver's progress.
    cancel
        When set, the search stops and the best plan so far is kept (and saved).

    Returns
    -------
    SurgeryPlanRun
    """
    day_zero, holidays = plan_calendar(scenario, start, days)
    if waiting_list is None:
        waiting_list = generate_waiting_list(scenario, day_zero, days, seed, holidays)
    if occupants is None and store is not None:
        snapshot = store.latest_twin_snapshot(as_of=start)
        if snapshot is not None and {"unit", "admission_type", "service"} <= set(snapshot.frame.columns):
            occupants = occupants_from_twins(scenario, snapshot.frame)
    surgical = build_surgical_instance(
        scenario,
        waiting_list,
        day_zero,
        days,
        holiday_days=holidays,
        occupants=occupants,
        name=f"{scenario.name} {day_zero.isoformat()}",
    )
    plan = plan_surgery(surgical, time_limit_s, workers, seed, progress, cancel)
    cancelled = cancel is not None and cancel.is_set()
    summary = _summary(surgical, plan)
    saved = None
    if store is not None:
        saved = store.save_plan(PLAN_KIND, _payload(scenario, start, days, surgical, plan), created_by=actor)
        store.write_audit(
            actor,
            "plan_surgery",
            "cancelled" if cancelled else ("ok" if plan.evaluation.feasible else "infeasible"),
            {
                "plan_kind": PLAN_KIND,
                "version": saved.version,
                "scenario": scenario.name,
                "status": plan.status.value,
                "cases_planned": summary.cases_planned,
                "cases_unscheduled": summary.cases_unscheduled,
                "total_cost": plan.total_cost,
            },
        )
    return SurgeryPlanRun(plan, surgical, summary, saved, cancelled, start, days)


def simulation_plan(cases: pl.DataFrame) -> pl.DataFrame:
    """The planned cases as the hospital model's elective list (``ops.sim.SURGICAL_PLAN_SCHEMA``)."""
    missing = set(SURGICAL_PLAN_SCHEMA) - set(cases.columns)
    if missing:
        raise ValueError(f"surgical plan lacks column(s) {sorted(missing)}")
    return (
        cases.filter(pl.col("planned")).select(list(SIM_PLAN_SCHEMA)).cast(SIM_PLAN_SCHEMA)  # type: ignore[arg-type]
    )


def stored_surgical_plan(store: Store) -> tuple[Plan, pl.DataFrame] | None:
    """The published surgical plan and its cases (:data:`~scheduler.surgery.SURGICAL_PLAN_SCHEMA`)."""
    saved = store.latest_plan(PLAN_KIND)
    if saved is None:
        return None
    return saved, pl.DataFrame(saved.payload["cases"], schema=SURGICAL_PLAN_SCHEMA)


def compare_elective_lists(
    scenario: Scenario,
    cases: pl.DataFrame,
    *,
    start: datetime = DEFAULT_START,
    days: int = 14,
    replications: int = 5,
    seed: int = 0,
    warm_up_days: int = 14,
) -> pl.DataFrame:
    """Run the hospital model with the plan and with the block-schedule lists, same seeds for both.

    Parameters
    ----------
    scenario
        The hospital.
    cases
        The plan (:data:`~scheduler.surgery.SURGICAL_PLAN_SCHEMA`); its day 0 must be ``start``'s day.
    start
        Start of the run [UTC].
    days
        Days simulated.
    replications
        Runs of each list (common random numbers).
    seed
        Base seed (replication r uses the r-th child).
    warm_up_days
        Days simulated from an empty hospital before the start.

    Returns
    -------
    polars.DataFrame
        With :data:`ELECTIVE_COMPARISON_SCHEMA`.
    """
    wards = list(surgical_wards(scenario))
    elective_list = simulation_plan(cases)
    rows = []
    for replication, child in enumerate(np.random.SeedSequence(seed).spawn(replications)):
        for label, plan in (("plan", elective_list), ("block", None)):
            options = SimulationOptions(start=start, warm_up_days=warm_up_days, surgical_plan=plan)
            result = simulate(scenario, seed=child, horizon_days=days, options=options)
            theatres = result.theatres.filter(~pl.col("emergency"))
            occupancy = result.occupancy.filter(pl.col("unit").is_in(wards))
            hourly = occupancy.group_by("t").agg(pl.col("occupied").sum(), pl.col("beds_open").sum())
            rows.append(
                {
                    "replication": replication,
                    "elective_list": label,
                    "cases_booked": int(theatres["cases_booked"].sum()),
                    "cases_performed": int(theatres["cases_performed"].sum()),
                    "cancelled_no_bed": int(theatres["cancelled_no_bed"].sum()),
                    "cancelled_no_time": int(theatres["cancelled_no_time"].sum()),
                    "surgical_ward_occupancy": float(
                        hourly["occupied"].to_numpy().sum() / max(hourly["beds_open"].to_numpy().sum(), 1e-9)
                    ),
                    "surgical_ward_peak_occupied": float(hourly["occupied"].to_numpy().max(initial=0.0)),
                }
            )
    return pl.DataFrame(rows, schema=ELECTIVE_COMPARISON_SCHEMA)
