"""The nurse roster problem: typed, frozen inputs validated on construction.

A roster covers ``days`` consecutive days numbered from 0. Each nurse works at most one shift a day, on one
unit, using one of their skills. Cover lines say how many nurses each day × shift × unit × skill needs;
a nurse can only be rostered where a cover line exists (its requirement may be zero).

Hard rules come from each nurse's :class:`Contract`, their fixed days off and leave, and the hard minimum
of each cover line. Soft rules (penalties in the objective) are the cover targets (under- and over-cover
weights), shift requests, agency cost and the spread of nights and weekends across nurses.

Every class checks its own fields in ``__post_init__`` and :class:`RosterProblem` checks the references
between them; a bad value raises :class:`RosterInputError` with the field named, e.g.
``nurses[3].contract.max_total_minutes: 300 is below min_total_minutes (400)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NoReturn

MINUTES_PER_DAY = 24 * 60
SATURDAY = 5
SUNDAY = 6

# Names of the objective terms, shared by the solver, the checker and reports.
TERM_COVER_SHORTFALL = "cover_shortfall"
TERM_COVER_SURPLUS = "cover_surplus"
TERM_SHIFT_ON_REQUESTS = "shift_on_requests"
TERM_SHIFT_OFF_REQUESTS = "shift_off_requests"
TERM_AGENCY_COST = "agency_cost"
TERM_NIGHT_SPREAD = "night_spread"
TERM_WEEKEND_SPREAD = "weekend_spread"
TERM_ROSTER_CHANGES = "roster_changes"


class HardRule(StrEnum):
    """Names of the hard rules, used by the model, the checker and infeasibility explanations."""

    ONE_SHIFT_PER_DAY = "one_shift_per_day"
    ELIGIBILITY = "eligibility"
    DAYS_OFF = "days_off"
    LEAVE = "leave"
    MAX_SHIFTS_PER_TYPE = "max_shifts_per_type"
    MIN_TOTAL_MINUTES = "min_total_minutes"
    MAX_TOTAL_MINUTES = "max_total_minutes"
    MAX_CONSECUTIVE_SHIFTS = "max_consecutive_shifts"
    MIN_CONSECUTIVE_SHIFTS = "min_consecutive_shifts"
    MIN_CONSECUTIVE_DAYS_OFF = "min_consecutive_days_off"
    MAX_WEEKENDS = "max_weekends"
    COMPLETE_WEEKENDS = "complete_weekends"
    FORBIDDEN_SUCCESSION = "forbidden_succession"
    MIN_REST = "min_rest"
    COVER_MINIMUM = "cover_minimum"
    AGENCY_LIMIT = "agency_limit"


OBJECTIVE_TERMS = (
    TERM_COVER_SHORTFALL,
    TERM_COVER_SURPLUS,
    TERM_SHIFT_ON_REQUESTS,
    TERM_SHIFT_OFF_REQUESTS,
    TERM_AGENCY_COST,
    TERM_NIGHT_SPREAD,
    TERM_WEEKEND_SPREAD,
)
"""Objective terms of a roster, in report order (repair adds :data:`TERM_ROSTER_CHANGES`)."""


class RosterInputError(ValueError):
    """A roster input is invalid; the message starts with the offending field."""


def _fail(where: str, message: str) -> NoReturn:
    raise RosterInputError(f"{where}: {message}")


def _check_id(where: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"must be a non-empty string, got {value!r}")


def _check_int(where: str, value: Any, *, minimum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(where, f"must be at least {minimum}, got {value}")


def _check_optional_int(where: str, value: Any, *, minimum: int) -> None:
    if value is not None:
        _check_int(where, value, minimum=minimum)


def _frozen_strings(where: str, values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        _fail(where, f"must be a collection of ids, not the single string {values!r}")
    result = frozenset(values)
    for value in result:
        _check_id(f"{where}[{value!r}]", value)
    return result


def _frozen_days(where: str, values: Iterable[int]) -> frozenset[int]:
    result = frozenset(values)
    for value in result:
        _check_int(f"{where}[{value!r}]", value, minimum=0)
    return result


@dataclass(frozen=True)
class ShiftType:
    """A kind of shift (early, late, night, ...).

    Parameters
    ----------
    shift_id
        Id of the shift, as declared in the scenario.
    length_minutes
        Paid length of the shift [minutes]; counts towards the contract's total minutes.
    start_minute
        Start time [minutes after midnight], or None when unknown; needed for the minimum rest rule.
    forbidden_next
        Shift ids that may not be worked on the day after this shift (e.g. night → early).
    night
        Whether the shift counts as a night for the fairness rule.
    """

    shift_id: str
    length_minutes: int
    start_minute: int | None = None
    forbidden_next: frozenset[str] = frozenset()
    night: bool = False

    def __post_init__(self) -> None:
        _check_id("ShiftType.shift_id", self.shift_id)
        where = f"shifts[{self.shift_id}]"
        _check_int(f"{where}.length_minutes", self.length_minutes, minimum=1)
        if self.start_minute is not None:
            _check_int(f"{where}.start_minute", self.start_minute, minimum=0)
            if self.start_minute >= MINUTES_PER_DAY:
                _fail(f"{where}.start_minute", f"must be below {MINUTES_PER_DAY}, got {self.start_minute}")
        object.__setattr__(
            self, "forbidden_next", _frozen_strings(f"{where}.forbidden_next", self.forbidden_next)
        )


@dataclass(frozen=True)
class Contract:
    """Working-time rules of one nurse; all are hard rules.

    Parameters
    ----------
    min_total_minutes, max_total_minutes
        Bounds on the minutes worked over the horizon [minutes]; None means no upper bound.
    max_shifts
        Most shifts of each shift id over the horizon; a shift id that is absent is unlimited, 0 forbids it.
    max_consecutive_shifts
        Most days worked in a row (None: no limit). Runs are counted from day 0 of the horizon.
    min_consecutive_shifts
        Fewest days worked in a row. A run that touches the start or end of the horizon, or a leave day,
        is exempt (it continues outside what we roster).
    min_consecutive_days_off
        Fewest days off in a row between two worked days. Runs of days off touching the start or end of
        the horizon are exempt.
    max_weekends
        Most weekends with at least one worked Saturday or Sunday (None: no limit).
    min_rest_minutes
        Least rest between the end of one shift and the start of the next [minutes]; needs shift start
        times. Shift successions forbidden outright are given with :attr:`ShiftType.forbidden_next`.
    complete_weekends
        Work both days of a weekend or neither (weekends with a leave day are exempt).
    """

    min_total_minutes: int = 0
    max_total_minutes: int | None = None
    max_shifts: Mapping[str, int] = field(default_factory=dict)
    max_consecutive_shifts: int | None = None
    min_consecutive_shifts: int = 1
    min_consecutive_days_off: int = 1
    max_weekends: int | None = None
    min_rest_minutes: int = 0
    complete_weekends: bool = False

    def __post_init__(self) -> None:
        where = "contract"
        _check_int(f"{where}.min_total_minutes", self.min_total_minutes, minimum=0)
        _check_optional_int(f"{where}.max_total_minutes", self.max_total_minutes, minimum=0)
        if self.max_total_minutes is not None and self.max_total_minutes < self.min_total_minutes:
            _fail(
                f"{where}.max_total_minutes",
                f"{self.max_total_minutes} is below min_total_minutes ({self.min_total_minutes})",
            )
        if not isinstance(self.max_shifts, Mapping):
            _fail(f"{where}.max_shifts", f"must be a mapping of shift id to count, got {self.max_shifts!r}")
        for shift_id, count in self.max_shifts.items():
            _check_id(f"{where}.max_shifts key", shift_id)
            _check_int(f"{where}.max_shifts[{shift_id}]", count, minimum=0)
        object.__setattr__(self, "max_shifts", MappingProxyType(dict(self.max_shifts)))
        _check_optional_int(f"{where}.max_consecutive_shifts", self.max_consecutive_shifts, minimum=1)
        _check_int(f"{where}.min_consecutive_shifts", self.min_consecutive_shifts, minimum=1)
        _check_int(f"{where}.min_consecutive_days_off", self.min_consecutive_days_off, minimum=1)
        if (
            self.max_consecutive_shifts is not None
            and self.min_consecutive_shifts > self.max_consecutive_shifts
        ):
            _fail(
                f"{where}.min_consecutive_shifts",
                f"{self.min_consecutive_shifts} is above "
                f"max_consecutive_shifts ({self.max_consecutive_shifts})",
            )
        _check_optional_int(f"{where}.max_weekends", self.max_weekends, minimum=0)
        _check_int(f"{where}.min_rest_minutes", self.min_rest_minutes, minimum=0)
        if not isinstance(self.complete_weekends, bool):
            _fail(f"{where}.complete_weekends", f"must be true or false, got {self.complete_weekends!r}")

    def shift_limit(self, shift_id: str) -> int | None:
        """Most shifts of ``shift_id`` allowed over the horizon, or None when unlimited."""
        return self.max_shifts.get(shift_id)


@dataclass(frozen=True)
class Nurse:
    """A nurse on the roster.

    Parameters
    ----------
    nurse_id
        Id of the nurse.
    contract
        The nurse's working-time rules.
    skills
        Skills the nurse can cover (e.g. ``{"rn", "icu"}``).
    units
        Units the nurse may work on (home unit and any units they float to).
    days_off
        Days the nurse must not work; ordinary days off for the sequence rules.
    leave_days
        Days of leave or sickness: not worked, and a run of shifts ending next to leave is exempt from the
        minimum consecutive shifts rule.
    """

    nurse_id: str
    contract: Contract
    skills: frozenset[str]
    units: frozenset[str]
    days_off: frozenset[int] = frozenset()
    leave_days: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        _check_id("Nurse.nurse_id", self.nurse_id)
        where = f"nurses[{self.nurse_id}]"
        if not isinstance(self.contract, Contract):
            _fail(f"{where}.contract", f"must be a Contract, got {type(self.contract).__name__}")
        skills = _frozen_strings(f"{where}.skills", self.skills)
        units = _frozen_strings(f"{where}.units", self.units)
        if not skills:
            _fail(f"{where}.skills", "must name at least one skill")
        if not units:
            _fail(f"{where}.units", "must name at least one unit")
        object.__setattr__(self, "skills", skills)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "days_off", _frozen_days(f"{where}.days_off", self.days_off))
        object.__setattr__(self, "leave_days", _frozen_days(f"{where}.leave_days", self.leave_days))

    @property
    def unavailable_days(self) -> frozenset[int]:
        """Days the nurse cannot work: fixed days off and leave."""
        return self.days_off | self.leave_days


@dataclass(frozen=True)
class ShiftRequest:
    """A nurse's wish to work (or not work) a shift, with the penalty when it is not granted.

    Parameters
    ----------
    nurse_id
        Who asks.
    day
        Day of the horizon.
    shift_id
        The shift asked for or against; None means any shift of that day (a day on / day off request).
    weight
        Penalty when the request is not granted.
    wants_shift
        True for a shift-on request, False for a shift-off request.
    """

    nurse_id: str
    day: int
    shift_id: str | None
    weight: int
    wants_shift: bool

    def __post_init__(self) -> None:
        _check_id("ShiftRequest.nurse_id", self.nurse_id)
        where = f"request[{self.nurse_id}, day {self.day}]"
        _check_int(f"{where}.day", self.day, minimum=0)
        if self.shift_id is not None:
            _check_id(f"{where}.shift_id", self.shift_id)
        _check_int(f"{where}.weight", self.weight, minimum=0)
        if not isinstance(self.wants_shift, bool):
            _fail(f"{where}.wants_shift", f"must be true or false, got {self.wants_shift!r}")


@dataclass(frozen=True)
class CoverRequirement:
    """Nurses wanted on one day × shift × unit × skill.

    Parameters
    ----------
    day, shift_id, unit_id, skill
        Where the nurses are wanted.
    required_nurses
        Target number of nurses [count].
    under_weight
        Penalty per nurse short of the target.
    over_weight
        Penalty per nurse above the target.
    minimum_nurses
        Hard floor [count] (a safe staffing minimum); at most ``required_nurses``. Agency nurses count.
    """

    day: int
    shift_id: str
    unit_id: str
    skill: str
    required_nurses: int
    under_weight: int
    over_weight: int
    minimum_nurses: int = 0

    def __post_init__(self) -> None:
        where = f"cover[day {self.day}, {self.shift_id}, {self.unit_id}, {self.skill}]"
        _check_int(f"{where}.day", self.day, minimum=0)
        _check_id(f"{where}.shift_id", self.shift_id)
        _check_id(f"{where}.unit_id", self.unit_id)
        _check_id(f"{where}.skill", self.skill)
        _check_int(f"{where}.required_nurses", self.required_nurses, minimum=0)
        _check_int(f"{where}.under_weight", self.under_weight, minimum=0)
        _check_int(f"{where}.over_weight", self.over_weight, minimum=0)
        _check_int(f"{where}.minimum_nurses", self.minimum_nurses, minimum=0)
        if self.minimum_nurses > self.required_nurses:
            _fail(
                f"{where}.minimum_nurses",
                f"{self.minimum_nurses} is above required_nurses ({self.required_nurses})",
            )

    @property
    def key(self) -> tuple[int, str, str, str]:
        """(day, shift_id, unit_id, skill)."""
        return (self.day, self.shift_id, self.unit_id, self.skill)


@dataclass(frozen=True)
class AgencyOffer:
    """Float pool / agency nurses of one skill that can be booked per shift.

    Parameters
    ----------
    skill
        Skill the agency nurses bring.
    cost_per_shift
        Cost of one agency nurse for one shift (objective units).
    max_nurses_per_shift
        Most agency nurses bookable for one day × shift × unit [count].
    units
        Units they may work on; empty means any unit.
    """

    skill: str
    cost_per_shift: int
    max_nurses_per_shift: int
    units: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _check_id("AgencyOffer.skill", self.skill)
        where = f"agency[{self.skill}]"
        _check_int(f"{where}.cost_per_shift", self.cost_per_shift, minimum=0)
        _check_int(f"{where}.max_nurses_per_shift", self.max_nurses_per_shift, minimum=0)
        object.__setattr__(self, "units", _frozen_strings(f"{where}.units", self.units))

    def serves(self, unit_id: str) -> bool:
        """Whether these agency nurses may work on ``unit_id``."""
        return not self.units or unit_id in self.units


@dataclass(frozen=True)
class Fairness:
    """Weights on the spread (most minus fewest) of nights and weekends worked across nurses.

    Only nurses who may work nights (a night shift not capped at 0) share the nights, and only nurses who
    may work weekends (``max_weekends`` not 0) share the weekends.
    """

    night_spread_weight: int = 0
    weekend_spread_weight: int = 0

    def __post_init__(self) -> None:
        _check_int("fairness.night_spread_weight", self.night_spread_weight, minimum=0)
        _check_int("fairness.weekend_spread_weight", self.weekend_spread_weight, minimum=0)


@dataclass(frozen=True)
class RosterProblem:
    """Everything the roster optimiser needs.

    Parameters
    ----------
    days
        Length of the horizon [days]; the model is built for 1–6 weeks but any length is accepted.
    shifts
        Shift types.
    nurses
        Nurses to roster.
    cover
        Cover lines; at most one per day × shift × unit × skill.
    requests
        Shift on/off requests.
    agency
        Agency / float pool offers, at most one per skill.
    fairness
        Weights of the fairness terms.
    start_weekday
        Weekday of day 0 (Monday = 0 … Sunday = 6); decides which days are weekends.
    name
        A label for reports.

    Examples
    --------
    >>> early = ShiftType("early", 480)
    >>> nurse = Nurse("ana", Contract(), skills={"rn"}, units={"ward"})
    >>> line = CoverRequirement(0, "early", "ward", "rn", 1, under_weight=10, over_weight=1)
    >>> RosterProblem(days=1, shifts=(early,), nurses=(nurse,), cover=(line,)).nurse("ana").nurse_id
    'ana'
    """

    days: int
    shifts: tuple[ShiftType, ...]
    nurses: tuple[Nurse, ...]
    cover: tuple[CoverRequirement, ...]
    requests: tuple[ShiftRequest, ...] = ()
    agency: tuple[AgencyOffer, ...] = ()
    fairness: Fairness = Fairness()
    start_weekday: int = 0
    name: str = "roster"

    def __post_init__(self) -> None:
        _check_int("days", self.days, minimum=1)
        _check_int("start_weekday", self.start_weekday, minimum=0)
        if self.start_weekday > SUNDAY:
            _fail("start_weekday", f"must be 0 (Monday) to 6 (Sunday), got {self.start_weekday}")
        for name in ("shifts", "nurses", "cover", "requests", "agency"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self._check_types()
        self._check_references()

    def _check_types(self) -> None:
        expected: dict[str, type] = {
            "shifts": ShiftType,
            "nurses": Nurse,
            "cover": CoverRequirement,
            "requests": ShiftRequest,
            "agency": AgencyOffer,
        }
        for name, kind in expected.items():
            for i, item in enumerate(getattr(self, name)):
                if not isinstance(item, kind):
                    _fail(f"{name}[{i}]", f"must be a {kind.__name__}, got {type(item).__name__}")
        if not isinstance(self.fairness, Fairness):
            _fail("fairness", f"must be a Fairness, got {type(self.fairness).__name__}")
        if not self.shifts:
            _fail("shifts", "must declare at least one shift")

    def _check_references(self) -> None:
        shift_ids = _unique("shifts", [s.shift_id for s in self.shifts])
        nurse_ids = _unique("nurses", [n.nurse_id for n in self.nurses])
        _unique("agency", [a.skill for a in self.agency])
        _unique("cover", [c.key for c in self.cover])
        for shift in self.shifts:
            for other in sorted(shift.forbidden_next - shift_ids):
                _fail(f"shifts[{shift.shift_id}].forbidden_next", f"unknown shift '{other}'")
        for nurse in self.nurses:
            where = f"nurses[{nurse.nurse_id}]"
            for shift_id in sorted(set(nurse.contract.max_shifts) - shift_ids):
                _fail(f"{where}.contract.max_shifts", f"unknown shift '{shift_id}'")
            for name in ("days_off", "leave_days"):
                outside = sorted(d for d in getattr(nurse, name) if d >= self.days)
                if outside:
                    _fail(f"{where}.{name}", f"day {outside[0]} is outside the horizon of {self.days} days")
        for line in self.cover:
            where = f"cover[day {line.day}, {line.shift_id}, {line.unit_id}, {line.skill}]"
            if line.day >= self.days:
                _fail(f"{where}.day", f"is outside the horizon of {self.days} days")
            if line.shift_id not in shift_ids:
                _fail(f"{where}.shift_id", f"unknown shift '{line.shift_id}'")
        for request in self.requests:
            where = f"request[{request.nurse_id}, day {request.day}]"
            if request.nurse_id not in nurse_ids:
                _fail(f"{where}.nurse_id", f"unknown nurse '{request.nurse_id}'")
            if request.day >= self.days:
                _fail(f"{where}.day", f"is outside the horizon of {self.days} days")
            if request.shift_id is not None and request.shift_id not in shift_ids:
                _fail(f"{where}.shift_id", f"unknown shift '{request.shift_id}'")

    # ------------------------------------------------------------------ look-ups

    def shift(self, shift_id: str) -> ShiftType:
        """The shift type with id ``shift_id``."""
        for shift in self.shifts:
            if shift.shift_id == shift_id:
                return shift
        raise KeyError(shift_id)

    def nurse(self, nurse_id: str) -> Nurse:
        """The nurse with id ``nurse_id``."""
        for nurse in self.nurses:
            if nurse.nurse_id == nurse_id:
                return nurse
        raise KeyError(nurse_id)

    def agency_offer(self, skill: str) -> AgencyOffer | None:
        """The agency offer for ``skill``, if any."""
        for offer in self.agency:
            if offer.skill == skill:
                return offer
        return None

    @property
    def shift_ids(self) -> tuple[str, ...]:
        """Shift ids in declaration order."""
        return tuple(s.shift_id for s in self.shifts)

    @property
    def night_shift_ids(self) -> tuple[str, ...]:
        """Ids of the shifts that count as nights."""
        return tuple(s.shift_id for s in self.shifts if s.night)

    def weekday(self, day: int) -> int:
        """Weekday of ``day`` (Monday = 0)."""
        return (self.start_weekday + day) % 7

    def weekends(self) -> tuple[tuple[int, ...], ...]:
        """The weekends of the horizon, each as the tuple of its Saturday and/or Sunday day numbers."""
        by_week: dict[int, list[int]] = {}
        for day in range(self.days):
            if self.weekday(day) in (SATURDAY, SUNDAY):
                by_week.setdefault((self.start_weekday + day) // 7, []).append(day)
        return tuple(tuple(days) for _, days in sorted(by_week.items()))

    def nurses_sharing_nights(self) -> tuple[str, ...]:
        """Nurses who may work at least one night shift (those the night fairness term compares)."""
        nights = self.night_shift_ids
        return tuple(n.nurse_id for n in self.nurses if any(n.contract.shift_limit(s) != 0 for s in nights))

    def nurses_sharing_weekends(self) -> tuple[str, ...]:
        """Nurses who may work weekends (those the weekend fairness term compares)."""
        return tuple(n.nurse_id for n in self.nurses if n.contract.max_weekends != 0)

    def cover_line(self, day: int, shift_id: str, unit_id: str, skill: str) -> CoverRequirement | None:
        """The cover line for a day × shift × unit × skill, if one exists."""
        return self._cover_index.get((day, shift_id, unit_id, skill))

    @property
    def _cover_index(self) -> Mapping[tuple[int, str, str, str], CoverRequirement]:
        cached = self.__dict__.get("_cover_index_cache")
        if cached is None:
            cached = {line.key: line for line in self.cover}
            object.__setattr__(self, "_cover_index_cache", cached)
        return cached

    def replace_nurse(self, nurse: Nurse) -> RosterProblem:
        """A copy of the problem with the nurse of the same id replaced by ``nurse``."""
        self.nurse(nurse.nurse_id)
        nurses = tuple(nurse if n.nurse_id == nurse.nurse_id else n for n in self.nurses)
        return RosterProblem(
            days=self.days,
            shifts=self.shifts,
            nurses=nurses,
            cover=self.cover,
            requests=self.requests,
            agency=self.agency,
            fairness=self.fairness,
            start_weekday=self.start_weekday,
            name=self.name,
        )


def _unique(where: str, ids: list[Any]) -> set[Any]:
    seen: set[Any] = set()
    for value in ids:
        if value in seen:
            _fail(where, f"duplicate id {value!r}")
        seen.add(value)
    return seen
