"""Build the CP-SAT roster model from its rules and solve it with progress reports and a cancel hook."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from scheduler.roster.problem import OBJECTIVE_TERMS, RosterProblem
from scheduler.roster.rules import (
    ROSTER_RULES,
    PenaltyTerm,
    RosterRule,
    RosterVariables,
    RuleGuards,
    create_variables,
)
from scheduler.roster.solution import (
    AgencyBooking,
    Assignment,
    Roster,
    RosterProgress,
    RosterSolution,
    RosterStatus,
)

ProgressCallback = Callable[[RosterProgress], None]
"""Called with a :class:`RosterProgress` each time the search finds a better roster."""


def default_parameters(workers: int) -> dict[str, Any]:
    """CP-SAT parameters used unless the caller overrides them.

    The full-problem worker uses the richer LP relaxation (``max_lp``: every clause of the sequence rules
    and the work-pattern automata linearised). On rosters its bound is far better than the default LP's
    and its LP solution guides the RINS/RENS neighbourhoods to good rosters.
    """
    if workers >= 2:
        return {"ignore_subsolvers": ["default_lp"], "extra_subsolvers": ["max_lp"]}
    return {"linearization_level": 2}


@dataclass
class RosterModel:
    """A built roster model: the CP-SAT model, its variables and the penalty terms of its objective."""

    problem: RosterProblem
    model: cp_model.CpModel
    variables: RosterVariables
    penalty_terms: list[PenaltyTerm]

    def set_objective(self, extra_terms: Iterable[PenaltyTerm] = ()) -> None:
        """Minimise the weighted sum of the penalty terms (plus ``extra_terms``), assembled once here."""
        terms = [*self.penalty_terms, *extra_terms]
        self.penalty_terms = terms
        expressions = [t.expression for t in terms]
        weights = [t.weight for t in terms]
        self.model.minimize(cp_model.LinearExpr.weighted_sum(expressions, weights))

    def add_hint(self, roster: Roster) -> None:
        """Start the search from ``roster`` (assignments outside the model are ignored)."""
        chosen = {(a.nurse_id, a.day, a.shift_id, a.unit_id, a.skill) for a in roster.assignments}
        for key, var in self.variables.works.items():
            self.model.add_hint(var, 1 if key in chosen else 0)
        booked = {(b.day, b.shift_id, b.unit_id, b.skill): b.nurses for b in roster.agency}
        for line_key, var in self.variables.agency.items():
            self.model.add_hint(var, booked.get(line_key, 0))

    def roster_from(self, solver: cp_model.CpSolver) -> Roster:
        """Read the roster from the solver's current solution."""
        assignments = [
            Assignment(nurse_id=n, day=d, shift_id=s, unit_id=u, skill=k)
            for (n, d, s, u, k), var in self.variables.works.items()
            if solver.boolean_value(var)
        ]
        agency = []
        for (d, s, u, k), var in self.variables.agency.items():
            booked = solver.value(var)
            if booked > 0:
                agency.append(AgencyBooking(day=d, shift_id=s, unit_id=u, skill=k, nurses=booked))
        return Roster(assignments=tuple(assignments), agency=tuple(agency))

    def objective_terms_from(self, solver: cp_model.CpSolver) -> dict[str, int]:
        """The objective split by term, from the solver's current solution."""
        values: dict[str, int] = defaultdict(int)
        for name in OBJECTIVE_TERMS:
            values[name] = 0
        for term in self.penalty_terms:
            values[term.term] += term.weight * int(solver.value(term.expression))
        return dict(values)


AUTOMATON_MAX_NURSE_DAYS = 512
"""Largest roster (nurses × days) for which the work-pattern automata are added by default.

Measured on the Curtois instances with 2 workers and 60 s: the automata lift small rosters a lot (Instance5
from 1,240 to 1,145, Instance6 from 2,043 to the optimum 1,950) but slow the search down on larger ones
(Instance7, 20 × 28: 1,072 without, 1,270 with; Instance9, 36 × 28: 443 without, 3,556 with), where the
expanded automata make the LP and the first solutions much slower."""


def use_work_pattern_automaton(problem: RosterProblem) -> bool:
    """Whether the work-pattern automata are added by default (see :data:`AUTOMATON_MAX_NURSE_DAYS`)."""
    return len(problem.nurses) * problem.days <= AUTOMATON_MAX_NURSE_DAYS


def build_roster_model(
    problem: RosterProblem,
    *,
    rules: Iterable[RosterRule] = ROSTER_RULES,
    guards: bool = False,
    with_extra_nurses: bool = False,
    work_pattern_automaton: bool | None = None,
) -> RosterModel:
    """Create the variables and post every rule; the objective is set by :meth:`RosterModel.set_objective`.

    Parameters
    ----------
    problem
        The roster problem.
    rules
        The ``add_<rule>`` functions to post, in order.
    guards
        Post hard rules under assumption literals (to explain infeasibility).
    with_extra_nurses
        Add hypothetical extra nurses on cover lines with a hard minimum.
    work_pattern_automaton
        Also post the sequence rules as one automaton per nurse (:func:`rules.add_work_pattern`); None
        decides by size with :func:`use_work_pattern_automaton`.
    """
    model = cp_model.CpModel()
    model.name = problem.name
    rule_guards = RuleGuards(model) if guards else None
    variables = create_variables(model, problem, with_extra_nurses=with_extra_nurses, guards=rule_guards)
    if work_pattern_automaton is None:
        work_pattern_automaton = use_work_pattern_automaton(problem)
    variables.work_pattern_automaton = work_pattern_automaton
    terms: list[PenaltyTerm] = []
    for rule in rules:
        terms.extend(rule(model, variables, problem))
    return RosterModel(problem=problem, model=model, variables=variables, penalty_terms=terms)


class _SolutionReporter(cp_model.CpSolverSolutionCallback):
    """Reports each improving roster and stops the search when the caller cancels."""

    def __init__(self, progress: ProgressCallback | None, cancel: threading.Event | None) -> None:
        super().__init__()
        self._progress = progress
        self._cancel = cancel
        self.solutions = 0
        self.cancelled = False

    def on_solution_callback(self) -> None:
        self.solutions += 1
        if self._progress is not None:
            self._progress(
                RosterProgress(
                    solutions=self.solutions,
                    objective=self.objective_value,
                    bound=self.best_objective_bound,
                    seconds=self.wall_time,
                )
            )
        if self._cancel is not None and self._cancel.is_set():
            self.cancelled = True
            self.stop_search()


@dataclass
class SolverRun:
    """What :func:`run_solver` returns: the solver (holding the last solution), its status and timing."""

    solver: cp_model.CpSolver
    status: Any
    seconds: float
    cancelled: bool


def run_solver(
    model: cp_model.CpModel,
    *,
    time_limit_seconds: float,
    workers: int,
    seed: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> SolverRun:
    """Solve ``model`` with CP-SAT, reporting progress and honouring ``cancel``.

    The cancel event is checked at each new solution and by a watcher thread (so that a search that has
    not found anything yet stops too).
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_seconds)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    for name, value in {**default_parameters(workers), **(parameters or {})}.items():
        if isinstance(value, list | tuple):
            repeated = getattr(solver.parameters, name)
            repeated.clear()
            repeated.extend(value)
        else:
            setattr(solver.parameters, name, value)
    reporter = _SolutionReporter(progress, cancel)
    finished = threading.Event()
    watcher_cancelled = threading.Event()

    def watch_cancel() -> None:
        assert cancel is not None
        while not finished.is_set():
            if cancel.wait(0.05):
                watcher_cancelled.set()
                solver.stop_search()
                return

    watcher = None
    if cancel is not None:
        if cancel.is_set():
            solver.parameters.max_time_in_seconds = 0.0
            watcher_cancelled.set()
        else:
            watcher = threading.Thread(target=watch_cancel, name="roster-cancel-watch", daemon=True)
            watcher.start()
    started = time.perf_counter()
    try:
        status = solver.solve(model, reporter)
    finally:
        finished.set()
        if watcher is not None:
            watcher.join()
    seconds = time.perf_counter() - started
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"the roster model is invalid: {model.validate()}")
    return SolverRun(
        solver=solver,
        status=status,
        seconds=seconds,
        cancelled=reporter.cancelled or watcher_cancelled.is_set(),
    )


def solution_from_run(built: RosterModel, run: SolverRun) -> RosterSolution:
    """Turn a solver run into a :class:`RosterSolution` (without an infeasibility explanation)."""
    solver = run.solver
    if run.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        roster = built.roster_from(solver)
        terms = built.objective_terms_from(solver)
        status = RosterStatus.OPTIMAL if run.status == cp_model.OPTIMAL else RosterStatus.FEASIBLE
        return RosterSolution(
            status=status,
            roster=roster,
            objective=sum(terms.values()),
            objective_terms=terms,
            bound=float(solver.best_objective_bound),
            seconds=run.seconds,
            cancelled=run.cancelled,
        )
    status = RosterStatus.INFEASIBLE if run.status == cp_model.INFEASIBLE else RosterStatus.TIMEOUT
    return RosterSolution(
        status=status,
        roster=None,
        objective=None,
        objective_terms={},
        bound=float(solver.best_objective_bound),
        seconds=run.seconds,
        cancelled=run.cancelled,
    )


def solve_roster(
    problem: RosterProblem,
    *,
    time_limit_seconds: float,
    workers: int = 2,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    hint: Roster | None = None,
    explain_infeasibility: bool = True,
    parameters: Mapping[str, Any] | None = None,
    work_pattern_automaton: bool | None = None,
) -> RosterSolution:
    """Find the roster with the least total penalty that meets every hard rule.

    Parameters
    ----------
    problem
        The roster problem.
    time_limit_seconds
        Wall-time limit of the search [s].
    workers
        CP-SAT search workers (threads).
    seed
        Random seed of the search.
    progress
        Called with a :class:`RosterProgress` at every improving roster.
    cancel
        Set this event to stop the search; the best roster so far is returned with ``cancelled=True``.
    hint
        A roster to start from (e.g. last week's published roster).
    explain_infeasibility
        When the hard rules cannot all be met, also work out what to relax
        (:func:`scheduler.roster.explain.explain_infeasibility`).
    parameters
        CP-SAT parameters by name, for tuning; they override :func:`default_parameters`.
    work_pattern_automaton
        Post the sequence rules also as automata (None: by size, see :func:`use_work_pattern_automaton`).

    Returns
    -------
    RosterSolution
        Status, roster, objective split by term, bound and seconds.

    Examples
    --------
    >>> from scheduler.roster.problem import Contract, CoverRequirement, Nurse, RosterProblem, ShiftType
    >>> problem = RosterProblem(
    ...     days=1,
    ...     shifts=(ShiftType("early", 480),),
    ...     nurses=(Nurse("ana", Contract(), skills={"rn"}, units={"ward"}),),
    ...     cover=(CoverRequirement(0, "early", "ward", "rn", 1, under_weight=10, over_weight=1),),
    ... )
    >>> solution = solve_roster(problem, time_limit_seconds=5, workers=1)
    >>> solution.status.value, solution.objective
    ('optimal', 0)
    """
    built = build_roster_model(problem, work_pattern_automaton=work_pattern_automaton)
    built.set_objective()
    if hint is not None:
        built.add_hint(hint)
    run = run_solver(
        built.model,
        time_limit_seconds=time_limit_seconds,
        workers=workers,
        seed=seed,
        progress=progress,
        cancel=cancel,
        parameters=parameters,
    )
    solution = solution_from_run(built, run)
    if solution.status is RosterStatus.INFEASIBLE and explain_infeasibility:
        from scheduler.roster.explain import explain_infeasibility as explain

        explanation = explain(problem, time_limit_seconds=time_limit_seconds, workers=workers, seed=seed)
        solution = RosterSolution(
            status=solution.status,
            roster=None,
            objective=None,
            objective_terms={},
            bound=solution.bound,
            seconds=solution.seconds,
            cancelled=solution.cancelled,
            explanation=explanation,
        )
    return solution
