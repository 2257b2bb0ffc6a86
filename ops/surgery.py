"""The surgical admission plan pipeline: waiting list -> IHTC solve -> checked plan -> store.

:func:`run_surgery_plan` builds (or takes) the elective waiting list, maps the hospital to an IHTC-2024
instance, solves it within a time budget (cancellable: the best plan so far is kept), saves the plan in the
store as kind ``"surgery"`` (published) with an audit entry, and summarises it. The nurses on the elective
bays come from the published nurse roster (the nightly plan's) for the days it covers, else from the
staff pools' establishment (:func:`nurses_from_store`); the elective patients already in bed come from
the latest twin snapshot (the nightly plan keeps one). :func:`compare_elective_lists`
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
    NURSE_ROSTER_SCHEMA,
    OCCUPANTS_SCHEMA,
    SURGICAL_PLAN_SCHEMA,
    SurgicalInstance,
    SurgicalPlan,
    beds_needed,
    build_surgical_instance,
    elective_beds_by_ward,
    generate_waiting_list,
    nurse_roster_from_assignments,
    plan_surgery,
    surgical_wards,
    theatre_use,
)
from scheduler.surgery.hospital import ward_nurses_on_duty

__all__ = [
    "ELECTIVE_COMPARISON_SCHEMA",
    "PLAN_KIND",
    "SurgeryPlanRun",
    "SurgeryPlanSummary",
    "compare_elective_lists",
    "nurses_from_store",
    "occupants_from_twins",
    "plan_calendar",
    "run_surgery_plan",
    "simulation_plan",
    "stored_surgical_plan",
]

PLAN_KIND = "surgery"
"""Kind of the surgical admission plan in the store."""

ROSTER_PLAN_KIND = "roster"
"""Kind of the nurse roster plan whose published version gives the nurses on the elective bays."""

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
    """The result of :func:`run_surgery_plan`.

    ``nurse_source`` and ``waiting_list_source`` say, for a person, where the nurses on the elective bays
    and the waiting list came from.
    """

    plan: SurgicalPlan
    surgical: SurgicalInstance
    summary: SurgeryPlanSummary
    saved: Plan | None
    cancelled: bool
    start: datetime
    days: int
    nurse_source: str = "the staff pools' establishment"
    waiting_list_source: str = "drawn from the scenario's elective rates"

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


def _establishment_rows(
    scenario: Scenario, elective_beds: dict[str, int], days: list[int]
) -> list[tuple[str, int, str]]:
    """Establishment nurses on the elective bays on ``days``, as roster rows (an id per pool, shift, post)."""
    rows = []
    for day in days:
        for shift in scenario.hospital.shifts:
            for pool, count, _ in ward_nurses_on_duty(scenario, elective_beds, shift.id, day):
                rows += [(f"{pool}/{shift.id}/{j + 1}", day, shift.id) for j in range(count)]
    return rows


def nurses_from_store(
    store: Store, scenario: Scenario, day_zero: date, days: int
) -> tuple[pl.DataFrame | None, str]:
    """The nurses on the elective bays from the published nurse roster, and where they come from.

    The published ``roster`` plan's worked shifts on the surgical wards give the nurses of the days it
    covers (:func:`scheduler.surgery.nurse_roster_from_assignments`); days it does not cover take the
    staff pools' establishment. With no published roster, or none on the surgical wards, the answer is
    ``None`` (the establishment for every day) and the reason says so.

    Returns
    -------
    (polars.DataFrame or None, str)
        :data:`scheduler.surgery.NURSE_ROSTER_SCHEMA` rows, and a sentence for the planner.
    """
    published = store.latest_plan(ROSTER_PLAN_KIND)
    if published is None or not published.payload.get("assignments"):
        return None, "the staff pools' establishment (no published nurse roster)"
    rows = pl.DataFrame(published.payload["assignments"], infer_schema_length=None)
    if rows.schema.get("day") == pl.String():
        rows = rows.with_columns(pl.col("day").str.to_date())
    beds = elective_beds_by_ward(scenario)
    roster, covered = nurse_roster_from_assignments(scenario, rows, day_zero, days, beds)
    version = published.version
    if not covered or roster.height == 0:
        return None, (
            f"the staff pools' establishment (published roster version {version} has no nurse on the "
            "surgical wards in these days)"
        )
    missing = [day for day in range(days) if day not in covered]
    if not missing:
        return roster, f"published roster version {version}"
    filled = pl.DataFrame(
        _establishment_rows(scenario, beds, missing), schema=NURSE_ROSTER_SCHEMA, orient="row"
    )
    return pl.concat([roster, filled]), (
        f"published roster version {version} for {days - len(missing)} of {days} days, the staff pools' "
        f"establishment for the other {len(missing)} (after the roster's horizon)"
    )


def _payload(
    scenario: Scenario,
    run_start: datetime,
    days: int,
    surgical: SurgicalInstance,
    plan: SurgicalPlan,
    nurse_source: str,
    waiting_list_source: str,
) -> dict[str, Any]:
    summary = _summary(surgical, plan)
    return {
        "scenario": scenario.name,
        "scenario_digest": scenario.digest(),
        "start": run_start.isoformat(),
        "days": days,
        "nurses_from": nurse_source,
        "waiting_list_from": waiting_list_source,
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
    nurse_roster: pl.DataFrame | None = None,
    store: Store | None = None,
    actor: str = "plan-surgery",
    waiting_list_source: str | None = None,
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
    nurse_roster
        Nurses on the elective bays (``NURSE_ROSTER_SCHEMA``); when absent, from the store's published
        nurse roster (:func:`nurses_from_store`), else the staff pools' establishment.
    store
        Where the plan is saved (kind ``"surgery"``, published) and the audit entry written.
    actor
        Who asked for the plan (audit).
    progress
        Called with the solver's progress.
    cancel
        When set, the search stops and the best plan so far is kept (and saved).
    waiting_list_source
        Where a given waiting list comes from, for the plan and the planner (e.g. the file's name).

    Returns
    -------
    SurgeryPlanRun
    """
    day_zero, holidays = plan_calendar(scenario, start, days)
    if waiting_list is None:
        waiting_list = generate_waiting_list(scenario, day_zero, days, seed, holidays)
        list_source = "drawn from the scenario's elective rates (demo)"
    else:
        list_source = waiting_list_source or "given"
    nurse_source = "the roster given"
    if nurse_roster is None:
        if store is not None:
            nurse_roster, nurse_source = nurses_from_store(store, scenario, day_zero, days)
        else:
            nurse_source = "the staff pools' establishment (no store)"
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
        roster=nurse_roster,
        name=f"{scenario.name} {day_zero.isoformat()}",
    )
    plan = plan_surgery(surgical, time_limit_s, workers, seed, progress, cancel)
    cancelled = cancel is not None and cancel.is_set()
    summary = _summary(surgical, plan)
    saved = None
    if store is not None:
        payload = _payload(scenario, start, days, surgical, plan, nurse_source, list_source)
        saved = store.save_plan(PLAN_KIND, payload, created_by=actor)
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
                "nurses_from": nurse_source,
                "waiting_list_from": list_source,
            },
        )
    return SurgeryPlanRun(plan, surgical, summary, saved, cancelled, start, days, nurse_source, list_source)


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
