"""A team's roster in a fixed deterministic budget: a first roster, then windows of it re-rostered by CP-SAT.

One CP-SAT search of a whole team roster (15–24 nurses, 28 days) on one worker, either without its LP
(quick first rosters, poor ones: it stops improving far from the best cover) or with it (good rosters,
but often none at all within a few seconds), wastes most of a small budget. :func:`search_team_roster`
spends it in two steps instead, on one worker, every limit in *deterministic* time:

1. **First roster**: CP-SAT without its LP, stopped at its first roster (any hint already in the model,
   e.g. the published days, guides it). This also proves a team infeasible when it is.
2. **Neighbourhoods**: until the budget is spent, the best roster is kept everywhere except in a free
   part, which CP-SAT re-rosters with its LP (``linearization_level`` 2), starting from the best roster
   (a complete hint, so the search never returns anything worse). The free part is every nurse over a
   window of consecutive days (a window sees a weekend and the days around it together, and the rules
   that link days — successions, runs, complete weekends — stay exact at its edges because the days
   outside are fixed, not dropped) or, every ``pair_every``-th round, over two windows of half the width
   (moves work between two distant parts of the horizon, e.g. a weekend to a nurse with weekends left).
   Windows are drawn around days in proportion to their cover penalty. The window grows by a day when
   CP-SAT proves it holds nothing better, and shrinks when a round runs out of time; a window of the
   whole horizon proved optimal proves the roster optimal.

The neighbourhoods are drawn by a :class:`random.Random` seeded with ``seed`` and every CP-SAT run has one
worker and a deterministic limit, so the same model gives the same roster on every run, whatever the
load. Each round is charged at least ``round_charge`` deterministic seconds, so that many quick rounds
(whose fixed cost — loading the model, presolve — CP-SAT's clock hardly counts) still end the search in
about the same wall time as a few long ones. A wall-time limit stays as a safety net only.

Measured on a 19-nurse AMU team over 28 days at the nightly's budget (the test
``test_a_ward_roster_is_close_to_a_long_search_and_its_weekends_are_not_starved``): objective 51,626 with
4 nurse-shifts short, against 131,196 and 81 short for one CP-SAT run without its LP on the same kind of
budget, and 47,648 and 4 short for default CP-SAT, 120 s on 2 workers.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ortools.sat.python import cp_model

from scheduler.roster.model import RosterModel, SolverRun, run_solver, solution_from_run
from scheduler.roster.solution import RosterProgress, RosterSolution, RosterStatus

FIRST_ROSTER_PARAMETERS: Mapping[str, Any] = {"linearization_level": 0, "stop_after_first_solution": True}
"""CP-SAT parameters of the first roster (besides one worker, the seed and the deterministic limit)."""

NEIGHBOURHOOD_PARAMETERS: Mapping[str, Any] = {"linearization_level": 2}
"""CP-SAT parameters of a neighbourhood's search."""


@dataclass(frozen=True)
class TeamSearchSettings:
    """Budgets and neighbourhood sizes of :func:`search_team_roster`.

    Parameters
    ----------
    deterministic_seconds
        Budget of the whole search, first roster included [deterministic seconds].
    round_deterministic_seconds
        Limit of one neighbourhood's search [deterministic seconds].
    round_charge
        Least budget charged for one neighbourhood [deterministic seconds] (see the module docstring).
    window_days
        Days of the first window (every nurse free over them).
    min_window_days
        Narrowest window.
    pair_every
        Every this many rounds, the free part is two windows of half the width (0: never).
    seed
        Seed of the neighbourhood draws and of every CP-SAT run.
    wall_seconds
        Safety net on the whole search's wall time [s].
    """

    deterministic_seconds: float
    round_deterministic_seconds: float = 0.3
    round_charge: float = 0.03
    window_days: int = 7
    min_window_days: int = 3
    pair_every: int = 2
    seed: int = 0
    wall_seconds: float = 120.0


def search_team_roster(
    built: RosterModel,
    settings: TeamSearchSettings,
    *,
    progress: Callable[[RosterProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> RosterSolution:
    """The best roster of ``built`` (objective already set) found in the settings' deterministic budget.

    Parameters
    ----------
    built
        The team's model, with its objective set; a hint in it guides the first roster. Its hints are
        replaced during the search (its variables and constraints are left as they were).
    settings
        Budgets, window sizes, seed and the wall-time safety net.
    progress
        Called at every better roster.
    cancel
        Set it to stop; the best roster so far is returned with ``cancelled=True``.

    Returns
    -------
    RosterSolution
        ``optimal`` when CP-SAT proved the first roster, or a whole-horizon window, optimal; ``feasible``
        otherwise; ``infeasible`` or ``timeout`` (no roster) as the first search ends.
    """
    started = time.perf_counter()
    deadline = started + settings.wall_seconds
    rng = random.Random(settings.seed)
    model = built.model
    first = run_solver(
        model,
        time_limit_seconds=settings.wall_seconds,
        workers=1,
        seed=settings.seed,
        cancel=cancel,
        parameters={**FIRST_ROSTER_PARAMETERS, "max_deterministic_time": settings.deterministic_seconds},
    )
    used = first.solver.response_proto.deterministic_time
    bound = float(first.solver.best_objective_bound)
    best_run = first
    solutions = 0
    if first.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        solutions = 1
        _report(progress, solutions, first.solver.objective_value, bound, started)
    proved = first.status == cp_model.OPTIMAL
    cancelled = first.cancelled
    if first.status == cp_model.FEASIBLE and not cancelled:
        cells = _cells(built)
        day_penalties = _day_penalties(built)
        days = built.problem.days
        width = max(1, min(days, settings.window_days))
        best = list(first.solver.response_proto.solution)
        best_objective = first.solver.objective_value
        penalties = day_penalties(best)
        rounds = 0
        while used < settings.deterministic_seconds - 1e-9 and not proved:
            left_wall = deadline - time.perf_counter()
            if left_wall <= 0 or (cancel is not None and cancel.is_set()):
                cancelled = cancel is not None and cancel.is_set()
                break
            rounds += 1
            if settings.pair_every > 0 and rounds % settings.pair_every == 0:
                half = max(min(days, settings.min_window_days), (width + 1) // 2)
                free_days: set[int] = set()
                for _ in range(2):
                    start = _window_start(rng, penalties, half, days)
                    free_days.update(range(start, start + half))
                pair = True
            else:
                first_day = _window_start(rng, penalties, width, days)
                free_days = set(range(first_day, first_day + width))
                pair = False
            limit = min(settings.round_deterministic_seconds, settings.deterministic_seconds - used)
            seed = rng.randrange(1 << 30)
            run = _search_window(model, cells, best, free_days, limit, seed, left_wall, cancel)
            used += max(settings.round_charge, run.solver.response_proto.deterministic_time)
            cancelled = run.cancelled
            if run.status == cp_model.OPTIMAL:
                proved = len(free_days) == days
                if not pair:
                    width = min(days, width + 1)
            elif run.status != cp_model.INFEASIBLE and not pair:
                width = max(min(days, settings.min_window_days), width - 1)
            if run.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                objective = run.solver.objective_value
                if objective <= best_objective:
                    if objective < best_objective:
                        solutions += 1
                        _report(progress, solutions, objective, bound, started)
                    best = list(run.solver.response_proto.solution)
                    best_objective = objective
                    penalties = day_penalties(best)
                    best_run = run
            if cancelled:
                break
    solution = solution_from_run(built, best_run)
    if solution.roster is None:
        return replace(solution, seconds=time.perf_counter() - started, cancelled=cancelled)
    status = RosterStatus.OPTIMAL if proved else RosterStatus.FEASIBLE
    objective = solution.objective if solution.objective is not None else 0
    return replace(
        solution,
        status=status,
        bound=float(objective) if proved else bound,
        seconds=time.perf_counter() - started,
        cancelled=cancelled,
    )


def _cells(built: RosterModel) -> dict[tuple[str, int], list[int]]:
    """Indices of the assignment variables of each (nurse, day)."""
    cells: dict[tuple[str, int], list[int]] = {}
    for (nurse_id, day, _, _, _), var in built.variables.works.items():
        cells.setdefault((nurse_id, day), []).append(var.index)
    return cells


def _day_penalties(built: RosterModel) -> Callable[[list[int]], list[int]]:
    """A function giving, for a solution, each day's cover penalty: nurses short, agency, nurses over."""
    problem = built.problem
    variables = built.variables
    lines = []
    for line in problem.cover:
        staff = [var.index for var in variables.works_by_cover.get(line.key, [])]
        agency = variables.agency.get(line.key)
        offer = problem.agency_offer(line.skill) if agency is not None else None
        cost = offer.cost_per_shift if offer is not None else 0
        lines.append((line, staff, None if agency is None else agency.index, cost))

    def penalties(solution: list[int]) -> list[int]:
        by_day = [0] * problem.days
        for line, staff, agency, cost in lines:
            booked = 0 if agency is None else solution[agency]
            present = sum(solution[i] for i in staff) + booked
            by_day[line.day] += (
                line.under_weight * max(0, line.required_nurses - present)
                + line.over_weight * max(0, present - line.required_nurses)
                + cost * booked
            )
        return by_day

    return penalties


def _window_start(rng: random.Random, penalties: list[int], width: int, days: int) -> int:
    """First day of a window of ``width`` days: around a day drawn in proportion to its cover penalty."""
    if sum(penalties) <= 0:
        return rng.randrange(0, days - width + 1)
    day = rng.choices(range(days), weights=penalties)[0]
    lowest = max(0, day - width + 1)
    highest = min(day, days - width)
    return rng.randint(lowest, highest)


def _search_window(
    model: cp_model.CpModel,
    cells: Mapping[tuple[str, int], list[int]],
    best: list[int],
    free_days: set[int],
    deterministic_seconds: float,
    seed: int,
    wall_seconds: float,
    cancel: threading.Event | None,
) -> SolverRun:
    """Re-roster every nurse over ``free_days`` (every other day fixed as in ``best``), from ``best``.

    The assignments outside the neighbourhood are fixed by narrowing their variables' domains in place
    (presolve then removes them), and put back as they were afterwards.
    """
    proto = model.proto
    fixed: list[tuple[int, list[int]]] = []
    for (_, day), indices in cells.items():
        if day in free_days:
            continue
        for index in indices:
            domain = proto.variables[index].domain
            fixed.append((index, list(domain)))
            domain.clear()
            domain.extend([best[index], best[index]])
    model.clear_hints()
    proto.solution_hint.vars.extend(range(len(best)))
    proto.solution_hint.values.extend(best)
    try:
        return run_solver(
            model,
            time_limit_seconds=max(0.01, wall_seconds),
            workers=1,
            seed=seed,
            cancel=cancel,
            parameters={**NEIGHBOURHOOD_PARAMETERS, "max_deterministic_time": deterministic_seconds},
        )
    finally:
        for index, domain_before in fixed:
            domain = proto.variables[index].domain
            domain.clear()
            domain.extend(domain_before)


def _report(
    progress: Callable[[RosterProgress], None] | None,
    solutions: int,
    objective: float,
    bound: float,
    started: float,
) -> None:
    if progress is not None:
        progress(
            RosterProgress(
                solutions=solutions,
                objective=float(objective),
                bound=bound,
                seconds=time.perf_counter() - started,
            )
        )
