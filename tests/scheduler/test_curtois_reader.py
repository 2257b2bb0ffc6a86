"""Curtois benchmark: reader, mapping onto the roster model, and the Curtois objective from the checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.roster import Assignment, HardRule, Roster, RosterStatus, check_roster, solve_roster
from scheduler.roster.curtois import (
    CURTOIS_BEST_KNOWN,
    CURTOIS_SKILL,
    CURTOIS_UNIT,
    CurtoisFormatError,
    check_curtois,
    curtois_problem,
    read_curtois,
)

TINY = """\
# comment
SECTION_HORIZON
# days
7

SECTION_SHIFTS
# ShiftID, Length in mins, Shifts which cannot follow this shift | separated
E,480,
L,480,E

SECTION_STAFF
# ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, MinConsecutiveShifts, ...
A,E=7|L=7,2400,960,5,2,2,1
B,E=7|L=0,2400,960,5,2,2,1

SECTION_DAYS_OFF
# EmployeeID, DayIndexes (start at zero)
A,3
B

SECTION_SHIFT_ON_REQUESTS
# EmployeeID, Day, ShiftID, Weight
A,0,L,2

SECTION_SHIFT_OFF_REQUESTS
# EmployeeID, Day, ShiftID, Weight
B,1,E,3

SECTION_COVER
# Day, ShiftID, Requirement, Weight for under, Weight for over
0,E,1,100,1
0,L,1,100,1
1,E,1,100,1
1,L,0,100,1
2,E,1,100,1
2,L,0,100,1
3,E,0,100,1
3,L,0,100,1
4,E,1,100,1
4,L,0,100,1
5,E,0,100,1
5,L,0,100,1
6,E,0,100,1
6,L,0,100,1
"""


@pytest.fixture
def tiny_instance(tmp_path: Path) -> Path:
    path = tmp_path / "Instance0.txt"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_reader_reads_every_section(tiny_instance: Path) -> None:
    instance = read_curtois(tiny_instance)
    assert instance.name == "Instance0"
    assert instance.days == 7
    assert [s.shift_id for s in instance.shifts] == ["E", "L"]
    assert instance.shifts[1].cannot_follow == ("E",)
    assert instance.staff[1].max_shifts == {"E": 7, "L": 0}
    assert instance.staff[0].max_total_minutes == 2400
    assert instance.staff[0].min_total_minutes == 960
    assert instance.days_off == {"A": (3,), "B": ()}
    assert len(instance.shift_on_requests) == 1 and len(instance.shift_off_requests) == 1
    assert len(instance.cover) == 14


def test_mapping_onto_the_roster_problem(tiny_instance: Path) -> None:
    problem = curtois_problem(read_curtois(tiny_instance))
    assert problem.days == 7 and problem.start_weekday == 0
    assert problem.shift("L").forbidden_next == frozenset({"E"})
    nurse = problem.nurse("A")
    assert nurse.days_off == frozenset({3})
    assert nurse.skills == {CURTOIS_SKILL} and nurse.units == {CURTOIS_UNIT}
    assert nurse.contract.max_weekends == 1
    assert nurse.contract.min_consecutive_shifts == 2
    assert len(problem.requests) == 2
    assert {r.wants_shift for r in problem.requests} == {True, False}


def test_curtois_objective_by_hand(tiny_instance: Path) -> None:
    problem = curtois_problem(read_curtois(tiny_instance))

    def roster(*worked: tuple[str, int, str]) -> Roster:
        return Roster(tuple(Assignment(n, d, s, CURTOIS_UNIT, CURTOIS_SKILL) for n, d, s in worked))

    # A: L on 0, E on 1? No: L → E is forbidden. A works L 0, L 1 (over by 1); B works E 0, 1, 2 (off request
    # on day 1 broken: 3); day 4 E is short (100).
    answer = roster(("A", 0, "L"), ("A", 1, "L"), ("B", 0, "E"), ("B", 1, "E"), ("B", 2, "E"))
    feasible, objective, check = check_curtois(problem, answer)
    assert feasible, check.violations
    assert objective == 1 + 3 + 100
    broken = roster(("A", 0, "L"), ("A", 1, "E"), ("B", 0, "E"), ("B", 1, "E"), ("B", 2, "E"))
    assert HardRule.FORBIDDEN_SUCCESSION in check_roster(problem, broken).broken_rules()


def test_tiny_instance_optimum(tiny_instance: Path) -> None:
    problem = curtois_problem(read_curtois(tiny_instance))
    solution = solve_roster(problem, time_limit_seconds=10, workers=2, seed=0)
    assert solution.status is RosterStatus.OPTIMAL
    assert solution.roster is not None
    feasible, objective, _ = check_curtois(problem, solution.roster)
    assert feasible
    assert objective == solution.objective


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TINY.replace("SECTION_COVER", "SECTION_WHATEVER"), "unknown section 'SECTION_WHATEVER'"),
        (TINY.replace("\n7\n", "\nseven\n"), "horizon must be an integer"),
        (TINY.replace("0,E,1,100,1", "0,E,1,100"), "a cover line needs 5 comma-separated fields"),
        (TINY.replace("A,E=7|L=7,", "A,E7|L=7,"), "MaxShifts item must be shift=count"),
        (TINY.split("SECTION_COVER")[0], "missing SECTION_COVER"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "Instance99.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CurtoisFormatError, match=message) as raised:
        read_curtois(path)
    assert "Instance99.txt" in str(raised.value)


@pytest.mark.shared_data
def test_instance1_is_read_and_solved(shared_data: Path) -> None:
    instance = read_curtois(shared_data / "rostering" / "curtois" / "Instance1.txt")
    assert instance.days == 14
    assert len(instance.staff) == 8
    assert [s.shift_id for s in instance.shifts] == ["D"]
    assert len(instance.shift_on_requests) == 21 and len(instance.shift_off_requests) == 5
    assert len(instance.cover) == 14
    assert instance.best_known == CURTOIS_BEST_KNOWN[1] == 607

    problem = curtois_problem(instance)
    solution = solve_roster(problem, time_limit_seconds=30, workers=2, seed=0)
    assert solution.status in (RosterStatus.OPTIMAL, RosterStatus.FEASIBLE)
    assert solution.roster is not None
    feasible, objective, check = check_curtois(problem, solution.roster)
    assert feasible, check.violations
    assert objective == solution.objective
    assert objective >= 607
    assert solution.bound <= 607 + 1e-6
    # CP-SAT proves the optimum of Instance1 in well under a second.
    assert solution.status is RosterStatus.OPTIMAL and objective == 607


@pytest.mark.shared_data
def test_every_instance_reads_and_maps(shared_data: Path) -> None:
    for number in range(1, 13):
        instance = read_curtois(shared_data / "rostering" / "curtois" / f"Instance{number}.txt")
        problem = curtois_problem(instance)
        assert problem.days in (14, 28)
        assert len(problem.cover) == problem.days * len(problem.shifts)
        assert instance.best_known == CURTOIS_BEST_KNOWN[number]
