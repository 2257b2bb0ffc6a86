"""CP-SAT sub-model that re-assigns nurses to some room-shifts, with patients and the other shifts fixed.

Costs are exact: skill shortfall per (nurse, room-shift), excess workload per nurse-shift, and continuity of
care per person counted against the nurses the person already sees in the fixed shifts of the stay.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.ihtc.modelling import PenaltyTerm, minimise_penalties, weighted_sum
from scheduler.ihtc.state import Occupancy, PlanState
from scheduler.ihtc.tables import NO_NURSE, ProblemTables

__all__ = [
    "NurseCoverSpec",
    "NurseCoverVariables",
    "build_nurse_model",
    "build_nurse_spec",
    "chosen_nurses",
    "fill_room_shifts",
]


@dataclass(frozen=True)
class PersonGroup:
    """Persons in one room whose stays meet the free shifts in the same way (same costs, counted once)."""

    room: int
    free_shifts: tuple[int, ...]
    fixed_nurses: frozenset[int]
    """Nurses the persons already see in the fixed shifts of their stay."""
    persons: int


@dataclass
class NurseCoverSpec:
    """What the nurse sub-model needs: the free room-shifts and what the fixed shifts already impose."""

    tables: ProblemTables
    state: PlanState
    occupancy: Occupancy
    free_room_shifts: tuple[tuple[int, int], ...]
    """(room, σ) pairs to (re)cover; only occupied ones."""
    nurse_options: dict[tuple[int, int], tuple[int, ...]]
    """Nurses that may cover each free (room, σ): rostered in σ (and among the allowed ones)."""
    fixed_nurse_load: dict[tuple[int, int], int]
    """Workload of each (nurse, σ) of the free shifts from the rooms that stay as they are."""
    person_groups: tuple[PersonGroup, ...]


@dataclass
class NurseCoverVariables:
    """Decision variables of the nurse sub-model."""

    cover: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    """``cover[(nurse, room, σ)]``: the nurse covers the room in shift σ."""
    sees: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    """``sees[(group, nurse)]``: the persons of a group see the nurse during a free shift of their stay."""


def _person_stay(tables: ProblemTables, state: PlanState, person: int) -> tuple[int, int, int]:
    """(room, first shift, end shift) of a person, occupants first then patients."""
    occupant_count = len(tables.occupant_room)
    if person < occupant_count:
        room, first_day, length = tables.occupant_room[person], 0, tables.occupant_length_of_stay[person]
    else:
        p = person - occupant_count
        room, first_day, length = state.room[p], state.admission_day[p], tables.patient_length_of_stay[p]
    end_day = min(first_day + length, tables.days)
    return room, first_day * tables.shifts_per_day, end_day * tables.shifts_per_day


def build_nurse_spec(
    tables: ProblemTables,
    state: PlanState,
    occupancy: Occupancy,
    room_shifts: Iterable[tuple[int, int]],
    allowed_nurses: Collection[int] | None = None,
) -> NurseCoverSpec:
    """Collect the data of a nurse sub-model for some room-shifts (empty ones are dropped).

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        The current plan (not changed).
    occupancy
        Occupancy of the current plan (everybody).
    room_shifts
        (room, σ) pairs to re-assign.
    allowed_nurses
        When given, only these nurses (and the one covering a room-shift now) may take the free room-shifts.

    Returns
    -------
    NurseCoverSpec
        The sub-model's data.
    """
    shifts_per_day = tables.shifts_per_day
    free = tuple(
        sorted(
            {
                (room, sigma)
                for room, sigma in room_shifts
                if occupancy.count[room][sigma // shifts_per_day] > 0 and tables.nurses_on_shift[sigma]
            }
        )
    )
    free_set = set(free)
    free_shifts = {sigma for _, sigma in free}
    nurse_options: dict[tuple[int, int], tuple[int, ...]] = {}
    for room, sigma in free:
        on_shift = tables.nurses_on_shift[sigma]
        if allowed_nurses is None:
            nurse_options[(room, sigma)] = on_shift
        else:
            current = state.nurse_of[room][sigma]
            nurse_options[(room, sigma)] = tuple(n for n in on_shift if n in allowed_nurses or n == current)
    fixed_nurse_load: dict[tuple[int, int], int] = defaultdict(int)
    for sigma in free_shifts:
        for room in range(tables.room_count):
            nurse = state.nurse_of[room][sigma]
            if nurse != NO_NURSE and (room, sigma) not in free_set:
                fixed_nurse_load[(nurse, sigma)] += occupancy.load[room][sigma]
    persons: set[int] = set()
    for room, sigma in free:
        persons.update(occupancy.persons[room][sigma // shifts_per_day])
    group_sizes: dict[tuple[int, tuple[int, ...], frozenset[int]], int] = defaultdict(int)
    for person in persons:
        room, first_shift, end_shift = _person_stay(tables, state, person)
        nurses_of_room = state.nurse_of[room]
        person_free_shifts = []
        fixed_nurses = set()
        for sigma in range(first_shift, end_shift):
            if (room, sigma) in free_set:
                person_free_shifts.append(sigma)
            elif nurses_of_room[sigma] != NO_NURSE:
                fixed_nurses.add(nurses_of_room[sigma])
        group_sizes[(room, tuple(person_free_shifts), frozenset(fixed_nurses))] += 1
    groups = tuple(
        PersonGroup(room=room, free_shifts=shifts, fixed_nurses=nurses, persons=size)
        for (room, shifts, nurses), size in sorted(
            group_sizes.items(), key=lambda item: (item[0][0], item[0][1])
        )
    )
    return NurseCoverSpec(
        tables=tables,
        state=state,
        occupancy=occupancy,
        free_room_shifts=free,
        nurse_options=nurse_options,
        fixed_nurse_load=dict(fixed_nurse_load),
        person_groups=groups,
    )


# --- rules -------------------------------------------------------------------------------------------------
def add_room_shift_cover(
    model: cp_model.CpModel, variables: NurseCoverVariables, spec: NurseCoverSpec
) -> list[PenaltyTerm]:
    """Every occupied room-shift is covered by exactly one rostered nurse (H8, H9)."""
    for room, sigma in spec.free_room_shifts:
        options = []
        for nurse in spec.nurse_options[(room, sigma)]:
            cover = model.new_bool_var(f"nurse{nurse}_covers_room{room}_shift{sigma}")
            variables.cover[(nurse, room, sigma)] = cover
            options.append(cover)
        model.add_exactly_one(options)
    return []


def add_skill_shortfall(
    model: cp_model.CpModel, variables: NurseCoverVariables, spec: NurseCoverSpec
) -> list[PenaltyTerm]:
    """Skill levels the persons of a room need beyond the covering nurse's level, per shift (S2)."""
    tables = spec.tables
    covers, shortfalls = [], []
    for (nurse, room, sigma), cover in variables.cover.items():
        skill = tables.nurse_skill[nurse]
        shortfall = sum(need - skill for need in spec.occupancy.skill_needs[room][sigma] if need > skill)
        if shortfall:
            covers.append(cover)
            shortfalls.append(shortfall)
    if not covers:
        return []
    return [
        PenaltyTerm(
            "skill_shortfall", tables.instance.weights.room_nurse_skill, weighted_sum(covers, shortfalls)
        )
    ]


def add_excess_workload(
    model: cp_model.CpModel, variables: NurseCoverVariables, spec: NurseCoverSpec
) -> list[PenaltyTerm]:
    """Workload of a nurse's rooms in a shift beyond her maximum (S4)."""
    tables = spec.tables
    weight = tables.instance.weights.nurse_excessive_workload
    if weight == 0:
        return []
    covers_by_nurse_shift: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    loads_by_nurse_shift: dict[tuple[int, int], list[int]] = defaultdict(list)
    rooms_by_nurse_shift: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for (nurse, room, sigma), cover in variables.cover.items():
        load = spec.occupancy.load[room][sigma]
        if load:
            covers_by_nurse_shift[(nurse, sigma)].append(cover)
            loads_by_nurse_shift[(nurse, sigma)].append(load)
            rooms_by_nurse_shift[(nurse, sigma)].append((room, sigma))
    penalties = []
    for (nurse, sigma), covers in covers_by_nurse_shift.items():
        loads = loads_by_nurse_shift[(nurse, sigma)]
        fixed_load = spec.fixed_nurse_load.get((nurse, sigma), 0)
        max_load = tables.nurse_max_load[nurse][sigma]
        if fixed_load + sum(loads) <= max_load:
            continue
        excess = model.new_int_var(
            max(0, fixed_load - max_load), fixed_load + sum(loads), f"excess_nurse{nurse}_shift{sigma}"
        )
        load_now = sum(
            load
            for (room, _), load in zip(rooms_by_nurse_shift[(nurse, sigma)], loads, strict=True)
            if spec.state.nurse_of[room][sigma] == nurse
        )
        model.add_hint(excess, max(0, fixed_load + load_now - max_load))
        model.add(excess >= fixed_load - max_load + weighted_sum(covers, loads))
        penalties.append(PenaltyTerm("excess_workload", weight, excess))
    return penalties


def add_continuity_of_care(
    model: cp_model.CpModel, variables: NurseCoverVariables, spec: NurseCoverSpec
) -> list[PenaltyTerm]:
    """Distinct nurses each person sees over the stay (S3), beyond those of the fixed shifts."""
    tables = spec.tables
    weight = tables.instance.weights.continuity_of_care
    if weight == 0:
        return []
    sees_list, persons_list = [], []
    for index, group in enumerate(spec.person_groups):
        covers_by_nurse: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for sigma in group.free_shifts:
            for nurse in spec.nurse_options[(group.room, sigma)]:
                if nurse not in group.fixed_nurses:
                    covers_by_nurse[nurse].append(variables.cover[(nurse, group.room, sigma)])
        for nurse, covers in covers_by_nurse.items():
            sees = model.new_bool_var(f"group{index}_room{group.room}_sees_nurse{nurse}")
            variables.sees[(index, nurse)] = sees
            for cover in covers:
                model.add_implication(cover, sees)
            sees_list.append(sees)
            persons_list.append(group.persons)
    if not sees_list:
        return []
    return [PenaltyTerm("continuity_of_care", weight, weighted_sum(sees_list, persons_list))]


NURSE_RULES = (add_room_shift_cover, add_skill_shortfall, add_excess_workload, add_continuity_of_care)


def build_nurse_model(
    spec: NurseCoverSpec,
) -> tuple[cp_model.CpModel, NurseCoverVariables, list[PenaltyTerm]]:
    """Build the nurse sub-model, hinted with the current nurses.

    Parameters
    ----------
    spec
        Data from :func:`build_nurse_spec`.

    Returns
    -------
    tuple
        The model, its variables and all penalty terms (the objective is already set).
    """
    model = cp_model.CpModel()
    variables = NurseCoverVariables()
    penalty_lists = [rule(model, variables, spec) for rule in NURSE_RULES]
    minimise_penalties(model, penalty_lists)
    nurse_of = spec.state.nurse_of
    for (nurse, room, sigma), cover in variables.cover.items():
        model.add_hint(cover, nurse_of[room][sigma] == nurse)
    for (index, nurse), sees in variables.sees.items():
        group = spec.person_groups[index]
        model.add_hint(sees, any(nurse_of[group.room][sigma] == nurse for sigma in group.free_shifts))
    return model, variables, [penalty for penalties in penalty_lists for penalty in penalties]


def chosen_nurses(
    spec: NurseCoverSpec, variables: NurseCoverVariables, solver: cp_model.CpSolver
) -> dict[tuple[int, int], int]:
    """The sub-model's answer: the nurse chosen for each free (room, σ)."""
    return {
        (room, sigma): nurse
        for (nurse, room, sigma), cover in variables.cover.items()
        if solver.boolean_value(cover)
    }


def fill_room_shifts(tables: ProblemTables, state: PlanState, only_missing: bool = True) -> set[int]:
    """Give a nurse to room-shifts that have none, keeping rooms with the same nurses where possible.

    Empty rooms cost nothing whoever covers them, but a patient moved into one meets those nurses. Rooms are
    spread evenly over the nurses on shift; a room keeps the nurse of the previous day's same shift when she
    is on shift again (else it gets the least busy nurse rostered longest on that shift), so that such a
    patient meets few nurses.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        The plan to complete (changed in place).
    only_missing
        When false, every room-shift is chosen afresh.

    Returns
    -------
    set of int
        Rooms whose nurses changed.
    """
    shifts_per_day = tables.shifts_per_day
    run_length = [[0] * (tables.shift_count + shifts_per_day) for _ in range(tables.nurse_count)]
    for nurse in range(tables.nurse_count):
        for sigma in reversed(range(tables.shift_count)):
            if tables.nurse_max_load[nurse][sigma] >= 0:
                run_length[nurse][sigma] = 1 + run_length[nurse][sigma + shifts_per_day]
    changed: set[int] = set()
    for sigma in range(tables.shift_count):
        on_shift = tables.nurses_on_shift[sigma]
        if not on_shift:
            continue
        rooms_per_nurse = math.ceil(tables.room_count / len(on_shift))
        rooms_taken: dict[int, int] = defaultdict(int)
        to_choose = []
        for room in range(tables.room_count):
            nurse = state.nurse_of[room][sigma]
            if only_missing and nurse != NO_NURSE:
                rooms_taken[nurse] += 1
            else:
                to_choose.append(room)
        for room in to_choose:
            nurses_of_room = state.nurse_of[room]
            previous = nurses_of_room[sigma - shifts_per_day] if sigma >= shifts_per_day else NO_NURSE
            if previous in on_shift and rooms_taken[previous] < rooms_per_nurse:
                chosen = previous
            else:
                chosen = min(
                    on_shift, key=lambda nurse: (rooms_taken[nurse], -run_length[nurse][sigma], nurse)
                )
            rooms_taken[chosen] += 1
            if nurses_of_room[sigma] != chosen:
                nurses_of_room[sigma] = chosen
                changed.add(room)
    return changed
