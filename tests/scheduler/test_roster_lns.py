"""Large neighbourhood search: greedy start, exact sub-problems, checker-verified answers, cancel."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from ortools.sat.python import cp_model

from scheduler.roster import (
    Assignment,
    Contract,
    CoverRequirement,
    Fairness,
    Nurse,
    Roster,
    RosterProblem,
    RosterStatus,
    ShiftRequest,
    ShiftType,
    check_roster,
)
from scheduler.roster.lns import (
    ALL_NEIGHBOURHOODS,
    DAY_WINDOW_MIN_DAYS,
    FINAL_MIN_SECONDS,
    STALL_GROWTH,
    STALL_SEARCHES_PER_KIND,
    WHOLE_MODEL_RECORD,
    _Best,
    _fix_and_hint,
    _Search,
    greedy_roster,
    solve_roster_lns,
    subproblem,
)
from scheduler.roster.model import (
    RosterModel,
    SolverRun,
    build_roster_model,
    run_solver,
    solve_roster,
)

WORKERS = 2


def _ward(nurses: int = 10, days: int = 14) -> RosterProblem:
    shifts = (
        ShiftType("early", 480, start_minute=7 * 60),
        ShiftType("late", 480, start_minute=15 * 60, forbidden_next={"early"}),
        ShiftType("night", 600, start_minute=22 * 60, night=True, forbidden_next={"early", "late"}),
    )
    contract = Contract(
        min_total_minutes=5 * 480,
        max_total_minutes=9 * 480,
        max_shifts={"night": 3},
        max_consecutive_shifts=5,
        min_consecutive_shifts=2,
        min_consecutive_days_off=2,
        max_weekends=1,
    )
    staff = tuple(
        Nurse(f"n{i}", contract, skills={"rn"}, units={"ward"}, days_off={(2 * i) % days})
        for i in range(nurses)
    )
    cover = tuple(
        CoverRequirement(
            d, s.shift_id, "ward", "rn", 2 if s.shift_id == "early" else 1, under_weight=50, over_weight=1
        )
        for d in range(days)
        for s in shifts
    )
    requests = tuple(
        ShiftRequest(f"n{i}", (3 * i + 1) % days, None, 1 + i % 3, wants_shift=False) for i in range(nurses)
    )
    return RosterProblem(days=days, shifts=shifts, nurses=staff, cover=cover, requests=requests)


def test_greedy_roster_meets_every_contract() -> None:
    problem = _ward()
    roster = greedy_roster(problem, seed=0)
    check = check_roster(problem, roster)
    assert check.feasible, check.violations
    assert roster.assignments


def test_subproblem_penalties_differ_from_the_full_problem_by_a_constant() -> None:
    problem = _ward(nurses=6, days=7)
    rng = random.Random(1)
    free = {"n1", "n4"}
    base = greedy_roster(problem, seed=1)
    kept = [a for a in base.assignments if a.nurse_id not in free]

    def random_part() -> tuple[Assignment, ...]:
        # any assignments of the free nurses (rules may break: only the penalties matter here)
        return tuple(
            Assignment(n, d, rng.choice(["early", "late", "night"]), "ward", "rn")
            for n in sorted(free)
            for d in range(7)
            if rng.random() < 0.5
        )

    part_problem = subproblem(problem, base, free)
    assert {n.nurse_id for n in part_problem.nurses} == free
    offsets = set()
    for _ in range(5):
        part = random_part()
        full = check_roster(problem, Roster(tuple(kept) + part)).objective
        small = check_roster(part_problem, Roster(part)).objective
        offsets.add(full - small)
    assert len(offsets) == 1


def test_lns_answer_passes_the_checker_and_beats_the_greedy_start() -> None:
    problem = _ward()
    start = check_roster(problem, greedy_roster(problem, seed=0)).objective
    solution = solve_roster_lns(
        problem, time_limit_seconds=8, workers=WORKERS, seed=0, neighbourhood_seconds=1.0
    )
    assert solution.status in (RosterStatus.OPTIMAL, RosterStatus.FEASIBLE)
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    assert solution.objective is not None and solution.objective <= start
    assert solution.bound <= solution.objective + 1e-6


def test_lns_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    solution = solve_roster_lns(_ward(), time_limit_seconds=60, workers=WORKERS, seed=0, cancel=cancel)
    assert solution.cancelled
    assert solution.seconds < 30


def test_lns_without_a_first_phase_reports_the_start_and_claims_optimal_only_when_proved() -> None:
    problem = _ward()
    reports: list[float] = []
    solution = solve_roster_lns(
        problem,
        time_limit_seconds=6,
        workers=WORKERS,
        seed=0,
        first_share=0.0,
        neighbourhood_seconds=1.0,
        progress=lambda p: reports.append(p.objective),
    )
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    assert reports, "the greedy start is reported"
    assert reports == sorted(reports, reverse=True)
    assert reports[-1] == solution.objective
    # no whole-model run, hence no bound: optimal only if the roster costs nothing
    assert solution.bound == 0
    assert (solution.status is RosterStatus.OPTIMAL) == (solution.objective == 0)


def test_lns_without_a_first_phase_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    solution = solve_roster_lns(
        _ward(), time_limit_seconds=60, workers=WORKERS, seed=0, cancel=cancel, first_share=0.0
    )
    assert solution.cancelled
    assert solution.seconds < 30
    # cancelled before the greedy start rostered anyone: no roster that breaks the rules is passed off
    assert solution.roster is None or check_roster(_ward(), solution.roster).feasible
    assert solution.status in (RosterStatus.TIMEOUT, RosterStatus.FEASIBLE, RosterStatus.OPTIMAL)


def _search(
    problem: RosterProblem,
    roster: Roster,
    *,
    shortfall_cuts: bool = False,
    build_whole: bool = True,
    max_neighbourhood_seconds: float | None = None,
) -> _Search:
    whole = build_roster_model(problem, work_pattern_automaton=True) if build_whole else None
    if whole is not None:
        whole.set_objective()
    best = _Best(roster, check_roster(problem, roster).objective)
    now = time.perf_counter()
    return _Search(
        problem,
        best,
        deadline=now + 30,
        started=now,
        neighbourhood_seconds=5,
        max_neighbourhood_seconds=max_neighbourhood_seconds,
        progress=None,
        cancel=None,
        bound=0.0,
        solutions=1,
        whole=whole,
        kinds=ALL_NEIGHBOURHOODS,
        shortfall_cuts=shortfall_cuts,
    )


def test_neighbourhoods_of_the_copied_whole_model_keep_the_fixed_cells() -> None:
    problem = _ward(nurses=8, days=14)
    start = greedy_roster(problem, seed=2)
    search = _search(problem, start)
    free = {(n.nurse_id, d) for n in problem.nurses for d in range(4, 9)}
    assert search.whole is not None
    constraints = len(search.whole.model.proto.constraints)
    neighbourhood = search._neighbourhood_model(start, free)
    built = neighbourhood.built
    assert neighbourhood.nurses == {n.nurse_id for n in problem.nurses}
    assert neighbourhood.window is None, "a 14-day horizon is not cut into windows"
    assert len(search.whole.model.proto.constraints) == constraints, "the shared model is left as it was"
    run = run_solver(built.model, time_limit_seconds=20, workers=1, seed=0)
    assert run.status == cp_model.OPTIMAL
    found = built.roster_from(run.solver)
    check = check_roster(problem, found)
    assert check.feasible, check.violations
    assert check.objective <= search.best.objective

    def outside(roster: Roster) -> set[tuple[str, int, str]]:
        return {
            (a.nurse_id, a.day, a.shift_id) for a in roster.assignments if (a.nurse_id, a.day) not in free
        }

    assert outside(found) == outside(start)


def test_a_stalled_search_doubles_its_neighbourhood_time_up_to_the_most() -> None:
    problem = _ward(nurses=6, days=14)
    search = _search(problem, greedy_roster(problem, seed=1), build_whole=False)
    stall = STALL_SEARCHES_PER_KIND * len(ALL_NEIGHBOURHOODS)
    seen = []
    for _ in range(6 * stall):
        search._count_stall()
        seen.append(search.neighbourhood_seconds)
    # 5 s for the first stall's searches, then 10, 20, 40 (the most: 8 times the first) and no more
    assert seen[stall - 2] == 5 and seen[stall - 1] == 10
    assert seen[2 * stall - 2] == 10 and seen[2 * stall - 1] == 20
    assert max(seen) == seen[-1] == 5 * STALL_GROWTH

    fixed = _search(problem, search.best.roster, build_whole=False, max_neighbourhood_seconds=5)
    for _ in range(3 * stall):
        fixed._count_stall()
    assert fixed.neighbourhood_seconds == 5


def test_an_improving_search_starts_the_stall_count_again() -> None:
    problem = _ward(nurses=8, days=14)
    search = _search(problem, greedy_roster(problem, seed=4))
    rng = random.Random(5)
    improved = False
    for kind in ALL_NEIGHBOURHOODS * 3:
        before = search.since_improvement
        improved = search._search_neighbourhood(kind, rng, search.best)
        if improved:
            assert search.since_improvement == 0
            break
        assert search.since_improvement == before + 1
    assert improved, "a greedy start of eight nurses is improved by one of 21 neighbourhoods"


def test_weak_lines_are_drawn_among_badly_covered_lines_by_their_penalty() -> None:
    problem = _ward(nurses=8, days=14)
    start = greedy_roster(problem, seed=3)
    search = _search(problem, start)
    staffed = Counter((a.day, a.shift_id, a.unit_id, a.skill) for a in start.assignments)

    def penalty(line: CoverRequirement) -> int:
        present = staffed[line.key]
        return line.under_weight * max(0, line.required_nurses - present) + line.over_weight * max(
            0, present - line.required_nurses
        )

    rng = random.Random(0)
    drawn = Counter(search._weak_line(rng, start) for _ in range(400))
    assert None not in drawn
    assert all(penalty(line) > 0 for line in drawn if line is not None)
    short = sum(count for line, count in drawn.items() if line and staffed[line.key] < line.required_nurses)
    over = sum(count for line, count in drawn.items() if line and staffed[line.key] > line.required_nurses)
    if short and over:
        assert short > over  # a nurse short costs 50, a nurse over 1


@pytest.mark.parametrize("shortfall_cuts", [False, True])
def test_each_kind_of_neighbourhood_improves_or_keeps_the_roster(shortfall_cuts: bool) -> None:
    problem = _ward(nurses=8, days=14)
    start = greedy_roster(problem, seed=4)
    search = _search(problem, start, shortfall_cuts=shortfall_cuts)
    first = search.best.objective
    rng = random.Random(5)
    for kind in ALL_NEIGHBOURHOODS:
        search._search_neighbourhood(kind, rng, search.best)
        check = check_roster(problem, search.best.roster)
        assert check.feasible, (kind, check.violations)
        assert check.objective == search.best.objective <= first


def test_a_shift_types_neighbourhood_keeps_every_day_on_and_off() -> None:
    problem = _ward(nurses=8, days=14)
    start = greedy_roster(problem, seed=2)
    search = _search(problem, start)
    free = {(n.nurse_id, d) for n in problem.nurses for d in range(3, 10)}
    built = search._neighbourhood_model(start, free, keep_days_worked=True).built
    run = run_solver(built.model, time_limit_seconds=20, workers=1, seed=0)
    assert run.status == cp_model.OPTIMAL
    found = built.roster_from(run.solver)
    check = check_roster(problem, found)
    assert check.feasible, check.violations
    assert check.objective <= search.best.objective
    days_on = {(a.nurse_id, a.day) for a in start.assignments}
    assert {(a.nurse_id, a.day) for a in found.assignments} == days_on
    # the same cells without the days kept can do at least as well: the kept model is a restriction
    loose = search._neighbourhood_model(start, free).built
    free_run = run_solver(loose.model, time_limit_seconds=20, workers=1, seed=0)
    assert free_run.status == cp_model.OPTIMAL
    assert check_roster(problem, loose.roster_from(free_run.solver)).objective <= check.objective


def test_a_requests_neighbourhood_frees_a_nurse_whose_request_is_refused() -> None:
    problem = _ward(nurses=8, days=14)
    search = _search(problem, greedy_roster(problem, seed=2))
    # n2 asked for day 7 off (see _ward) and works it; every other day-off request is granted
    refused = Roster((Assignment("n2", 7, "late", "ward", "rn"),))
    rng = random.Random(0)
    for _ in range(20):
        cells = search._unmet_request_cells(rng, refused, nurse_count=3)
        nurses = {n for n, _ in cells}
        assert "n2" in nurses and len(nurses) <= 3
        assert cells == {(n, d) for n in nurses for d in range(problem.days)}
        # the others could work the late shift of day 7: it is not their fixed day off
        assert all(7 not in problem.nurse(n).days_off for n in nurses)
    granted = search._unmet_request_cells(rng, Roster(()), nurse_count=3)
    assert granted, "with every request granted it frees the nurses of a badly covered line instead"


def test_an_unknown_kind_of_neighbourhood_is_named() -> None:
    with pytest.raises(ValueError, match="neighbourhoods: swaps; choose from nurses"):
        solve_roster_lns(_ward(), time_limit_seconds=1, neighbourhoods=("days", "swaps"))
    with pytest.raises(ValueError, match="none given"):
        solve_roster_lns(_ward(), time_limit_seconds=1, neighbourhoods=())


def test_the_greedy_start_stops_at_its_deadline_and_the_search_repairs_what_it_left() -> None:
    problem = _ward()
    assert greedy_roster(problem, seed=0, deadline=time.perf_counter() - 1).assignments == ()
    cancel = threading.Event()
    cancel.set()
    assert greedy_roster(problem, seed=0, cancel=cancel).assignments == ()
    # nobody rostered breaks every nurse's minimum minutes: the whole-model run must repair it
    assert not check_roster(problem, Roster(())).feasible
    solution = solve_roster_lns(
        problem, time_limit_seconds=8, workers=WORKERS, seed=0, hint=Roster(()), first_share=0.0
    )
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective


def test_a_weekends_neighbourhood_frees_the_nurses_who_could_trade_a_weekend() -> None:
    problem = _ward(nurses=8, days=14)  # starts on a Monday: weekends are days 5-6 and 12-13
    assert problem.weekends() == ((5, 6), (12, 13))
    search = _search(problem, greedy_roster(problem, seed=2))
    roster = Roster(
        (
            Assignment("n0", 5, "early", "ward", "rn"),
            Assignment("n1", 12, "late", "ward", "rn"),
            Assignment("n2", 6, "early", "ward", "rn"),
            Assignment("n2", 13, "early", "ward", "rn"),
            Assignment("n3", 9, "early", "ward", "rn"),
        )
    )
    cells = search._weekend_swap_cells(random.Random(0), roster, nurse_count=4)
    around = set(range(3, 9)) | set(range(10, 14))
    assert cells == {(n, d) for n in ("n0", "n1") for d in around}
    # nobody works exactly one of the two weekends: the nurses of a badly covered line instead
    nobody = Roster((Assignment("n2", 6, "early", "ward", "rn"), Assignment("n2", 13, "early", "ward", "rn")))
    assert search._weekend_swap_cells(random.Random(0), nobody, nurse_count=4)


def test_shortfall_cuts_keep_the_best_roster_in_its_neighbourhood() -> None:
    problem = _ward(nurses=8, days=14)
    start = greedy_roster(problem, seed=2)
    search = _search(problem, start, shortfall_cuts=True)
    for free in (
        {(n.nurse_id, d) for n in problem.nurses for d in range(3, 8)},  # the copied whole model
        {("n1", d) for d in range(14)} | {("n5", d) for d in range(14)},  # a model of two nurses
    ):
        neighbourhood = search._neighbourhood_model(start, free)
        built = neighbourhood.built
        constraints = len(built.model.proto.constraints)
        search._add_shortfall_cuts(built, search.best.objective)
        assert len(built.model.proto.constraints) > constraints, "the caps are posted"
        run = run_solver(built.model, time_limit_seconds=20, workers=1, seed=0)
        assert run.status == cp_model.OPTIMAL
        found = neighbourhood.merge(built.roster_from(run.solver))
        check = check_roster(problem, found)
        assert check.feasible, check.violations
        assert check.objective <= search.best.objective


def test_on_a_long_horizon_a_few_days_are_solved_in_a_window_and_merged_back() -> None:
    problem = _ward(nurses=6, days=63)
    assert problem.days >= DAY_WINDOW_MIN_DAYS
    start = greedy_roster(problem, seed=1)
    search = _search(problem, start)
    free = {(n.nurse_id, d) for n in problem.nurses for d in range(30, 34)}
    neighbourhood = search._neighbourhood_model(start, free)
    assert neighbourhood.window is not None
    assert neighbourhood.built.problem.days < problem.days // 2
    run = run_solver(neighbourhood.built.model, time_limit_seconds=20, workers=1, seed=0)
    assert run.status == cp_model.OPTIMAL
    found = neighbourhood.merge(neighbourhood.built.roster_from(run.solver))
    check = check_roster(problem, found)
    assert check.feasible, check.violations
    assert check.objective <= search.best.objective
    outside = {(a.nurse_id, a.day, a.shift_id) for a in start.assignments if not 30 <= a.day < 34}
    assert {(a.nurse_id, a.day, a.shift_id) for a in found.assignments if not 30 <= a.day < 34} == outside
    # the same neighbourhood in the copied whole model reaches the same best
    whole = search.whole
    assert whole is not None
    copied = RosterModel(whole.problem, whole.model.clone(), whole.variables, whole.penalty_terms)
    _fix_and_hint(copied, start, free, set(search.nurse_ids), keep_days_worked=False)
    whole_run = run_solver(copied.model, time_limit_seconds=60, workers=1, seed=0)
    assert whole_run.status == cp_model.OPTIMAL
    assert check_roster(problem, copied.roster_from(whole_run.solver)).objective == check.objective


def test_the_lns_on_a_long_horizon_keeps_every_rule_and_improves_on_its_start() -> None:
    short = _ward(nurses=8, days=63)
    contract = replace(
        short.nurses[0].contract,
        min_total_minutes=20 * 480,
        max_total_minutes=40 * 480,
        max_shifts={"night": 10},
        max_weekends=6,
    )
    problem = replace(short, nurses=tuple(replace(n, contract=contract) for n in short.nurses))
    start = check_roster(problem, greedy_roster(problem, seed=0)).objective
    solution = solve_roster_lns(
        problem,
        time_limit_seconds=10,
        workers=WORKERS,
        seed=0,
        first_share=0.0,
        neighbourhood_seconds=1.0,
        neighbourhoods=("days", "block", "shift_types"),
    )
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective < start


def test_the_whole_model_is_built_only_when_a_neighbourhood_needs_it() -> None:
    for days, needed in ((14, True), (63, False)):
        problem = _ward(nurses=6, days=days)
        start = greedy_roster(problem, seed=1)
        search = _search(problem, start, build_whole=False)
        assert search.whole is None
        every_nurse = {(n.nurse_id, d) for n in problem.nurses for d in range(6, 9)}
        search._neighbourhood_model(start, every_nurse)
        assert (search.whole is not None) == needed, days


def test_the_greedy_start_rosters_one_nurse_at_a_time_even_with_fairness_weights() -> None:
    fairness = Fairness(night_spread_weight=3, weekend_spread_weight=2)
    problem = replace(_ward(nurses=5, days=7), fairness=fairness)
    roster = greedy_roster(problem, seed=0)
    per_day = Counter((a.nurse_id, a.day) for a in roster.assignments)
    assert roster.assignments and max(per_day.values()) == 1
    check = check_roster(problem, roster)
    assert check.feasible, check.violations


def test_a_requests_neighbourhood_skips_a_wish_to_work_a_day_off() -> None:
    base = _ward(nurses=8, days=14)
    # n3's fixed day off is day 6: her wish to work it can never be granted
    impossible = ShiftRequest("n3", 6, "early", 3, wants_shift=True)
    problem = replace(base, requests=(impossible,))
    search = _search(problem, greedy_roster(problem, seed=2))
    rng = random.Random(0)
    drawn = [search._unmet_request_cells(rng, Roster(()), nurse_count=2) for _ in range(10)]
    # with no other request refused, the nurses of a badly covered line are freed instead of n3's
    assert any("n3" not in {n for n, _ in cells} for cells in drawn)


def test_past_its_deadline_the_greedy_start_still_gives_every_nurse_a_line_until_it_must_stop() -> None:
    problem = _ward(nurses=6, days=14)
    now = time.perf_counter()
    late = greedy_roster(problem, seed=0, deadline=now - 1, stop_at=now + 60)
    assert {a.nurse_id for a in late.assignments} == {n.nurse_id for n in problem.nurses}
    assert check_roster(problem, late).feasible
    assert greedy_roster(problem, seed=0, deadline=now - 1).assignments == ()


def test_a_nurse_whose_search_finds_no_line_in_time_is_tried_again_with_more_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import scheduler.roster.lns as lns

    limits: list[float] = []
    real = lns.run_solver

    def first_call_times_out(model: cp_model.CpModel, **options: Any) -> SolverRun:
        limits.append(options["time_limit_seconds"])
        run = real(model, **options)
        if len(limits) == 1:  # as if the first nurse's search had ended before finding a line
            return SolverRun(solver=run.solver, status=cp_model.UNKNOWN, seconds=run.seconds, cancelled=False)
        return run

    monkeypatch.setattr(lns, "run_solver", first_call_times_out)
    problem = _ward(nurses=6, days=14)
    roster = greedy_roster(problem, seed=0, seconds_per_nurse=1.0)
    assert {a.nurse_id for a in roster.assignments} == {n.nurse_id for n in problem.nurses}
    assert check_roster(problem, roster).feasible
    assert len(limits) == 7, "six nurses, one of them twice"
    assert limits[-1] == 2 * limits[0]


def test_the_final_search_of_the_whole_model_improves_a_poor_roster_and_proves_the_optimum() -> None:
    problem = _ward(nurses=6, days=14)
    optimum = solve_roster(problem, time_limit_seconds=60, workers=WORKERS, seed=0)
    assert optimum.status is RosterStatus.OPTIMAL and optimum.objective is not None
    search = _search(problem, greedy_roster(problem, seed=0))
    start = search.best.objective
    assert start > optimum.objective, "the greedy start leaves something to improve"
    record = search.search_whole_model(deadline=time.perf_counter() + 60, workers=WORKERS, seed=0)
    check = check_roster(problem, search.best.roster)
    assert check.feasible, check.violations
    assert check.objective == search.best.objective == optimum.objective
    assert (record.searches, record.proved, record.improvements) == (1, 1, 1)
    assert search.bound == optimum.objective


def test_the_final_search_never_returns_a_worse_roster_and_its_bound_stays_below_the_optimum() -> None:
    problem = _ward(nurses=10, days=28)
    best_found = solve_roster(problem, time_limit_seconds=20, workers=WORKERS, seed=0)
    assert best_found.objective is not None
    search = _search(problem, greedy_roster(problem, seed=5))
    start = search.best.objective
    search.search_whole_model(deadline=time.perf_counter() + 2, workers=WORKERS, seed=1)
    assert check_roster(problem, search.best.roster).objective == search.best.objective <= start
    # a lower bound: the optimum is at most any roster's objective
    assert search.bound <= best_found.objective


def test_a_search_that_stalls_at_its_longest_time_stops_its_threads_when_asked() -> None:
    problem = _ward(nurses=6, days=14)
    search = _search(problem, greedy_roster(problem, seed=1), build_whole=False, max_neighbourhood_seconds=5)
    search.stop_when_stalled = True
    for _ in range(STALL_SEARCHES_PER_KIND * len(ALL_NEIGHBOURHOODS)):
        assert not search.stalled
        search._count_stall()
    assert search.stalled
    started = time.perf_counter()
    search.run_thread(seed=0)
    assert time.perf_counter() - started < 1, "a stalled search searches no more neighbourhoods"
    assert search.statistics == {kind: [0, 0, 0] for kind in ALL_NEIGHBOURHOODS}


def test_the_lns_ends_with_a_search_of_the_whole_model_in_its_last_share_of_time() -> None:
    problem = _ward(nurses=10, days=28)  # 14 days would be solved to its bound before the final share
    limit = 4 * FINAL_MIN_SECONDS
    reports: list[tuple[float, float]] = []
    solution = solve_roster_lns(
        problem,
        time_limit_seconds=limit,
        workers=WORKERS,
        seed=0,
        first_share=0.0,
        neighbourhood_seconds=1.0,
        final_share=0.5,
        progress=lambda p: reports.append((p.seconds, p.objective)),
    )
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    assert solution.bound <= solution.objective + 1e-6
    started = solution.final_search_started
    # a neighbourhood search already running when the share begins ends within its 1-s limit
    assert started is not None and started <= 0.5 * limit + 2
    assert solution.neighbourhoods[WHOLE_MODEL_RECORD].searches == 1
    assert solution.seconds <= limit + 5
    assert [s for s, _ in reports] == sorted(s for s, _ in reports)
    assert [o for _, o in reports] == sorted((o for _, o in reports), reverse=True)
    assert reports[-1][1] == solution.objective


def test_without_a_final_share_or_on_a_long_horizon_there_is_no_final_search() -> None:
    for problem, share in ((_ward(nurses=6, days=14), 0.0), (_ward(nurses=4, days=DAY_WINDOW_MIN_DAYS), 0.5)):
        solution = solve_roster_lns(
            problem,
            time_limit_seconds=2 * FINAL_MIN_SECONDS,
            workers=WORKERS,
            seed=0,
            first_share=0.0,
            neighbourhood_seconds=1.0,
            final_share=share,
        )
        assert solution.final_search_started is None
        assert WHOLE_MODEL_RECORD not in solution.neighbourhoods


def test_a_final_share_out_of_range_is_named() -> None:
    with pytest.raises(ValueError, match="final_share"):
        solve_roster_lns(_ward(nurses=4, days=7), time_limit_seconds=1, final_share=1.5)
