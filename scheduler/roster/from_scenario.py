"""The hospital's roster from its scenario and a staffing demand, solved team by team.

The scenario gives the shifts, the staff pools (skills, contract, headcount, units) and the units' skills;
the staffing demand (:data:`scheduler.staffing.STAFFING_DEMAND_SCHEMA`) gives the nurses wanted per unit,
day, shift and skill. :func:`roster_from_scenario` turns them into roster problems
(:class:`scheduler.roster.RosterProblem`) over ``days`` days and solves them.

Why teams: the 500-bed demo employs about 700 nurses; one CP-SAT model of all of them for four weeks has
over a million assignment variables, and even one staff pool (148 nurses on five wards) gives CP-SAT no
first roster within a minute. Most hospitals roster ward by ward, so each staff pool is split into
home-unit teams of at most ``max_team_size`` nurses (:func:`make_teams`), nurses shared between a pool's
units in proportion to each unit's nursing need at full occupancy (a split that depends on the scenario
only, so a nurse keeps her team from night to night); each demand line is shared between the teams of
its unit in proportion to their size (:func:`split_targets`), so the teams are independent problems,
solved at the same time on ``workers`` threads. The price: a nurse does not float to another ward
within a roster.

Each team is solved by CP-SAT with one worker, a fixed seed and a limit in *deterministic* time
(``max_deterministic_time``), with the work-pattern automata and no LP relaxation (measured on the demo:
first rosters in a few seconds, where the LP-based search found none in a minute). The same inputs give
the same roster on every run, whatever the machine's load; a wall-time limit stays as a safety net only.

Days already published (``published``) are kept: their assignments are fixed, and the minimum minutes of
each nurse are lowered to what is still fair over the free days (:func:`_relax_for_published`). When a
fixed day still makes a team infeasible (the horizon moved on: a one-day run of shifts at the old end of
the horizon must now be two days long, or a contract changed), the team is solved again with the
published days as strong wishes (``change_weight`` per changed nurse-day, far above a nurse short) and
the changes are counted. A team whose search ends without any roster runs again with a larger
deterministic budget (:data:`RETRY_BUDGET_FACTORS`).

**Safe-staffing floors.** The demand's ``minimum_nurses`` (when the nightly plan asks for floors: the
nurse-to-patient ratio at the median census, :data:`scheduler.staffing.demand.FLOOR_QUANTILE`) is a hard
minimum of each cover line, agency included (:func:`cover_floors`, shared between teams like the targets,
:func:`split_floors`). When a team's hard rules cannot all be met (the floors, or its contracts),
:func:`scheduler.roster.explain_infeasibility` says what to relax: the fewest extra nurses per day, shift
and skill, and the conflicting rules, with deterministic-time budgets so that it is the same answer every
run (:func:`explain_team`). A team whose floors cannot be met is rostered again with them as soft targets
only, so that its ward still has a roster; the team's status stays ``infeasible``
(:func:`solve_team_problem`).

Measured on the 500-bed demo (28 days, floors at the median census, 2 shared cores): five of 50 teams
cannot meet their floors (three ICU teams, AMU#3 and RESP#1; an ICU team would need about 160 more
nurse-shifts, the fewest found, not proven), 974 nurse-shifts are missing below the floors in all, and the
roster stage took 145 s without the explanations, 391 s with them on a loaded machine, against 89 s
without floors: CP-SAT without its LP rarely proves such a counting infeasibility, so it spends its budget
first. The nightly plan therefore asks for floors only when told to (``--floor-quantile``).

**Fairness.** Nights and weekends are spread across each team's nurses (``night_spread_weight``,
``weekend_spread_weight``: most minus fewest, within a team). The default weight, 10 per night or weekend
of spread, is a fiftieth of an agency shift: fairness gives way to cover and cost, but breaks their ties.
Measured on the 500-bed demo (50 teams, 28 days, the nightly budget, same demand): the mean spread of
nights within a team fell from 6.7 to 4.4 (the widest from 12 to 10), unfilled nurse-shifts stayed at 2,910
against 2,915, agency cost rose 5 %; on a 12-nurse team over 14 days the spread fell from 4 to 1
(``tests/scheduler/test_roster_from_scenario.py``).

Measured on the 500-bed demo (722 nurses, 50 teams, 28 days, two threads): about 90 s on this 2-core
machine under load (``tests/benchmarks/test_nightly_speed.py``).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from scenarios.schema import Hospital, Scenario, StaffPool, minutes_of_day
from scheduler.roster.explain import InfeasibilityExplanation, explain_infeasibility
from scheduler.roster.model import build_roster_model
from scheduler.roster.problem import (
    TERM_ROSTER_CHANGES,
    AgencyOffer,
    Contract,
    CoverRequirement,
    Fairness,
    Nurse,
    RosterInputError,
    RosterProblem,
    ShiftType,
)
from scheduler.roster.repair import RosterChange, mark_absent, repair_roster, roster_changes
from scheduler.roster.rules import PenaltyTerm
from scheduler.roster.solution import (
    AgencyBooking,
    Assignment,
    Roster,
    RosterProgress,
    RosterSolution,
    RosterStatus,
)
from scheduler.roster.team_search import TeamSearchSettings, search_team_roster

SOLVER_PARAMETERS: Mapping[str, Any] = {"linearization_level": 0}
"""CP-SAT parameters of a repair's search (:func:`repair_team_roster`; besides one worker, the seed and the
deterministic budget). A team's roster is searched by
:func:`scheduler.roster.team_search.search_team_roster`."""

RETRY_BUDGET_FACTORS: tuple[float, ...] = (3.0, 9.0)
"""When a team's search ends without any roster, it runs again with these multiples of its budget."""

NIGHT_MINUTE = 3 * 60
"""A shift covering 03:00 counts as a night (fairness of nights)."""

ROSTER_ASSIGNMENTS_SCHEMA: dict[str, pl.DataType] = {
    "nurse_id": pl.String(),
    "staff_pool": pl.String(),
    "day": pl.Date(),  # local date the shift starts on
    "shift": pl.String(),
    "unit_id": pl.String(),
    "skill": pl.String(),
}
"""One row per nurse and worked shift of a roster."""

ROSTER_COVER_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "day": pl.Date(),
    "shift": pl.String(),
    "skill": pl.String(),
    "required": pl.Int32(),  # nurses wanted [count]
    "minimum": pl.Int32(),  # safe-staffing floor, a hard rule unless the team's floors were relaxed [count]
    "staff": pl.Int32(),  # own nurses rostered [count]
    "agency": pl.Int32(),  # agency / float pool nurses booked [count]
    "unfilled": pl.Int32(),  # required - staff - agency, when positive [count]
    "basis": pl.String(),  # where `required` comes from: forecast, weekly_pattern, establishment
}
"""One row per unit, day, shift and skill of a roster: how the demand is met."""

ROSTER_AGENCY_SCHEMA: dict[str, pl.DataType] = {
    "team_id": pl.String(),
    "unit_id": pl.String(),
    "day": pl.Date(),
    "shift": pl.String(),
    "skill": pl.String(),
    "nurses": pl.Int32(),  # agency / float pool nurses booked [count]
}
"""One row per team, unit, day, shift and skill with agency nurses booked."""

BASIS_ESTABLISHMENT = "establishment"


@dataclass(frozen=True)
class RosterSettings:
    """Weights and limits of the hospital roster.

    Parameters
    ----------
    under_cover_weight
        Penalty per nurse short of the demand on a shift; above the agency cost so that a gap is filled by
        agency when it can be.
    over_cover_weight
        Penalty per nurse above the demand on a shift (contracts may force some).
    agency_nurses_per_shift
        Most agency nurses bookable per unit and shift (0 when the scenario's ``nurse_shortage`` policy is
        ``close_beds``).
    night_spread_weight, weekend_spread_weight
        Fairness weights: penalty per night / weekend between the nurse who works most and the one who works
        fewest within a team (see the module docstring).
    change_weight
        Penalty per published nurse-day changed, used only when the published days cannot all be kept;
        far above a nurse short, so that a published day changes only when a hard rule forces it.
    deterministic_seconds_per_nurse
        Deterministic-time budget of a team's search per nurse [deterministic seconds]; the same budget
        gives the same roster on every run (:mod:`scheduler.roster.team_search`).
    max_deterministic_seconds
        Cap on one team's deterministic-time budget.
    neighbourhood_deterministic_seconds
        Limit of one neighbourhood's CP-SAT search within a team's search [deterministic seconds].
    window_days
        Days of a team search's first window of days re-rostered at once (it adapts as the search goes).
    wall_seconds_per_team
        Safety net on one team's wall time [s]; reached only on a badly overloaded machine.
    max_team_size
        Most nurses in one team (one CP-SAT model).
    seed
        CP-SAT seed.
    workers
        Teams solved at the same time (one CP-SAT worker each).
    hard_floors
        Make the demand's ``minimum_nurses`` a hard minimum of each cover line (agency included).
    explain_deterministic_seconds
        Deterministic-time budget of each CP-SAT solve of an infeasibility explanation.
    explain_max_checks
        Most deletion checks when shrinking the conflicting rules of an explanation.
    explain_wall_seconds
        Safety net on one explanation's wall time [s].
    """

    under_cover_weight: int = 1000
    over_cover_weight: int = 5
    agency_nurses_per_shift: int = 3
    night_spread_weight: int = 10
    weekend_spread_weight: int = 10
    change_weight: int = 10_000
    deterministic_seconds_per_nurse: float = 0.12
    max_deterministic_seconds: float = 15.0
    neighbourhood_deterministic_seconds: float = 0.3
    window_days: int = 7
    wall_seconds_per_team: float = 120.0
    max_team_size: int = 24
    seed: int = 0
    workers: int = 2
    hard_floors: bool = True
    explain_deterministic_seconds: float = 5.0
    explain_max_checks: int = 20
    explain_wall_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in (
            "under_cover_weight",
            "over_cover_weight",
            "agency_nurses_per_shift",
            "night_spread_weight",
            "weekend_spread_weight",
            "change_weight",
            "seed",
            "max_team_size",
            "explain_max_checks",
            "window_days",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RosterInputError(f"settings.{name}: must be a non-negative integer, got {value!r}")
        for name in ("workers", "max_team_size", "window_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RosterInputError(f"settings.{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.hard_floors, bool):
            raise RosterInputError(f"settings.hard_floors: must be true or false, got {self.hard_floors!r}")
        for name in (
            "deterministic_seconds_per_nurse",
            "max_deterministic_seconds",
            "neighbourhood_deterministic_seconds",
            "wall_seconds_per_team",
            "explain_deterministic_seconds",
            "explain_wall_seconds",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise RosterInputError(f"settings.{name}: must be a positive number, got {value!r}")

    def deterministic_seconds(self, nurses: int) -> float:
        """Deterministic-time budget of a team of ``nurses`` nurses."""
        return min(self.max_deterministic_seconds, max(1.0, self.deterministic_seconds_per_nurse * nurses))

    def team_search(self, nurses: int, *, budget_factor: float = 1.0) -> TeamSearchSettings:
        """Settings of the search of a team of ``nurses`` nurses (``budget_factor`` times its budget)."""
        return TeamSearchSettings(
            deterministic_seconds=budget_factor * self.deterministic_seconds(nurses),
            round_deterministic_seconds=self.neighbourhood_deterministic_seconds,
            window_days=self.window_days,
            seed=self.seed,
            wall_seconds=self.wall_seconds_per_team,
        )


@dataclass(frozen=True)
class TeamRoster:
    """The roster of one team.

    Attributes
    ----------
    team
        The team.
    problem
        The team's roster problem (its share of its home unit's demand).
    solution
        The solver's answer.
    published_changes
        Published nurse-days that had to change (0 when every published day was kept).
    explanation
        When the team's hard rules cannot all be met: what to relax (fewest extra nurses, conflicting
        rules).
    floors_relaxed
        True when the roster was made with the safe-staffing floors as soft targets only, because they could
        not all be met (``solution`` is then that roster).
    """

    team: Team
    problem: RosterProblem
    solution: RosterSolution
    published_changes: int = 0
    explanation: InfeasibilityExplanation | None = None
    floors_relaxed: bool = False

    @property
    def status(self) -> RosterStatus:
        """``infeasible`` when the hard rules (floors included) cannot all be met, else the solver's."""
        return RosterStatus.INFEASIBLE if self.floors_relaxed else self.solution.status


@dataclass(frozen=True)
class HospitalRoster:
    """The roster of every staff pool, with the demand it answers.

    Attributes
    ----------
    first_day
        Local date of day 0.
    days
        Length of the roster [days].
    teams
        One :class:`TeamRoster` per team.
    targets
        Nurses wanted per (day index, shift, unit, skill), with where the number comes from.
    floors
        Safe-staffing floor per (day index, shift, unit, skill) [nurses, agency included].
    """

    first_day: date
    days: int
    teams: tuple[TeamRoster, ...]
    targets: Mapping[tuple[int, str, str, str], tuple[int, str]] = field(default_factory=dict)
    floors: Mapping[tuple[int, str, str, str], int] = field(default_factory=dict)

    @property
    def status(self) -> RosterStatus:
        """The worst status over the teams (infeasible > timeout > feasible > optimal)."""
        order = [RosterStatus.INFEASIBLE, RosterStatus.TIMEOUT, RosterStatus.FEASIBLE, RosterStatus.OPTIMAL]
        statuses = {t.status for t in self.teams}
        for status in order:
            if status in statuses:
                return status
        return RosterStatus.OPTIMAL

    @property
    def objective(self) -> int | None:
        """Sum of the teams' objectives (None when a team has no roster)."""
        values = [t.solution.objective for t in self.teams]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def failed_teams(self) -> tuple[TeamRoster, ...]:
        """Teams whose hard rules could not all be met, or whose search found no roster."""
        return tuple(t for t in self.teams if t.status in (RosterStatus.INFEASIBLE, RosterStatus.TIMEOUT))

    def agency_frame(self) -> pl.DataFrame:
        """Agency bookings team by team, :data:`ROSTER_AGENCY_SCHEMA`, sorted by team, unit, day and shift."""
        rows = [
            (team.team.team_id, b.unit_id, self.date_of(b.day), b.shift_id, b.skill, b.nurses)
            for team in self.teams
            if team.solution.roster is not None
            for b in team.solution.roster.agency
        ]
        frame = pl.DataFrame(rows, schema=ROSTER_AGENCY_SCHEMA, orient="row")
        return frame.sort("team_id", "unit_id", "day", "shift")

    def date_of(self, day: int) -> date:
        """Local date of roster day ``day``."""
        return self.first_day + timedelta(days=day)

    def assignments_frame(self) -> pl.DataFrame:
        """Every worked shift, :data:`ROSTER_ASSIGNMENTS_SCHEMA`, sorted by nurse and day."""
        rows = [
            (a.nurse_id, team.team.pool.id, self.date_of(a.day), a.shift_id, a.unit_id, a.skill)
            for team in self.teams
            if team.solution.roster is not None
            for a in team.solution.roster.assignments
        ]
        frame = pl.DataFrame(rows, schema=ROSTER_ASSIGNMENTS_SCHEMA, orient="row")
        return frame.sort("nurse_id", "day")

    def cover_frame(self) -> pl.DataFrame:
        """How each demand line is met, :data:`ROSTER_COVER_SCHEMA`, sorted by unit, day and shift."""
        rosters = [t.solution.roster for t in self.teams if t.solution.roster is not None]
        return cover_frame(
            self.first_day,
            self.targets,
            self.floors,
            [a for roster in rosters for a in roster.assignments],
            [b for roster in rosters for b in roster.agency],
        )


def cover_frame(
    first_day: date,
    targets: Mapping[tuple[int, str, str, str], tuple[int, str]],
    floors: Mapping[tuple[int, str, str, str], int],
    assignments: Iterable[Assignment],
    agency: Iterable[AgencyBooking],
) -> pl.DataFrame:
    """How each demand line is met by a roster, :data:`ROSTER_COVER_SCHEMA`, sorted by unit, day, shift.

    Parameters
    ----------
    first_day
        Local date of day 0.
    targets, floors
        From :func:`cover_targets` and :func:`cover_floors`.
    assignments, agency
        The roster's worked shifts and agency bookings, every team together (days as indices).
    """
    staff: Counter[tuple[int, str, str, str]] = Counter()
    booked: Counter[tuple[int, str, str, str]] = Counter()
    for a in assignments:
        staff[(a.day, a.shift_id, a.unit_id, a.skill)] += 1
    for b in agency:
        booked[(b.day, b.shift_id, b.unit_id, b.skill)] += b.nurses
    rows = []
    for key in sorted(set(targets) | set(staff) | set(booked)):
        day, shift_id, unit_id, skill = key
        required, basis = targets.get(key, (0, BASIS_ESTABLISHMENT))
        present = staff[key] + booked[key]
        rows.append(
            (
                unit_id,
                first_day + timedelta(days=day),
                shift_id,
                skill,
                required,
                floors.get(key, 0),
                staff[key],
                booked[key],
                max(0, required - present),
                basis,
            )
        )
    frame = pl.DataFrame(rows, schema=ROSTER_COVER_SCHEMA, orient="row")
    return frame.sort("unit_id", "day", "shift")


@dataclass(frozen=True)
class TeamProgress:
    """Progress of :func:`roster_from_scenario`: teams finished, and the latest solver report of a team."""

    teams_done: int
    teams_total: int
    team_id: str
    report: RosterProgress | None = None


# -- mapping the scenario ----------------------------------------------------------------------------------


def roster_shifts(hospital: Hospital) -> tuple[ShiftType, ...]:
    """The scenario's shifts as roster shift types (forbidden successions from ``staffing``)."""
    forbidden: dict[str, set[str]] = {}
    for before, after in hospital.staffing.forbidden_successions:
        forbidden.setdefault(before, set()).add(after)
    return tuple(
        ShiftType(
            shift_id=shift.id,
            length_minutes=shift.duration_minutes,
            start_minute=minutes_of_day(shift.start),
            forbidden_next=frozenset(forbidden.get(shift.id, set())),
            night=NIGHT_MINUTE in shift.minutes_covered(),
        )
        for shift in hospital.shifts
    )


def roster_contract(hospital: Hospital, contract_id: str, days: int) -> Contract:
    """A scenario contract over ``days`` days: weekly limits scaled to the horizon.

    Minutes per week scale by ``days / 7`` (minimum rounded down, maximum rounded up); shifts of a type per
    week by ``days / 7`` rounded up; weekends per four weeks by ``days / 28`` rounded up.
    """
    contract = next(c for c in hospital.contracts if c.id == contract_id)
    weeks = days / 7
    return Contract(
        min_total_minutes=math.floor(contract.min_minutes_per_week * weeks),
        max_total_minutes=math.ceil(contract.max_minutes_per_week * weeks),
        max_shifts={s: math.ceil(n * weeks) for s, n in contract.max_shifts_per_week.items()},
        max_consecutive_shifts=contract.max_consecutive_shifts,
        min_consecutive_shifts=contract.min_consecutive_shifts,
        min_consecutive_days_off=contract.min_consecutive_days_off,
        max_weekends=math.ceil(contract.max_weekends_per_4_weeks * days / 28),
        min_rest_minutes=round(hospital.staffing.min_rest_hours * 60),
        complete_weekends=contract.complete_weekends,
    )


def pool_nurse_ids(pool: StaffPool) -> tuple[str, ...]:
    """Ids of the pool's nurses: ``<pool id>-001`` … (the scenario counts nurses, it does not name them)."""
    width = max(3, len(str(pool.headcount)))
    return tuple(f"{pool.id}-{k + 1:0{width}d}" for k in range(pool.headcount))


@dataclass(frozen=True)
class Team:
    """Nurses of one staff pool rostered together on one home unit.

    Attributes
    ----------
    team_id
        ``<pool id>/<unit id>`` (with ``#k`` when a unit's nurses of the pool are split further).
    pool
        The staff pool.
    unit_id
        The home unit, the only unit the team works on.
    nurse_ids
        The team's nurses.
    """

    team_id: str
    pool: StaffPool
    unit_id: str
    nurse_ids: tuple[str, ...]


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` into whole parts that add up to it (ties by position)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def make_teams(hospital: Hospital, *, max_team_size: int) -> tuple[Team, ...]:
    """Split every staff pool into home-unit teams of at most ``max_team_size`` nurses.

    A pool's nurses are shared between its units in proportion to each unit's nursing need at full
    occupancy (beds over patients per nurse, summed over the shifts), then a unit's share is cut into
    equal teams of at most ``max_team_size``. The split depends on the scenario only, so a nurse keeps
    her team from one night's plan to the next (and her published days stay possible). Rosters are made
    ward by ward in most hospitals; the split keeps every CP-SAT model small enough to solve in seconds.
    """
    need = {
        unit.id: sum(unit.beds / ratio for ratio in unit.patients_per_nurse.values())
        for unit in hospital.units
    }
    teams: list[Team] = []
    for pool in hospital.staff_pools:
        ids = pool_nurse_ids(pool)
        weights = [need[u] if need[u] > 0 else 1e-6 for u in pool.units]
        shares = _largest_remainder(len(ids), weights)
        taken = 0
        for unit_id, share in zip(pool.units, shares, strict=True):
            unit_ids = ids[taken : taken + share]
            taken += share
            if not unit_ids:
                continue
            pieces = math.ceil(len(unit_ids) / max_team_size)
            sizes = _largest_remainder(len(unit_ids), [1.0] * pieces)
            start = 0
            for k, size in enumerate(sizes):
                suffix = f"#{k + 1}" if pieces > 1 else ""
                teams.append(
                    Team(f"{pool.id}/{unit_id}{suffix}", pool, unit_id, unit_ids[start : start + size])
                )
                start += size
    return tuple(teams)


def split_targets(
    teams: tuple[Team, ...], targets: Mapping[tuple[int, str, str, str], tuple[int, str]]
) -> dict[str, dict[tuple[int, str, str, str], int]]:
    """Each demand line shared between the teams able to cover it, in proportion to their size.

    A team can cover a line of its home unit whose skill its pool has; the shares of a line add up to the
    line (largest remainder), so the teams' cover targets add up to the hospital's.
    """
    by_line: dict[str, dict[tuple[int, str, str, str], int]] = {team.team_id: {} for team in teams}
    for key, (required, _) in sorted(targets.items()):
        _, _, unit_id, skill = key
        able = [t for t in teams if t.unit_id == unit_id and skill in t.pool.skills]
        if not able:
            continue
        for team, part in zip(
            able, _largest_remainder(required, [len(t.nurse_ids) for t in able]), strict=True
        ):
            by_line[team.team_id][key] = part
    return by_line


def cover_targets(
    scenario: Scenario, demand: pl.DataFrame, first_day: date, days: int
) -> dict[tuple[int, str, str, str], tuple[int, str]]:
    """Nurses wanted per (day index, shift, unit, skill) over the roster, with where the number comes from.

    Demand rows outside the roster days are ignored. A unit served by a staff pool but absent from the
    demand gets its pools' establishment (nurses on duty per shift) shared evenly between each pool's
    units, rounded up, with basis ``"establishment"``.

    Raises
    ------
    RosterInputError
        When the demand names a unit or shift the scenario does not declare, or a required column is
        missing.
    """
    hospital = scenario.hospital
    for column in ("unit_id", "day", "shift", "skill", "nurses"):
        if column not in demand.columns:
            raise RosterInputError(f"demand: column '{column}' is missing")
    units = {u.id for u in hospital.units}
    shifts = {s.id for s in hospital.shifts}
    last_day = first_day + timedelta(days=days - 1)
    targets: dict[tuple[int, str, str, str], tuple[int, str]] = {}
    has_basis = "basis" in demand.columns
    for row in demand.iter_rows(named=True):
        if row["unit_id"] not in units:
            raise RosterInputError(f"demand.unit_id: unknown unit '{row['unit_id']}'")
        if row["shift"] not in shifts:
            raise RosterInputError(f"demand.shift: unknown shift '{row['shift']}' (unit {row['unit_id']})")
        if row["nurses"] is None or row["nurses"] < 0:
            raise RosterInputError(
                f"demand.nurses: must be a non-negative count, got {row['nurses']!r} "
                f"(unit {row['unit_id']}, {row['day']}, {row['shift']})"
            )
        if not first_day <= row["day"] <= last_day:
            continue
        key = ((row["day"] - first_day).days, row["shift"], row["unit_id"], row["skill"])
        basis = row["basis"] if has_basis else "forecast"
        targets[key] = (int(row["nurses"]), str(basis))
    forecast_units = {key[2] for key in targets}
    fallback: dict[tuple[str, str], float] = {}
    for pool in hospital.staff_pools:
        for unit_id in pool.units:
            if unit_id in forecast_units:
                continue
            for shift_id, on_duty in pool.establishment.items():
                share = on_duty / len(pool.units)
                fallback[(unit_id, shift_id)] = fallback.get((unit_id, shift_id), 0.0) + share
    for (unit_id, shift_id), nurses in sorted(fallback.items()):
        skill = hospital.unit(unit_id).skill
        for day in range(days):
            targets[(day, shift_id, unit_id, skill)] = (math.ceil(nurses - 1e-9), BASIS_ESTABLISHMENT)
    return targets


def cover_floors(
    scenario: Scenario, demand: pl.DataFrame, first_day: date, days: int
) -> dict[tuple[int, str, str, str], int]:
    """Safe-staffing floor per (day index, shift, unit, skill): the demand's ``minimum_nurses``.

    A demand without the column (or with nulls) gives no floor; a floor is never above the line's
    ``nurses``. Rows outside the roster's days are ignored.
    """
    if "minimum_nurses" not in demand.columns:
        return {}
    last_day = first_day + timedelta(days=days - 1)
    floors: dict[tuple[int, str, str, str], int] = {}
    for row in demand.select("unit_id", "day", "shift", "skill", "nurses", "minimum_nurses").iter_rows(
        named=True
    ):
        minimum = row["minimum_nurses"]
        if minimum is not None and minimum < 0:
            raise RosterInputError(
                f"demand.minimum_nurses: must be a non-negative count, got {minimum!r} "
                f"(unit {row['unit_id']}, {row['day']}, {row['shift']})"
            )
        if not minimum or not first_day <= row["day"] <= last_day:
            continue
        key = ((row["day"] - first_day).days, row["shift"], row["unit_id"], row["skill"])
        floors[key] = min(int(minimum), int(row["nurses"] or 0))
    return floors


def split_floors(
    teams: tuple[Team, ...],
    floors: Mapping[tuple[int, str, str, str], int],
    shares: Mapping[str, Mapping[tuple[int, str, str, str], int]],
) -> dict[str, dict[tuple[int, str, str, str], int]]:
    """Each floor shared between the teams able to cover it, in proportion to their size.

    A team's share of a floor never exceeds its share of the line's target (the part it would not take
    goes to the line's other teams), and the shares add up to the floor whenever the targets allow it.
    """
    by_line: dict[str, dict[tuple[int, str, str, str], int]] = {team.team_id: {} for team in teams}
    for key, floor in sorted(floors.items()):
        _, _, unit_id, skill = key
        able = [t for t in teams if t.unit_id == unit_id and skill in t.pool.skills]
        if not able or floor <= 0:
            continue
        parts = _largest_remainder(floor, [len(t.nurse_ids) for t in able])
        room = [shares.get(t.team_id, {}).get(key, 0) for t in able]
        parts = [min(part, top) for part, top in zip(parts, room, strict=True)]
        left = floor - sum(parts)
        for i in range(len(able)):
            if left <= 0:
                break
            extra = min(left, room[i] - parts[i])
            parts[i] += extra
            left -= extra
        for team, part in zip(able, parts, strict=True):
            if part > 0:
                by_line[team.team_id][key] = part
    return by_line


def team_problem(
    scenario: Scenario,
    team: Team,
    cover_targets_of_team: Mapping[tuple[int, str, str, str], int],
    *,
    first_day: date,
    days: int,
    agency_nurses_per_shift: int = 0,
    settings: RosterSettings | None = None,
    leave: Mapping[str, Iterable[int]] | None = None,
    floors_of_team: Mapping[tuple[int, str, str, str], int] | None = None,
) -> RosterProblem:
    """The roster problem of one team: its nurses, its home unit's share of the demand, agency.

    Parameters
    ----------
    scenario
        The hospital.
    team
        The team (:func:`make_teams`).
    cover_targets_of_team
        Nurses wanted from this team per (day, shift, unit, skill) (:func:`split_targets`).
    first_day, days
        The roster's first local date and length [days].
    agency_nurses_per_shift
        Agency nurses this team's share may book per shift (0: none).
    settings
        Weights and limits.
    leave
        Leave days (day indices) by nurse id.
    floors_of_team
        Hard minimum nurses (agency included) per (day, shift, unit, skill) (:func:`split_floors`);
        ignored when ``settings.hard_floors`` is false.
    """
    settings = settings or RosterSettings()
    floors = floors_of_team if floors_of_team is not None and settings.hard_floors else {}
    hospital = scenario.hospital
    contract = roster_contract(hospital, team.pool.contract, days)
    leave = leave or {}
    nurses = tuple(
        Nurse(
            nurse_id=nurse_id,
            contract=contract,
            skills=frozenset(team.pool.skills),
            units=frozenset({team.unit_id}),
            leave_days=frozenset(d for d in leave.get(nurse_id, ()) if 0 <= d < days),
        )
        for nurse_id in team.nurse_ids
    )
    cover = tuple(
        CoverRequirement(
            day=day,
            shift_id=shift_id,
            unit_id=unit_id,
            skill=skill,
            required_nurses=required,
            under_weight=settings.under_cover_weight,
            over_weight=settings.over_cover_weight,
            minimum_nurses=min(required, floors.get((day, shift_id, unit_id, skill), 0)),
        )
        for (day, shift_id, unit_id, skill), required in sorted(cover_targets_of_team.items())
    )
    agency: tuple[AgencyOffer, ...] = ()
    if agency_nurses_per_shift > 0 and hospital.policies.nurse_shortage == "agency":
        hours = sum(s.duration_minutes for s in hospital.shifts) / len(hospital.shifts) / 60
        skills = sorted({line.skill for line in cover})
        agency = tuple(
            AgencyOffer(
                skill=skill,
                cost_per_shift=round(hospital.costs.agency_nurse_hour * hours),
                max_nurses_per_shift=agency_nurses_per_shift,
                units=frozenset({team.unit_id}),
            )
            for skill in skills
        )
    return RosterProblem(
        days=days,
        shifts=roster_shifts(hospital),
        nurses=nurses,
        cover=cover,
        agency=agency,
        fairness=Fairness(
            night_spread_weight=settings.night_spread_weight,
            weekend_spread_weight=settings.weekend_spread_weight,
        ),
        start_weekday=first_day.weekday(),
        name=f"{scenario.name}: {team.team_id}",
    )


# -- solving -----------------------------------------------------------------------------------------------


def _relax_for_published(
    problem: RosterProblem, published: Mapping[tuple[str, int], Assignment | None], fixed_days: int
) -> RosterProblem:
    """Lower the minimum minutes of nurses whose first ``fixed_days`` are fixed to what is still fair.

    The horizon moved on since those days were published: the minimum over the whole horizon would ask a
    nurse who happened to work little in the kept days to make it all up in the few free days. Her
    minimum becomes the minutes she works in the kept days plus the contract's pro-rata share of the
    free days, rounded down to whole shifts.
    """
    if fixed_days <= 0:
        return problem
    lengths = {s.shift_id: s.length_minutes for s in problem.shifts}
    longest = max(lengths.values())
    free_days = problem.days - min(fixed_days, problem.days)
    nurses = []
    for nurse in problem.nurses:
        kept = [published.get((nurse.nurse_id, day)) for day in range(min(fixed_days, problem.days))]
        if all((nurse.nurse_id, day) not in published for day in range(min(fixed_days, problem.days))):
            nurses.append(nurse)
            continue
        worked = sum(lengths.get(a.shift_id, 0) for a in kept if a is not None)
        share = nurse.contract.min_total_minutes * free_days / problem.days
        share_in_whole_shifts = math.floor(share / longest) * longest
        minimum = min(nurse.contract.min_total_minutes, worked + share_in_whole_shifts)
        nurses.append(replace(nurse, contract=replace(nurse.contract, min_total_minutes=minimum)))
    return replace(problem, nurses=tuple(nurses))


def _solve_team(
    problem: RosterProblem,
    published: Mapping[tuple[str, int], Assignment | None],
    fixed_days: int,
    settings: RosterSettings,
    progress: Callable[[RosterProgress], None] | None,
    cancel: threading.Event | None,
    *,
    keep_published: bool,
    budget_factor: float = 1.0,
) -> tuple[RosterSolution, int]:
    built = build_roster_model(problem, work_pattern_automaton=True)
    model, variables = built.model, built.variables
    change_terms: list[PenaltyTerm] = []
    for nurse in problem.nurses:
        for day in range(min(fixed_days, problem.days)):
            if (nurse.nurse_id, day) not in published:
                continue  # a nurse new since the last plan
            before = published[(nurse.nurse_id, day)]
            key = (
                None
                if before is None
                else (nurse.nurse_id, day, before.shift_id, before.unit_id, before.skill)
            )
            if key is not None and key not in variables.works:
                key = None  # e.g. the nurse's home unit changed: she is free that day
            works_day = variables.works_day[(nurse.nurse_id, day)]
            if keep_published:
                model.add(works_day == 0 if key is None else variables.works[key] == 1)
            elif key is None:
                change_terms.append(PenaltyTerm(TERM_ROSTER_CHANGES, settings.change_weight, works_day))
            else:
                kept_shift = variables.works[key]
                change_terms.append(PenaltyTerm(TERM_ROSTER_CHANGES, settings.change_weight, 1 - kept_shift))
    built.set_objective(change_terms)
    if not keep_published:
        # Start from the published days: the search then only looks for the few changes it must make.
        published_days = tuple(
            a
            for nurse in problem.nurses
            for day in range(min(fixed_days, problem.days))
            if (a := published.get((nurse.nurse_id, day))) is not None
        )
        built.add_hint(Roster(published_days))
    solution = search_team_roster(
        built,
        settings.team_search(len(problem.nurses), budget_factor=budget_factor),
        progress=progress,
        cancel=cancel,
    )
    changes = 0
    if not keep_published and solution.roster is not None:
        changes = solution.objective_terms.get(TERM_ROSTER_CHANGES, 0) // max(1, settings.change_weight)
    return solution, changes


def without_floors(problem: RosterProblem) -> RosterProblem:
    """The problem with every cover line's hard minimum removed (its target stays a soft rule)."""
    return replace(problem, cover=tuple(replace(line, minimum_nurses=0) for line in problem.cover))


def floor_deficits(problem: RosterProblem, roster: Roster) -> dict[tuple[int, str, str, str], int]:
    """Nurses missing below each line's ``minimum_nurses`` in ``roster`` (agency counts); 0s left out."""
    present: Counter[tuple[int, str, str, str]] = Counter()
    for a in roster.assignments:
        present[(a.day, a.shift_id, a.unit_id, a.skill)] += 1
    for b in roster.agency:
        present[(b.day, b.shift_id, b.unit_id, b.skill)] += b.nurses
    return {
        line.key: line.minimum_nurses - present[line.key]
        for line in problem.cover
        if present[line.key] < line.minimum_nurses
    }


def explain_team(
    problem: RosterProblem, settings: RosterSettings, *, hint: Roster | None = None
) -> InfeasibilityExplanation:
    """What to relax when a team's hard rules cannot all be met (deterministic: same answer every run).

    One worker, the settings' seed, ``explain_deterministic_seconds`` per CP-SAT solve and at most
    ``explain_max_checks`` deletion checks; ``explain_wall_seconds`` is a safety net only. ``hint`` (the
    best roster found, below some floors) starts the search for the fewest extra nurses.
    """
    return explain_infeasibility(
        problem,
        time_limit_seconds=settings.explain_wall_seconds,
        workers=1,
        seed=settings.seed,
        parameters={"max_deterministic_time": settings.explain_deterministic_seconds},
        max_checks=settings.explain_max_checks,
        hint=hint,
    )


@dataclass(frozen=True)
class TeamAnswer:
    """The outcome of :func:`solve_team_problem`.

    Attributes
    ----------
    solution
        The roster found (it may be below some floors: see ``floors_relaxed``).
    published_changes
        Published nurse-days changed.
    explanation
        What to relax, when the hard rules cannot all be met.
    floors_relaxed
        True when ``solution`` is below at least one safe-staffing floor (made with the floors soft).
    """

    solution: RosterSolution
    published_changes: int = 0
    explanation: InfeasibilityExplanation | None = None
    floors_relaxed: bool = False


def solve_team_problem(
    problem: RosterProblem,
    settings: RosterSettings,
    *,
    published: Mapping[tuple[str, int], Assignment | None] | None = None,
    fixed_days: int = 0,
    progress: Callable[[RosterProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TeamAnswer:
    """Solve one team's problem as the nightly plan does, and say what to relax when it must.

    1. Solve with every hard rule (safe-staffing floors included) and the published days fixed. A search
       that finds nothing runs again with larger budgets (:data:`RETRY_BUDGET_FACTORS`; not when the
       problem has floors, which go to step 3 instead); when the fixed days make it infeasible, they become
       strong wishes (``change_weight`` per changed nurse-day).
    2. No roster, and no floors: when proved infeasible, :func:`explain_team` says which rules conflict.
    3. No roster, with floors (proved infeasible, or not found in time): the team is solved again with the
       floors as soft targets only, so that its ward has a roster. If that roster is below a floor, the
       team's hard rules are not met (``floors_relaxed``) and :func:`explain_team` says what to relax,
       its search for the fewest extra nurses starting from that roster's shortfall.

    Parameters
    ----------
    problem
        The team's roster problem (:func:`team_problem`), floors as ``minimum_nurses``.
    settings
        Budgets, weights and seed.
    published, fixed_days
        Published assignments by (nurse, day) over the first ``fixed_days`` days, kept as published.
    progress, cancel
        As for :func:`roster_from_scenario`.

    Returns
    -------
    TeamAnswer
    """
    cells = published or {}
    has_floors = any(line.minimum_nurses > 0 for line in problem.cover)
    solution, changes = _solve_keeping_published(
        problem, cells, fixed_days, settings, progress, cancel, retry=not has_floors
    )
    if solution.cancelled or solution.roster is not None:
        return TeamAnswer(solution, changes)
    if not has_floors:
        if solution.status is not RosterStatus.INFEASIBLE:
            return TeamAnswer(solution, changes)
        explanation = explain_team(problem, settings)
        return TeamAnswer(solution, changes, None if explanation.problem_is_feasible else explanation)
    fallback, fallback_changes = _solve_keeping_published(
        without_floors(problem), cells, fixed_days, settings, progress, cancel
    )
    if fallback.roster is None:
        if fallback.cancelled or solution.status is not RosterStatus.INFEASIBLE:
            return TeamAnswer(solution, changes)
        explanation = explain_team(problem, settings)
        return TeamAnswer(solution, changes, None if explanation.problem_is_feasible else explanation)
    if not floor_deficits(problem, fallback.roster):
        return TeamAnswer(fallback, fallback_changes)  # the floors were met after all
    if fallback.cancelled:
        return TeamAnswer(fallback, fallback_changes, floors_relaxed=True)
    explanation = explain_team(problem, settings, hint=fallback.roster)
    return TeamAnswer(fallback, fallback_changes, explanation, floors_relaxed=True)


def _solve_keeping_published(
    problem: RosterProblem,
    published: Mapping[tuple[str, int], Assignment | None],
    fixed_days: int,
    settings: RosterSettings,
    progress: Callable[[RosterProgress], None] | None,
    cancel: threading.Event | None,
    *,
    retry: bool = True,
) -> tuple[RosterSolution, int]:
    solution, changes = _solve_team(
        problem, published, fixed_days, settings, progress, cancel, keep_published=True
    )
    for factor in RETRY_BUDGET_FACTORS if retry else ():
        if solution.status is not RosterStatus.TIMEOUT or solution.cancelled:
            break
        solution, changes = _solve_team(
            problem,
            published,
            fixed_days,
            settings,
            progress,
            cancel,
            keep_published=True,
            budget_factor=factor,
        )
    if solution.status is RosterStatus.INFEASIBLE and fixed_days > 0 and not solution.cancelled:
        solution, changes = _solve_team(
            problem, published, fixed_days, settings, progress, cancel, keep_published=False
        )
    return solution, changes


def roster_from_scenario(
    scenario: Scenario,
    demand: pl.DataFrame,
    *,
    first_day: date,
    days: int,
    published: Iterable[Mapping[str, Any]] = (),
    published_until: date | None = None,
    settings: RosterSettings | None = None,
    leave: Mapping[str, Iterable[int]] | None = None,
    progress: Callable[[TeamProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> HospitalRoster:
    """Roster every nurse of the scenario for ``days`` days from ``first_day`` against ``demand``.

    Parameters
    ----------
    scenario
        The hospital: shifts, staff pools, contracts, units.
    demand
        :data:`scheduler.staffing.STAFFING_DEMAND_SCHEMA` frame (at least unit_id, day, shift, skill,
        nurses); rows outside the roster's days are ignored.
    first_day
        Local date of roster day 0.
    days
        Length of the roster [days], 1–42.
    published
        The assignments already published (rows with nurse_id, day [date], shift, unit_id, skill, as in
        :data:`ROSTER_ASSIGNMENTS_SCHEMA`). Every day from ``first_day`` up to ``published_until`` is
        kept as published (a nurse without a row on such a day is off); later days are rostered afresh.
    published_until
        Last published day (local date); default the last day with a published row.
    settings
        Weights, limits, seed and workers.
    leave
        Leave days (day indices) by nurse id.
    progress
        Called as teams finish and at each improving roster of a team.
    cancel
        Set it to stop: teams not started are skipped (status timeout), the running ones stop with their
        best roster.

    Returns
    -------
    HospitalRoster
        One roster per team, and the demand lines it answers.

    Raises
    ------
    RosterInputError
        Bad days, or a demand naming unknown units or shifts.
    """
    settings = settings or RosterSettings()
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 42:
        raise RosterInputError(f"days: must be a whole number of days from 1 to 42 (6 weeks), got {days!r}")
    hospital = scenario.hospital
    targets = cover_targets(scenario, demand, first_day, days)
    floors = cover_floors(scenario, demand, first_day, days) if settings.hard_floors else {}
    published_cells, fixed_days = _published_cells(published, first_day, days, published_until)
    teams = make_teams(hospital, max_team_size=settings.max_team_size)
    shares = split_targets(teams, targets)
    floor_shares = split_floors(teams, floors, shares)
    unit_staff: Counter[str] = Counter()
    for team in teams:
        unit_staff[team.unit_id] += len(team.nurse_ids)
    # Biggest teams first, so that the two threads finish together.
    order = sorted(teams, key=lambda t: (-len(t.nurse_ids), t.team_id))
    results: dict[str, TeamRoster] = {}
    lock = threading.Lock()

    def report(team_id: str, solver_report: RosterProgress | None) -> None:
        if progress is not None:
            with lock:
                finished = len(results)
            progress(TeamProgress(finished, len(teams), team_id, solver_report))

    def solve(team: Team) -> None:
        agency = math.ceil(settings.agency_nurses_per_shift * len(team.nurse_ids) / unit_staff[team.unit_id])
        problem = team_problem(
            scenario,
            team,
            shares[team.team_id],
            first_day=first_day,
            days=days,
            agency_nurses_per_shift=agency,
            settings=settings,
            leave=leave,
            floors_of_team=floor_shares[team.team_id],
        )
        if cancel is not None and cancel.is_set():
            solution = RosterSolution(RosterStatus.TIMEOUT, None, None, {}, 0.0, 0.0, cancelled=True)
            result = TeamRoster(team, problem, solution)
        else:

            def team_report(solver_report: RosterProgress) -> None:
                report(team.team_id, solver_report)

            problem = _relax_for_published(problem, published_cells, fixed_days)
            answer = solve_team_problem(
                problem,
                settings,
                published=published_cells,
                fixed_days=fixed_days,
                progress=team_report,
                cancel=cancel,
            )
            result = TeamRoster(
                team,
                problem,
                answer.solution,
                answer.published_changes,
                explanation=answer.explanation,
                floors_relaxed=answer.floors_relaxed,
            )
        with lock:
            results[team.team_id] = result
        report(team.team_id, None)

    with ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="roster-team") as executor:
        futures: list[Future[None]] = [executor.submit(solve, team) for team in order]
        for future in futures:
            future.result()
    return HospitalRoster(
        first_day=first_day,
        days=days,
        teams=tuple(results[team.team_id] for team in teams),
        targets=targets,
        floors=floors,
    )


def _published_cells(
    published: Iterable[Mapping[str, Any]], first_day: date, days: int, until: date | None
) -> tuple[dict[tuple[str, int], Assignment | None], int]:
    """Published assignments by (nurse, day index) over the kept days, and how many days are kept."""
    rows = list(published)
    worked: dict[tuple[str, int], Assignment] = {}
    nurses: set[str] = set()
    last = -1
    for i, row in enumerate(rows):
        try:
            day_value = row["day"]
            day_date = day_value if isinstance(day_value, date) else date.fromisoformat(str(day_value))
            nurse_id, shift_id, unit_id, skill = (
                str(row["nurse_id"]),
                str(row["shift"]),
                str(row["unit_id"]),
                str(row["skill"]),
            )
        except (KeyError, ValueError) as error:
            raise RosterInputError(f"published[{i}]: not a roster assignment ({error})") from None
        nurses.add(nurse_id)
        day = (day_date - first_day).days
        if 0 <= day < days:
            worked[(nurse_id, day)] = Assignment(nurse_id, day, shift_id, unit_id, skill)
            last = max(last, day)
        elif day >= days:
            last = days - 1
    if until is not None:
        last = min(days - 1, (until - first_day).days)
    fixed_days = max(0, last + 1)
    cells: dict[tuple[str, int], Assignment | None] = {}
    for nurse_id in nurses:
        for day in range(fixed_days):
            cells[(nurse_id, day)] = worked.get((nurse_id, day))
    return cells, fixed_days


# -- repair after a sick call ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRepair:
    """A team's roster repaired after an absence (:func:`repair_team_roster`).

    Attributes
    ----------
    team
        The absent nurse's team.
    problem
        The team's problem with the absence recorded (floors included when the demand has them).
    published
        The team's roster as published (days as indices).
    solution
        The repaired roster.
    changes
        Nurse-days that differ from the published roster, from ``from_day`` on.
    explanation
        When the hard rules cannot all be met after the absence: what to relax.
    floors_relaxed
        True when the repaired roster is below a safe-staffing floor (made with the floors soft).
    """

    team: Team
    problem: RosterProblem
    published: Roster
    solution: RosterSolution
    changes: tuple[RosterChange, ...]
    explanation: InfeasibilityExplanation | None = None
    floors_relaxed: bool = False

    @property
    def status(self) -> RosterStatus:
        """``infeasible`` when the hard rules (floors included) are not met, else the solver's."""
        return RosterStatus.INFEASIBLE if self.floors_relaxed else self.solution.status


def repair_team_roster(
    scenario: Scenario,
    demand: pl.DataFrame,
    *,
    first_day: date,
    days: int,
    assignments: Iterable[Mapping[str, Any]],
    nurse_id: str,
    absent_days: Iterable[int],
    from_day: int,
    agency: Iterable[Mapping[str, Any]] | None = None,
    settings: RosterSettings | None = None,
    change_weight: int | None = None,
    progress: Callable[[RosterProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TeamRepair:
    """Re-roster a nurse's team from ``from_day`` after her absence, with the fewest changes.

    The team, its problem and its share of the demand are rebuilt as :func:`roster_from_scenario` made
    them; each nurse's minimum minutes is lowered to what the published roster gives her (the plan may
    have been made with published days kept, :func:`_relax_for_published`), so that the published roster
    meets every rule of the rebuilt problem. The absence becomes leave (:func:`scheduler.roster.mark_absent`,
    the minutes of the shifts lost credited) and :func:`scheduler.roster.repair_roster` keeps every day
    before ``from_day`` as published and changes as few nurse-days as it can after it.

    Parameters
    ----------
    scenario
        The hospital.
    demand
        The plan's demand (:data:`scheduler.staffing.STAFFING_DEMAND_SCHEMA`).
    first_day, days
        The plan's first day and length.
    assignments
        The plan's assignments (rows of :data:`ROSTER_ASSIGNMENTS_SCHEMA`, days as dates or ISO text).
    nurse_id
        The absent nurse.
    absent_days
        Days of absence (indices from ``first_day``), all on or after ``from_day``.
    from_day
        First day that may change (index).
    agency
        The plan's agency bookings by team (rows of :data:`ROSTER_AGENCY_SCHEMA`); when absent, a unit's
        booked agency nurses (none are known) are not kept on the fixed days.
    settings
        The settings the plan was made with.
    change_weight
        Penalty per changed nurse-day (default half ``settings.under_cover_weight``: a gap is filled by
        moving a nurse, but nobody is moved to save agency cost or a nurse above the target).
    progress, cancel
        As for :func:`scheduler.roster.repair_roster`.

    Returns
    -------
    TeamRepair

    Raises
    ------
    RosterInputError
        An unknown nurse, absent days before ``from_day`` or outside the plan, or a bad ``from_day``.
    """
    settings = settings or RosterSettings()
    hospital = scenario.hospital
    absent = sorted(set(absent_days))
    if not 0 <= from_day < days:
        raise RosterInputError(f"from_day: must be a day of the plan (0 to {days - 1}), got {from_day}")
    if not absent or absent[0] < from_day or absent[-1] >= days:
        raise RosterInputError(
            f"absent days: must fall within the plan's days {from_day} to {days - 1}, got {absent}"
        )
    teams = make_teams(hospital, max_team_size=settings.max_team_size)
    team = next((t for t in teams if nurse_id in t.nurse_ids), None)
    if team is None:
        raise RosterInputError(f"nurse_id: no nurse {nurse_id!r} in the staff pools of {scenario.name!r}")
    targets = cover_targets(scenario, demand, first_day, days)
    floors = cover_floors(scenario, demand, first_day, days) if settings.hard_floors else {}
    shares = split_targets(teams, targets)
    unit_staff = sum(len(t.nurse_ids) for t in teams if t.unit_id == team.unit_id)
    problem = team_problem(
        scenario,
        team,
        shares[team.team_id],
        first_day=first_day,
        days=days,
        agency_nurses_per_shift=math.ceil(
            settings.agency_nurses_per_shift * len(team.nurse_ids) / unit_staff
        ),
        settings=settings,
        floors_of_team=split_floors(teams, floors, shares)[team.team_id],
    )
    published = _team_roster(team, assignments, agency, first_day, days)
    problem = _relax_to_published(problem, published)
    changed = mark_absent(problem, nurse_id, absent, published=published)
    weight = settings.under_cover_weight // 2 if change_weight is None else change_weight

    def repair(target: RosterProblem) -> RosterSolution:
        return repair_roster(
            target,
            published,
            from_day,
            time_limit_seconds=settings.wall_seconds_per_team,
            change_weight=weight,
            workers=1,
            seed=settings.seed,
            progress=progress,
            cancel=cancel,
            parameters={
                **SOLVER_PARAMETERS,
                "max_deterministic_time": settings.deterministic_seconds(len(team.nurse_ids)),
            },
        )

    solution = repair(changed)
    explanation = None
    floors_relaxed = False
    has_floors = any(line.minimum_nurses > 0 for line in changed.cover)
    if solution.roster is None and not solution.cancelled and has_floors:
        fallback = repair(without_floors(changed))
        if fallback.roster is not None:
            solution = fallback
            floors_relaxed = bool(floor_deficits(changed, fallback.roster))
            if floors_relaxed:
                explanation = explain_team(changed, settings, hint=fallback.roster)
    if solution.roster is None and solution.status is RosterStatus.INFEASIBLE and not solution.cancelled:
        explanation = explain_team(changed, settings)
    changes = () if solution.roster is None else roster_changes(published, solution.roster, from_day=from_day)
    return TeamRepair(team, changed, published, solution, changes, explanation, floors_relaxed)


def _team_roster(
    team: Team,
    assignments: Iterable[Mapping[str, Any]],
    agency: Iterable[Mapping[str, Any]] | None,
    first_day: date,
    days: int,
) -> Roster:
    """The team's published roster from a plan's rows (days as dates or ISO text)."""
    nurses = set(team.nurse_ids)

    def index(value: Any) -> int:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        return (day - first_day).days

    worked = [
        Assignment(str(r["nurse_id"]), index(r["day"]), str(r["shift"]), str(r["unit_id"]), str(r["skill"]))
        for r in assignments
        if str(r["nurse_id"]) in nurses
    ]
    booked = [
        AgencyBooking(index(r["day"]), str(r["shift"]), str(r["unit_id"]), str(r["skill"]), int(r["nurses"]))
        for r in agency or ()
        if r.get("team_id") == team.team_id and int(r["nurses"]) > 0
    ]
    return Roster(
        tuple(a for a in worked if 0 <= a.day < days), tuple(b for b in booked if 0 <= b.day < days)
    )


def _relax_to_published(problem: RosterProblem, published: Roster) -> RosterProblem:
    """Lower each nurse's minimum minutes to what ``published`` gives her, when it gives her less."""
    lengths = {s.shift_id: s.length_minutes for s in problem.shifts}
    worked: Counter[str] = Counter()
    for a in published.assignments:
        worked[a.nurse_id] += lengths.get(a.shift_id, 0)
    nurses = []
    for nurse in problem.nurses:
        minimum = min(nurse.contract.min_total_minutes, worked[nurse.nurse_id])
        if minimum == nurse.contract.min_total_minutes:
            nurses.append(nurse)
        else:
            nurses.append(replace(nurse, contract=replace(nurse.contract, min_total_minutes=minimum)))
    return replace(problem, nurses=tuple(nurses))
