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
from scheduler.roster.model import build_roster_model, run_solver, solution_from_run
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
from scheduler.roster.rules import PenaltyTerm
from scheduler.roster.solution import Assignment, Roster, RosterProgress, RosterSolution, RosterStatus

SOLVER_PARAMETERS: Mapping[str, Any] = {"linearization_level": 0}
"""CP-SAT parameters of a team's search (besides one worker, the seed and the deterministic budget)."""

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
    "staff": pl.Int32(),  # own nurses rostered [count]
    "agency": pl.Int32(),  # agency / float pool nurses booked [count]
    "unfilled": pl.Int32(),  # required - staff - agency, when positive [count]
    "basis": pl.String(),  # where `required` comes from: forecast, weekly_pattern, establishment
}
"""One row per unit, day, shift and skill of a roster: how the demand is met."""

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
        Fairness weights (most minus fewest nights / weekends within a team).
    change_weight
        Penalty per published nurse-day changed, used only when the published days cannot all be kept;
        far above a nurse short, so that a published day changes only when a hard rule forces it.
    deterministic_seconds_per_nurse
        CP-SAT deterministic-time budget per nurse of a team [deterministic seconds]; the same budget
        gives the same roster on every run.
    max_deterministic_seconds
        Cap on one team's deterministic-time budget.
    wall_seconds_per_team
        Safety net on one team's wall time [s]; reached only on a badly overloaded machine.
    max_team_size
        Most nurses in one team (one CP-SAT model).
    seed
        CP-SAT seed.
    workers
        Teams solved at the same time (one CP-SAT worker each).
    """

    under_cover_weight: int = 1000
    over_cover_weight: int = 5
    agency_nurses_per_shift: int = 3
    night_spread_weight: int = 0
    weekend_spread_weight: int = 0
    change_weight: int = 10_000
    deterministic_seconds_per_nurse: float = 0.06
    max_deterministic_seconds: float = 15.0
    wall_seconds_per_team: float = 120.0
    max_team_size: int = 24
    seed: int = 0
    workers: int = 2

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
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RosterInputError(f"settings.{name}: must be a non-negative integer, got {value!r}")
        for name in ("workers", "max_team_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RosterInputError(f"settings.{name}: must be a positive integer, got {value!r}")
        for name in ("deterministic_seconds_per_nurse", "max_deterministic_seconds", "wall_seconds_per_team"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise RosterInputError(f"settings.{name}: must be a positive number, got {value!r}")

    def deterministic_seconds(self, nurses: int) -> float:
        """Deterministic-time budget of a team of ``nurses`` nurses."""
        return min(self.max_deterministic_seconds, max(1.0, self.deterministic_seconds_per_nurse * nurses))


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
    """

    team: Team
    problem: RosterProblem
    solution: RosterSolution
    published_changes: int = 0


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
    """

    first_day: date
    days: int
    teams: tuple[TeamRoster, ...]
    targets: Mapping[tuple[int, str, str, str], tuple[int, str]] = field(default_factory=dict)

    @property
    def status(self) -> RosterStatus:
        """The worst status over the teams (infeasible > timeout > feasible > optimal)."""
        order = [RosterStatus.INFEASIBLE, RosterStatus.TIMEOUT, RosterStatus.FEASIBLE, RosterStatus.OPTIMAL]
        statuses = {t.solution.status for t in self.teams}
        for status in order:
            if status in statuses:
                return status
        return RosterStatus.OPTIMAL

    @property
    def objective(self) -> int | None:
        """Sum of the teams' objectives (None when a team has no roster)."""
        values = [t.solution.objective for t in self.teams]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

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
        staff: Counter[tuple[int, str, str, str]] = Counter()
        agency: Counter[tuple[int, str, str, str]] = Counter()
        for team in self.teams:
            roster = team.solution.roster
            if roster is None:
                continue
            for a in roster.assignments:
                staff[(a.day, a.shift_id, a.unit_id, a.skill)] += 1
            for b in roster.agency:
                agency[(b.day, b.shift_id, b.unit_id, b.skill)] += b.nurses
        rows = []
        for key in sorted(set(self.targets) | set(staff) | set(agency)):
            day, shift_id, unit_id, skill = key
            required, basis = self.targets.get(key, (0, BASIS_ESTABLISHMENT))
            present = staff[key] + agency[key]
            rows.append(
                (
                    unit_id,
                    self.date_of(day),
                    shift_id,
                    skill,
                    required,
                    staff[key],
                    agency[key],
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
    """
    settings = settings or RosterSettings()
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
    run = run_solver(
        model,
        time_limit_seconds=settings.wall_seconds_per_team,
        workers=1,
        seed=settings.seed,
        progress=progress,
        cancel=cancel,
        parameters={
            **SOLVER_PARAMETERS,
            "max_deterministic_time": budget_factor * settings.deterministic_seconds(len(problem.nurses)),
        },
    )
    solution = solution_from_run(built, run)
    changes = 0
    if not keep_published and solution.roster is not None:
        changes = solution.objective_terms.get(TERM_ROSTER_CHANGES, 0) // max(1, settings.change_weight)
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
    published_cells, fixed_days = _published_cells(published, first_day, days, published_until)
    teams = make_teams(hospital, max_team_size=settings.max_team_size)
    shares = split_targets(teams, targets)
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
        )
        if cancel is not None and cancel.is_set():
            solution = RosterSolution(RosterStatus.TIMEOUT, None, None, {}, 0.0, 0.0, cancelled=True)
            result = TeamRoster(team, problem, solution)
        else:

            def team_report(solver_report: RosterProgress) -> None:
                report(team.team_id, solver_report)

            problem = _relax_for_published(problem, published_cells, fixed_days)
            solution, changes = _solve_team(
                problem, published_cells, fixed_days, settings, team_report, cancel, keep_published=True
            )
            for factor in RETRY_BUDGET_FACTORS:
                if solution.status is not RosterStatus.TIMEOUT or solution.cancelled:
                    break
                solution, changes = _solve_team(
                    problem,
                    published_cells,
                    fixed_days,
                    settings,
                    team_report,
                    cancel,
                    keep_published=True,
                    budget_factor=factor,
                )
            if solution.status is RosterStatus.INFEASIBLE and fixed_days > 0:
                solution, changes = _solve_team(
                    problem, published_cells, fixed_days, settings, team_report, cancel, keep_published=False
                )
            result = TeamRoster(team, problem, solution, changes)
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
