"""The hospital's surgical admission plan, solved as an IHTC-2024 problem.

The scenario's theatres, surgical wards and nurses and an elective waiting list become an IHTC-2024 instance
(:func:`build_surgical_instance`); :func:`plan_surgery` solves it with :func:`scheduler.ihtc.solve`, checks it
with :func:`scheduler.ihtc.evaluate` and returns one row per case (:data:`SURGICAL_PLAN_SCHEMA`). See
``docs/reference/surgical-plan.md``.

Examples
--------
>>> from datetime import date
>>> from scenarios import load_scenario, scenario_path
>>> scenario = load_scenario(scenario_path("baseline"))
>>> waiting = generate_waiting_list(scenario, date(2024, 4, 15), days=7, seed=1)  # doctest: +SKIP
>>> surgical = build_surgical_instance(scenario, waiting, date(2024, 4, 15), days=7)  # doctest: +SKIP
>>> plan = plan_surgery(surgical, time_limit_s=10)  # doctest: +SKIP
>>> plan.evaluation.feasible  # doctest: +SKIP
True
"""

from scheduler.surgery.hospital import (
    Bay,
    SurgicalFirm,
    elective_bays,
    elective_beds_by_ward,
    expected_emergency_census,
    surgical_firms,
    surgical_wards,
)
from scheduler.surgery.instance import (
    NURSE_ROSTER_SCHEMA,
    OCCUPANTS_SCHEMA,
    PlanWeights,
    SurgicalInstance,
    build_surgical_instance,
    nurse_roster_from_assignments,
)
from scheduler.surgery.plan import (
    BEDS_NEEDED_SCHEMA,
    SURGICAL_PLAN_SCHEMA,
    THEATRE_USE_SCHEMA,
    SurgicalPlan,
    beds_needed,
    plan_frame,
    plan_surgery,
    theatre_use,
)
from scheduler.surgery.waiting_list import (
    AGE_GROUPS,
    SEXES,
    WAITING_LIST_CSV_COLUMNS,
    WAITING_LIST_SCHEMA,
    WaitingListError,
    check_waiting_list,
    generate_waiting_list,
    read_waiting_list,
)

__all__ = [
    "AGE_GROUPS",
    "BEDS_NEEDED_SCHEMA",
    "NURSE_ROSTER_SCHEMA",
    "OCCUPANTS_SCHEMA",
    "SEXES",
    "SURGICAL_PLAN_SCHEMA",
    "THEATRE_USE_SCHEMA",
    "WAITING_LIST_CSV_COLUMNS",
    "WAITING_LIST_SCHEMA",
    "Bay",
    "PlanWeights",
    "SurgicalFirm",
    "SurgicalInstance",
    "SurgicalPlan",
    "WaitingListError",
    "beds_needed",
    "build_surgical_instance",
    "check_waiting_list",
    "elective_bays",
    "elective_beds_by_ward",
    "expected_emergency_census",
    "generate_waiting_list",
    "nurse_roster_from_assignments",
    "plan_frame",
    "plan_surgery",
    "read_waiting_list",
    "surgical_firms",
    "surgical_wards",
    "theatre_use",
]
