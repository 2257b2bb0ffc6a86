"""Say what to relax when the hard rules of a roster cannot all be met.

Two answers, both from CP-SAT:

* **Fewest extra nurses.** Solve a relaxation where every hard rule stays but each cover line with a hard
  minimum may be topped up by hypothetical extra nurses, minimising their number. The result says, per
  day × shift × unit × skill, how many more nurses make the roster feasible, or that no number of extra
  nurses helps (the conflict lies in the contracts themselves).
* **Conflicting rules.** Post every hard rule (per nurse, per cover line) under an assumption literal and
  ask CP-SAT for a set of assumptions that is infeasible together
  (``SufficientAssumptionsForInfeasibility``); then shrink it by deletion while time allows, so that
  dropping any one of the remaining rules would remove the conflict.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from scheduler.roster.model import build_roster_model, run_solver
from scheduler.roster.problem import HardRule, RosterProblem
from scheduler.roster.solution import Roster


@dataclass(frozen=True, order=True)
class ExtraNurses:
    """Extra nurses needed on one day × shift × unit × skill."""

    day: int
    shift_id: str
    unit_id: str
    skill: str
    nurses: int


@dataclass(frozen=True, order=True)
class ConflictingRule:
    """A hard rule taking part in a conflict; ``subject`` is a nurse id or a cover line."""

    rule: HardRule
    subject: str


@dataclass(frozen=True)
class InfeasibilityExplanation:
    """What to relax to make a roster feasible.

    Attributes
    ----------
    problem_is_feasible
        True when the hard rules can in fact all be met (nothing to relax).
    extra_nurses
        Fewest extra nurses per day × shift × unit × skill that make the hard rules feasible.
    extra_nurses_suffice
        True when adding ``extra_nurses`` makes it feasible; False when no number of extra nurses helps;
        None when the search ran out of time.
    extra_nurses_proven_fewest
        Whether ``extra_nurses`` was proved to be the fewest.
    conflicting_rules
        Hard rules that cannot all hold together.
    conflict_is_minimal
        Whether dropping any single rule of ``conflicting_rules`` was checked to remove the conflict.
    """

    problem_is_feasible: bool
    extra_nurses: tuple[ExtraNurses, ...]
    extra_nurses_suffice: bool | None
    extra_nurses_proven_fewest: bool
    conflicting_rules: tuple[ConflictingRule, ...]
    conflict_is_minimal: bool

    @property
    def total_extra_nurses(self) -> int:
        """Total extra nurse-shifts needed."""
        return sum(e.nurses for e in self.extra_nurses)

    def extra_nurses_by_shift_and_skill(self) -> dict[tuple[str, str], int]:
        """Extra nurse-shifts summed per (shift id, skill)."""
        totals: Counter[tuple[str, str]] = Counter()
        for extra in self.extra_nurses:
            totals[(extra.shift_id, extra.skill)] += extra.nurses
        return dict(totals)

    def summary(self) -> list[str]:
        """Plain sentences for a planner."""
        if self.problem_is_feasible:
            return ["All hard rules can be met; nothing needs relaxing."]
        lines = []
        if self.extra_nurses_suffice:
            lines.append(f"{self.total_extra_nurses} extra nurse-shift(s) make the roster feasible:")
            lines += [
                f"  day {e.day} {e.shift_id} on {e.unit_id}: {e.nurses} more {e.skill} nurse(s)"
                for e in self.extra_nurses
            ]
        elif self.extra_nurses_suffice is False:
            lines.append("No number of extra nurses makes the roster feasible; relax a contract rule.")
        if self.conflicting_rules:
            lines.append("These rules cannot all hold together (relax one of them):")
            lines += [f"  {c.rule.value} for {c.subject}" for c in self.conflicting_rules]
        return lines


def fewest_extra_nurses(
    problem: RosterProblem,
    *,
    time_limit_seconds: float,
    workers: int = 1,
    seed: int = 0,
    parameters: Mapping[str, Any] | None = None,
    hint: Roster | None = None,
) -> tuple[bool | None, bool, tuple[ExtraNurses, ...]]:
    """Fewest extra nurses on cover lines with a hard minimum that make every hard rule feasible.

    ``parameters`` are CP-SAT parameters by name (e.g. ``max_deterministic_time`` for a run that gives
    the same answer on every machine). ``hint`` is a roster meeting every rule but (some of) the cover
    minimums: the search starts from it, topped up with the nurses it lacks.

    Returns
    -------
    (suffice, proven_fewest, extra_nurses)
        ``suffice`` is True when extra nurses make it feasible, False when they cannot, None on timeout.
    """
    built = build_roster_model(problem, with_extra_nurses=True)
    extras = built.variables.extra_nurses
    built.model.minimize(sum(extras.values()))
    if hint is not None:
        built.add_hint(hint)
        present: Counter[tuple[int, str, str, str]] = Counter()
        for a in hint.assignments:
            present[(a.day, a.shift_id, a.unit_id, a.skill)] += 1
        for b in hint.agency:
            present[(b.day, b.shift_id, b.unit_id, b.skill)] += b.nurses
        for line in problem.cover:
            if line.key in extras:
                built.model.add_hint(extras[line.key], max(0, line.minimum_nurses - present[line.key]))
    run = run_solver(
        built.model, time_limit_seconds=time_limit_seconds, workers=workers, seed=seed, parameters=parameters
    )
    if run.status == cp_model.INFEASIBLE:
        return False, True, ()
    if run.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, ()
    found = tuple(
        ExtraNurses(day=d, shift_id=s, unit_id=u, skill=k, nurses=int(run.solver.value(var)))
        for (d, s, u, k), var in sorted(extras.items())
        if run.solver.value(var) > 0
    )
    return True, run.status == cp_model.OPTIMAL, found


def _infeasible_under(
    problem: RosterProblem,
    assumed: list[tuple[str, str]],
    *,
    time_limit_seconds: float,
    seed: int,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bool | None, list[tuple[str, str]]]:
    """Solve with only ``assumed`` rules switched on: (infeasible?, sufficient subset when infeasible)."""
    built = build_roster_model(problem, guards=True)
    guards = built.variables.guards
    assert guards is not None
    wanted = set(assumed)
    for key, literal in guards.literals.items():
        if key not in wanted:
            built.model.add(literal == 0)
    ordered = [key for key in guards.literals if key in wanted]
    built.model.add_assumptions([guards.literals[key] for key in ordered])
    run = run_solver(
        built.model, time_limit_seconds=time_limit_seconds, workers=1, seed=seed, parameters=parameters
    )
    if run.status == cp_model.INFEASIBLE:
        core_indices = set(run.solver.sufficient_assumptions_for_infeasibility())
        by_index = {guards.literals[key].index: key for key in ordered}
        core = [by_index[i] for i in sorted(core_indices) if i in by_index]
        return True, core or ordered
    if run.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False, []
    return None, []


def conflicting_rules(
    problem: RosterProblem,
    *,
    time_limit_seconds: float,
    seed: int = 0,
    parameters: Mapping[str, Any] | None = None,
    max_checks: int | None = None,
) -> tuple[bool | None, bool, tuple[ConflictingRule, ...]]:
    """A set of hard rules that cannot all hold, shrunk by deletion while time allows.

    ``parameters`` are CP-SAT parameters of every solve; ``max_checks`` caps the deletion checks (with a
    deterministic-time limit in ``parameters``, a cap reached before the wall-time limit gives the same
    answer on every run).

    Returns
    -------
    (infeasible, minimal, rules)
        ``infeasible`` is False when all rules can hold, None on timeout.
    """
    started = time.perf_counter()
    every_rule = list(build_roster_model(problem, guards=True).variables.guards.literals)  # type: ignore[union-attr]
    infeasible, core = _infeasible_under(
        problem, every_rule, time_limit_seconds=time_limit_seconds / 2, seed=seed, parameters=parameters
    )
    if not infeasible:
        return infeasible, False, ()
    minimal = True
    kept = list(core)
    checks = 0
    for candidate in list(core):
        if candidate not in kept:
            continue
        left = time_limit_seconds - (time.perf_counter() - started)
        if left <= 0.05 or (max_checks is not None and checks >= max_checks):
            minimal = False
            break
        checks += 1
        trial = [key for key in kept if key != candidate]
        still_infeasible, smaller = _infeasible_under(
            problem,
            trial,
            time_limit_seconds=min(left, max(1.0, time_limit_seconds / 10)),
            seed=seed,
            parameters=parameters,
        )
        if still_infeasible:
            kept = [key for key in trial if key in set(smaller)] or trial
        elif still_infeasible is None:
            minimal = False
    rules = tuple(sorted(ConflictingRule(rule=HardRule(rule), subject=subject) for rule, subject in kept))
    return True, minimal, rules


def explain_infeasibility(
    problem: RosterProblem,
    *,
    time_limit_seconds: float = 60.0,
    workers: int = 1,
    seed: int = 0,
    parameters: Mapping[str, Any] | None = None,
    max_checks: int | None = None,
    hint: Roster | None = None,
) -> InfeasibilityExplanation:
    """Work out what to relax when the hard rules of ``problem`` cannot all be met.

    Parameters
    ----------
    problem
        The roster problem.
    time_limit_seconds
        Time budget [s], split between the extra-nurse relaxation and the conflict search.
    workers
        CP-SAT workers for the extra-nurse relaxation (the conflict search uses one worker, which
        CP-SAT needs to report the assumptions behind an infeasibility).
    seed
        Random seed.
    parameters
        CP-SAT parameters of every solve, e.g. ``{"max_deterministic_time": 5.0}`` (with one worker and
        ``max_checks``, the same explanation on every run, whatever the machine's load).
    max_checks
        Most deletion checks when shrinking the conflict (None: as many as time allows).
    hint
        A roster meeting every rule but some cover minimums, to start the extra-nurse search from.

    Returns
    -------
    InfeasibilityExplanation
        Fewest extra nurses and the conflicting rules.
    """
    half = time_limit_seconds / 2
    suffice, proven, extras = fewest_extra_nurses(
        problem, time_limit_seconds=half, workers=workers, seed=seed, parameters=parameters, hint=hint
    )
    if suffice and not extras:
        return InfeasibilityExplanation(
            problem_is_feasible=True,
            extra_nurses=(),
            extra_nurses_suffice=True,
            extra_nurses_proven_fewest=True,
            conflicting_rules=(),
            conflict_is_minimal=True,
        )
    infeasible, minimal, rules = conflicting_rules(
        problem, time_limit_seconds=half, seed=seed, parameters=parameters, max_checks=max_checks
    )
    return InfeasibilityExplanation(
        problem_is_feasible=infeasible is False,
        extra_nurses=extras,
        extra_nurses_suffice=suffice,
        extra_nurses_proven_fewest=proven,
        conflicting_rules=rules,
        conflict_is_minimal=minimal,
    )
