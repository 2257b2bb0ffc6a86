"""Pieces shared by the CP-SAT sub-models: penalty terms, objective assembly and one bounded solve."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

__all__ = ["PenaltyTerm", "SubSolve", "minimise_penalties", "run_sub_model"]


@dataclass(frozen=True)
class PenaltyTerm:
    """One weighted piece of a sub-model's objective.

    Attributes
    ----------
    cost_term
        Name of the cost it stands for (a :class:`~scheduler.ihtc.checker.SoftCosts` field, or
        ``mandatory_unscheduled`` for the penalty that stands in for that hard rule).
    weight
        Multiplier of ``expression`` in the objective.
    expression
        A linear expression of the sub-model's variables.
    """

    cost_term: str
    weight: int
    expression: cp_model.LinearExprT


def weighted_sum(variables: Sequence[cp_model.IntVar], coefficients: Sequence[int]) -> cp_model.LinearExprT:
    """Σ coefficient x variable, built in one call (much faster than ``sum`` for long lists)."""
    return cp_model.LinearExpr.weighted_sum(list(variables), list(coefficients))


def minimise_penalties(model: cp_model.CpModel, penalty_lists: Iterable[list[PenaltyTerm]]) -> None:
    """Set the model's objective to the weighted sum of all penalty terms.

    Parameters
    ----------
    model
        The sub-model.
    penalty_lists
        The lists returned by the ``add_<rule>`` functions.
    """
    expressions = []
    weights = []
    for penalties in penalty_lists:
        for penalty in penalties:
            if penalty.weight:
                expressions.append(penalty.expression)
                weights.append(penalty.weight)
    model.minimize(cp_model.LinearExpr.weighted_sum(expressions, weights))


@dataclass(frozen=True)
class SubSolve:
    """Outcome of one bounded CP-SAT solve."""

    solver: cp_model.CpSolver
    status: cp_model.CpSolverStatus

    @property
    def has_solution(self) -> bool:
        """True when CP-SAT found a solution (feasible or optimal)."""
        return self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE)

    @property
    def proved_optimal(self) -> bool:
        """True when the sub-model was solved to optimality."""
        return self.status == cp_model.OPTIMAL


def run_sub_model(model: cp_model.CpModel, time_limit_s: float, workers: int, seed: int) -> SubSolve:
    """Solve a sub-model within a time limit.

    Parameters
    ----------
    model
        The sub-model, with hints set.
    time_limit_s
        Wall-clock limit [seconds].
    workers
        CP-SAT search workers.
    seed
        CP-SAT random seed.

    Returns
    -------
    SubSolve
        The solver (to read values) and its status.
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    # The sub-models are small; the stronger LP relaxation of level 2 proves their optimum many times faster
    # (continuity of care and excess workload are weak otherwise).
    solver.parameters.linearization_level = 2
    # Presolve dominates the time of small models; light presolve finishes the typical sub-model ~20 % sooner.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.max_presolve_iterations = 1
    status = solver.solve(model)
    return SubSolve(solver, status)
