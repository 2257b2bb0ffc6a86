"""CP-SAT sub-model that re-plans a few patients (admission day, room, theater), the rest of the plan fixed.

The nurse covering each room-shift stays as it is, so every cost of a free patient is exact: skill shortfall
and continuity of care are constants of (patient, day, room); the nurses' excess workload, room capacity,
gender separation and age mix are modelled against what the fixed persons already use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.ihtc.modelling import PenaltyTerm, minimise_penalties, weighted_sum
from scheduler.ihtc.state import Occupancy, PlanState, measure_occupancy, nurse_loads
from scheduler.ihtc.tables import NO_NURSE, ProblemTables

__all__ = [
    "AdmissionMoveSpec",
    "AdmissionMoveVariables",
    "ContinuityEstimate",
    "NurseCostCache",
    "build_admission_model",
    "build_admission_spec",
    "chosen_places",
]


class NurseCostCache:
    """Skill shortfall and distinct nurses of (patient, admission day, room) under a plan's nurses.

    Both depend only on the nurses covering that room, so entries are kept per room and per version of the
    room's nurses (``PlanState.room_version``); a newer version replaces an older one. Safe to share between
    threads: a stale read only costs a recomputation.
    """

    def __init__(self, room_count: int) -> None:
        self._by_room: list[tuple[int, dict[tuple[int, int], tuple[int, int]]]] = [
            (0, {}) for _ in range(room_count)
        ]

    def costs(
        self, tables: ProblemTables, state: PlanState, patient: int, day: int, room: int
    ) -> tuple[int, int]:
        """(skill shortfall, distinct nurses) of a patient admitted on ``day`` into ``room``."""
        version = state.room_version[room]
        stored_version, cached = self._by_room[room]
        if stored_version != version:
            if version > stored_version:
                cached = {}
                self._by_room[room] = (version, cached)
            else:
                cached = {}  # an older plan: compute, but do not keep
        key = (patient, day)
        found = cached.get(key)
        if found is not None:
            return found
        shifts_per_day = tables.shifts_per_day
        first_shift = day * shifts_per_day
        last_shift = min(day + tables.patient_length_of_stay[patient], tables.days) * shifts_per_day
        nurses_of_room = state.nurse_of[room]
        skill_required = tables.patient_skill_required[patient]
        nurse_skill = tables.nurse_skill
        shortfall = 0
        seen: set[int] = set()
        for sigma in range(first_shift, last_shift):
            nurse = nurses_of_room[sigma]
            if nurse == NO_NURSE:
                continue
            seen.add(nurse)
            missing = skill_required[sigma - first_shift] - nurse_skill[nurse]
            if missing > 0:
                shortfall += missing
        found = (shortfall, len(seen))
        cached[key] = found
        return found


class ContinuityEstimate:
    """Fewest nurses a stay could see if its room's nurses were chosen freely (a room-independent estimate).

    For each shift type, a greedy set cover of the stay's days by the nurses rostered on them; the sum over
    shift types. It stands in for continuity of care when a move re-chooses the nurses afterwards.
    """

    def __init__(self, tables: ProblemTables) -> None:
        self._tables = tables
        self._known: dict[tuple[int, int], int] = {}

    def fewest_nurses(self, day: int, length_of_stay: int) -> int:
        """Estimated distinct nurses of a stay starting on ``day``."""
        key = (day, length_of_stay)
        known = self._known.get(key)
        if known is not None:
            return known
        tables = self._tables
        end_day = min(day + length_of_stay, tables.days)
        total = 0
        for k in range(tables.shifts_per_day):
            uncovered = {
                d for d in range(day, end_day) if tables.nurses_on_shift[d * tables.shifts_per_day + k]
            }
            while uncovered:
                best_days: set[int] = set()
                for nurse in range(tables.nurse_count):
                    days_worked = {
                        d
                        for d in uncovered
                        if tables.nurse_max_load[nurse][d * tables.shifts_per_day + k] >= 0
                    }
                    if len(days_worked) > len(best_days):
                        best_days = days_worked
                uncovered -= best_days
                total += 1
        self._known[key] = total
        return total


@dataclass
class AdmissionMoveSpec:
    """What the admission sub-model needs: the free patients' options and what the fixed plan already uses."""

    tables: ProblemTables
    state: PlanState
    free_patients: tuple[int, ...]
    fixed: Occupancy
    """Occupancy of everybody but the free patients."""
    fixed_nurse_load: list[list[int]]
    surgeon_minutes_used: list[list[int]]
    theater_minutes_used: list[list[int]]
    theater_surgeries: list[list[int]]
    surgeon_theaters: list[list[set[int]]]
    room_options: dict[tuple[int, int], list[int]]
    """``room_options[(p, day)]``: rooms where patient p admitted on ``day`` fits beside the fixed persons."""
    theater_options: dict[tuple[int, int], list[int]]
    """``theater_options[(p, day)]``: theaters with enough minutes left on ``day`` for p's surgery."""
    skill_shortfall: dict[tuple[int, int, int], int]
    distinct_nurses: dict[tuple[int, int, int], int]
    mandatory_penalty: int
    """Objective penalty for a mandatory patient left out (stands in for hard rule H5)."""


@dataclass
class AdmissionMoveVariables:
    """Decision variables of the admission sub-model."""

    stay: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    """``stay[(p, day, room)]``: p is admitted on ``day`` into ``room``."""
    surgery: dict[tuple[int, int, int], cp_model.IntVar] = field(default_factory=dict)
    """``surgery[(p, day, theater)]``: p is operated on ``day`` in ``theater``."""
    not_admitted: dict[int, cp_model.IntVar] = field(default_factory=dict)
    current: dict[int, int] = field(default_factory=dict)
    """Value of each variable (by index) in the current plan; every variable is hinted with it."""

    def hint(self, model: cp_model.CpModel, variable: cp_model.IntVar, value: int) -> None:
        """Hint ``variable`` with its value in the current plan (complete hints let CP-SAT start there)."""
        self.current[variable.index] = value
        model.add_hint(variable, value)

    def now(self, variable: cp_model.IntVar) -> int:
        """Value of a variable in the current plan."""
        return self.current[variable.index]

    def now_sum(self, variables: Sequence[cp_model.IntVar], coefficients: Sequence[int] | None = None) -> int:
        """Value of a (weighted) sum of variables in the current plan."""
        if coefficients is None:
            return sum(self.current[v.index] for v in variables)
        return sum(c * self.current[v.index] for v, c in zip(variables, coefficients, strict=True))


def build_admission_spec(
    tables: ProblemTables,
    state: PlanState,
    free_patients: Sequence[int],
    cache: NurseCostCache,
    mandatory_penalty: int,
    allowed_rooms: Collection[int] | None = None,
    keep_days: bool = False,
    keep_rooms: bool = False,
) -> AdmissionMoveSpec:
    """Measure the fixed part of the plan and list each free patient's options.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        The current plan (not changed).
    free_patients
        Positions of the patients to re-plan.
    cache
        Nurse-dependent constants of (patient, day, room).
    mandatory_penalty
        Objective penalty for leaving out a mandatory patient.
    allowed_rooms
        When given, free patients may go only to these rooms (or stay in their own), which keeps the model of
        a large ward small.
    keep_days
        Admitted free patients keep their admission day (only room and theater change): a cheap way to
        re-pack the rooms of many patients at once.
    keep_rooms
        Admitted free patients keep their room (only day and theater change).

    Returns
    -------
    AdmissionMoveSpec
        The sub-model's data.
    """
    free = tuple(sorted(set(free_patients)))
    free_set = set(free)
    days, shifts_per_day = tables.days, tables.shifts_per_day
    fixed = measure_occupancy(tables, state, left_out=free_set)
    fixed_nurse_load = nurse_loads(tables, state, fixed)
    surgeon_minutes_used = [[0] * days for _ in range(tables.surgeon_count)]
    theater_minutes_used = [[0] * days for _ in range(tables.theater_count)]
    theater_surgeries = [[0] * days for _ in range(tables.theater_count)]
    surgeon_theaters: list[list[set[int]]] = [
        [set() for _ in range(days)] for _ in range(tables.surgeon_count)
    ]
    for p in range(tables.patient_count):
        if p in free_set or not state.admitted(p):
            continue
        day, theater, surgeon = state.admission_day[p], state.theater[p], tables.patient_surgeon[p]
        minutes = tables.patient_surgery_minutes[p]
        surgeon_minutes_used[surgeon][day] += minutes
        theater_minutes_used[theater][day] += minutes
        theater_surgeries[theater][day] += 1
        surgeon_theaters[surgeon][day].add(theater)

    # A room-day is closed to a gender when full, when the other gender is there, or when no nurse covers it.
    closed_prefix: dict[bool, list[list[int]]] = {True: [], False: []}
    for r in range(tables.room_count):
        uncovered_day = [
            any(state.nurse_of[r][d * shifts_per_day + k] == NO_NURSE for k in range(shifts_per_day))
            for d in range(days)
        ]
        for gender_a in (True, False):
            other = fixed.gender_b[r] if gender_a else fixed.gender_a[r]
            prefix = [0]
            for d in range(days):
                closed = fixed.count[r][d] >= tables.room_capacity[r] or other[d] > 0 or uncovered_day[d]
                prefix.append(prefix[-1] + int(closed))
            closed_prefix[gender_a].append(prefix)

    room_options: dict[tuple[int, int], list[int]] = {}
    theater_options: dict[tuple[int, int], list[int]] = {}
    skill_shortfall: dict[tuple[int, int, int], int] = {}
    distinct_nurses: dict[tuple[int, int, int], int] = {}
    for p in free:
        surgeon, minutes = tables.patient_surgeon[p], tables.patient_surgery_minutes[p]
        prefixes = closed_prefix[tables.patient_gender_a[p]]
        admitted = state.admitted(p)
        if keep_days and admitted:
            candidate_days = range(state.admission_day[p], state.admission_day[p] + 1)
        else:
            candidate_days = range(tables.patient_release_day[p], tables.patient_last_day[p] + 1)
        for day in candidate_days:
            if tables.surgeon_minutes[surgeon][day] - surgeon_minutes_used[surgeon][day] < minutes:
                continue
            theaters = [
                t
                for t in range(tables.theater_count)
                if tables.theater_minutes[t][day] - theater_minutes_used[t][day] >= minutes
            ]
            if not theaters:
                continue
            last_day = min(day + tables.patient_length_of_stay[p], days)
            rooms = [
                r
                for r in tables.patient_compatible_rooms[p]
                if prefixes[r][last_day] == prefixes[r][day]
                and (allowed_rooms is None or r in allowed_rooms or r == state.room[p])
                and (not keep_rooms or not admitted or r == state.room[p])
            ]
            if not rooms:
                continue
            room_options[(p, day)] = rooms
            theater_options[(p, day)] = theaters
            for r in rooms:
                shortfall, nurses = cache.costs(tables, state, p, day, r)
                skill_shortfall[(p, day, r)] = shortfall
                distinct_nurses[(p, day, r)] = nurses
    return AdmissionMoveSpec(
        tables=tables,
        state=state,
        free_patients=free,
        fixed=fixed,
        fixed_nurse_load=fixed_nurse_load,
        surgeon_minutes_used=surgeon_minutes_used,
        theater_minutes_used=theater_minutes_used,
        theater_surgeries=theater_surgeries,
        surgeon_theaters=surgeon_theaters,
        room_options=room_options,
        theater_options=theater_options,
        skill_shortfall=skill_shortfall,
        distinct_nurses=distinct_nurses,
        mandatory_penalty=mandatory_penalty,
    )


# --- rules -------------------------------------------------------------------------------------------------
def add_admission_choice(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Each free patient is admitted once (one day, one room) or not at all; leaving out costs."""
    tables, state = spec.tables, spec.state
    weight = tables.instance.weights.unscheduled_optional
    options_by_patient: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (p, day), rooms in spec.room_options.items():
        for r in rooms:
            stay = model.new_bool_var(f"admit_p{p}_day{day}_room{r}")
            variables.stay[(p, day, r)] = stay
            variables.hint(model, stay, int(state.admission_day[p] == day and state.room[p] == r))
            options_by_patient[p].append(stay)
    penalties = []
    for p in spec.free_patients:
        not_admitted = model.new_bool_var(f"not_admitted_p{p}")
        variables.not_admitted[p] = not_admitted
        variables.hint(model, not_admitted, int(not state.admitted(p)))
        model.add_exactly_one([*options_by_patient[p], not_admitted])
        if tables.patient_mandatory[p]:
            penalties.append(PenaltyTerm("mandatory_unscheduled", spec.mandatory_penalty, not_admitted))
        else:
            penalties.append(PenaltyTerm("unscheduled_optional", weight, not_admitted))
    return penalties


def add_theater_choice(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """An admitted patient is operated on the admission day in exactly one theater."""
    state = spec.state
    for (p, day), theaters in spec.theater_options.items():
        surgeries = []
        for t in theaters:
            surgery = model.new_bool_var(f"surgery_p{p}_day{day}_theater{t}")
            variables.surgery[(p, day, t)] = surgery
            variables.hint(model, surgery, int(state.admission_day[p] == day and state.theater[p] == t))
            surgeries.append(surgery)
        stays = [variables.stay[(p, day, r)] for r in spec.room_options[(p, day)]]
        model.add(sum(surgeries) == sum(stays))
    return []


def add_surgeon_time(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """A surgeon's surgeries on a day fit in their maximum surgery time (H3)."""
    tables = spec.tables
    stays_by_surgeon_day: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    minutes_by_surgeon_day: dict[tuple[int, int], list[int]] = defaultdict(list)
    patients_by_surgeon_day: dict[tuple[int, int], set[int]] = defaultdict(set)
    for (p, day, _room), stay in variables.stay.items():
        key = (tables.patient_surgeon[p], day)
        stays_by_surgeon_day[key].append(stay)
        minutes_by_surgeon_day[key].append(tables.patient_surgery_minutes[p])
        patients_by_surgeon_day[key].add(p)
    for (surgeon, day), stays in stays_by_surgeon_day.items():
        minutes_left = tables.surgeon_minutes[surgeon][day] - spec.surgeon_minutes_used[surgeon][day]
        most_minutes = sum(tables.patient_surgery_minutes[p] for p in patients_by_surgeon_day[(surgeon, day)])
        if most_minutes > minutes_left:
            model.add(weighted_sum(stays, minutes_by_surgeon_day[(surgeon, day)]) <= minutes_left)
    return []


def add_theater_time(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Surgeries in a theater on a day fit in its opening time (H4)."""
    tables = spec.tables
    by_theater_day: dict[tuple[int, int], tuple[list[cp_model.IntVar], list[int]]] = defaultdict(
        lambda: ([], [])
    )
    for (p, day, theater), surgery in variables.surgery.items():
        surgeries, minutes = by_theater_day[(theater, day)]
        surgeries.append(surgery)
        minutes.append(tables.patient_surgery_minutes[p])
    for (theater, day), (surgeries, minutes) in by_theater_day.items():
        minutes_left = tables.theater_minutes[theater][day] - spec.theater_minutes_used[theater][day]
        if sum(minutes) > minutes_left:
            model.add(weighted_sum(surgeries, minutes) <= minutes_left)
    return []


def add_open_theaters(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """A theater-day with a surgery is open (S5); theater-days opened by fixed patients cost nothing extra."""
    weight = spec.tables.instance.weights.open_operating_theater
    if weight == 0:
        return []
    surgeries_by_theater_day: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (_p, day, theater), surgery in variables.surgery.items():
        if spec.theater_surgeries[theater][day] == 0:
            surgeries_by_theater_day[(theater, day)].append(surgery)
    penalties = []
    for (theater, day), surgeries in surgeries_by_theater_day.items():
        theater_open = model.new_bool_var(f"open_theater{theater}_day{day}")
        variables.hint(model, theater_open, int(variables.now_sum(surgeries) > 0))
        for surgery in surgeries:
            model.add_implication(surgery, theater_open)
        penalties.append(PenaltyTerm("open_operating_theaters", weight, theater_open))
    return penalties


def add_surgeon_transfers(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Each theater beyond the first that a surgeon works in on a day costs (S6)."""
    tables = spec.tables
    weight = tables.instance.weights.surgeon_transfer
    if weight == 0:
        return []
    surgeries_by_key: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (p, day, theater), surgery in variables.surgery.items():
        surgeon = tables.patient_surgeon[p]
        if theater not in spec.surgeon_theaters[surgeon][day]:
            surgeries_by_key[(surgeon, day, theater)].append(surgery)
    new_theaters_by_surgeon_day: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (surgeon, day, theater), surgeries in surgeries_by_key.items():
        works_there = model.new_bool_var(f"surgeon{surgeon}_day{day}_in_theater{theater}")
        variables.hint(model, works_there, int(variables.now_sum(surgeries) > 0))
        for surgery in surgeries:
            model.add_implication(surgery, works_there)
        new_theaters_by_surgeon_day[(surgeon, day)].append(works_there)
    penalties = []
    for (surgeon, day), new_theaters in new_theaters_by_surgeon_day.items():
        if spec.surgeon_theaters[surgeon][day]:
            penalties.append(PenaltyTerm("surgeon_transfers", weight, sum(new_theaters)))
        else:
            transfers = model.new_int_var(0, len(new_theaters), f"transfers_surgeon{surgeon}_day{day}")
            variables.hint(model, transfers, max(0, variables.now_sum(new_theaters) - 1))
            model.add(transfers >= sum(new_theaters) - 1)
            penalties.append(PenaltyTerm("surgeon_transfers", weight, transfers))
    return penalties


def _stays_by_room_day(
    variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]]:
    tables = spec.tables
    by_room_day: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (p, day, room), stay in variables.stay.items():
        for present_day in tables.patient_stay_days(p, day):
            by_room_day[(room, present_day)].append((p, stay))
    return by_room_day


def add_room_capacity(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Persons in a room on a day never exceed its beds (H7)."""
    tables = spec.tables
    for (room, day), entries in _stays_by_room_day(variables, spec).items():
        beds_left = tables.room_capacity[room] - spec.fixed.count[room][day]
        if len({p for p, _ in entries}) > beds_left:
            model.add(sum(stay for _, stay in entries) <= beds_left)
    return []


def add_gender_separation(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """A room holds one gender on any day (H1); rooms already holding a gender were filtered in the spec."""
    tables = spec.tables
    for (room, day), entries in _stays_by_room_day(variables, spec).items():
        if spec.fixed.count[room][day] > 0:
            continue
        gender_a = [stay for p, stay in entries if tables.patient_gender_a[p]]
        gender_b = [stay for p, stay in entries if not tables.patient_gender_a[p]]
        if not gender_a or not gender_b:
            continue
        room_is_a = model.new_bool_var(f"room{room}_day{day}_gender_a")
        variables.hint(model, room_is_a, int(variables.now_sum(gender_a) > 0))
        beds = tables.room_capacity[room]
        model.add(sum(gender_a) <= beds * room_is_a)
        model.add(sum(gender_b) <= beds * (1 - room_is_a))
    return []


def add_age_mix(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Spread of age groups in each room-day (S1), beyond what the fixed persons already cause."""
    tables = spec.tables
    weight = tables.instance.weights.room_mixed_age
    if weight == 0:
        return []
    oldest_group = tables.age_group_count - 1
    penalties = []
    for (room, day), entries in _stays_by_room_day(variables, spec).items():
        fixed_min, fixed_max = spec.fixed.age_min[room][day], spec.fixed.age_max[room][day]
        stays_by_age: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for p, stay in entries:
            stays_by_age[tables.patient_age[p]].append(stay)
        ages = set(stays_by_age)
        if fixed_max >= 0:
            ages |= {fixed_min, fixed_max}
        if fixed_max >= 0 and min(ages) == fixed_min and max(ages) == fixed_max:
            continue  # nobody free can widen the spread
        if len(ages) == 1:
            continue
        oldest = model.new_int_var(0, oldest_group, f"oldest_room{room}_day{day}")
        youngest = model.new_int_var(0, oldest_group, f"youngest_room{room}_day{day}")
        ages_now = [age for age, stays in stays_by_age.items() if variables.now_sum(stays) > 0]
        if fixed_max >= 0:
            ages_now += [fixed_min, fixed_max]
        variables.hint(model, oldest, max(ages_now, default=0))
        variables.hint(model, youngest, min(ages_now, default=0))
        model.add(youngest <= oldest)
        if fixed_max >= 0:
            model.add(oldest >= fixed_max)
            model.add(youngest <= fixed_min)
        beds = tables.room_capacity[room]
        for age, stays in stays_by_age.items():
            age_present = model.new_bool_var(f"age{age}_in_room{room}_day{day}")
            variables.hint(model, age_present, int(variables.now_sum(stays) > 0))
            model.add(sum(stays) <= beds * age_present)
            model.add(oldest >= age).only_enforce_if(age_present)
            model.add(youngest <= age).only_enforce_if(age_present)
        penalties.append(PenaltyTerm("age_mix", weight, oldest - youngest))
    return penalties


def add_excess_workload(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Workload a free patient brings to the nurse covering their room, beyond her maximum (S4)."""
    tables = spec.tables
    weight = tables.instance.weights.nurse_excessive_workload
    if weight == 0:
        return []
    shifts_per_day = tables.shifts_per_day
    by_nurse_shift: dict[tuple[int, int], tuple[list[cp_model.IntVar], list[int]]] = defaultdict(
        lambda: ([], [])
    )
    # most workload each patient can bring to a nurse-shift (a patient takes one option only)
    most_units: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for (p, day, room), stay in variables.stay.items():
        nurses_of_room = spec.state.nurse_of[room]
        workload = tables.patient_workload[p]
        first_shift = day * shifts_per_day
        last_shift = min(day + tables.patient_length_of_stay[p], tables.days) * shifts_per_day
        for sigma in range(first_shift, last_shift):
            units = workload[sigma - first_shift]
            if units:
                key = (nurses_of_room[sigma], sigma)
                stays, loads = by_nurse_shift[key]
                stays.append(stay)
                loads.append(units)
                if most_units[key].get(p, 0) < units:
                    most_units[key][p] = units
    penalties = []
    for (nurse, sigma), (stays, loads) in by_nurse_shift.items():
        fixed_load = spec.fixed_nurse_load[nurse][sigma]
        max_load = tables.nurse_max_load[nurse][sigma]
        if fixed_load + sum(most_units[(nurse, sigma)].values()) <= max_load:
            continue
        base_excess = max(0, fixed_load - max_load)
        excess = model.new_int_var(base_excess, fixed_load + sum(loads), f"excess_nurse{nurse}_shift{sigma}")
        variables.hint(model, excess, max(0, fixed_load - max_load + variables.now_sum(stays, loads)))
        model.add(excess >= fixed_load - max_load + weighted_sum(stays, loads))
        penalties.append(PenaltyTerm("excess_workload", weight, excess))
    return penalties


def add_admission_delay(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Days between a patient's release and admission (S7)."""
    tables = spec.tables
    keys = [key for key in variables.stay if key[1] > tables.patient_release_day[key[0]]]
    delays = [day - tables.patient_release_day[p] for p, day, _ in keys]
    if not keys:
        return []
    stays = [variables.stay[key] for key in keys]
    return [
        PenaltyTerm(
            "admission_delay_days", tables.instance.weights.patient_delay, weighted_sum(stays, delays)
        )
    ]


def add_skill_shortfall(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Skill levels a free patient needs beyond the covering nurses' (S2); fixed per (patient, day, room)."""
    keys = [key for key in variables.stay if spec.skill_shortfall[key]]
    if not keys:
        return []
    stays = [variables.stay[key] for key in keys]
    shortfalls = [spec.skill_shortfall[key] for key in keys]
    weight = spec.tables.instance.weights.room_nurse_skill
    return [PenaltyTerm("skill_shortfall", weight, weighted_sum(stays, shortfalls))]


def add_continuity_of_care(
    model: cp_model.CpModel, variables: AdmissionMoveVariables, spec: AdmissionMoveSpec
) -> list[PenaltyTerm]:
    """Distinct nurses a free patient sees during the stay (S3); fixed per (patient, day, room)."""
    keys = list(variables.stay)
    if not keys:
        return []
    stays = [variables.stay[key] for key in keys]
    nurses = [spec.distinct_nurses[key] for key in keys]
    weight = spec.tables.instance.weights.continuity_of_care
    return [PenaltyTerm("continuity_of_care", weight, weighted_sum(stays, nurses))]


ADMISSION_RULES = (
    add_admission_choice,
    add_theater_choice,
    add_surgeon_time,
    add_theater_time,
    add_open_theaters,
    add_surgeon_transfers,
    add_room_capacity,
    add_gender_separation,
    add_age_mix,
    add_excess_workload,
    add_admission_delay,
    add_skill_shortfall,
    add_continuity_of_care,
)


def build_admission_model(
    spec: AdmissionMoveSpec,
) -> tuple[cp_model.CpModel, AdmissionMoveVariables, list[PenaltyTerm]]:
    """Build the sub-model for the free patients, completely hinted with the current plan.

    Parameters
    ----------
    spec
        Data from :func:`build_admission_spec`.

    Returns
    -------
    tuple
        The model, its variables and all penalty terms (the objective is already set).
    """
    model = cp_model.CpModel()
    variables = AdmissionMoveVariables()
    penalty_lists = [rule(model, variables, spec) for rule in ADMISSION_RULES]
    minimise_penalties(model, penalty_lists)
    penalties = [penalty for penalties in penalty_lists for penalty in penalties]
    return model, variables, penalties


def chosen_places(
    spec: AdmissionMoveSpec, variables: AdmissionMoveVariables, solver: cp_model.CpSolver
) -> dict[int, tuple[int, int, int]]:
    """The sub-model's answer: (day, room, theater) of each free patient, (-1, -1, -1) if left out."""
    places = {p: (-1, -1, -1) for p in spec.free_patients}
    for (p, day, room), stay in variables.stay.items():
        if solver.boolean_value(stay):
            places[p] = (day, room, places[p][2])
    for (p, day, theater), surgery in variables.surgery.items():
        if solver.boolean_value(surgery):
            places[p] = (day, places[p][1], theater)
    return places
