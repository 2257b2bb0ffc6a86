"""Reader for the Curtois & Qu shift scheduling benchmark (schedulingbenchmarks.org) text format.

The file has sections ``SECTION_HORIZON``, ``SECTION_SHIFTS``, ``SECTION_STAFF``, ``SECTION_DAYS_OFF``,
``SECTION_SHIFT_ON_REQUESTS``, ``SECTION_SHIFT_OFF_REQUESTS`` and ``SECTION_COVER``; lines starting with
``#`` are comments. All instances start on a Monday.

In the benchmark every staff rule is hard, and the objective is the sum of the weights of the shift on/off
requests not granted, plus the under-cover weight times the shortfall and the over-cover weight times the
surplus of every cover line. :func:`curtois_problem` maps an instance onto :class:`RosterProblem` (one
unit, one skill, no agency, no fairness) so that our objective *is* the Curtois objective.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from scheduler.roster.checker import RosterCheck, check_roster
from scheduler.roster.lns import FINAL_SHARE, NEIGHBOURHOODS, solve_roster_lns
from scheduler.roster.model import ProgressCallback, solve_roster
from scheduler.roster.problem import (
    TERM_COVER_SHORTFALL,
    TERM_COVER_SURPLUS,
    TERM_SHIFT_OFF_REQUESTS,
    TERM_SHIFT_ON_REQUESTS,
    Contract,
    CoverRequirement,
    Nurse,
    RosterProblem,
    ShiftRequest,
    ShiftType,
)
from scheduler.roster.solution import Roster, RosterSolution

CURTOIS_UNIT = "ward"
"""The single unit of a Curtois instance."""
CURTOIS_SKILL = "nurse"
"""The single skill of a Curtois instance."""

CURTOIS_TERMS = (TERM_SHIFT_ON_REQUESTS, TERM_SHIFT_OFF_REQUESTS, TERM_COVER_SHORTFALL, TERM_COVER_SURPLUS)
"""The objective terms that make up the Curtois objective."""

CURTOIS_BEST_KNOWN: Mapping[int, int] = MappingProxyType(
    {
        1: 607,
        2: 828,
        3: 1001,
        4: 1716,
        5: 1143,
        6: 1950,
        7: 1056,
        8: 1300,
        9: 439,
        10: 4631,
        11: 3443,
        12: 4040,
    }
)
"""Best known objective of Instance1..12 (../shared/data/README.md)."""

SECTIONS = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)


class CurtoisFormatError(ValueError):
    """A Curtois instance file could not be read; the message names the file, line and field."""


@dataclass(frozen=True)
class CurtoisShift:
    """A line of SECTION_SHIFTS: id, length [minutes], shifts that cannot follow it the next day."""

    shift_id: str
    length_minutes: int
    cannot_follow: tuple[str, ...]


@dataclass(frozen=True)
class CurtoisStaff:
    """A line of SECTION_STAFF."""

    staff_id: str
    max_shifts: Mapping[str, int]
    max_total_minutes: int
    min_total_minutes: int
    max_consecutive_shifts: int
    min_consecutive_shifts: int
    min_consecutive_days_off: int
    max_weekends: int


@dataclass(frozen=True)
class CurtoisRequest:
    """A line of SECTION_SHIFT_ON_REQUESTS or SECTION_SHIFT_OFF_REQUESTS."""

    staff_id: str
    day: int
    shift_id: str
    weight: int


@dataclass(frozen=True)
class CurtoisCover:
    """A line of SECTION_COVER."""

    day: int
    shift_id: str
    requirement: int
    under_weight: int
    over_weight: int


@dataclass(frozen=True)
class CurtoisInstance:
    """The content of a Curtois instance file, as written."""

    name: str
    days: int
    shifts: tuple[CurtoisShift, ...]
    staff: tuple[CurtoisStaff, ...]
    days_off: Mapping[str, tuple[int, ...]]
    shift_on_requests: tuple[CurtoisRequest, ...]
    shift_off_requests: tuple[CurtoisRequest, ...]
    cover: tuple[CurtoisCover, ...]

    @property
    def number(self) -> int | None:
        """The instance number taken from a name like ``Instance7``, if any."""
        found = re.search(r"(\d+)$", self.name)
        return int(found.group(1)) if found else None

    @property
    def best_known(self) -> int | None:
        """Best known objective for this instance, if it is one of Instance1..12."""
        number = self.number
        return CURTOIS_BEST_KNOWN.get(number) if number is not None else None


class _Lines:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, line_number: int, message: str) -> CurtoisFormatError:
        return CurtoisFormatError(f"{self.path}:{line_number}: {message}")


def _integer(lines: _Lines, line_number: int, field: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise lines.fail(line_number, f"{field} must be an integer, got {text.strip()!r}") from None


def _fields(lines: _Lines, line_number: int, text: str, count: int, what: str) -> list[str]:
    parts = text.split(",")
    if len(parts) != count:
        raise lines.fail(
            line_number, f"{what} needs {count} comma-separated fields, got {len(parts)}: {text!r}"
        )
    return parts


def read_curtois(path: Path | str) -> CurtoisInstance:
    """Read a Curtois instance file.

    Parameters
    ----------
    path
        The ``InstanceN.txt`` file.

    Raises
    ------
    CurtoisFormatError
        When a section is missing or a line is malformed; the message gives file, line and field.
    """
    path = Path(path)
    lines = _Lines(path)
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for line_number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("SECTION_"):
            if text not in SECTIONS:
                raise lines.fail(line_number, f"unknown section {text!r}")
            current = text
            sections[current] = []
            continue
        if current is None:
            raise lines.fail(line_number, f"data before the first section: {text!r}")
        sections[current].append((line_number, text))
    for section in SECTIONS:
        if section not in sections:
            raise CurtoisFormatError(f"{path}: missing {section}")

    horizon = sections["SECTION_HORIZON"]
    if len(horizon) != 1:
        raise CurtoisFormatError(f"{path}: SECTION_HORIZON must hold one number of days")
    days = _integer(lines, horizon[0][0], "horizon", horizon[0][1])

    shifts = []
    for line_number, text in sections["SECTION_SHIFTS"]:
        shift_id, length, cannot_follow = _fields(lines, line_number, text, 3, "a shift")
        shifts.append(
            CurtoisShift(
                shift_id=shift_id.strip(),
                length_minutes=_integer(lines, line_number, "shift length", length),
                cannot_follow=tuple(s.strip() for s in cannot_follow.split("|") if s.strip()),
            )
        )

    staff = []
    for line_number, text in sections["SECTION_STAFF"]:
        parts = _fields(lines, line_number, text, 8, "a staff line")
        max_shifts = {}
        for item in parts[1].split("|"):
            if not item.strip():
                continue
            if "=" not in item:
                raise lines.fail(line_number, f"MaxShifts item must be shift=count, got {item!r}")
            shift_id, count = item.split("=", 1)
            max_shifts[shift_id.strip()] = _integer(lines, line_number, f"MaxShifts[{shift_id}]", count)
        names = (
            "MaxTotalMinutes",
            "MinTotalMinutes",
            "MaxConsecutiveShifts",
            "MinConsecutiveShifts",
            "MinConsecutiveDaysOff",
            "MaxWeekends",
        )
        numbers = [
            _integer(lines, line_number, name, value) for name, value in zip(names, parts[2:], strict=True)
        ]
        staff.append(
            CurtoisStaff(
                staff_id=parts[0].strip(),
                max_shifts=MappingProxyType(max_shifts),
                max_total_minutes=numbers[0],
                min_total_minutes=numbers[1],
                max_consecutive_shifts=numbers[2],
                min_consecutive_shifts=numbers[3],
                min_consecutive_days_off=numbers[4],
                max_weekends=numbers[5],
            )
        )

    days_off: dict[str, tuple[int, ...]] = {}
    for line_number, text in sections["SECTION_DAYS_OFF"]:
        parts = text.split(",")
        days_off[parts[0].strip()] = tuple(
            _integer(lines, line_number, "day off", p) for p in parts[1:] if p.strip()
        )

    def requests(section: str) -> tuple[CurtoisRequest, ...]:
        found = []
        for line_number, text in sections[section]:
            staff_id, day, shift_id, weight = _fields(lines, line_number, text, 4, "a request")
            found.append(
                CurtoisRequest(
                    staff_id=staff_id.strip(),
                    day=_integer(lines, line_number, "request day", day),
                    shift_id=shift_id.strip(),
                    weight=_integer(lines, line_number, "request weight", weight),
                )
            )
        return tuple(found)

    cover = []
    for line_number, text in sections["SECTION_COVER"]:
        day, shift_id, requirement, under, over = _fields(lines, line_number, text, 5, "a cover line")
        cover.append(
            CurtoisCover(
                day=_integer(lines, line_number, "cover day", day),
                shift_id=shift_id.strip(),
                requirement=_integer(lines, line_number, "cover requirement", requirement),
                under_weight=_integer(lines, line_number, "weight for under", under),
                over_weight=_integer(lines, line_number, "weight for over", over),
            )
        )

    return CurtoisInstance(
        name=path.stem,
        days=days,
        shifts=tuple(shifts),
        staff=tuple(staff),
        days_off=MappingProxyType(days_off),
        shift_on_requests=requests("SECTION_SHIFT_ON_REQUESTS"),
        shift_off_requests=requests("SECTION_SHIFT_OFF_REQUESTS"),
        cover=tuple(cover),
    )


def curtois_problem(instance: CurtoisInstance) -> RosterProblem:
    """Map a Curtois instance onto our roster problem.

    One unit (:data:`CURTOIS_UNIT`) and one skill (:data:`CURTOIS_SKILL`); every staff rule becomes a hard
    contract rule; requests and cover keep their weights. The horizon starts on a Monday.
    """
    shifts = tuple(
        ShiftType(
            shift_id=s.shift_id, length_minutes=s.length_minutes, forbidden_next=frozenset(s.cannot_follow)
        )
        for s in instance.shifts
    )
    nurses = tuple(
        Nurse(
            nurse_id=s.staff_id,
            contract=Contract(
                min_total_minutes=s.min_total_minutes,
                max_total_minutes=s.max_total_minutes,
                max_shifts=dict(s.max_shifts),
                max_consecutive_shifts=s.max_consecutive_shifts,
                min_consecutive_shifts=s.min_consecutive_shifts,
                min_consecutive_days_off=s.min_consecutive_days_off,
                max_weekends=s.max_weekends,
            ),
            skills=frozenset({CURTOIS_SKILL}),
            units=frozenset({CURTOIS_UNIT}),
            days_off=frozenset(instance.days_off.get(s.staff_id, ())),
        )
        for s in instance.staff
    )
    requests = tuple(
        ShiftRequest(nurse_id=r.staff_id, day=r.day, shift_id=r.shift_id, weight=r.weight, wants_shift=True)
        for r in instance.shift_on_requests
    ) + tuple(
        ShiftRequest(nurse_id=r.staff_id, day=r.day, shift_id=r.shift_id, weight=r.weight, wants_shift=False)
        for r in instance.shift_off_requests
    )
    cover = tuple(
        CoverRequirement(
            day=c.day,
            shift_id=c.shift_id,
            unit_id=CURTOIS_UNIT,
            skill=CURTOIS_SKILL,
            required_nurses=c.requirement,
            under_weight=c.under_weight,
            over_weight=c.over_weight,
        )
        for c in instance.cover
    )
    return RosterProblem(
        days=instance.days,
        shifts=shifts,
        nurses=nurses,
        cover=cover,
        requests=requests,
        start_weekday=0,
        name=instance.name,
    )


def load_curtois(path: Path | str) -> RosterProblem:
    """Read a Curtois instance file and map it onto a :class:`RosterProblem`."""
    return curtois_problem(read_curtois(path))


def curtois_objective(check: RosterCheck) -> int:
    """The Curtois objective of a checked roster: requests not granted plus weighted under/over cover."""
    return sum(check.penalties.get(term, 0) for term in CURTOIS_TERMS)


def check_curtois(problem: RosterProblem, roster: Roster) -> tuple[bool, int, RosterCheck]:
    """Check a roster of a Curtois problem: (all staff rules met, Curtois objective, full check)."""
    check = check_roster(problem, roster)
    return check.feasible, curtois_objective(check), check


@dataclass(frozen=True)
class CurtoisResult:
    """A solved Curtois instance, verified by the independent checker.

    Attributes
    ----------
    solution
        The solver's answer (status, bound, seconds, objective by term).
    feasible
        Whether the checker finds every staff rule met (False when there is no roster).
    objective
        The Curtois objective computed by the checker, or None without a roster.
    check
        The full check, or None without a roster.
    """

    solution: RosterSolution
    feasible: bool
    objective: int | None
    check: RosterCheck | None


LNS_MIN_NURSE_DAYS = 1100
"""Rosters of at least this many nurse-days are solved by large neighbourhood search in :func:`solve_curtois`.

Measured with 2 workers and 60 s: plain CP-SAT wins up to Instance9 (36 × 28; 443 against 474 by LNS),
LNS wins from Instance10 (40 × 28; about 4,850 against 5,882) up."""


LNS_FIRST_SHARE = 0.0
"""Share of the time the large neighbourhood search gives to CP-SAT on the whole model first.

None: on Instance10 and 12 (40 and 60 × 28) that run never finished its root LP (bounds 6 and 0), so its
quarter of the time was lost; the neighbourhoods now start right after the greedy roster (the answer has
no bound then)."""


def solve_curtois(
    instance: CurtoisInstance,
    *,
    time_limit_seconds: float,
    workers: int = 2,
    seed: int = 0,
    method: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    neighbourhoods: tuple[str, ...] = NEIGHBOURHOODS,
    shortfall_cuts: bool = False,
    neighbourhood_seconds: float = 2.0,
    max_neighbourhood_seconds: float | None = None,
    final_share: float = FINAL_SHARE,
) -> CurtoisResult:
    """Roster a Curtois instance with our model and check the answer independently.

    Parameters
    ----------
    instance
        The instance, from :func:`read_curtois`.
    time_limit_seconds
        Wall-time limit [s].
    workers
        Solver threads.
    seed
        Random seed.
    method
        ``"cp-sat"`` (:func:`scheduler.roster.solve_roster`), ``"lns"``
        (:func:`scheduler.roster.lns.solve_roster_lns`) or ``"auto"``: LNS from
        :data:`LNS_MIN_NURSE_DAYS` nurse-days up.
    progress, cancel
        As for :func:`scheduler.roster.solve_roster`.
    neighbourhoods, shortfall_cuts, neighbourhood_seconds, max_neighbourhood_seconds, final_share
        Options of the LNS (:func:`scheduler.roster.lns.solve_roster_lns`).
    """
    problem = curtois_problem(instance)
    if method not in ("auto", "cp-sat", "lns"):
        raise ValueError(f"method: must be auto, cp-sat or lns, got {method!r}")
    if method == "auto":
        method = "lns" if len(problem.nurses) * problem.days >= LNS_MIN_NURSE_DAYS else "cp-sat"
    if method == "lns":
        solution = solve_roster_lns(
            problem,
            time_limit_seconds=time_limit_seconds,
            workers=workers,
            seed=seed,
            progress=progress,
            cancel=cancel,
            first_share=LNS_FIRST_SHARE,
            neighbourhoods=neighbourhoods,
            shortfall_cuts=shortfall_cuts,
            neighbourhood_seconds=neighbourhood_seconds,
            max_neighbourhood_seconds=max_neighbourhood_seconds,
            final_share=final_share,
        )
    else:
        solution = solve_roster(
            problem,
            time_limit_seconds=time_limit_seconds,
            workers=workers,
            seed=seed,
            progress=progress,
            cancel=cancel,
            explain_infeasibility=False,
        )
    if solution.roster is None:
        return CurtoisResult(solution=solution, feasible=False, objective=None, check=None)
    feasible, objective, check = check_curtois(problem, solution.roster)
    return CurtoisResult(solution=solution, feasible=feasible, objective=objective, check=check)
