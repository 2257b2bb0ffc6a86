"""Solve the hospital's surgical admission plan and read it back as a frame.

:func:`plan_surgery` solves the IHTC-2024 instance built by
:func:`~scheduler.surgery.instance.build_surgical_instance`, moves every case to its firm's own theatre (the
block it holds that day; the firm's minutes never exceed that session, so the move keeps every rule), judges
the plan with the independent IHTC checker and returns a :data:`SURGICAL_PLAN_SCHEMA` frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from scheduler.ihtc import (
    AdmissionPlan,
    AdmissionPlanResult,
    Evaluation,
    PatientAdmission,
    SolveProgress,
    SolveStatus,
    evaluate,
    solve,
)
from scheduler.surgery.instance import DAY_CASE_AREA, SurgicalInstance

__all__ = [
    "BEDS_NEEDED_SCHEMA",
    "SURGICAL_PLAN_SCHEMA",
    "THEATRE_USE_SCHEMA",
    "SurgicalPlan",
    "beds_needed",
    "plan_frame",
    "plan_surgery",
    "theatre_use",
]

SURGICAL_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "case_id": pl.String(),
    "service": pl.String(),
    "surgeon": pl.String(),
    "mandatory": pl.Boolean(),
    "planned": pl.Boolean(),
    "day": pl.Int64(),
    "theatre": pl.String(),
    "sequence": pl.Int64(),
    "ward": pl.String(),
    "room": pl.String(),
    "day_case": pl.Boolean(),
    "duration_minutes": pl.Int64(),
    "length_of_stay_days": pl.Int64(),
    "earliest_day": pl.Int64(),
    "due_day": pl.Int64(),
    "delay_days": pl.Int64(),
    "delay_cost": pl.Int64(),
    "unscheduled_cost": pl.Int64(),
}
"""One row per case of the waiting list: whether it is planned, and if so its admission (= surgery) day,
theatre, order on that theatre's list (``sequence``, from 1), ward and bay (``room``; day cases go to the
``DAY`` trolley area). ``delay_days`` is the wait past ``earliest_day``; ``delay_cost`` and
``unscheduled_cost`` are the case's share of the plan's cost [plan cost units]. The columns ``day``,
``theatre``, ``service``, ``sequence`` and ``day_case`` of the planned rows are the hospital model's
surgical plan (``ops.sim.SURGICAL_PLAN_SCHEMA``)."""

BEDS_NEEDED_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Int64(),
    "ward": pl.String(),
    "elective_patients": pl.Int64(),
    "elective_beds": pl.Int64(),
}
"""Elective patients (planned cases and occupants) in each ward's elective bays on each day, against the
beds offered to electives there."""

THEATRE_USE_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Int64(),
    "theatre": pl.String(),
    "session_minutes": pl.Int64(),
    "planned_minutes": pl.Int64(),
    "cases": pl.Int64(),
}
"""Planned operating minutes and cases on each elective theatre session [minutes]."""


@dataclass(frozen=True)
class SurgicalPlan:
    """The hospital's surgical admission plan.

    Attributes
    ----------
    status
        Optimal / feasible / infeasible / timeout (from the IHTC solver, after the theatre move).
    cases
        The plan, one row per case, with :data:`SURGICAL_PLAN_SCHEMA`.
    admission_plan
        The same plan as an IHTC admission plan (nurses included).
    evaluation
        The independent checker's verdict on ``admission_plan``.
    solver
        What the IHTC solver returned (before the theatre move).
    """

    status: SolveStatus
    cases: pl.DataFrame
    admission_plan: AdmissionPlan
    evaluation: Evaluation
    solver: AdmissionPlanResult

    @property
    def total_cost(self) -> int:
        """Total plan cost [plan cost units]."""
        return self.evaluation.total_cost

    @property
    def cost_by_term(self) -> dict[str, int]:
        """Plan cost by IHTC term [plan cost units]."""
        return self.evaluation.cost_by_term

    @property
    def planned(self) -> pl.DataFrame:
        """The planned cases only."""
        return self.cases.filter(pl.col("planned"))

    @property
    def unscheduled(self) -> pl.DataFrame:
        """Cases left off the plan (optional, or mandatory when the plan is infeasible)."""
        return self.cases.filter(~pl.col("planned"))


def _home_theatres(surgical: SurgicalInstance, plan: AdmissionPlan) -> AdmissionPlan:
    """Every admitted case operated in its firm's own theatre."""
    home = surgical.theatre_of_firm
    surgeon = {p.id: p.surgeon_id for p in surgical.instance.patients}
    return AdmissionPlan(
        admissions=tuple(
            PatientAdmission(a.patient_id, a.admission_day, a.room_id, home[surgeon[a.patient_id]])
            for a in plan.admissions
        ),
        nurse_assignments=plan.nurse_assignments,
        unscheduled_patient_ids=plan.unscheduled_patient_ids,
    )


def plan_frame(surgical: SurgicalInstance, plan: AdmissionPlan) -> pl.DataFrame:
    """The cases of the waiting list with their place in ``plan`` (:data:`SURGICAL_PLAN_SCHEMA`).

    Parameters
    ----------
    surgical
        The instance the plan is for.
    plan
        An IHTC admission plan of that instance.
    """
    weights = surgical.weights
    admitted = plan.admission_by_patient
    ward_of_room = surgical.ward_of_room
    rows = []
    for case in surgical.waiting_list.iter_rows(named=True):
        admission = admitted.get(case["case_id"])
        day_case = case["length_of_stay_days"] == 0
        if admission is None:
            rows.append(
                {
                    **case,
                    "planned": False,
                    "day": None,
                    "theatre": None,
                    "sequence": None,
                    "ward": None,
                    "room": None,
                    "day_case": day_case,
                    "delay_days": None,
                    "delay_cost": 0,
                    "unscheduled_cost": 0 if case["mandatory"] else weights.unscheduled_optional,
                }
            )
            continue
        delay = max(admission.admission_day - case["earliest_day"], 0)
        rows.append(
            {
                **case,
                "planned": True,
                "day": admission.admission_day,
                "theatre": admission.operating_theater_id,
                "sequence": None,
                "ward": ward_of_room[admission.room_id],
                "room": admission.room_id,
                "day_case": day_case,
                "delay_days": delay,
                "delay_cost": delay * weights.delay_day,
                "unscheduled_cost": 0,
            }
        )
    frame = pl.DataFrame(rows, schema={**SURGICAL_PLAN_SCHEMA, "age_group": pl.String(), "sex": pl.String()})
    # Order on each list: urgent cases first, then the longest (a common list-ordering habit).
    sequence = (
        frame.filter(pl.col("planned"))
        .sort(
            ["day", "theatre", "mandatory", "duration_minutes", "case_id"],
            descending=[False, False, True, True, False],
        )
        .with_columns(pl.int_range(1, pl.len() + 1).over(["day", "theatre"]).cast(pl.Int64).alias("seq"))
        .select("case_id", "seq")
    )
    frame = (
        frame.join(sequence, on="case_id", how="left")
        .with_columns(pl.col("seq").alias("sequence"))
        .select(list(SURGICAL_PLAN_SCHEMA))
    )
    return frame.sort(
        ["planned", "day", "theatre", "sequence", "case_id"],
        descending=[True, False, False, False, False],
        nulls_last=True,
    )


def plan_surgery(
    surgical: SurgicalInstance,
    time_limit_s: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[SolveProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> SurgicalPlan:
    """Solve the surgical admission plan and judge it with the independent checker.

    Parameters
    ----------
    surgical
        The instance (:func:`~scheduler.surgery.instance.build_surgical_instance`).
    time_limit_s
        Wall-clock budget [seconds]; the search uses all of it unless cancelled.
    workers
        Sub-models solved at the same time.
    seed
        Seed of the search.
    progress
        Called with each :class:`~scheduler.ihtc.SolveProgress`.
    cancel
        When set, the search stops and the best plan so far is returned.

    Returns
    -------
    SurgicalPlan
    """
    result = solve(
        surgical.instance,
        time_limit_s=time_limit_s,
        workers=workers,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    plan = _home_theatres(surgical, result.plan)
    evaluation = evaluate(surgical.instance, plan)
    status = result.status
    if evaluation.feasible and status in (SolveStatus.TIMEOUT, SolveStatus.INFEASIBLE):
        status = SolveStatus.FEASIBLE
    elif not evaluation.feasible and status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL):
        status = SolveStatus.TIMEOUT
    return SurgicalPlan(status, plan_frame(surgical, plan), plan, evaluation, result)


def beds_needed(surgical: SurgicalInstance, cases: pl.DataFrame) -> pl.DataFrame:
    """Elective patients in each ward's bays on each day of the plan (:data:`BEDS_NEEDED_SCHEMA`).

    Planned inpatients count from their surgery day for ``length_of_stay_days`` days; occupants count from
    day 0; day cases use the trolley area, not a bed.
    """
    days = surgical.instance.days
    ward_of_room = surgical.ward_of_room
    beds_by_ward: dict[str, int] = {}
    for bay in surgical.bays:
        beds_by_ward[bay.ward] = beds_by_ward.get(bay.ward, 0) + bay.beds
    counts = {(day, ward): 0 for day in range(days) for ward in beds_by_ward}
    for occupant in surgical.instance.occupants:
        for day in range(min(occupant.length_of_stay_days, days)):
            counts[(day, ward_of_room[occupant.room_id])] += 1
    for day, ward, stay in (
        cases.filter(pl.col("planned") & ~pl.col("day_case"))
        .select("day", "ward", "length_of_stay_days")
        .iter_rows()
    ):
        for d in range(day, min(day + stay, days)):
            counts[(d, ward)] += 1
    return pl.DataFrame(
        [
            {"day": day, "ward": ward, "elective_patients": n, "elective_beds": beds_by_ward[ward]}
            for (day, ward), n in counts.items()
            if ward != DAY_CASE_AREA
        ],
        schema=BEDS_NEEDED_SCHEMA,
    ).sort("day", "ward")


def theatre_use(surgical: SurgicalInstance, cases: pl.DataFrame) -> pl.DataFrame:
    """Planned minutes and cases on each elective theatre session (:data:`THEATRE_USE_SCHEMA`)."""
    planned = (
        cases.filter(pl.col("planned"))
        .group_by("day", "theatre")
        .agg(
            pl.col("duration_minutes").sum().alias("planned_minutes"), pl.len().cast(pl.Int64).alias("cases")
        )
    )
    sessions = pl.DataFrame(
        [
            {"day": day, "theatre": theatre.id, "session_minutes": minutes}
            for theatre in surgical.instance.operating_theaters
            for day, minutes in enumerate(theatre.availability_minutes)
            if minutes > 0
        ],
        schema={"day": pl.Int64(), "theatre": pl.String(), "session_minutes": pl.Int64()},
    )
    return (
        sessions.join(planned, on=["day", "theatre"], how="left")
        .with_columns(pl.col("planned_minutes").fill_null(0), pl.col("cases").fill_null(0))
        .select(list(THEATRE_USE_SCHEMA))
        .sort("day", "theatre")
    )
