"""CP-SAT roster model: tiny instances with optima worked out by hand, checker agreement, progress, cancel."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.roster import (
    AgencyOffer,
    Assignment,
    Contract,
    CoverRequirement,
    Fairness,
    Nurse,
    RosterProblem,
    RosterProgress,
    RosterStatus,
    ShiftRequest,
    ShiftType,
    check_roster,
    solve_roster,
)

TIME_LIMIT = 10.0
WORKERS = 2

DAY = ShiftType("day", 480)


def _nurse(nurse_id: str, contract: Contract | None = None, **changes: object) -> Nurse:
    values: dict[str, object] = {"skills": {"rn"}, "units": {"ward"}}
    values.update(changes)
    return Nurse(nurse_id, contract or Contract(), **values)  # type: ignore[arg-type]


def _line(
    day: int, shift_id: str, required: int, under: int = 10, over: int = 1, **changes: object
) -> CoverRequirement:
    values: dict[str, object] = {"unit_id": "ward", "skill": "rn"}
    values.update(changes)
    return CoverRequirement(
        day=day,
        shift_id=shift_id,
        required_nurses=required,
        under_weight=under,
        over_weight=over,
        **values,  # type: ignore[arg-type]
    )


def _solve(problem: RosterProblem):  # type: ignore[no-untyped-def]
    solution = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert solution.status is RosterStatus.OPTIMAL
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    assert dict(check.penalties) == {
        k: v for k, v in solution.objective_terms.items() if k in check.penalties
    }
    return solution


def _worked(solution) -> set[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    return {(a.nurse_id, a.day, a.shift_id) for a in solution.roster.assignments}


def test_max_total_minutes_and_a_shift_request() -> None:
    # One nurse may work one of two days; she asks for day 1, so day 0 goes short: 10.
    problem = RosterProblem(
        days=2,
        shifts=(DAY,),
        nurses=(_nurse("ana", Contract(max_total_minutes=480)),),
        cover=(_line(0, "day", 1), _line(1, "day", 1)),
        requests=(ShiftRequest("ana", 1, "day", 3, wants_shift=True),),
    )
    solution = _solve(problem)
    assert solution.objective == 10
    assert _worked(solution) == {("ana", 1, "day")}


def test_forbidden_succession_late_then_early() -> None:
    late = ShiftType("late", 480, forbidden_next={"early"})
    early = ShiftType("early", 480)
    problem = RosterProblem(
        days=2,
        shifts=(early, late),
        nurses=(_nurse("ana"),),
        cover=(
            _line(0, "late", 1, under=5),
            _line(1, "early", 1, under=7),
            _line(0, "early", 0),
            _line(1, "late", 0),
        ),
    )
    solution = _solve(problem)
    assert solution.objective == 5
    assert _worked(solution) == {("ana", 1, "early")}


def test_minimum_rest_from_start_times() -> None:
    # late ends at 22:00, early starts at 07:00: 9 h of rest, 11 h needed.
    early = ShiftType("early", 480, start_minute=7 * 60)
    late = ShiftType("late", 480, start_minute=14 * 60)
    problem = RosterProblem(
        days=2,
        shifts=(early, late),
        nurses=(_nurse("ana", Contract(min_rest_minutes=11 * 60)),),
        cover=(
            _line(0, "late", 1, under=5),
            _line(1, "early", 1, under=7),
            _line(0, "early", 0),
            _line(1, "late", 0),
        ),
    )
    assert _solve(problem).objective == 5


def test_agency_nurse_cheaper_than_a_short_shift() -> None:
    problem = RosterProblem(
        days=1,
        shifts=(DAY,),
        nurses=(_nurse("ana"),),
        cover=(_line(0, "day", 3, under=10),),
        agency=(AgencyOffer("rn", cost_per_shift=4, max_nurses_per_shift=1),),
    )
    solution = _solve(problem)
    # ana + 1 agency nurse, 1 short: 4 + 10
    assert solution.objective == 14
    assert solution.objective_terms["agency_cost"] == 4
    assert solution.roster is not None and sum(b.nurses for b in solution.roster.agency) == 1


def test_night_fairness_beats_a_request() -> None:
    # Spreading two nights costs ana's second request (1); giving ana both costs a spread of 2 × 3.
    night = ShiftType("night", 600, night=True)
    problem = RosterProblem(
        days=2,
        shifts=(night,),
        nurses=(_nurse("ana"), _nurse("ben")),
        cover=(_line(0, "night", 1), _line(1, "night", 1)),
        requests=(ShiftRequest("ana", 0, "night", 1, True), ShiftRequest("ana", 1, "night", 1, True)),
        fairness=Fairness(night_spread_weight=3),
    )
    solution = _solve(problem)
    assert solution.objective == 1
    assert solution.objective_terms["night_spread"] == 0


def test_weekend_fairness() -> None:
    # Horizon = one weekend (starts on Saturday); ana asks for both days (2 each). Giving ana both days alone
    # costs a spread of 1 × 5; splitting costs a request (2); best: ana both days and ben one day too, so
    # both work the weekend, for one nurse over cover (1).
    problem = RosterProblem(
        days=2,
        shifts=(DAY,),
        nurses=(_nurse("ana"), _nurse("ben")),
        cover=(_line(0, "day", 1), _line(1, "day", 1)),
        requests=(ShiftRequest("ana", 0, "day", 2, True), ShiftRequest("ana", 1, "day", 2, True)),
        fairness=Fairness(weekend_spread_weight=5),
        start_weekday=5,
    )
    solution = _solve(problem)
    assert solution.objective == 1
    assert solution.objective_terms["cover_surplus"] == 1


def test_skills_and_units() -> None:
    # Only ana can cover the ICU; ben covers the ward.
    problem = RosterProblem(
        days=1,
        shifts=(DAY,),
        nurses=(_nurse("ana", skills={"rn", "icu"}, units={"ward", "icu"}), _nurse("ben")),
        cover=(_line(0, "day", 1), _line(0, "day", 1, unit_id="icu", skill="icu")),
    )
    solution = _solve(problem)
    assert solution.objective == 0
    assert set(solution.roster.assignments) == {  # type: ignore[union-attr]
        Assignment("ana", 0, "day", "icu", "icu"),
        Assignment("ben", 0, "day", "ward", "rn"),
    }


def test_minimum_minutes_force_over_cover() -> None:
    problem = RosterProblem(
        days=1,
        shifts=(DAY,),
        nurses=(
            _nurse("ana", Contract(min_total_minutes=480)),
            _nurse("ben", Contract(min_total_minutes=480)),
        ),
        cover=(_line(0, "day", 1, over=2),),
    )
    solution = _solve(problem)
    assert solution.objective == 2
    assert solution.objective_terms["cover_surplus"] == 2


def test_min_consecutive_shifts_exempts_the_start_of_the_horizon() -> None:
    # Working day 1 alone is a one-day run inside the horizon; days 0-1 touch the start: surplus 1.
    problem = RosterProblem(
        days=3,
        shifts=(DAY,),
        nurses=(_nurse("ana", Contract(min_consecutive_shifts=2)),),
        cover=(_line(0, "day", 0), _line(1, "day", 1), _line(2, "day", 0, over=2)),
    )
    solution = _solve(problem)
    assert solution.objective == 1
    assert _worked(solution) == {("ana", 0, "day"), ("ana", 1, "day")}


def test_min_consecutive_days_off() -> None:
    # work, off, work is forbidden: working all three days costs a surplus of 1.
    problem = RosterProblem(
        days=3,
        shifts=(DAY,),
        nurses=(_nurse("ana", Contract(min_consecutive_days_off=2)),),
        cover=(_line(0, "day", 1), _line(1, "day", 0), _line(2, "day", 1)),
    )
    solution = _solve(problem)
    assert solution.objective == 1


def test_complete_weekends_and_max_weekends() -> None:
    # Cover wanted on both Saturdays; complete weekends force Sundays (surplus 1 each); one weekend at most.
    problem = RosterProblem(
        days=14,
        shifts=(DAY,),
        nurses=(_nurse("ana", Contract(complete_weekends=True, max_weekends=1)),),
        cover=tuple(_line(d, "day", 1 if d in (5, 12) else 0, under=10, over=1) for d in range(14)),
    )
    solution = _solve(problem)
    assert solution.objective == 10 + 1


def test_max_consecutive_and_max_shifts_of_a_type() -> None:
    night = ShiftType("night", 600, night=True)
    problem = RosterProblem(
        days=4,
        shifts=(DAY, night),
        nurses=(_nurse("ana", Contract(max_consecutive_shifts=3, max_shifts={"night": 1})),),
        cover=tuple(_line(d, s, 1) for d in range(4) for s in ("day", "night")),
    )
    solution = _solve(problem)
    # 3 of 8 shifts can be worked: 5 short.
    assert solution.objective == 50


def test_hard_cover_minimum_uses_agency() -> None:
    problem = RosterProblem(
        days=1,
        shifts=(DAY,),
        nurses=(_nurse("ana", days_off={0}),),
        cover=(_line(0, "day", 1, under=1, minimum_nurses=1),),
        agency=(AgencyOffer("rn", cost_per_shift=50, max_nurses_per_shift=1),),
    )
    solution = _solve(problem)
    assert solution.objective == 50


def test_infeasible_roster_is_reported_with_an_explanation() -> None:
    problem = RosterProblem(
        days=1,
        shifts=(DAY,),
        nurses=(_nurse("ana", days_off={0}),),
        cover=(_line(0, "day", 1, minimum_nurses=1),),
    )
    solution = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert solution.status is RosterStatus.INFEASIBLE
    assert solution.roster is None
    assert solution.explanation is not None
    assert solution.explanation.total_extra_nurses == 1


def _ward(days: int = 14, nurses: int = 8) -> RosterProblem:
    shifts = (
        ShiftType("early", 480, start_minute=7 * 60),
        ShiftType("late", 480, start_minute=15 * 60),
        ShiftType("night", 600, start_minute=22 * 60, night=True, forbidden_next={"early", "late"}),
    )
    contract = Contract(
        min_total_minutes=6 * 480,
        max_total_minutes=10 * 480,
        max_shifts={"night": 4},
        max_consecutive_shifts=5,
        min_consecutive_shifts=2,
        min_consecutive_days_off=2,
        max_weekends=1,
        min_rest_minutes=11 * 60,
        complete_weekends=True,
    )
    staff = tuple(_nurse(f"n{i}", contract, days_off={(3 * i) % days}) for i in range(nurses))
    cover = tuple(
        _line(d, s.shift_id, 2 if s.shift_id == "early" else 1, under=20, over=2)
        for d in range(days)
        for s in shifts
    )
    requests = tuple(
        ShiftRequest(f"n{i}", (5 * i + 1) % days, "early", 1 + i % 3, wants_shift=i % 2 == 0)
        for i in range(nurses)
    )
    return RosterProblem(
        days=days,
        shifts=shifts,
        nurses=staff,
        cover=cover,
        requests=requests,
        agency=(AgencyOffer("rn", cost_per_shift=15, max_nurses_per_shift=1),),
        fairness=Fairness(night_spread_weight=2, weekend_spread_weight=2),
    )


def test_checker_agrees_with_the_solver_on_a_two_week_ward() -> None:
    problem = _ward()
    solution = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    assert solution.status in (RosterStatus.OPTIMAL, RosterStatus.FEASIBLE)
    assert solution.roster is not None
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    for term, value in check.penalties.items():
        assert solution.objective_terms[term] == value, term
    assert solution.bound <= solution.objective + 1e-6


def test_progress_is_reported_and_cancel_stops_the_search() -> None:
    problem = _ward(days=28, nurses=12)
    cancel = threading.Event()
    reports: list[RosterProgress] = []

    def on_progress(report: RosterProgress) -> None:
        reports.append(report)
        cancel.set()

    solution = solve_roster(
        problem, time_limit_seconds=60, workers=WORKERS, seed=0, progress=on_progress, cancel=cancel
    )
    assert reports and reports[0].solutions == 1
    assert solution.cancelled
    assert solution.seconds < 30
    assert solution.status in (RosterStatus.FEASIBLE, RosterStatus.OPTIMAL)


def test_cancel_before_the_start_returns_at_once() -> None:
    cancel = threading.Event()
    cancel.set()
    solution = solve_roster(
        _ward(days=28, nurses=12), time_limit_seconds=60, workers=WORKERS, seed=0, cancel=cancel
    )
    assert solution.cancelled
    assert solution.seconds < 10


def test_hint_is_accepted() -> None:
    problem = _ward(days=7, nurses=6)
    first = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0)
    again = solve_roster(problem, time_limit_seconds=TIME_LIMIT, workers=WORKERS, seed=0, hint=first.roster)
    assert again.objective is not None and first.objective is not None
    assert again.objective <= first.objective


@st.composite
def _small_problems(draw: st.DrawFn) -> RosterProblem:
    days = draw(st.integers(1, 9))
    shifts = (
        ShiftType("early", 480, start_minute=420),
        ShiftType("night", 600, start_minute=1260, night=True, forbidden_next={"early"}),
    )
    nurses = []
    for i in range(draw(st.integers(1, 3))):
        contract = Contract(
            max_total_minutes=draw(st.sampled_from([None, 960, 1920])),
            max_shifts=draw(st.sampled_from([{}, {"night": 1}, {"night": 0}])),
            max_consecutive_shifts=draw(st.sampled_from([None, 2, 3])),
            min_consecutive_shifts=draw(st.integers(1, 2)),
            min_consecutive_days_off=draw(st.integers(1, 2)),
            max_weekends=draw(st.sampled_from([None, 0, 1])),
            min_rest_minutes=draw(st.sampled_from([0, 660])),
            complete_weekends=draw(st.booleans()),
        )
        days_off = draw(st.frozensets(st.integers(0, days - 1), max_size=2))
        leave = draw(st.frozensets(st.integers(0, days - 1), max_size=1))
        nurses.append(_nurse(f"n{i}", contract, days_off=days_off, leave_days=leave))
    cover = tuple(
        _line(
            d,
            s.shift_id,
            draw(st.integers(0, 2)),
            under=draw(st.integers(0, 9)),
            over=draw(st.integers(0, 3)),
        )
        for d in range(days)
        for s in shifts
    )
    requests = tuple(
        ShiftRequest(
            draw(st.sampled_from([n.nurse_id for n in nurses])),
            draw(st.integers(0, days - 1)),
            draw(st.sampled_from([None, "early", "night"])),
            draw(st.integers(0, 4)),
            draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 4)))
    )
    return RosterProblem(
        days=days,
        shifts=shifts,
        nurses=tuple(nurses),
        cover=cover,
        requests=requests,
        fairness=Fairness(draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        start_weekday=draw(st.integers(0, 6)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=_small_problems())
def test_solver_answers_always_pass_the_checker(problem: RosterProblem) -> None:
    solution = solve_roster(
        problem, time_limit_seconds=TIME_LIMIT, workers=1, seed=0, explain_infeasibility=False
    )
    assert solution.status is not RosterStatus.TIMEOUT
    if solution.roster is None:
        return
    check = check_roster(problem, solution.roster)
    assert check.feasible, check.violations
    assert check.objective == solution.objective
    if solution.status is RosterStatus.OPTIMAL:
        assert solution.bound == pytest.approx(solution.objective)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=_small_problems())
def test_work_pattern_automaton_neither_cuts_nor_admits_rosters(problem: RosterProblem) -> None:
    # The automata restate the sequence rules; with and without them the optimum must be the same.
    with_automata = solve_roster(
        problem, time_limit_seconds=TIME_LIMIT, workers=1, seed=0, work_pattern_automaton=True
    )
    without = solve_roster(
        problem, time_limit_seconds=TIME_LIMIT, workers=1, seed=0, work_pattern_automaton=False
    )
    assert with_automata.status is RosterStatus.OPTIMAL and without.status is RosterStatus.OPTIMAL
    assert with_automata.objective == without.objective
