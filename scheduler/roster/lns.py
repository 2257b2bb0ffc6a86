"""Large neighbourhood search around the CP-SAT roster model, for large rosters and benchmarks.

1. A quick roster is built nurse by nurse (:func:`greedy_roster`).
2. Optionally (``first_share`` > 0, or when that roster breaks a hard rule) CP-SAT runs on the whole model
   for a share of the time, starting from that roster; this also gives the lower bound.
3. Until the final share of the time, each search thread frees part of the best roster — a few nurses
   over the whole horizon, every nurse over a few days, a block of both, nurses who could work a badly
   covered shift (drawn in proportion to its penalty), the shift types of a window, a refused request
   with those who could take it, or two weekends' changes of hands (:data:`ALL_NEIGHBOURHOODS`) — and
   lets CP-SAT re-roster the free part with everything else fixed (one worker per thread). Nurses with
   nothing free are left out of that small model: their cover counts are taken off the cover lines, which
   keeps the penalties exact. When most nurses are free, the whole model (built once) is copied instead
   and the fixed cells posted as one clause, which is ten times quicker than building the model again.
   Better or equal rosters (scored by the independent checker) replace the best one. The size of each
   kind of neighbourhood adapts: it grows when CP-SAT proves the neighbourhood holds nothing better, and
   shrinks when it runs out of time. When the search stalls (every kind searched several times since the
   last improvement), the time of one neighbourhood search doubles, so the sizes can grow past the local
   optimum the short searches are stuck in.
4. In the last share of the time (:data:`FINAL_SHARE`), or earlier once the searches stall at their
   longest time, CP-SAT searches the whole model with all the workers, from the best roster and with
   the shortfall caps posted: it can move work between many nurses at once, and it may prove the roster
   optimal.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ortools.sat.python import cp_model

from scheduler.roster.bounds import cover_lower_bound, priced_lines_by_part, shortfall_caps
from scheduler.roster.checker import check_roster
from scheduler.roster.model import (
    ProgressCallback,
    RosterModel,
    SolverRun,
    build_roster_model,
    run_solver,
    solution_from_run,
)
from scheduler.roster.problem import CoverRequirement, Fairness, RosterProblem
from scheduler.roster.rules import CoverKey
from scheduler.roster.solution import (
    NeighbourhoodRecord,
    Roster,
    RosterProgress,
    RosterSolution,
    RosterStatus,
)
from scheduler.roster.window import DayWindow, day_window

NEIGHBOURHOOD_PARAMETERS: Mapping[str, Any] = {"linearization_level": 2}
"""CP-SAT parameters of one neighbourhood search (one worker)."""

ALL_NEIGHBOURHOODS = ("nurses", "days", "block", "weak_cover", "shift_types", "requests", "weekends")
"""Kinds of neighbourhood: ``nurses`` frees a few nurses over the horizon; ``days`` every nurse over a
window of days; ``block`` a few nurses over a window; ``weak_cover`` nurses who could fill (or free) a
short (or over-covered) line, drawn in proportion to its penalty; ``shift_types`` keeps every nurse's
days on and off over a window of days and re-chooses only which shift each works (the runs, rest days and
weekends stay as they are, so a wide window stays a small model); ``requests`` frees a nurse whose request
is not granted (drawn in proportion to its weight) with nurses who could take her place, over the
horizon; ``weekends`` frees, around two weekends (two days either side), the nurses who work one of them
and not the other, so that weekends can change hands under a most-weekends rule."""

NEIGHBOURHOODS = ALL_NEIGHBOURHOODS
"""Kinds searched by default: all of them. At 600 s with 2 workers, the seven kinds (3 December 2026)
against the first four alone (2 December): Instance10 4,638 against 4,645, Instance11 3,443
against 3,449, Instance12 4,064 against 4,185 (one run each, seed 0)."""


def checked_neighbourhoods(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """``kinds`` without repeats, or a ValueError naming the unknown kinds (or the empty choice)."""
    unknown = sorted(set(kinds) - set(ALL_NEIGHBOURHOODS))
    if unknown or not kinds:
        named = ", ".join(unknown) if unknown else "none given"
        raise ValueError(f"neighbourhoods: {named}; choose from {', '.join(ALL_NEIGHBOURHOODS)}")
    return tuple(dict.fromkeys(kinds))


MIN_GREEDY_SECONDS = 0.1
"""Least search time of one nurse in the greedy start [s], however little time is left."""

GREEDY_SHARE = 0.5
"""Share of the time limit the greedy start plans its nurses' searches for (one single-nurse model at a
time; on a long horizon with many nurses a fixed second each would run past the limit)."""

GREEDY_TRIES = 3
"""Searches for one nurse's line in the greedy start: on a long horizon the first, short one may end
before any line is found (364-day lines took CP-SAT 2.7 and 4.8 s on a shared machine), so she is tried
again after the others."""

GREEDY_STOP_SHARE = 0.75
"""Past :data:`GREEDY_SHARE`, the greedy start goes on with the shortest searches until this share of the
time limit: a line for every nurse is worth more than the whole-model run a part-filled start needs."""

DAY_WINDOW_MIN_DAYS = 56
"""Horizons of at least this many days solve neighbourhoods of a few days in a model of those days and
their context (:mod:`scheduler.roster.window`) rather than a copy of the whole model. Not measured on
a benchmark: every shared Curtois instance is shorter, and a 120-nurse, 364-day model took 1.6 s to copy
before its presolve, against a 2 s neighbourhood limit."""

STALL_SEARCHES_PER_KIND = 8
"""Searches of each kind, on average, since the last improvement after which the search counts as stalled
and the time of one neighbourhood search doubles (up to ``max_neighbourhood_seconds``): the sizes adapt
to what CP-SAT can settle in the time given, so a longer time lets the neighbourhoods grow past the local
optimum the short ones are stuck in."""

STALL_GROWTH = 8.0
"""Default most time of one neighbourhood search, as a multiple of the first one."""

FINAL_SHARE = 0.4
"""Default share of the time limit left, at the latest, to the final search of the whole model: the
neighbourhoods stop then, or earlier when they stall at their longest time, and CP-SAT searches the whole
model from the best roster (every variable hinted) with the shortfall caps of
:func:`scheduler.roster.bounds.shortfall_caps` posted. Small neighbourhoods cannot move minutes between
many nurses at once; the whole model's LP can, and with the caps it gave Instance10 a bound of 4,625
within a minute, where without them the root LP never finished in 150 s. From a roster at 4,637 where
the neighbourhoods had stalled, it reached 4,633 in 240 s (bound 4,627); in the default 600-s runs,
Instance10 reached 4,631 at three seeds of four (proved optimal at two)."""

WHOLE_MODEL_RECORD = "whole_model"
"""Key of the final search of the whole model in :attr:`RosterSolution.neighbourhoods`."""

FINAL_MIN_SECONDS = 5.0
"""Least time worth a final search of the whole model [s]; with less left, the neighbourhoods go on."""

WHOLE_MODEL_SHARE = 0.5
"""Neighbourhoods freeing at least this share of the nurses copy the whole model (built once) instead of
building a model of the free nurses: on Instance12 (60 × 28) building takes 0.5 s, copying 0.05 s."""

Cell = tuple[str, int]
"""(nurse_id, day)."""


def _cover_key(day: int, shift_id: str, unit_id: str, skill: str) -> CoverKey:
    return (day, shift_id, unit_id, skill)


def subproblem(problem: RosterProblem, roster: Roster, free_nurses: set[str]) -> RosterProblem:
    """The roster problem of ``free_nurses`` alone, the others' assignments in ``roster`` taken as given.

    Cover lines are reduced by the nurses left out (below zero, every extra nurse is over-cover, so the
    penalties differ from the full problem's by a constant). With fairness weights, nobody can be left
    out, so the problem is returned whole.
    """
    fairness_on = problem.fairness.night_spread_weight or problem.fairness.weekend_spread_weight
    if fairness_on or len(free_nurses) == len(problem.nurses):
        return problem
    staffed: Counter[CoverKey] = Counter(
        _cover_key(a.day, a.shift_id, a.unit_id, a.skill)
        for a in roster.assignments
        if a.nurse_id not in free_nurses
    )
    cover = tuple(
        replace(
            line,
            required_nurses=max(0, line.required_nurses - staffed[line.key]),
            minimum_nurses=max(0, line.minimum_nurses - staffed[line.key]),
        )
        for line in problem.cover
    )
    return RosterProblem(
        days=problem.days,
        shifts=problem.shifts,
        nurses=tuple(n for n in problem.nurses if n.nurse_id in free_nurses),
        cover=cover,
        requests=tuple(r for r in problem.requests if r.nurse_id in free_nurses),
        agency=problem.agency,
        fairness=Fairness(),
        start_weekday=problem.start_weekday,
        name=f"{problem.name} (part)",
    )


def _merge(roster: Roster, part: Roster, free_nurses: set[str]) -> Roster:
    kept = tuple(a for a in roster.assignments if a.nurse_id not in free_nurses)
    return Roster(assignments=kept + part.assignments, agency=part.agency)


def greedy_roster(
    problem: RosterProblem,
    *,
    seed: int = 0,
    seconds_per_nurse: float = 1.0,
    deadline: float | None = None,
    stop_at: float | None = None,
    cancel: threading.Event | None = None,
) -> Roster:
    """A quick roster built nurse by nurse: each nurse gets her best roster given those already rostered.

    Hard cover minimums, agency and fairness are left to the search that follows (each nurse is
    rostered as if there were no fairness terms). Nurses go in a seeded random order. With a
    ``deadline`` (a ``time.perf_counter()`` value), each nurse's search gets at most an equal share of
    the time left once the other nurses' models are built, and past it the least
    (:data:`MIN_GREEDY_SECONDS`), so that every nurse still gets a line. A nurse whose search ends
    without a line is tried again, with twice the time, after the others (:data:`GREEDY_TRIES` in
    all). At ``stop_at`` (default: the
    deadline) or on ``cancel``, the nurses not yet rostered are left without shifts (which may break
    their minimums: the caller repairs that).
    """
    if stop_at is None:
        stop_at = deadline
    order = [n.nurse_id for n in problem.nurses]
    random.Random(seed).shuffle(order)
    roster = Roster(())
    # fairness compares nurses, so with it a one-nurse part would be the whole problem: leave it out here
    without_fairness = replace(problem, fairness=Fairness())
    building = 0.0  # longest time so far to build one nurse's model [s]
    pending = deque(order)
    tries: Counter[str] = Counter()
    while pending:
        cancelled = cancel is not None and cancel.is_set()
        if cancelled or (stop_at is not None and time.perf_counter() >= stop_at):
            break
        nurse_id = pending.popleft()
        step_started = time.perf_counter()
        single = subproblem(without_fairness, roster, {nurse_id})
        single = replace(
            single, agency=(), cover=tuple(replace(line, minimum_nurses=0) for line in single.cover)
        )
        built = build_roster_model(single, work_pattern_automaton=True)
        built.set_objective()
        building = max(building, time.perf_counter() - step_started)
        # a nurse tried again (no line found in time) gets twice the time of her last try
        limit = seconds_per_nurse * 2 ** tries[nurse_id]
        if deadline is not None and stop_at is not None:
            now = time.perf_counter()
            until = deadline if now < deadline else stop_at
            # an equal share of what is left, after the later nurses' builds, for each nurse still to place
            share = (until - now - len(pending) * building) / (len(pending) + 1)
            limit = min(limit, max(MIN_GREEDY_SECONDS * 2 ** tries[nurse_id], share))
        run = run_solver(built.model, time_limit_seconds=limit, workers=1, seed=seed)
        if run.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            roster = _merge(roster, built.roster_from(run.solver), {nurse_id})
        elif run.status != cp_model.INFEASIBLE and tries[nurse_id] < GREEDY_TRIES - 1:
            tries[nurse_id] += 1
            pending.append(nurse_id)
    return Roster(roster.assignments)


def _set_hint(model: cp_model.CpModel, values: list[int]) -> None:
    """Hint every variable of ``model`` with ``values`` (a complete solution of the same model)."""
    model.clear_hints()
    hint = model.proto.solution_hint
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)


def _complete_hint(built: RosterModel, roster: Roster, *, seconds: float) -> bool:
    """Hint every variable of the model (auxiliary ones too) with ``roster``; False if it breaks a rule."""
    model = built.model.clone()
    model.clear_hints()
    chosen = {(a.nurse_id, a.day, a.shift_id, a.unit_id, a.skill) for a in roster.assignments}
    model.add_bool_and([var if key in chosen else var.Not() for key, var in built.variables.works.items()])
    booked = {(b.day, b.shift_id, b.unit_id, b.skill): b.nurses for b in roster.agency}
    for key, var in built.variables.agency.items():
        model.add(var == booked.get(key, 0))
    run = run_solver(model, time_limit_seconds=seconds, workers=1, seed=0)
    if run.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    _set_hint(built.model, list(run.solver.response_proto.solution))
    return True


def _fix_and_hint(
    built: RosterModel, roster: Roster, free: set[Cell], nurses: set[str], *, keep_days_worked: bool
) -> None:
    """Fix the cells of ``nurses`` outside ``free`` to ``roster`` and hint the whole model with it."""
    chosen = {(a.nurse_id, a.day, a.shift_id, a.unit_id, a.skill) for a in roster.assignments}
    keys = [key for key in built.variables.works if key[0] in nurses]
    fixed = [
        built.variables.works[key] if key in chosen else built.variables.works[key].Not()
        for key in keys
        if (key[0], key[1]) not in free
    ]
    if keep_days_worked:
        worked = {(a.nurse_id, a.day) for a in roster.assignments}
        fixed.extend(
            built.variables.works_day[cell] if cell in worked else built.variables.works_day[cell].Not()
            for cell in free
            if cell[0] in nurses
        )
    if fixed:
        built.model.add_bool_and(fixed)
    built.model.clear_hints()
    hint = built.model.proto.solution_hint
    hint.vars.extend(built.variables.works[key].index for key in keys)
    hint.values.extend(1 if key in chosen else 0 for key in keys)
    booked = {(b.day, b.shift_id, b.unit_id, b.skill): b.nurses for b in roster.agency}
    for line_key, var in built.variables.agency.items():
        hint.vars.append(var.index)
        hint.values.append(booked.get(line_key, 0))


@dataclass
class _Neighbourhood:
    """A neighbourhood's model, the nurses in it, and the roster it was cut from."""

    built: RosterModel
    nurses: set[str]
    roster: Roster
    window: DayWindow | None = None
    """Set when the model covers only these days of the horizon (its days counted from the window)."""

    def merge(self, found: Roster) -> Roster:
        """The whole roster with the neighbourhood's answer ``found`` put in."""
        if self.window is not None:
            return self.window.merge(self.roster, found)
        return _merge(self.roster, found, self.nurses)


@dataclass
class _Best:
    roster: Roster
    objective: int


@dataclass
class _Difficulty:
    """Share of the roster freed by a kind of neighbourhood, adapted to how its searches end."""

    share: float = 0.1

    def solved(self) -> None:
        self.share = min(0.9, self.share * 1.2)

    def timed_out(self) -> None:
        self.share = max(0.01, self.share / 1.2)


class _Search:
    """Neighbourhood search threads sharing the best roster."""

    def __init__(
        self,
        problem: RosterProblem,
        best: _Best,
        *,
        deadline: float,
        started: float,
        neighbourhood_seconds: float,
        max_neighbourhood_seconds: float | None = None,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        bound: float,
        solutions: int,
        whole: RosterModel | None = None,
        kinds: tuple[str, ...] = NEIGHBOURHOODS,
        shortfall_cuts: bool = False,
        stop_when_stalled: bool = False,
    ) -> None:
        self.kinds = checked_neighbourhoods(kinds)
        self.stop_when_stalled = stop_when_stalled
        self.stalled = False
        """Set when the search stalled at its longest neighbourhood time (with ``stop_when_stalled``, the
        threads then stop)."""
        self.shortfall_cuts = shortfall_cuts
        weekend_lines, weekday_lines = priced_lines_by_part(problem)
        self._capped_lines = ([line.key for line in weekend_lines], [line.key for line in weekday_lines])
        self._caps: dict[int, tuple[int, int] | None] = {}
        self.problem = problem
        self.best = best
        self.deadline = deadline
        self.started = started
        self.neighbourhood_seconds = neighbourhood_seconds
        """Time of one neighbourhood search now [s]: doubles when the search stalls."""
        self.max_neighbourhood_seconds = (
            STALL_GROWTH * neighbourhood_seconds
            if max_neighbourhood_seconds is None
            else max(neighbourhood_seconds, max_neighbourhood_seconds)
        )
        self.since_improvement = 0
        """Searches (all kinds, all threads) since the best roster last improved, or since the time grew."""
        self.progress = progress
        self.cancel = cancel
        self.bound = bound
        self.solutions = solutions
        self.cancelled = False
        self.lock = threading.Lock()
        self.difficulty = {kind: _Difficulty() for kind in self.kinds}
        self.statistics = {kind: [0, 0, 0] for kind in self.kinds}
        """Per kind of neighbourhood: searches, searches proved optimal, improvements (for tuning)."""
        self.nurse_ids = [n.nurse_id for n in problem.nurses]
        self.whole = whole
        """The whole model with the work-pattern automata, copied for neighbourhoods of most nurses; built
        on first use when not given (on a long horizon the day windows may never need it)."""
        self._whole_lock = threading.Lock()

    def _whole_model(self) -> RosterModel:
        """The whole model with the work-pattern automata (built once, by whichever thread first needs it)."""
        with self._whole_lock:
            if self.whole is None:
                whole = build_roster_model(self.problem, work_pattern_automaton=True)
                whole.set_objective()
                self.whole = whole
            return self.whole

    def _copy_of_whole_model(self) -> RosterModel:
        """A copy of the whole model to add constraints to (its variables shared with the original)."""
        whole = self._whole_model()
        return RosterModel(
            problem=whole.problem,
            model=whole.model.clone(),
            variables=whole.variables,
            penalty_terms=whole.penalty_terms,
        )

    def _free_cells(self, kind: str, rng: random.Random, roster: Roster) -> set[Cell]:
        days = self.problem.days
        share = self.difficulty[kind].share
        nurse_count = max(2, min(len(self.nurse_ids), round(share * len(self.nurse_ids))))
        if kind == "nurses":
            chosen = rng.sample(self.nurse_ids, nurse_count)
            return {(n, d) for n in chosen for d in range(days)}
        if kind == "days":
            width = max(2, min(days, round(share * days)))
            first = rng.randrange(0, days - width + 1)
            return {(n, d) for n in self.nurse_ids for d in range(first, first + width)}
        if kind == "block":
            chosen = rng.sample(self.nurse_ids, min(len(self.nurse_ids), 2 * nurse_count))
            width = max(3, min(days, round(2 * share * days)))
            first = rng.randrange(0, days - width + 1)
            return {(n, d) for n in chosen for d in range(first, first + width)}
        if kind == "shift_types":
            # only the shift of each worked day changes, so three times the days of a "days" window
            width = max(3, min(days, round(3 * share * days)))
            first = rng.randrange(0, days - width + 1)
            return {(n, d) for n in self.nurse_ids for d in range(first, first + width)}
        if kind == "requests":
            return self._unmet_request_cells(rng, roster, nurse_count)
        if kind == "weekends":
            return self._weekend_swap_cells(rng, roster, 2 * nurse_count)
        return self._weak_cover_cells(rng, roster, nurse_count)

    def _weak_line(self, rng: random.Random, roster: Roster) -> CoverRequirement | None:
        """A short or over-covered cover line, drawn with probability in proportion to its penalty."""
        staffed: Counter[CoverKey] = Counter(
            _cover_key(a.day, a.shift_id, a.unit_id, a.skill) for a in roster.assignments
        )
        for booking in roster.agency:
            staffed[_cover_key(booking.day, booking.shift_id, booking.unit_id, booking.skill)] += (
                booking.nurses
            )
        weak = []
        penalties = []
        for line in self.problem.cover:
            present = staffed[line.key]
            penalty = line.under_weight * max(0, line.required_nurses - present) + line.over_weight * max(
                0, present - line.required_nurses
            )
            if penalty > 0:
                weak.append(line)
                penalties.append(penalty)
        if not weak:
            return None
        return rng.choices(weak, weights=penalties)[0]

    def _could_work(self, line: CoverRequirement) -> list[str]:
        return [
            n.nurse_id
            for n in self.problem.nurses
            if line.unit_id in n.units and line.skill in n.skills and line.day not in n.unavailable_days
        ]

    def _weak_cover_cells(self, rng: random.Random, roster: Roster, nurse_count: int) -> set[Cell]:
        """Nurses who could fill (or free) a short (or over-covered) cover line, over the whole horizon."""
        line = self._weak_line(rng, roster)
        if line is None:
            return {(n, d) for n in rng.sample(self.nurse_ids, nurse_count) for d in range(self.problem.days)}
        candidates = self._could_work(line)
        rng.shuffle(candidates)
        chosen = set(candidates[: max(1, nurse_count - 1)])
        chosen.add(rng.choice(self.nurse_ids))
        return {(n, d) for n in chosen for d in range(self.problem.days)}

    def _unmet_request_cells(self, rng: random.Random, roster: Roster, nurse_count: int) -> set[Cell]:
        """A nurse whose request is not granted and nurses who could work the shift at stake (whole horizon).

        The request is drawn with probability in proportion to its weight. The shift at stake is the one
        asked for (a shift-on request) or the one she works against her wish (a shift-off request); for a
        day-on request, any shift of that day.
        """
        on_day = {(a.nurse_id, a.day): a.shift_id for a in roster.assignments}
        unavailable = {n.nurse_id: n.unavailable_days for n in self.problem.nurses}
        unmet = []
        weights = []
        for request in self.problem.requests:
            if request.weight <= 0 or (request.wants_shift and request.day in unavailable[request.nurse_id]):
                continue  # nothing to gain, or a wish to work a day she cannot work
            shift = on_day.get((request.nurse_id, request.day))
            # she works what the request is about: that shift, or any shift for a day request
            works_it = shift is not None and request.shift_id in (None, shift)
            if works_it != request.wants_shift:
                unmet.append(request)
                weights.append(request.weight)
        if not unmet:
            return self._weak_cover_cells(rng, roster, nurse_count)
        request = rng.choices(unmet, weights=weights)[0]
        shift_at_stake = (
            request.shift_id if request.wants_shift else on_day.get((request.nurse_id, request.day))
        )
        lines = [
            line
            for line in self.problem.cover
            if line.day == request.day and shift_at_stake in (None, line.shift_id)
        ]
        candidates: list[str] = []
        if lines:
            candidates = [n for n in self._could_work(rng.choice(lines)) if n != request.nurse_id]
        rng.shuffle(candidates)
        chosen = {request.nurse_id, *candidates[: max(1, nurse_count - 1)]}
        return {(n, d) for n in chosen for d in range(self.problem.days)}

    def _weekend_swap_cells(self, rng: random.Random, roster: Roster, nurse_count: int) -> set[Cell]:
        """Nurses working one of two weekends but not the other, over both weekends and two days around each.

        At most ``nurse_count`` nurses, as many from each side as can be; with fewer than two weekends, or
        nobody to swap, the nurses of a badly covered line instead.
        """
        weekends = self.problem.weekends()
        if len(weekends) < 2:
            return self._weak_cover_cells(rng, roster, nurse_count)
        first, second = rng.sample(range(len(weekends)), 2)
        days_on = {(a.nurse_id, a.day) for a in roster.assignments}

        def works(nurse_id: str, weekend: int) -> bool:
            return any((nurse_id, d) in days_on for d in weekends[weekend])

        only_first = [n for n in self.nurse_ids if works(n, first) and not works(n, second)]
        only_second = [n for n in self.nurse_ids if works(n, second) and not works(n, first)]
        if not only_first and not only_second:
            return self._weak_cover_cells(rng, roster, nurse_count)
        rng.shuffle(only_first)
        rng.shuffle(only_second)
        half = max(1, nurse_count // 2)
        chosen = only_first[:half] + only_second[:half]
        days: set[int] = set()
        for weekend in (first, second):
            days.update(
                range(max(0, weekends[weekend][0] - 2), min(self.problem.days, weekends[weekend][-1] + 3))
            )
        return {(n, d) for n in chosen for d in days}

    def _add_shortfall_cuts(self, built: RosterModel, objective: int) -> None:
        """Cap the nurses short on weekend and on weekday lines at what a roster costing ``objective`` allows.

        Sound for any roster no worse than ``objective`` (:func:`scheduler.roster.bounds.shortfall_caps`);
        a sub-model's shortfall on a line equals the whole roster's, so the caps hold in sub-models too.
        """
        if objective not in self._caps:
            self._caps[objective] = shortfall_caps(self.problem, objective)
        caps = self._caps[objective]
        if caps is None:
            return
        for cap, keys in zip(caps, self._capped_lines, strict=True):
            short = [built.variables.shortfall[key] for key in keys if key in built.variables.shortfall]
            if short:
                built.model.add(cp_model.LinearExpr.sum(short) <= cap)

    def _neighbourhood_model(
        self, roster: Roster, free: set[Cell], *, keep_days_worked: bool = False
    ) -> _Neighbourhood:
        """The model of one neighbourhood (cells outside ``free`` fixed to ``roster``), and how to merge it.

        On a long horizon (:data:`DAY_WINDOW_MIN_DAYS`), free cells within a few days are solved in a
        model of those days and their context only (:func:`scheduler.roster.window.day_window`). When most
        nurses are free (or nobody can be left out), the whole model built once is copied and the fixed
        cells are posted as one clause; otherwise a small model of the free nurses is built. With
        ``keep_days_worked``, each free cell keeps whether the nurse works that day: only the shift (and
        unit and skill) she works may change.
        """
        if self.problem.days >= DAY_WINDOW_MIN_DAYS:
            days = sorted({d for _, d in free})
            window = day_window(self.problem, roster, days[0], days[-1])
            if window is not None and 2 * (window.stop - window.start) <= self.problem.days:
                built = build_roster_model(window.problem, work_pattern_automaton=True)
                built.set_objective()
                inside = window.cut(roster)
                shifted = {(n, d - window.start) for n, d in free}
                _fix_and_hint(built, inside, shifted, set(self.nurse_ids), keep_days_worked=keep_days_worked)
                return _Neighbourhood(built, set(self.nurse_ids), roster, window=window)
        free_nurses = {n for n, _ in free}
        part = subproblem(self.problem, roster, free_nurses)
        if part is self.problem or len(free_nurses) >= WHOLE_MODEL_SHARE * len(self.nurse_ids):
            built = self._copy_of_whole_model()
            in_part = set(self.nurse_ids)
        else:
            built = build_roster_model(part, work_pattern_automaton=True)
            built.set_objective()
            in_part = {n.nurse_id for n in part.nurses}
        _fix_and_hint(built, roster, free, in_part, keep_days_worked=keep_days_worked)
        return _Neighbourhood(built, in_part, roster)

    def _step(self, rng: random.Random) -> None:
        with self.lock:
            best = self.best
        self._search_neighbourhood(rng.choice(self.kinds), rng, best)

    def _search_neighbourhood(self, kind: str, rng: random.Random, best: _Best) -> bool:
        """Free a neighbourhood of ``kind`` in ``best`` and re-roster it; True if the best roster improved."""
        free = self._free_cells(kind, rng, best.roster)
        neighbourhood = self._neighbourhood_model(best.roster, free, keep_days_worked=kind == "shift_types")
        built = neighbourhood.built
        if self.shortfall_cuts and neighbourhood.window is None:
            self._add_shortfall_cuts(built, best.objective)
        left = self.deadline - time.perf_counter()
        if left <= 0.05:
            return False
        with self.lock:
            seconds = self.neighbourhood_seconds
        run = run_solver(
            built.model,
            time_limit_seconds=min(seconds, left),
            workers=1,
            seed=rng.randrange(1 << 30),
            cancel=self.cancel,
            parameters=NEIGHBOURHOOD_PARAMETERS,
        )
        if run.cancelled:
            self.cancelled = True
        # the counts are reported (RosterSolution.neighbourhoods): the other thread may count the same kind
        with self.lock:
            self.statistics[kind][0] += 1
            if run.status == cp_model.OPTIMAL:
                self.statistics[kind][1] += 1
                self.difficulty[kind].solved()
            elif run.status != cp_model.INFEASIBLE:
                self.difficulty[kind].timed_out()
            self._count_stall()
        if run.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        candidate = neighbourhood.merge(built.roster_from(run.solver))
        check = check_roster(self.problem, candidate)
        if not check.feasible:
            return False
        with self.lock:
            if check.objective > self.best.objective:
                return False
            improved = check.objective < self.best.objective
            self.best = _Best(roster=candidate, objective=check.objective)
            if improved:
                self.since_improvement = 0
                self.statistics[kind][2] += 1
                self.solutions += 1
                if self.progress is not None:
                    self.progress(
                        RosterProgress(
                            solutions=self.solutions,
                            objective=float(check.objective),
                            bound=self.bound,
                            seconds=time.perf_counter() - self.started,
                        )
                    )
        return improved

    def _count_stall(self) -> None:
        """Count one more search without improvement; double the search time when stalled (lock held)."""
        self.since_improvement += 1
        stalled = self.since_improvement >= STALL_SEARCHES_PER_KIND * len(self.kinds)
        if stalled and self.neighbourhood_seconds < self.max_neighbourhood_seconds:
            self.neighbourhood_seconds = min(self.max_neighbourhood_seconds, 2 * self.neighbourhood_seconds)
            self.since_improvement = 0
        elif stalled:
            self.stalled = True

    def search_whole_model(self, *, deadline: float, workers: int, seed: int) -> NeighbourhoodRecord:
        """CP-SAT on the whole model from the best roster until ``deadline``, the shortfall caps posted.

        Every variable is hinted with the best roster, so CP-SAT starts from it; the caps remove no roster
        as good as it. A better roster found replaces the best one; the bound rises to the model's bound
        (capped by the best objective, as the caps only hold for rosters no worse). Returns the record of
        this one search (proved: the best roster is optimal).
        """
        built = self._copy_of_whole_model()
        built.model.clear_hints()
        left = deadline - time.perf_counter()
        _complete_hint(built, self.best.roster, seconds=min(10.0, max(1.0, 0.1 * left)))
        start = self.best.objective
        self._add_shortfall_cuts(built, start)
        offset = time.perf_counter() - self.started
        improvements = 0

        def report(found: RosterProgress) -> None:
            nonlocal improvements
            if found.objective < start and self.progress is not None:
                improvements += 1
                self.progress(
                    RosterProgress(
                        solutions=self.solutions + improvements,
                        objective=found.objective,
                        bound=max(self.bound, min(found.bound, found.objective)),
                        seconds=offset + found.seconds,
                    )
                )

        run = run_solver(
            built.model,
            time_limit_seconds=max(0.1, deadline - time.perf_counter()),
            workers=workers,
            seed=seed,
            progress=report,
            cancel=self.cancel,
        )
        if run.cancelled:
            self.cancelled = True
        improved = 0
        if run.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            candidate = built.roster_from(run.solver)
            check = check_roster(self.problem, candidate)
            if check.feasible and check.objective <= self.best.objective:
                improved = int(check.objective < self.best.objective)
                self.best = _Best(roster=candidate, objective=check.objective)
                self.solutions += improved
            proved = run.status == cp_model.OPTIMAL and check.feasible
            model_bound = float(self.best.objective) if proved else run.solver.best_objective_bound
            self.bound = max(self.bound, min(float(self.best.objective), model_bound))
        return NeighbourhoodRecord(
            searches=1, proved=int(run.status == cp_model.OPTIMAL), improvements=improved
        )

    def run_thread(self, seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < self.deadline - 0.05 and not self.cancelled:
            if self.stop_when_stalled and self.stalled:
                return
            if self.cancel is not None and self.cancel.is_set():
                self.cancelled = True
                return
            with self.lock:
                if self.best.objective <= math.ceil(self.bound - 1e-9):
                    return
            self._step(rng)


def solve_roster_lns(
    problem: RosterProblem,
    *,
    time_limit_seconds: float,
    workers: int = 2,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    hint: Roster | None = None,
    first_share: float = 0.25,
    neighbourhood_seconds: float = 2.0,
    max_neighbourhood_seconds: float | None = None,
    neighbourhoods: tuple[str, ...] = NEIGHBOURHOODS,
    shortfall_cuts: bool = False,
    final_share: float = FINAL_SHARE,
) -> RosterSolution:
    """Solve a roster with CP-SAT, then improve it by large neighbourhood search.

    Parameters
    ----------
    problem
        The roster problem.
    time_limit_seconds
        Wall-time limit of the whole search [s].
    workers
        Threads: CP-SAT workers in the whole-model run, then parallel neighbourhood searches.
    seed
        Random seed (nurse order, neighbourhood choice, CP-SAT).
    progress
        Called with a :class:`RosterProgress` at every improving roster.
    cancel
        Set this event to stop; the best roster so far is returned with ``cancelled=True``.
    hint
        A roster to start from instead of :func:`greedy_roster`.
    first_share
        Share of the time given to CP-SAT on the whole model before the neighbourhoods; 0 skips that run
        (then there is no bound) unless the start roster breaks a hard rule, when a quarter of the time
        at least goes to it.
    neighbourhood_seconds
        Time limit of one neighbourhood search at first [s].
    max_neighbourhood_seconds
        Most time limit of one neighbourhood search [s] (default :data:`STALL_GROWTH` times
        ``neighbourhood_seconds``): the limit doubles each time every kind has been searched
        :data:`STALL_SEARCHES_PER_KIND` times, on average, without improving the best roster. Equal to
        ``neighbourhood_seconds``, the limit stays fixed.
    neighbourhoods
        Kinds of neighbourhood to search, from :data:`ALL_NEIGHBOURHOODS` (each drawn equally often).
    shortfall_cuts
        Post in each neighbourhood (except the day windows of long horizons, whose lines are a part) the
        caps on nurses short that any roster no worse than the best must meet
        (:func:`scheduler.roster.bounds.shortfall_caps`); they remove no such roster.
    final_share
        Share of the time left, at the latest, to the final search of the whole model (see
        :data:`FINAL_SHARE`); it starts earlier when the neighbourhoods stall at their longest time. 0, or
        a share of less than :data:`FINAL_MIN_SECONDS`, or a horizon of :data:`DAY_WINDOW_MIN_DAYS` days
        or more (whose whole model is too big to search), leaves all the time to the neighbourhoods.

    Returns
    -------
    RosterSolution
        As :func:`scheduler.roster.solve_roster`. The status is ``optimal`` only when the roster meets the
        bound proved on the whole model (0 without that run); an infeasible problem is reported as by that
        run.
    """
    neighbourhoods = checked_neighbourhoods(neighbourhoods)
    if not 0 <= final_share <= 1:
        raise ValueError(f"final_share: must be between 0 and 1, got {final_share}")
    started = time.perf_counter()
    deadline = started + time_limit_seconds
    final = final_share * time_limit_seconds >= FINAL_MIN_SECONDS and problem.days < DAY_WINDOW_MIN_DAYS
    if hint is not None:
        start = hint
    else:
        start = greedy_roster(
            problem,
            seed=seed,
            deadline=started + GREEDY_SHARE * time_limit_seconds,
            stop_at=started + GREEDY_STOP_SHARE * time_limit_seconds,
            cancel=cancel,
        )
    start_check = check_roster(problem, start)
    best: _Best | None = _Best(start, start_check.objective) if start_check.feasible else None
    first: SolverRun | None = None
    built: RosterModel | None = None
    bound = float(cover_lower_bound(problem).penalty)
    cancelled = cancel is not None and cancel.is_set()
    if best is None or first_share > 0:
        # A start that breaks a hard rule (e.g. a cover minimum) needs the whole model to repair it.
        built = build_roster_model(problem)
        built.set_objective()
        if best is not None:
            _complete_hint(built, start, seconds=max(1.0, 0.05 * time_limit_seconds))
        share = first_share if best is not None else max(first_share, 0.25)
        first = run_solver(
            built.model,
            time_limit_seconds=max(0.1, min(share * time_limit_seconds, deadline - time.perf_counter())),
            workers=workers,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
        if first.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = built.roster_from(first.solver)
            objective = check_roster(problem, found).objective
            if best is None or objective <= best.objective:
                best = _Best(found, objective)
        if best is None or first.status == cp_model.INFEASIBLE:
            return replace(solution_from_run(built, first), seconds=time.perf_counter() - started)
        if first.status != cp_model.UNKNOWN:
            bound = max(bound, float(first.solver.best_objective_bound))
        cancelled = first.cancelled
    elif progress is not None:
        progress(
            RosterProgress(
                solutions=1,
                objective=float(best.objective),
                bound=bound,
                seconds=time.perf_counter() - started,
            )
        )
    proved = first is not None and first.status == cp_model.OPTIMAL
    records: dict[str, NeighbourhoodRecord] = {}
    reached: float | None = None
    final_started: float | None = None
    if not proved and not cancelled:
        whole = built if built is not None and built.variables.work_pattern_automaton else None
        search = _Search(
            problem,
            best,
            deadline=deadline - final_share * time_limit_seconds if final else deadline,
            started=started,
            neighbourhood_seconds=neighbourhood_seconds,
            max_neighbourhood_seconds=max_neighbourhood_seconds,
            progress=progress,
            cancel=cancel,
            bound=bound,
            solutions=1,
            whole=whole,
            kinds=neighbourhoods,
            shortfall_cuts=shortfall_cuts,
            stop_when_stalled=final,
        )
        threads = [
            threading.Thread(target=search.run_thread, args=(seed * 1009 + i,), name=f"roster-lns-{i}")
            for i in range(max(1, workers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        records = {kind: NeighbourhoodRecord(*counts) for kind, counts in search.statistics.items()}
        reached = search.neighbourhood_seconds
        left = deadline - time.perf_counter()
        if (
            final
            and not search.cancelled
            and left >= 1.0
            and search.best.objective > math.ceil(search.bound - 1e-9)
        ):
            final_started = time.perf_counter() - started
            records[WHOLE_MODEL_RECORD] = search.search_whole_model(
                deadline=deadline, workers=workers, seed=seed
            )
        best = search.best
        bound = search.bound
        cancelled = search.cancelled
    optimal = proved or best.objective <= math.ceil(bound - 1e-9)
    check = check_roster(problem, best.roster)
    return RosterSolution(
        status=RosterStatus.OPTIMAL if optimal else RosterStatus.FEASIBLE,
        roster=best.roster,
        objective=check.objective,
        objective_terms=check.penalties,
        bound=float(check.objective) if optimal else bound,
        seconds=time.perf_counter() - started,
        cancelled=cancelled,
        neighbourhoods=records,
        neighbourhood_seconds=reached,
        final_search_started=final_started,
    )
