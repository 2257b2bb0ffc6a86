"""Surgical admission plan on IHTC-2024 instances: reader, writer, independent checker and CP-SAT solver.

Which waiting patients to admit, on which day (surgery happens that day), into which room and operating
theater, and which nurse covers each room in each shift. See ``docs/reference/ihtc.md``.

Examples
--------
>>> from scheduler.ihtc import evaluate, load_instance, solve  # doctest: +SKIP
>>> instance = load_instance("../shared/data/ihtc2024/instances/test01.json")  # doctest: +SKIP
>>> result = solve(instance, time_limit_s=20, workers=1, seed=0)  # doctest: +SKIP
>>> evaluate(instance, result.plan).feasible  # doctest: +SKIP
True
"""

from scheduler.ihtc.checker import Evaluation, HardViolations, SoftCosts, evaluate
from scheduler.ihtc.instance import Instance, InstanceError, load_instance, parse_instance
from scheduler.ihtc.solution import (
    AdmissionPlan,
    NurseShiftAssignment,
    PatientAdmission,
    SolutionError,
    load_solution,
    parse_solution,
    plan_to_json,
    write_solution,
)
from scheduler.ihtc.solver import AdmissionPlanResult, SolveProgress, SolveStatus, solve

__all__ = [
    "AdmissionPlan",
    "AdmissionPlanResult",
    "Evaluation",
    "HardViolations",
    "Instance",
    "InstanceError",
    "NurseShiftAssignment",
    "PatientAdmission",
    "SoftCosts",
    "SolutionError",
    "SolveProgress",
    "SolveStatus",
    "evaluate",
    "load_instance",
    "load_solution",
    "parse_instance",
    "parse_solution",
    "plan_to_json",
    "solve",
    "write_solution",
]
