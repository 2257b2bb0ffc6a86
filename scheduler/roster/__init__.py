"""Nurse roster optimisation with CP-SAT.

Typed inputs (:class:`RosterProblem` and its parts), the model (:func:`solve_roster`), an independent
checker (:func:`check_roster`), infeasibility explanations (:func:`explain_infeasibility`), repair after a
change (:func:`repair_roster`) and the Curtois benchmark reader (:mod:`scheduler.roster.curtois`).
"""

from scheduler.roster.checker import RosterCheck, RuleViolation, check_roster
from scheduler.roster.explain import (
    ConflictingRule,
    ExtraNurses,
    InfeasibilityExplanation,
    explain_infeasibility,
)
from scheduler.roster.model import ProgressCallback, build_roster_model, solve_roster
from scheduler.roster.problem import (
    OBJECTIVE_TERMS,
    AgencyOffer,
    Contract,
    CoverRequirement,
    Fairness,
    HardRule,
    Nurse,
    RosterInputError,
    RosterProblem,
    ShiftRequest,
    ShiftType,
)
from scheduler.roster.repair import RosterChange, mark_absent, repair_roster, roster_changes
from scheduler.roster.solution import (
    AgencyBooking,
    Assignment,
    NeighbourhoodRecord,
    Roster,
    RosterProgress,
    RosterSolution,
    RosterStatus,
)

__all__ = [
    "OBJECTIVE_TERMS",
    "AgencyBooking",
    "AgencyOffer",
    "Assignment",
    "ConflictingRule",
    "Contract",
    "CoverRequirement",
    "ExtraNurses",
    "Fairness",
    "HardRule",
    "InfeasibilityExplanation",
    "NeighbourhoodRecord",
    "Nurse",
    "ProgressCallback",
    "Roster",
    "RosterChange",
    "RosterCheck",
    "RosterInputError",
    "RosterProblem",
    "RosterProgress",
    "RosterSolution",
    "RosterStatus",
    "RuleViolation",
    "ShiftRequest",
    "ShiftType",
    "build_roster_model",
    "check_roster",
    "explain_infeasibility",
    "mark_absent",
    "repair_roster",
    "roster_changes",
    "solve_roster",
]
