"""Surgical admission planner for IHTC-2024 instances: CP-SAT large-neighbourhood search.

The plan is improved by two exact CP-SAT sub-models, each on a small part of it
(:mod:`scheduler.ihtc.neighbourhoods`):

* admission moves (:mod:`scheduler.ihtc.admission_model`): a few patients get a new admission day, room and
  theater while everything else, including the nurse of every room-shift, stays fixed;
* nurse moves (:mod:`scheduler.ihtc.nurse_model`): the nurses of some room-shifts are re-chosen while the
  patients and the other shifts stay fixed.

It starts from an empty ward (or a given plan), admits the waiting patients greedily
(:mod:`scheduler.ihtc.construction`), re-chooses the nurses window by window, then searches until the time
limit. Phases of these neighbourhoods alternate with short simulated-annealing runs over many cheap moves
(:mod:`scheduler.ihtc.local_search`). Every candidate plan is judged by the independent checker
(:func:`scheduler.ihtc.checker.evaluate`) and kept only if it is no worse.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.ihtc.admission_model import (
    ContinuityEstimate,
    NurseCostCache,
    build_admission_model,
    build_admission_spec,
    chosen_places,
)
from scheduler.ihtc.checker import Evaluation, evaluate
from scheduler.ihtc.construction import admit_greedily
from scheduler.ihtc.instance import Instance
from scheduler.ihtc.local_search import anneal
from scheduler.ihtc.modelling import run_sub_model
from scheduler.ihtc.neighbourhoods import (
    NEIGHBOURHOOD_SIZES,
    Neighbourhood,
    NeighbourhoodChooser,
    room_shifts_of_days,
)
from scheduler.ihtc.nurse_model import build_nurse_model, build_nurse_spec, chosen_nurses, fill_room_shifts
from scheduler.ihtc.solution import AdmissionPlan
from scheduler.ihtc.state import PlanState, measure_occupancy
from scheduler.ihtc.tables import ProblemTables, build_tables

__all__ = ["AdmissionPlanResult", "SolveProgress", "SolveStatus", "solve"]

logger = logging.getLogger(__name__)

HARD_VIOLATION_PENALTY = 1_000_000
"""Score added per hard violation while searching (only mandatory patients left out can occur)."""

SUB_MODEL_TIME_LIMIT_S = 1.0
"""Wall-clock limit of one sub-model [seconds]; neighbourhood sizes adapt so most finish well within it."""

ANNEALING_SHARE = 0.1
"""Share of the time limit of each simulated-annealing run (they alternate with neighbourhood phases)."""

NEIGHBOURHOOD_SHARE = 0.25
"""Share of the time limit of each phase of CP-SAT neighbourhoods between annealing runs."""

SHORTEST_ANNEALING_S = 3.0
SHORTEST_NEIGHBOURHOOD_PHASE_S = 5.0
"""Shortest annealing run and neighbourhood phase [seconds]."""

ANNEALING_TEMPERATURE_FACTOR = 0.15
"""An annealing run starts at this fraction of the mean worsening of random moves: cool, since it starts from
a plan the exact neighbourhoods have already polished and is short."""


class SolveStatus(StrEnum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    """Proved optimal (not claimed by this search, which gives no lower bound)."""
    FEASIBLE = "feasible"
    """A plan without hard violations was found."""
    INFEASIBLE = "infeasible"
    """Proved: some mandatory patient has no admissible day, room and theater at all (``unplaceable``), or
    occupants are in bed in a shift without any rostered nurse (``nurseless_shifts``)."""
    TIMEOUT = "timeout"
    """Time ran out (or the run was cancelled) before every hard rule was met."""


@dataclass(frozen=True)
class SolveProgress:
    """A progress report, sent to the ``progress`` callback."""

    elapsed_seconds: float
    iteration: int
    best_total_cost: int
    best_hard_violations: int
    neighbourhood: str


@dataclass(frozen=True)
class AdmissionPlanResult:
    """What :func:`solve` returns.

    Attributes
    ----------
    status
        Optimal / feasible / infeasible / timeout.
    plan
        The best plan found.
    evaluation
        The checker's verdict on ``plan`` (costs by term, hard violations).
    seconds
        Wall-clock time spent [seconds].
    iterations
        Neighbourhoods tried.
    unplaceable
        Ids of mandatory patients with no admissible (day, room, theater) even in an empty ward: what to
        relax (their window, their surgeon's or the theaters' time, their room restrictions).
    unscheduled_mandatory
        Ids of mandatory patients the best plan leaves out.
    nurseless_shifts
        (day, shift) pairs in which occupants are in bed but no nurse is rostered: what to relax (roster a
        nurse then).
    """

    status: SolveStatus
    plan: AdmissionPlan
    evaluation: Evaluation
    seconds: float
    iterations: int
    unplaceable: tuple[str, ...] = ()
    unscheduled_mandatory: tuple[str, ...] = ()
    nurseless_shifts: tuple[tuple[int, str], ...] = ()

    @property
    def total_cost(self) -> int:
        """Objective of the plan (sum of weighted soft costs)."""
        return self.evaluation.total_cost

    @property
    def cost_by_term(self) -> dict[str, int]:
        """Weighted cost of each soft term."""
        return self.evaluation.cost_by_term


def unplaceable_mandatory_patients(tables: ProblemTables) -> list[int]:
    """Mandatory patients that fit nowhere even in an empty ward.

    No day in their window has enough surgeon and theater time and a nurse rostered in every shift of the
    stay, or no room is compatible.
    """
    staffed_day = [
        all(tables.nurses_on_shift[day * tables.shifts_per_day + k] for k in range(tables.shifts_per_day))
        for day in range(tables.days)
    ]
    stuck = []
    for p in range(tables.patient_count):
        if not tables.patient_mandatory[p]:
            continue
        surgeon, minutes = tables.patient_surgeon[p], tables.patient_surgery_minutes[p]
        possible_days = [
            day
            for day in range(tables.patient_release_day[p], tables.patient_last_day[p] + 1)
            if tables.surgeon_minutes[surgeon][day] >= minutes
            and any(tables.theater_minutes[t][day] >= minutes for t in range(tables.theater_count))
            and all(staffed_day[d] for d in tables.patient_stay_days(p, day))
        ]
        if not possible_days or not tables.patient_compatible_rooms[p]:
            stuck.append(p)
    return stuck


def nurseless_occupied_shifts(tables: ProblemTables) -> list[int]:
    """Global shifts in which an occupant is in bed but no nurse is rostered (uncoverable)."""
    shifts = set()
    for occupant in range(len(tables.occupant_room)):
        for day in tables.occupant_stay_days(occupant):
            for k in range(tables.shifts_per_day):
                sigma = day * tables.shifts_per_day + k
                if not tables.nurses_on_shift[sigma]:
                    shifts.add(sigma)
    return sorted(shifts)


@dataclass
class _NeighbourhoodStats:
    """Adaptive size and choice weight of one kind of neighbourhood."""

    size: float
    smallest: float
    largest: float
    weight: float = 1.0
    tried: int = 0
    improved: int = 0

    def record(self, improved: bool, proved_optimal: bool) -> None:
        self.tried += 1
        self.improved += int(improved)
        self.weight = max(0.1, 0.9 * self.weight + (1.0 if improved else 0.0))
        factor = 1.08 if proved_optimal else 0.85
        self.size = min(self.largest, max(self.smallest, self.size * factor))


@dataclass(frozen=True)
class _Proposal:
    """What a sub-model proposes for its neighbourhood."""

    neighbourhood: Neighbourhood
    solved: bool
    proved_optimal: bool
    patient_places: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    room_shift_nurses: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass
class _Search:
    """State of one large-neighbourhood search.

    The main thread chooses neighbourhoods and judges proposals; with several workers, sub-models are solved
    in parallel threads (CP-SAT releases the interpreter lock), each on a snapshot of the current plan. A
    proposal is applied to the plan current when it arrives and kept only if the checker finds the result no
    worse, so proposals built on an older snapshot are safe.
    """

    tables: ProblemTables
    workers: int
    rng: random.Random
    seed: int
    started: float
    deadline: float
    sub_time_limit: float
    progress: Callable[[SolveProgress], None] | None
    cancel: threading.Event | None
    current: PlanState = field(init=False)
    current_score: int = field(init=False)
    best: PlanState = field(init=False)
    best_score: int = field(init=False)
    best_evaluation: Evaluation = field(init=False)
    cache: NurseCostCache = field(init=False)
    continuity: ContinuityEstimate = field(init=False)
    chooser: NeighbourhoodChooser = field(init=False)
    iteration: int = 0
    last_report: float = 0.0
    stats: dict[str, _NeighbourhoodStats] = field(default_factory=dict)
    next_room_version: int = 1

    def __post_init__(self) -> None:
        self.cache = NurseCostCache(self.tables.room_count)
        self.continuity = ContinuityEstimate(self.tables)
        self.chooser = NeighbourhoodChooser(self.tables, self.rng)
        self.stats = {
            kind: _NeighbourhoodStats(size=first, smallest=smallest, largest=largest(self.tables))
            for kind, (first, smallest, largest) in NEIGHBOURHOOD_SIZES.items()
        }

    def start_from(self, state: PlanState) -> None:
        self.current = state
        evaluation = self._evaluate(state)
        self.current_score = self._score(evaluation)
        self.best = state.copy()
        self.best_score = self.current_score
        self.best_evaluation = evaluation

    # --- bookkeeping ---------------------------------------------------------------------------------
    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def should_stop(self) -> bool:
        return self.time_left() <= 0.05 or (self.cancel is not None and self.cancel.is_set())

    def _evaluate(self, state: PlanState) -> Evaluation:
        return evaluate(self.tables.instance, state.to_plan(self.tables))

    @staticmethod
    def _score(evaluation: Evaluation) -> int:
        return evaluation.total_cost + HARD_VIOLATION_PENALTY * evaluation.violations.total

    def _report(self, neighbourhood: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress is None or (not force and now - self.last_report < 1.0):
            return
        self.last_report = now
        self.progress(
            SolveProgress(
                elapsed_seconds=now - self.started,
                iteration=self.iteration,
                best_total_cost=self.best_evaluation.total_cost,
                best_hard_violations=self.best_evaluation.violations.total,
                neighbourhood=neighbourhood,
            )
        )

    def _sub_limit(self) -> float:
        return max(0.05, min(self.sub_time_limit, self.time_left()))

    # --- proposals ----------------------------------------------------------------------------------
    def _solve_patients(
        self, neighbourhood: Neighbourhood, flexible_nurses: bool
    ) -> tuple[dict[int, tuple[int, int, int]] | None, bool]:
        """Re-plan the free patients; returns their places (None without a solution) and optimality."""
        spec = build_admission_spec(
            self.tables,
            neighbourhood.snapshot,
            neighbourhood.free_patients,
            self.cache,
            mandatory_penalty=HARD_VIOLATION_PENALTY,
            allowed_rooms=neighbourhood.allowed_rooms,
            keep_days=neighbourhood.keep_days,
            keep_rooms=neighbourhood.keep_rooms,
        )
        if flexible_nurses:
            # The nurses will be re-chosen afterwards: judge continuity of care by what the rosters allow,
            # not by the nurses the room has now.
            for p, day, room in spec.distinct_nurses:
                spec.distinct_nurses[(p, day, room)] = self.continuity.fewest_nurses(
                    day, self.tables.patient_length_of_stay[p]
                )
        model, variables, _ = build_admission_model(spec)
        outcome = run_sub_model(model, self._sub_limit(), 1, neighbourhood.seed)
        logger.debug(
            "%s: %d patients, %d stay options, %s in %.2fs",
            neighbourhood.kind,
            len(spec.free_patients),
            len(variables.stay),
            outcome.solver.status_name(outcome.status),
            outcome.solver.wall_time,
        )
        if not outcome.has_solution:
            return None, False
        return chosen_places(spec, variables, outcome.solver), outcome.proved_optimal

    def _solve_nurses(
        self,
        neighbourhood: Neighbourhood,
        snapshot: PlanState,
        room_shifts: Iterable[tuple[int, int]],
        allowed_nurses: frozenset[int] | None,
    ) -> tuple[dict[tuple[int, int], int] | None, bool]:
        """Re-choose nurses of some room-shifts; returns their nurses (None if no solution) and optimality."""
        occupancy = measure_occupancy(self.tables, snapshot)
        spec = build_nurse_spec(self.tables, snapshot, occupancy, room_shifts, allowed_nurses)
        if not spec.free_room_shifts:
            return {}, True
        model, variables, _ = build_nurse_model(spec)
        outcome = run_sub_model(model, self._sub_limit(), 1, neighbourhood.seed)
        logger.debug(
            "%s: %d room-shifts, %d cover options, %s in %.2fs",
            neighbourhood.kind,
            len(spec.free_room_shifts),
            len(variables.cover),
            outcome.solver.status_name(outcome.status),
            outcome.solver.wall_time,
        )
        if not outcome.has_solution:
            return None, False
        return chosen_nurses(spec, variables, outcome.solver), outcome.proved_optimal

    def _solve(self, neighbourhood: Neighbourhood) -> _Proposal:
        """Build and solve the sub-model(s) of a neighbourhood (runs in a worker thread)."""
        if not neighbourhood.free_patients:
            nurses, optimal = self._solve_nurses(
                neighbourhood,
                neighbourhood.snapshot,
                neighbourhood.free_room_shifts,
                neighbourhood.allowed_nurses,
            )
            if nurses is None:
                return _Proposal(neighbourhood, solved=False, proved_optimal=False)
            return _Proposal(neighbourhood, True, optimal, room_shift_nurses=nurses)
        flexible = neighbourhood.flexible_nurses
        places, optimal = self._solve_patients(neighbourhood, flexible_nurses=flexible)
        if places is None:
            return _Proposal(neighbourhood, solved=False, proved_optimal=False)
        if not flexible:
            return _Proposal(neighbourhood, True, optimal, patient_places=places)
        # Then re-choose the nurses of the rooms the moved patients now stay in, over their stays.
        snapshot = neighbourhood.snapshot.copy()
        tables = self.tables
        room_shifts = []
        for p, (day, room, theater) in places.items():
            snapshot.admission_day[p], snapshot.room[p], snapshot.theater[p] = day, room, theater
            if day >= 0:
                stay = tables.patient_stay_days(p, day)
                room_shifts += [
                    (room, sigma)
                    for sigma in range(stay.start * tables.shifts_per_day, stay.stop * tables.shifts_per_day)
                ]
        nurses, _ = self._solve_nurses(neighbourhood, snapshot, room_shifts, None)
        return _Proposal(neighbourhood, True, optimal, patient_places=places, room_shift_nurses=nurses or {})

    def _judge(self, proposal: _Proposal) -> bool:
        """Apply a proposal to the current plan; keep it if the checker finds it no worse. True if better."""
        current = self.current
        changed_patients = {
            p: place
            for p, place in proposal.patient_places.items()
            if place != (current.admission_day[p], current.room[p], current.theater[p])
        }
        changed_room_shifts = {
            key: nurse
            for key, nurse in proposal.room_shift_nurses.items()
            if current.nurse_of[key[0]][key[1]] != nurse
        }
        if not changed_patients and not changed_room_shifts:
            return False
        candidate = current.copy()
        for p, (day, room, theater) in changed_patients.items():
            candidate.admission_day[p], candidate.room[p], candidate.theater[p] = day, room, theater
        for (room, sigma), nurse in changed_room_shifts.items():
            candidate.nurse_of[room][sigma] = nurse
        for room in {room for room, _ in changed_room_shifts}:
            candidate.room_version[room] = self.next_room_version
            self.next_room_version += 1
        evaluation = self._evaluate(candidate)
        score = self._score(evaluation)
        if score > self.current_score:
            return False
        improved = score < self.current_score
        self.current = candidate
        self.current_score = score
        if score < self.best_score:
            self.best = candidate.copy()
            self.best_score = score
            self.best_evaluation = evaluation
            self._report(proposal.neighbourhood.kind, force=True)
        return improved

    def _run(self, neighbourhoods: Callable[[], Neighbourhood | None], until: float | None = None) -> None:
        """Solve neighbourhoods (up to ``workers`` at a time) and judge the proposals.

        Stops when time runs out (or at the monotonic time ``until``), the run is cancelled or
        ``neighbourhoods`` returns None.
        """
        in_flight: set[Future[_Proposal]] = set()
        exhausted = False
        with ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="ihtc-lns") as pool:
            while True:
                while (
                    not exhausted
                    and len(in_flight) < max(1, self.workers)
                    and not self.should_stop()
                    and (until is None or time.monotonic() < until)
                ):
                    neighbourhood = neighbourhoods()
                    if neighbourhood is None:
                        exhausted = True
                        break
                    self.iteration += 1
                    in_flight.add(pool.submit(self._solve, neighbourhood))
                if not in_flight:
                    return
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                self._harvest(done)

    def _harvest(self, done: Iterable[Future[_Proposal]]) -> None:
        """Judge the proposals of finished sub-models and adapt their neighbourhoods' sizes and weights."""
        for future in done:
            proposal = future.result()
            improved = self._judge(proposal) if proposal.solved else False
            stats = self.stats.get(proposal.neighbourhood.kind)
            if stats is not None:
                stats.record(improved, proposal.proved_optimal)
            self._report(proposal.neighbourhood.kind)

    # --- neighbourhoods -----------------------------------------------------------------------------
    def sweep_nurses(self, window_days: int) -> None:
        """Re-choose nurses window by window over the whole horizon."""
        windows = iter(range(0, self.tables.days, window_days))

        def next_window() -> Neighbourhood | None:
            first_day = next(windows, None)
            if first_day is None:
                return None
            rooms = range(self.tables.room_count)
            room_shifts = room_shifts_of_days(self.tables, first_day, window_days, rooms)
            return Neighbourhood("sweep", self.current.copy(), free_room_shifts=tuple(room_shifts))

        self._run(next_window)

    def next_neighbourhood(self) -> Neighbourhood:
        """Choose a neighbourhood by recent success (repairs first while a mandatory patient is out)."""
        if self.current_score >= HARD_VIOLATION_PENALTY and self.rng.random() < 0.7:
            kind = "patients_repair"
        else:
            kinds = [kind for kind in self.stats if kind != "patients_repair"]
            kind = self.rng.choices(kinds, weights=[self.stats[k].weight for k in kinds])[0]
        size = max(1, round(self.stats[kind].size))
        return self.chooser.choose(kind, self.current, size, seed=self.seed + self.iteration)

    def anneal_current(self, seconds: float) -> None:
        """Simulated annealing from the current plan; its best plan replaces the current one if better.

        With more than one worker, the other workers keep solving CP-SAT neighbourhoods on the current plan
        meanwhile (annealing is pure Python and holds one core; CP-SAT releases the interpreter lock);
        afterwards the better of the two plans is kept.
        """
        seconds = min(seconds, self.time_left())
        if seconds <= 0.2 or self.should_stop():
            return
        start_score = self.current_score
        in_flight: set[Future[_Proposal]] = set()
        helpers = self.workers - 1
        pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="ihtc-lns") if helpers > 0 else None

        def tick() -> None:
            nonlocal in_flight
            if pool is not None:
                done = {future for future in in_flight if future.done()}
                in_flight -= done
                self._harvest(done)
                while len(in_flight) < helpers and not self.should_stop():
                    self.iteration += 1
                    in_flight.add(pool.submit(self._solve, self.next_neighbourhood()))
            self._report("annealing")

        try:
            result = anneal(
                self.tables,
                self.current,
                seconds,
                self.rng,
                cancel=self.cancel,
                temperature_factor=ANNEALING_TEMPERATURE_FACTOR,
                mandatory_penalty=HARD_VIOLATION_PENALTY,
                tick=tick,
            )
        finally:
            if pool is not None:
                self._harvest(wait(in_flight).done)
                pool.shutdown()
        self.iteration += 1
        logger.debug("annealing: %d moves, cost change %d", result.moves, result.cost_change)
        if result.best is None:
            return
        candidate = result.best
        candidate.room_version = list(self.current.room_version)
        for room in range(self.tables.room_count):
            if candidate.nurse_of[room] != self.current.nurse_of[room]:
                candidate.room_version[room] = self.next_room_version
                self.next_room_version += 1
        evaluation = self._evaluate(candidate)
        score = self._score(evaluation)
        if score != start_score + result.cost_change:
            logger.warning(
                "annealing kept cost %d, the checker finds %d", start_score + result.cost_change, score
            )
        if score <= self.current_score:
            self.current, self.current_score = candidate, score
            if score < self.best_score:
                self.best, self.best_score, self.best_evaluation = candidate.copy(), score, evaluation
                self._report("annealing", force=True)

    def improve(self, annealing: bool = True) -> None:
        """Search until the time limit or cancellation: CP-SAT neighbourhoods alternate with annealing."""
        if not annealing:
            self._run(self.next_neighbourhood)
            return
        total = self.deadline - self.started
        while not self.should_stop():
            phase = max(SHORTEST_NEIGHBOURHOOD_PHASE_S, NEIGHBOURHOOD_SHARE * total)
            self._run(self.next_neighbourhood, until=time.monotonic() + phase)
            self.anneal_current(max(SHORTEST_ANNEALING_S, ANNEALING_SHARE * total))


def solve(
    instance: Instance,
    time_limit_s: float = 600.0,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[SolveProgress], None] | None = None,
    cancel: threading.Event | None = None,
    initial_plan: AdmissionPlan | None = None,
) -> AdmissionPlanResult:
    """Plan admissions, rooms, theaters and nurses for an IHTC-2024 instance.

    Parameters
    ----------
    instance
        The instance (see :func:`~scheduler.ihtc.instance.load_instance`).
    time_limit_s
        Wall-clock budget [seconds]; the search uses all of it unless cancelled.
    workers
        Sub-models solved at the same time (threads, one CP-SAT worker each).
    seed
        Seed of the neighbourhood choices and of CP-SAT. Runs are repeatable only up to timing, since the
        search is bounded by wall-clock time.
    progress
        Called with a :class:`SolveProgress` on every improvement and about once a second.
    cancel
        When set, the search stops after the current sub-model and returns the best plan so far.
    initial_plan
        A plan to start from instead of an empty ward (warm start).

    Returns
    -------
    AdmissionPlanResult
        Status, best plan, its evaluation by the checker, and the mandatory patients that could not be placed.

    Examples
    --------
    >>> result = solve(load_instance("test01.json"), time_limit_s=20, workers=1)  # doctest: +SKIP
    >>> result.status, result.evaluation.feasible  # doctest: +SKIP
    (<SolveStatus.FEASIBLE: 'feasible'>, True)
    """
    started = time.monotonic()
    tables = build_tables(instance)
    search = _Search(
        tables=tables,
        workers=workers,
        rng=random.Random(seed),
        seed=seed,
        started=started,
        deadline=started + time_limit_s,
        sub_time_limit=SUB_MODEL_TIME_LIMIT_S,
        progress=progress,
        cancel=cancel,
    )
    state = PlanState.empty(tables) if initial_plan is None else PlanState.from_plan(tables, initial_plan)
    fill_room_shifts(tables, state)
    admit_greedily(tables, state, search.cache)
    search.start_from(state)
    search.sweep_nurses(window_days=3)
    search.improve()

    for kind, stats in search.stats.items():
        logger.debug("%s: tried %d, improved %d, size %.1f", kind, stats.tried, stats.improved, stats.size)
    evaluation = search.best_evaluation
    plan = search.best.to_plan(tables)
    stuck = [instance.patients[p].id for p in unplaceable_mandatory_patients(tables)]
    nurseless = tuple(
        (sigma // tables.shifts_per_day, instance.shift_types[sigma % tables.shifts_per_day])
        for sigma in nurseless_occupied_shifts(tables)
    )
    left_out = tuple(
        instance.patients[p].id
        for p in range(tables.patient_count)
        if tables.patient_mandatory[p] and not search.best.admitted(p)
    )
    if evaluation.feasible:
        status = SolveStatus.FEASIBLE
    elif stuck or nurseless:
        status = SolveStatus.INFEASIBLE
    else:
        status = SolveStatus.TIMEOUT
    search._report("done", force=True)
    return AdmissionPlanResult(
        status=status,
        plan=plan,
        evaluation=evaluation,
        seconds=time.monotonic() - started,
        iterations=search.iteration,
        unplaceable=tuple(stuck),
        unscheduled_mandatory=left_out,
        nurseless_shifts=nurseless,
    )
