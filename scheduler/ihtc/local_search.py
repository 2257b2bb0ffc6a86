"""Simulated annealing over small moves, each judged by an incrementally kept cost (no sub-model, no checker).

The CP-SAT neighbourhoods of :mod:`scheduler.ihtc.solver` are exact but slow (a few per second). Between
them, this search tries many thousands of cheap moves per second and also accepts some worse plans, so that
it can leave the local optima that the exact neighbourhoods get stuck in:

* move one patient to another day, room or theater (or all three), admit a waiting optional patient or
  leave an admitted optional patient out;
* swap the rooms of two patients;
* give a room-shift another nurse rostered then, or swap the nurses of two rooms in one shift.

Every move keeps the plan feasible (beds, one gender per room, compatible room, surgeon and theater minutes,
admission window, a nurse on every shift of a stay; a mandatory patient is never left out, one left out may be
admitted); only its cost changes. The
cost is kept term by term in the same way as :func:`scheduler.ihtc.checker.evaluate` counts it; the solver
still judges the result with the checker before keeping it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.ihtc.state import NOT_ADMITTED, PlanState
from scheduler.ihtc.tables import NO_NURSE, ProblemTables

__all__ = ["AnnealingResult", "IncrementalPlan", "anneal"]


class IncrementalPlan:
    """A plan with every count its cost depends on, updated move by move.

    Persons are numbered occupants first (0..O-1), then patients (O + p). ``cost`` is the weighted total
    (sum of all soft terms) plus ``mandatory_penalty`` per mandatory patient left out; the moves keep every
    other hard rule.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        A feasible plan except, possibly, for mandatory patients left out (they stay out unless a move
        admits them); every room-shift with a rostered nurse should carry one.
    """

    def __init__(self, tables: ProblemTables, state: PlanState, mandatory_penalty: int = 1_000_000) -> None:
        self.tables = tables
        self.mandatory_penalty = mandatory_penalty
        t = tables
        weights = t.instance.weights
        self.w_age = weights.room_mixed_age
        self.w_skill = weights.room_nurse_skill
        self.w_cont = weights.continuity_of_care
        self.w_excess = weights.nurse_excessive_workload
        self.w_open = weights.open_operating_theater
        self.w_transfer = weights.surgeon_transfer
        self.w_delay = weights.patient_delay
        self.w_optional = weights.unscheduled_optional
        self.K = t.shifts_per_day
        self.D = t.days
        self.G = t.age_group_count
        self.L = t.instance.skill_levels
        days, shifts, rooms = t.days, t.shift_count, t.room_count
        self.occupants = len(t.occupant_room)
        self.day = list(state.admission_day)
        self.room = list(state.room)
        self.theater = list(state.theater)
        self.nurse_of = [list(row) for row in state.nurse_of]
        self.count = [[0] * days for _ in range(rooms)]
        self.gender_a = [[0] * days for _ in range(rooms)]
        self.age_count = [[0] * (days * self.G) for _ in range(rooms)]
        self.room_load = [[0] * shifts for _ in range(rooms)]
        self.needs = [[0] * (shifts * self.L) for _ in range(rooms)]
        self.persons: list[list[set[int]]] = [[set() for _ in range(days)] for _ in range(rooms)]
        self.nurse_load = [[0] * shifts for _ in range(t.nurse_count)]
        self.theater_minutes = [[0] * days for _ in range(t.theater_count)]
        self.theater_patients = [[0] * days for _ in range(t.theater_count)]
        self.surgeon_minutes = [[0] * days for _ in range(t.surgeon_count)]
        self.surgeon_theater = [[[0] * t.theater_count for _ in range(days)] for _ in range(t.surgeon_count)]
        self.surgeon_theaters = [[0] * days for _ in range(t.surgeon_count)]
        self.seen: list[dict[int, int]] = [{} for _ in range(self.occupants + t.patient_count)]
        self.compatible = [frozenset(rooms_ok) for rooms_ok in t.patient_compatible_rooms]
        by_surgeon: list[list[int]] = [[] for _ in range(t.surgeon_count)]
        for p in range(t.patient_count):
            by_surgeon[t.patient_surgeon[p]].append(p)
        self.by_surgeon = by_surgeon
        self.open_days = [
            tuple(th for th in range(t.theater_count) if t.theater_minutes[th][d] > 0) for d in range(days)
        ]
        self.cost = 0
        for o in range(self.occupants):
            self.cost += self._add_person(
                o,
                t.occupant_room[o],
                0,
                t.occupant_length_of_stay[o],
                t.occupant_gender_a[o],
                t.occupant_age[o],
                t.occupant_workload[o],
                t.occupant_skill_required[o],
            )
        for p in range(t.patient_count):
            self.cost += self.w_optional if not t.patient_mandatory[p] else mandatory_penalty
            if self.day[p] != NOT_ADMITTED:
                day, room, theater = self.day[p], self.room[p], self.theater[p]
                self.day[p] = NOT_ADMITTED
                self.add_patient(p, day, room, theater)

    # --- basic updates -----------------------------------------------------------------------------------
    def _spread(self, counts: list[int], offset: int) -> int:
        low = -1
        high = -1
        for g in range(self.G):
            if counts[offset + g]:
                if low < 0:
                    low = g
                high = g
        return 0 if low < 0 else high - low

    def _shortfall(self, needs: list[int], offset: int, skill: int) -> int:
        total = 0
        for level in range(skill + 1, self.L):
            total += needs[offset + level] * (level - skill)
        return total

    def _add_person(
        self,
        person: int,
        room: int,
        first_day: int,
        length: int,
        gender_a: bool,
        age: int,
        workload: tuple[int, ...],
        skill: tuple[int, ...],
    ) -> int:
        """Put a person in a room; returns the change of cost (age mix, skill, continuity, workload)."""
        K, G, L = self.K, self.G, self.L
        count_row, gender_row, age_row = self.count[room], self.gender_a[room], self.age_count[room]
        load_row, needs_row, nurses_row = self.room_load[room], self.needs[room], self.nurse_of[room]
        persons_row = self.persons[room]
        nurse_load = self.nurse_load
        max_load = self.tables.nurse_max_load
        nurse_skill = self.tables.nurse_skill
        seen = self.seen[person]
        age_delta = skill_delta = excess_delta = 0
        end = min(first_day + length, self.D)
        base = K * first_day
        for d in range(first_day, end):
            offset = d * G
            before = self._spread(age_row, offset)
            age_row[offset + age] += 1
            age_delta += self._spread(age_row, offset) - before
            count_row[d] += 1
            if gender_a:
                gender_row[d] += 1
            persons_row[d].add(person)
            for sigma in range(d * K, d * K + K):
                entry = sigma - base
                units = workload[entry]
                need = skill[entry]
                load_row[sigma] += units
                needs_row[sigma * L + need] += 1
                nurse = nurses_row[sigma]
                if nurse == NO_NURSE:
                    continue
                if units:
                    limit = max_load[nurse][sigma]
                    old = nurse_load[nurse][sigma]
                    nurse_load[nurse][sigma] = old + units
                    excess_delta += max(0, old + units - limit) - max(0, old - limit)
                if need > nurse_skill[nurse]:
                    skill_delta += need - nurse_skill[nurse]
                seen[nurse] = seen.get(nurse, 0) + 1
        return (
            self.w_age * age_delta
            + self.w_skill * skill_delta
            + self.w_excess * excess_delta
            + self.w_cont * len(seen)
        )

    def _remove_person(
        self,
        person: int,
        room: int,
        first_day: int,
        length: int,
        gender_a: bool,
        age: int,
        workload: tuple[int, ...],
        skill: tuple[int, ...],
    ) -> int:
        """Take a person out of a room; returns the change of cost."""
        K, G, L = self.K, self.G, self.L
        count_row, gender_row, age_row = self.count[room], self.gender_a[room], self.age_count[room]
        load_row, needs_row, nurses_row = self.room_load[room], self.needs[room], self.nurse_of[room]
        persons_row = self.persons[room]
        nurse_load = self.nurse_load
        max_load = self.tables.nurse_max_load
        nurse_skill = self.tables.nurse_skill
        age_delta = skill_delta = excess_delta = 0
        seen_before = len(self.seen[person])
        end = min(first_day + length, self.D)
        base = K * first_day
        for d in range(first_day, end):
            offset = d * G
            before = self._spread(age_row, offset)
            age_row[offset + age] -= 1
            age_delta += self._spread(age_row, offset) - before
            count_row[d] -= 1
            if gender_a:
                gender_row[d] -= 1
            persons_row[d].discard(person)
            for sigma in range(d * K, d * K + K):
                entry = sigma - base
                units = workload[entry]
                need = skill[entry]
                load_row[sigma] -= units
                needs_row[sigma * L + need] -= 1
                nurse = nurses_row[sigma]
                if nurse == NO_NURSE:
                    continue
                if units:
                    limit = max_load[nurse][sigma]
                    old = nurse_load[nurse][sigma]
                    nurse_load[nurse][sigma] = old - units
                    excess_delta += max(0, old - units - limit) - max(0, old - limit)
                if need > nurse_skill[nurse]:
                    skill_delta -= need - nurse_skill[nurse]
        self.seen[person] = {}
        return (
            self.w_age * age_delta
            + self.w_skill * skill_delta
            + self.w_excess * excess_delta
            - self.w_cont * seen_before
        )

    def can_place(self, p: int, day: int, room: int, theater: int) -> bool:
        """True when patient p (not admitted now) fits on ``day`` in ``room`` and ``theater``."""
        t = self.tables
        if day < t.patient_release_day[p] or day > t.patient_last_day[p] or room not in self.compatible[p]:
            return False
        minutes = t.patient_surgery_minutes[p]
        surgeon = t.patient_surgeon[p]
        if self.surgeon_minutes[surgeon][day] + minutes > t.surgeon_minutes[surgeon][day]:
            return False
        if self.theater_minutes[theater][day] + minutes > t.theater_minutes[theater][day]:
            return False
        capacity = t.room_capacity[room]
        count_row, gender_row = self.count[room], self.gender_a[room]
        gender_a = t.patient_gender_a[p]
        end = min(day + t.patient_length_of_stay[p], self.D)
        for d in range(day, end):
            n = count_row[d]
            if n >= capacity:
                return False
            if n and (gender_row[d] != n if gender_a else gender_row[d] != 0):
                return False
        nurses_row = self.nurse_of[room]
        return all(nurses_row[sigma] != NO_NURSE for sigma in range(day * self.K, end * self.K))

    def add_patient(self, p: int, day: int, room: int, theater: int) -> int:
        """Admit patient p (feasibility checked by the caller); returns the change of cost."""
        t = self.tables
        self.day[p], self.room[p], self.theater[p] = day, room, theater
        delta = self.w_delay * (day - t.patient_release_day[p])
        delta -= self.w_optional if not t.patient_mandatory[p] else self.mandatory_penalty
        minutes = t.patient_surgery_minutes[p]
        surgeon = t.patient_surgeon[p]
        self.surgeon_minutes[surgeon][day] += minutes
        self.theater_minutes[theater][day] += minutes
        if self.theater_patients[theater][day] == 0:
            delta += self.w_open
        self.theater_patients[theater][day] += 1
        in_theater = self.surgeon_theater[surgeon][day]
        if in_theater[theater] == 0:
            if self.surgeon_theaters[surgeon][day] > 0:
                delta += self.w_transfer
            self.surgeon_theaters[surgeon][day] += 1
        in_theater[theater] += 1
        delta += self._add_person(
            self.occupants + p,
            room,
            day,
            t.patient_length_of_stay[p],
            t.patient_gender_a[p],
            t.patient_age[p],
            t.patient_workload[p],
            t.patient_skill_required[p],
        )
        self.cost += delta
        return delta

    def remove_patient(self, p: int) -> int:
        """Leave patient p out (admitted now); returns the change of cost."""
        t = self.tables
        day, room, theater = self.day[p], self.room[p], self.theater[p]
        self.day[p], self.room[p], self.theater[p] = NOT_ADMITTED, -1, -1
        delta = -self.w_delay * (day - t.patient_release_day[p])
        delta += self.w_optional if not t.patient_mandatory[p] else self.mandatory_penalty
        minutes = t.patient_surgery_minutes[p]
        surgeon = t.patient_surgeon[p]
        self.surgeon_minutes[surgeon][day] -= minutes
        self.theater_minutes[theater][day] -= minutes
        self.theater_patients[theater][day] -= 1
        if self.theater_patients[theater][day] == 0:
            delta -= self.w_open
        in_theater = self.surgeon_theater[surgeon][day]
        in_theater[theater] -= 1
        if in_theater[theater] == 0:
            self.surgeon_theaters[surgeon][day] -= 1
            if self.surgeon_theaters[surgeon][day] > 0:
                delta -= self.w_transfer
        delta += self._remove_person(
            self.occupants + p,
            room,
            day,
            t.patient_length_of_stay[p],
            t.patient_gender_a[p],
            t.patient_age[p],
            t.patient_workload[p],
            t.patient_skill_required[p],
        )
        self.cost += delta
        return delta

    def set_nurse(self, room: int, sigma: int, nurse: int) -> int:
        """Let ``nurse`` (rostered in σ) cover the room in shift σ; returns the change of cost."""
        old = self.nurse_of[room][sigma]
        if old == nurse:
            return 0
        self.nurse_of[room][sigma] = nurse
        d = sigma // self.K
        if not self.count[room][d]:
            return 0
        delta = self._change_nurse(room, sigma, d, old, nurse)
        self.cost += delta
        return delta

    def _change_nurse(self, room: int, sigma: int, d: int, old: int, nurse: int) -> int:
        t = self.tables
        skill = t.nurse_skill
        offset = sigma * self.L
        needs = self.needs[room]
        delta = self.w_skill * (
            self._shortfall(needs, offset, skill[nurse]) - self._shortfall(needs, offset, skill[old])
        )
        units = self.room_load[room][sigma]
        if units:
            max_load = t.nurse_max_load
            before = self.nurse_load[old][sigma]
            self.nurse_load[old][sigma] = before - units
            excess = max(0, before - units - max_load[old][sigma]) - max(0, before - max_load[old][sigma])
            before = self.nurse_load[nurse][sigma]
            self.nurse_load[nurse][sigma] = before + units
            excess += max(0, before + units - max_load[nurse][sigma]) - max(
                0, before - max_load[nurse][sigma]
            )
            delta += self.w_excess * excess
        distinct = 0
        for person in self.persons[room][d]:
            seen = self.seen[person]
            left = seen[old] - 1
            if left:
                seen[old] = left
            else:
                del seen[old]
                distinct -= 1
            had = seen.get(nurse, 0)
            if not had:
                distinct += 1
            seen[nurse] = had + 1
        return delta + self.w_cont * distinct

    def to_state(self, like: PlanState) -> PlanState:
        """The plan as a :class:`PlanState`; rooms keep ``like``'s nurse versions (the caller renews them)."""
        return PlanState(
            admission_day=list(self.day),
            room=list(self.room),
            theater=list(self.theater),
            nurse_of=[list(row) for row in self.nurse_of],
            room_version=list(like.room_version),
        )


@dataclass(frozen=True)
class AnnealingResult:
    """What an annealing run found.

    Attributes
    ----------
    best
        The best plan found (None when nothing beat the starting plan).
    cost_change
        Cost of ``best`` minus that of the starting plan, as kept by the run (<= 0).
    moves
        Moves tried.
    start_temperature
        Temperature the run started at [cost units].
    """

    best: PlanState | None
    cost_change: int
    moves: int
    start_temperature: float


def _mean_worsening(plan: IncrementalPlan, rng: random.Random) -> float:
    """Mean cost increase of the worsening ones among some random moves (each undone)."""
    worse = []
    for _ in range(500):
        delta = _random_move(plan, rng, 0.0, always_undo=True)
        if delta is not None and 0 < delta < plan.mandatory_penalty:
            worse.append(delta)
    if not worse:
        return 1.0
    return sum(worse) / len(worse)


def _accept(delta: int, temperature: float, rng: random.Random) -> bool:
    if delta <= 0:
        return True
    if temperature <= 0:
        return False
    return rng.random() < math.exp(-delta / temperature)


def _random_move(
    plan: IncrementalPlan, rng: random.Random, temperature: float, always_undo: bool = False
) -> int | None:
    """Try one random move; keep it by the annealing rule. Returns the cost change made (None: no move)."""
    t = plan.tables
    choice = rng.random()
    if choice < 0.45:
        return _move_patient(plan, rng, temperature, always_undo)
    if choice < 0.55:
        return _swap_days(plan, rng, temperature, always_undo)
    if choice < 0.65:
        return _swap_rooms(plan, rng, temperature, always_undo)
    if choice < 0.9:
        room = rng.randrange(t.room_count)
        sigma = rng.randrange(t.shift_count)
        if not plan.count[room][sigma // plan.K]:
            return None
        on_shift = t.nurses_on_shift[sigma]
        old = plan.nurse_of[room][sigma]
        if len(on_shift) < 2 or old == NO_NURSE:
            return None
        if rng.random() < 0.5 and sigma >= plan.K:
            nurse = plan.nurse_of[room][sigma - plan.K]  # yesterday's nurse of this shift
            if nurse == NO_NURSE or t.nurse_max_load[nurse][sigma] < 0:
                nurse = rng.choice(on_shift)
        elif rng.random() < 0.5 and sigma + plan.K < t.shift_count:
            nurse = plan.nurse_of[room][sigma + plan.K]  # tomorrow's
            if nurse == NO_NURSE or t.nurse_max_load[nurse][sigma] < 0:
                nurse = rng.choice(on_shift)
        else:
            nurse = rng.choice(on_shift)
        if nurse == old:
            return None
        delta = plan.set_nurse(room, sigma, nurse)
        if always_undo or not _accept(delta, temperature, rng):
            plan.set_nurse(room, sigma, old)
            return delta if always_undo else 0
        return delta
    # swap the nurses of two rooms in one shift
    sigma = rng.randrange(t.shift_count)
    first, second = rng.randrange(t.room_count), rng.randrange(t.room_count)
    nurse_first, nurse_second = plan.nurse_of[first][sigma], plan.nurse_of[second][sigma]
    if first == second or nurse_first == nurse_second or NO_NURSE in (nurse_first, nurse_second):
        return None
    d = sigma // plan.K
    if not plan.count[first][d] and not plan.count[second][d]:
        return None
    delta = plan.set_nurse(first, sigma, nurse_second) + plan.set_nurse(second, sigma, nurse_first)
    if always_undo or not _accept(delta, temperature, rng):
        plan.set_nurse(second, sigma, nurse_second)
        plan.set_nurse(first, sigma, nurse_first)
        return delta if always_undo else 0
    return delta


def _move_patient(
    plan: IncrementalPlan, rng: random.Random, temperature: float, always_undo: bool
) -> int | None:
    t = plan.tables
    p = rng.randrange(t.patient_count)
    old = (plan.day[p], plan.room[p], plan.theater[p])
    admitted = old[0] != NOT_ADMITTED
    mandatory = t.patient_mandatory[p]
    release, last = t.patient_release_day[p], t.patient_last_day[p]
    kind = rng.random()
    fallback_room = -1
    if not admitted or kind < 0.1:
        if admitted and not mandatory and rng.random() < 0.5:
            day = NOT_ADMITTED  # leave the optional patient out
            room = theater = -1
        else:
            day = rng.randint(release, last)
            room = rng.choice(t.patient_compatible_rooms[p])
            theaters = plan.open_days[day]
            if not theaters:
                return None
            theater = rng.choice(theaters)
    elif kind < 0.5:
        # another day; the same room and theater if they fit
        if release == last:
            return None
        day = rng.randint(release, last)
        if day == old[0]:
            day = day + 1 if day < last else day - 1
        if rng.random() < 0.3:
            day = max(release, min(last, old[0] + rng.choice((-1, 1))))
        room = old[1]
        theater = _theater_for(plan, rng, p, day, old[2])
        if theater < 0:
            return None
        fallback_room = rng.choice(t.patient_compatible_rooms[p])
    elif kind < 0.8:
        day, theater = old[0], old[2]
        room = rng.choice(t.patient_compatible_rooms[p])
        if room == old[1]:
            return None
    else:
        day, room = old[0], old[1]
        theaters = plan.open_days[day]
        if len(theaters) < 2:
            return None
        theater = rng.choice(theaters)
        if theater == old[2]:
            return None
    delta = plan.remove_patient(p) if admitted else 0
    if day != NOT_ADMITTED:
        if not plan.can_place(p, day, room, theater):
            # a new day in the same room may not fit: then try one other room
            if fallback_room < 0 or not plan.can_place(p, day, fallback_room, theater):
                if admitted:
                    plan.add_patient(p, *old)
                return None
            room = fallback_room
        delta += plan.add_patient(p, day, room, theater)
    if always_undo or not _accept(delta, temperature, rng):
        if day != NOT_ADMITTED:
            plan.remove_patient(p)
        if admitted:
            plan.add_patient(p, *old)
        return delta if always_undo else 0
    return delta


def _theater_for(plan: IncrementalPlan, rng: random.Random, p: int, day: int, theater: int) -> int:
    """The patient's theater if open on ``day``, else one its surgeon already uses then, else any open one."""
    t = plan.tables
    if t.theater_minutes[theater][day] > 0:
        return theater
    used = plan.surgeon_theater[t.patient_surgeon[p]][day]
    theaters = [th for th in plan.open_days[day] if used[th]] or plan.open_days[day]
    return rng.choice(theaters) if theaters else -1


def _swap_days(
    plan: IncrementalPlan, rng: random.Random, temperature: float, always_undo: bool
) -> int | None:
    """Two patients of one surgeon trade admission days (each keeps room and, if open, theater)."""
    t = plan.tables
    first = rng.randrange(t.patient_count)
    if plan.day[first] == NOT_ADMITTED:
        return None
    second = rng.choice(plan.by_surgeon[t.patient_surgeon[first]])
    day_first, day_second = plan.day[first], plan.day[second]
    if second == first or day_second == NOT_ADMITTED or day_first == day_second:
        return None
    if not (t.patient_release_day[first] <= day_second <= t.patient_last_day[first]) or not (
        t.patient_release_day[second] <= day_first <= t.patient_last_day[second]
    ):
        return None
    old_first = (day_first, plan.room[first], plan.theater[first])
    old_second = (day_second, plan.room[second], plan.theater[second])
    delta = plan.remove_patient(first) + plan.remove_patient(second)
    new_first = (day_second, old_first[1], _theater_for(plan, rng, first, day_second, old_second[2]))
    if new_first[2] < 0 or not plan.can_place(first, *new_first):
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return None
    delta += plan.add_patient(first, *new_first)
    new_second = (day_first, old_second[1], _theater_for(plan, rng, second, day_first, old_first[2]))
    if new_second[2] < 0 or not plan.can_place(second, *new_second):
        plan.remove_patient(first)
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return None
    delta += plan.add_patient(second, *new_second)
    if always_undo or not _accept(delta, temperature, rng):
        plan.remove_patient(first)
        plan.remove_patient(second)
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return delta if always_undo else 0
    return delta


def _swap_rooms(
    plan: IncrementalPlan, rng: random.Random, temperature: float, always_undo: bool
) -> int | None:
    t = plan.tables
    first, second = rng.randrange(t.patient_count), rng.randrange(t.patient_count)
    if first == second or plan.day[first] == NOT_ADMITTED or plan.day[second] == NOT_ADMITTED:
        return None
    room_first, room_second = plan.room[first], plan.room[second]
    if room_first == room_second:
        return None
    if room_second not in plan.compatible[first] or room_first not in plan.compatible[second]:
        return None
    old_first = (plan.day[first], room_first, plan.theater[first])
    old_second = (plan.day[second], room_second, plan.theater[second])
    delta = plan.remove_patient(first) + plan.remove_patient(second)
    if not plan.can_place(first, old_first[0], room_second, old_first[2]):
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return None
    delta += plan.add_patient(first, old_first[0], room_second, old_first[2])
    if not plan.can_place(second, old_second[0], room_first, old_second[2]):
        plan.remove_patient(first)
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return None
    delta += plan.add_patient(second, old_second[0], room_first, old_second[2])
    if always_undo or not _accept(delta, temperature, rng):
        plan.remove_patient(first)
        plan.remove_patient(second)
        plan.add_patient(first, *old_first)
        plan.add_patient(second, *old_second)
        return delta if always_undo else 0
    return delta


def _snapshot(plan: IncrementalPlan) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    return list(plan.day), list(plan.room), list(plan.theater), [list(row) for row in plan.nurse_of]


def anneal(
    tables: ProblemTables,
    state: PlanState,
    seconds: float,
    rng: random.Random,
    cancel: threading.Event | None = None,
    start_temperature: float | None = None,
    end_temperature: float = 0.5,
    temperature_factor: float = 1.0,
    mandatory_penalty: int = 1_000_000,
    tick: Callable[[], None] | None = None,
) -> AnnealingResult:
    """Simulated annealing from ``state`` for about ``seconds``.

    The temperature falls geometrically from ``start_temperature`` (by default ``temperature_factor`` times
    the mean worsening of a few random moves) to ``end_temperature``; the plan is never left worse than the
    best found.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        The plan to start from (not changed).
    seconds
        Wall-clock budget [seconds].
    rng
        Random generator.
    cancel
        When set, the run stops at once.
    start_temperature, end_temperature
        Temperatures at the start and the end of the run [cost units].
    temperature_factor
        Scales the sampled starting temperature (when ``start_temperature`` is None).
    mandatory_penalty
        Cost of a mandatory patient left out.
    tick
        Called every few hundred moves (progress reports, other work).

    Returns
    -------
    AnnealingResult
        The best plan found and its cost change against ``state``.
    """
    started = time.monotonic()
    plan = IncrementalPlan(tables, state, mandatory_penalty)
    start_cost = plan.cost
    if start_temperature is None:
        start_temperature = temperature_factor * _mean_worsening(plan, rng)
    start_temperature = max(start_temperature, end_temperature)
    best_cost = plan.cost
    best: tuple[list[int], list[int], list[int], list[list[int]]] | None = None
    moves = 0
    temperature = start_temperature
    ratio = end_temperature / start_temperature
    while True:
        for _ in range(500):
            _random_move(plan, rng, temperature)
            if plan.cost < best_cost:
                best_cost = plan.cost
                best = _snapshot(plan)
        moves += 500
        elapsed = time.monotonic() - started
        if elapsed >= seconds or (cancel is not None and cancel.is_set()):
            break
        if tick is not None:
            tick()
        temperature = start_temperature * ratio ** (elapsed / seconds)
    if best is None:
        return AnnealingResult(None, 0, moves, start_temperature)
    day, room, theater, nurse_of = best
    result = PlanState(
        admission_day=day,
        room=room,
        theater=theater,
        nurse_of=nurse_of,
        room_version=list(state.room_version),
    )
    return AnnealingResult(result, best_cost - start_cost, moves, start_temperature)
