"""The answer of the roster optimiser: assignments, agency bookings, status and objective by term."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.roster.explain import InfeasibilityExplanation


class RosterStatus(StrEnum):
    """Outcome of a roster solve."""

    OPTIMAL = "optimal"
    """A roster was found and proved optimal."""
    FEASIBLE = "feasible"
    """A roster was found; the search stopped (time limit or cancel) before proving it optimal."""
    INFEASIBLE = "infeasible"
    """The hard rules cannot all be met; see :attr:`RosterSolution.explanation`."""
    TIMEOUT = "timeout"
    """The search stopped before finding any roster or proving there is none."""


@dataclass(frozen=True, order=True)
class Assignment:
    """One nurse working one shift on one day, on a unit, using a skill."""

    nurse_id: str
    day: int
    shift_id: str
    unit_id: str
    skill: str


@dataclass(frozen=True, order=True)
class AgencyBooking:
    """Agency / float pool nurses booked for one day × shift × unit × skill."""

    day: int
    shift_id: str
    unit_id: str
    skill: str
    nurses: int


@dataclass(frozen=True)
class Roster:
    """A roster: who works what, plus agency bookings.

    Parameters
    ----------
    assignments
        Nurse assignments (at most one per nurse and day in a valid roster).
    agency
        Agency bookings.
    """

    assignments: tuple[Assignment, ...]
    agency: tuple[AgencyBooking, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "assignments", tuple(sorted(self.assignments)))
        object.__setattr__(self, "agency", tuple(sorted(self.agency)))

    def assignment(self, nurse_id: str, day: int) -> Assignment | None:
        """The assignment of ``nurse_id`` on ``day`` (the first one if there are several), or None."""
        return self._by_nurse_day.get((nurse_id, day))

    @property
    def _by_nurse_day(self) -> Mapping[tuple[str, int], Assignment]:
        cached = self.__dict__.get("_by_nurse_day_cache")
        if cached is None:
            cached = {}
            for a in self.assignments:
                cached.setdefault((a.nurse_id, a.day), a)
            object.__setattr__(self, "_by_nurse_day_cache", cached)
        return cached

    def shift_table(self, nurse_ids: tuple[str, ...], days: int) -> list[list[str]]:
        """Shift ids as a nurse × day table ('' for a day off), e.g. for display."""
        table = []
        for nurse_id in nurse_ids:
            row = []
            for day in range(days):
                found = self.assignment(nurse_id, day)
                row.append(found.shift_id if found else "")
            table.append(row)
        return table


@dataclass(frozen=True)
class RosterProgress:
    """A progress report sent to the caller's callback for each improving roster.

    Attributes
    ----------
    solutions
        Rosters found so far.
    objective
        Objective of the latest roster.
    bound
        Best proven lower bound on the objective.
    seconds
        Wall time since the solve started [s].
    """

    solutions: int
    objective: float
    bound: float
    seconds: float


@dataclass(frozen=True)
class NeighbourhoodRecord:
    """What one kind of neighbourhood did in a large neighbourhood search.

    Attributes
    ----------
    searches
        Neighbourhoods of this kind searched.
    proved
        Searches that CP-SAT finished (the neighbourhood held nothing better than what it returned).
    improvements
        Searches that gave a better roster than the best so far.
    """

    searches: int
    proved: int
    improvements: int


@dataclass(frozen=True)
class RosterSolution:
    """The typed answer of :func:`scheduler.roster.solve_roster` and :func:`scheduler.roster.repair_roster`.

    Attributes
    ----------
    status
        optimal / feasible / infeasible / timeout.
    roster
        The best roster found, or None.
    objective
        Objective of ``roster`` (sum of ``objective_terms``), or None.
    objective_terms
        Objective split by term (see :data:`scheduler.roster.problem.OBJECTIVE_TERMS`).
    bound
        Best proven lower bound on the objective.
    seconds
        Wall time of the solve [s].
    cancelled
        Whether the caller's cancel hook stopped the search.
    explanation
        When infeasible: what to relax (fewest extra nurses, conflicting rules).
    neighbourhoods
        From the large neighbourhood search only: what each kind of neighbourhood did.
    neighbourhood_seconds
        From the large neighbourhood search only: the time limit of one neighbourhood search when it
        stopped [s] (it grows when the search stalls).
    final_search_started
        From the large neighbourhood search only: when its final search of the whole model started
        (seconds from the start), or None when there was none.
    """

    status: RosterStatus
    roster: Roster | None
    objective: int | None
    objective_terms: Mapping[str, int]
    bound: float
    seconds: float
    cancelled: bool = False
    explanation: InfeasibilityExplanation | None = None
    neighbourhoods: Mapping[str, NeighbourhoodRecord] = field(default_factory=dict)
    neighbourhood_seconds: float | None = None
    final_search_started: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "objective_terms", MappingProxyType(dict(self.objective_terms)))
        object.__setattr__(self, "neighbourhoods", MappingProxyType(dict(self.neighbourhoods)))

    @property
    def has_roster(self) -> bool:
        """Whether a roster was found."""
        return self.roster is not None
