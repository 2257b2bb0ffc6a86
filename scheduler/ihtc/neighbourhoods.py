"""Parts of a plan to re-optimise together (neighbourhoods of the large-neighbourhood search).

Patient neighbourhoods free some patients (new day, room and theater); nurse neighbourhoods free some
room-shifts (new nurse). Each kind has a size (patients, days, rooms or nurses) that the search adapts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.ihtc.state import PlanState
from scheduler.ihtc.tables import ProblemTables

__all__ = ["LARGE_WARD_ROOMS", "NEIGHBOURHOOD_SIZES", "Neighbourhood", "NeighbourhoodChooser"]

LARGE_WARD_ROOMS = 12
"""In wards with more rooms, a patient neighbourhood offers only this many rooms (plus the patients' own)."""

NEIGHBOURHOOD_SIZES: dict[str, tuple[float, float, Callable[[ProblemTables], float]]] = {
    # kind: (first size, smallest, largest for the instance); sizes count patients, days, rooms or nurses
    "patients_repair": (12, 4, lambda tables: 60),
    "patients_random": (8, 3, lambda tables: 60),
    "patients_window": (15, 4, lambda tables: 80),
    "patients_rooms": (10, 3, lambda tables: 60),
    "patients_delayed": (15, 4, lambda tables: 80),
    "patients_surgeon": (10, 3, lambda tables: 60),
    "patients_flexible": (6, 2, lambda tables: 30),
    "rooms_only": (30, 6, lambda tables: 200),
    "days_only": (30, 6, lambda tables: 200),
    "nurses_days": (3, 1, lambda tables: tables.days),
    "nurses_rooms": (2, 1, lambda tables: tables.room_count),
    "nurses_shift_type": (6, 2, lambda tables: tables.days),
    "nurses_swap": (3, 2, lambda tables: min(12, tables.nurse_count)),
}
"""Every kind of neighbourhood with its first, smallest and largest size."""


@dataclass(frozen=True)
class Neighbourhood:
    """A part of the plan to re-optimise, on a snapshot of the plan.

    Attributes
    ----------
    kind
        Name of the kind (a key of :data:`NEIGHBOURHOOD_SIZES`, or ``sweep``).
    snapshot
        Copy of the plan the neighbourhood was chosen on.
    free_patients
        Patients to re-plan (patient neighbourhoods).
    free_room_shifts
        (room, σ) pairs whose nurse is re-chosen (nurse neighbourhoods).
    allowed_nurses
        Only these nurses may take the free room-shifts (None: any rostered nurse).
    allowed_rooms
        Free patients may go only to these rooms or stay in their own (None: any room).
    keep_days, keep_rooms
        Admitted free patients keep their day (respectively room).
    flexible_nurses
        Judge the free patients' continuity of care by what the rosters allow, then re-choose the nurses of
        the rooms they move to.
    seed
        CP-SAT seed of the sub-model.
    """

    kind: str
    snapshot: PlanState
    free_patients: tuple[int, ...] = ()
    free_room_shifts: tuple[tuple[int, int], ...] = ()
    allowed_nurses: frozenset[int] | None = None
    allowed_rooms: frozenset[int] | None = None
    keep_days: bool = False
    keep_rooms: bool = False
    flexible_nurses: bool = False
    seed: int = 0


def room_shifts_of_days(
    tables: ProblemTables, first_day: int, day_count: int, rooms: range | list[int]
) -> list[tuple[int, int]]:
    """Every (room, σ) of the given rooms over ``day_count`` days from ``first_day``."""
    shifts_per_day = tables.shifts_per_day
    last_shift = min(first_day + day_count, tables.days) * shifts_per_day
    return [(room, sigma) for room in rooms for sigma in range(first_day * shifts_per_day, last_shift)]


class NeighbourhoodChooser:
    """Chooses the patients or room-shifts of a neighbourhood of a given kind and size.

    Parameters
    ----------
    tables
        Tables of the instance.
    rng
        Random generator of the search (the only source of randomness).
    """

    def __init__(self, tables: ProblemTables, rng: random.Random) -> None:
        self.tables = tables
        self.rng = rng

    def choose(self, kind: str, state: PlanState, size: int, seed: int) -> Neighbourhood:
        """A neighbourhood of ``kind`` with about ``size`` patients, days, rooms or nurses."""
        tables, rng = self.tables, self.rng
        large_ward = tables.room_count > LARGE_WARD_ROOMS
        if kind == "patients_repair":
            every_room = set(range(tables.room_count))
            return self._patients(kind, state, self._left_out_mandatory(state, size), seed, rooms=every_room)
        if kind == "patients_random":
            patients = rng.sample(range(tables.patient_count), min(size, tables.patient_count))
            return self._patients(kind, state, patients, seed)
        if kind == "patients_window":
            return self._patients(kind, state, self._in_window(state, size), seed)
        if kind == "patients_rooms":
            patients = self._in_rooms(state, size)
            rooms = self._rooms_of(state, patients, extra=4) if large_ward else None
            return self._patients(kind, state, patients, seed, rooms=rooms)
        if kind == "patients_delayed":
            return self._patients(kind, state, self._delayed(state, size), seed)
        if kind == "patients_surgeon":
            return self._patients(kind, state, self._of_surgeon(state, size), seed)
        if kind == "patients_flexible":
            chooser = rng.choice([self._in_window, self._delayed, self._in_rooms])
            return self._patients(kind, state, chooser(state, size), seed, flexible_nurses=True)
        if kind == "rooms_only":
            # many patients of a few days keep their day and get new rooms: the ward is re-packed
            patients = self._in_window(state, size)
            rooms = self._rooms_of(state, patients, extra=2) if large_ward else None
            return self._patients(kind, state, patients, seed, rooms=rooms, keep_days=True)
        if kind == "days_only":
            # patients keep their rooms and get new days: delayed admissions are pulled forward
            return self._patients(kind, state, self._delayed(state, size), seed, keep_rooms=True)
        if kind == "nurses_days":
            first_day = rng.randrange(max(1, tables.days - size + 1))
            room_shifts = room_shifts_of_days(tables, first_day, size, range(tables.room_count))
            return Neighbourhood(kind, state.copy(), free_room_shifts=tuple(room_shifts), seed=seed)
        if kind == "nurses_rooms":
            chosen_rooms = rng.sample(range(tables.room_count), min(size, tables.room_count))
            room_shifts = room_shifts_of_days(tables, 0, tables.days, chosen_rooms)
            return Neighbourhood(kind, state.copy(), free_room_shifts=tuple(room_shifts), seed=seed)
        if kind == "nurses_shift_type":
            return Neighbourhood(
                kind, state.copy(), free_room_shifts=tuple(self._one_shift_type(size)), seed=seed
            )
        if kind == "nurses_swap":
            room_shifts, nurses = self._nurses_to_swap(state, size)
            return Neighbourhood(
                kind, state.copy(), free_room_shifts=tuple(room_shifts), allowed_nurses=nurses, seed=seed
            )
        raise ValueError(f"unknown neighbourhood kind {kind!r}")

    # --- patient neighbourhoods ---------------------------------------------------------------------
    def _patients(
        self,
        kind: str,
        state: PlanState,
        patients: list[int],
        seed: int,
        rooms: set[int] | None = None,
        keep_days: bool = False,
        keep_rooms: bool = False,
        flexible_nurses: bool = False,
    ) -> Neighbourhood:
        """A patient neighbourhood; in a large ward the patients may move only among a few rooms."""
        tables = self.tables
        if rooms is None and tables.room_count > LARGE_WARD_ROOMS and not keep_rooms:
            rooms = set(self.rng.sample(range(tables.room_count), LARGE_WARD_ROOMS))
        return Neighbourhood(
            kind,
            state.copy(),
            free_patients=tuple(patients),
            allowed_rooms=None if rooms is None else frozenset(rooms),
            keep_days=keep_days,
            keep_rooms=keep_rooms,
            flexible_nurses=flexible_nurses,
            seed=seed,
        )

    def _in_bed_during(self, state: PlanState, patient: int, first_day: int, last_day: int) -> bool:
        day = state.admission_day[patient]
        return day < last_day and day + self.tables.patient_length_of_stay[patient] > first_day

    def _left_out_mandatory(self, state: PlanState, size: int) -> list[int]:
        """A mandatory patient left out, with the patients in bed (or waiting) during their window."""
        tables = self.tables
        missing = [
            p for p in range(tables.patient_count) if tables.patient_mandatory[p] and not state.admitted(p)
        ]
        if not missing:
            return []
        target = self.rng.choice(missing)
        first_day = tables.patient_release_day[target]
        last_day = tables.patient_last_day[target] + tables.patient_length_of_stay[target]
        in_window = []
        for p in range(tables.patient_count):
            if p == target:
                continue
            if state.admitted(p):
                if self._in_bed_during(state, p, first_day, last_day):
                    in_window.append(p)
            elif (
                tables.patient_mandatory[p]
                and tables.patient_release_day[p] < last_day
                and tables.patient_last_day[p] >= first_day
            ):
                in_window.append(p)
        return [target, *self.rng.sample(in_window, min(size - 1, len(in_window)))]

    def _in_window(self, state: PlanState, size: int) -> list[int]:
        """Patients in bed during a few days, or waiting and admissible then."""
        tables = self.tables
        first_day = self.rng.randrange(tables.days)
        last_day = first_day + self.rng.randint(2, 5)
        touching = []
        for p in range(tables.patient_count):
            if state.admitted(p):
                if self._in_bed_during(state, p, first_day, last_day):
                    touching.append(p)
            elif tables.patient_release_day[p] < last_day and tables.patient_last_day[p] >= first_day:
                touching.append(p)
        return self.rng.sample(touching, min(size, len(touching)))

    def _delayed(self, state: PlanState, size: int) -> list[int]:
        """Patients admitted after (or waiting past) days they could be admitted in, and those in bed then."""
        tables = self.tables
        first_day = self.rng.randrange(tables.days)
        last_day = first_day + self.rng.randint(1, 4)
        delayed, in_bed = [], []
        for p in range(tables.patient_count):
            released_in_time = tables.patient_release_day[p] < last_day
            if not state.admitted(p):
                if released_in_time:
                    delayed.append(p)
            elif released_in_time and state.admission_day[p] >= first_day:
                delayed.append(p)
            elif self._in_bed_during(state, p, first_day, last_day):
                in_bed.append(p)
        chosen = self.rng.sample(delayed, min(len(delayed), (size + 1) // 2))
        return chosen + self.rng.sample(in_bed, min(len(in_bed), size - len(chosen)))

    def _in_rooms(self, state: PlanState, size: int) -> list[int]:
        """Patients of two or three rooms, and some waiting patients."""
        tables = self.tables
        rooms = set(self.rng.sample(range(tables.room_count), min(tables.room_count, self.rng.randint(2, 3))))
        in_rooms = [p for p in range(tables.patient_count) if state.admitted(p) and state.room[p] in rooms]
        waiting = [p for p in range(tables.patient_count) if not state.admitted(p)]
        self.rng.shuffle(in_rooms)
        self.rng.shuffle(waiting)
        chosen = in_rooms[:size]
        return chosen + waiting[: max(2, size - len(chosen)) // 2]

    def _of_surgeon(self, state: PlanState, size: int) -> list[int]:
        """Patients of one surgeon operated on (or waiting) over a few days."""
        tables = self.tables
        if tables.surgeon_count == 0:
            return []
        surgeon = self.rng.randrange(tables.surgeon_count)
        first_day = self.rng.randrange(tables.days)
        last_day = first_day + self.rng.randint(2, 6)
        chosen = [
            p
            for p in range(tables.patient_count)
            if tables.patient_surgeon[p] == surgeon
            and (
                (state.admitted(p) and first_day <= state.admission_day[p] < last_day)
                or (not state.admitted(p) and tables.patient_release_day[p] < last_day)
            )
        ]
        return self.rng.sample(chosen, min(size, len(chosen)))

    def _rooms_of(self, state: PlanState, patients: list[int], extra: int) -> set[int]:
        """The rooms the patients are in now, and a few more."""
        rooms = {state.room[p] for p in patients if state.admitted(p)}
        others = [r for r in range(self.tables.room_count) if r not in rooms]
        return rooms | set(self.rng.sample(others, min(extra, len(others))))

    # --- nurse neighbourhoods -----------------------------------------------------------------------
    def _one_shift_type(self, days: int) -> list[tuple[int, int]]:
        """One shift type (early, late or night) of every room over a window of days."""
        tables = self.tables
        k = self.rng.randrange(tables.shifts_per_day)
        first_day = self.rng.randrange(max(1, tables.days - days + 1))
        last_day = min(first_day + days, tables.days)
        return [
            (room, day * tables.shifts_per_day + k)
            for room in range(tables.room_count)
            for day in range(first_day, last_day)
        ]

    def _nurses_to_swap(self, state: PlanState, nurses: int) -> tuple[list[tuple[int, int]], frozenset[int]]:
        """Every room-shift covered by a few nurses with overlapping rosters, to be shared among them."""
        tables = self.tables
        if tables.nurse_count == 0:
            return [], frozenset()
        first = self.rng.randrange(tables.nurse_count)
        rostered = [sigma for sigma in range(tables.shift_count) if tables.nurse_max_load[first][sigma] >= 0]
        overlap = [
            (sum(1 for sigma in rostered if tables.nurse_max_load[other][sigma] >= 0), other)
            for other in range(tables.nurse_count)
            if other != first
        ]
        candidates = [other for shared, other in sorted(overlap, key=lambda item: -item[0]) if shared > 0]
        candidates = candidates[: max(1, 2 * (nurses - 1))]
        chosen = {first, *self.rng.sample(candidates, min(len(candidates), nurses - 1))}
        room_shifts = [
            (room, sigma)
            for room in range(tables.room_count)
            for sigma in range(tables.shift_count)
            if state.nurse_of[room][sigma] in chosen
        ]
        return room_shifts, frozenset(chosen)
