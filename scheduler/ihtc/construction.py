"""Greedy first plan: admit waiting patients one by one at their cheapest feasible place."""

from __future__ import annotations

from scheduler.ihtc.admission_model import NurseCostCache
from scheduler.ihtc.state import PlanState, measure_occupancy, nurse_loads
from scheduler.ihtc.tables import NO_NURSE, ProblemTables

__all__ = ["admit_greedily"]


def admit_greedily(
    tables: ProblemTables, state: PlanState, cache: NurseCostCache, attempts: int = 5
) -> list[int]:
    """Admit the waiting patients greedily; when mandatory patients find no place, try again with them first.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        Plan to complete, changed in place; every room-shift should already have a nurse.
    cache
        Nurse-dependent constants of (patient, day, room).
    attempts
        Most greedy passes; each puts the mandatory patients left out so far at the front.

    Returns
    -------
    list of int
        Mandatory patients that found no feasible place in the pass that placed most of them.
    """
    start = state.copy()
    first: list[int] = []
    best: tuple[PlanState, list[int]] | None = None
    for _ in range(max(1, attempts)):
        attempt = start.copy()
        not_placed = _admit_in_order(tables, attempt, cache, first)
        if best is None or len(not_placed) < len(best[1]):
            best = (attempt, not_placed)
        if not not_placed:
            break
        first = list(dict.fromkeys([*not_placed, *first]))
    assert best is not None
    state.admission_day[:], state.room[:], state.theater[:] = (
        best[0].admission_day,
        best[0].room,
        best[0].theater,
    )
    return best[1]


def _admit_in_order(
    tables: ProblemTables, state: PlanState, cache: NurseCostCache, first: list[int]
) -> list[int]:
    """Admit the patients ``state`` leaves out, each at the feasible place that adds least cost.

    The patients in ``first`` go first; then mandatory patients, earliest due day first; optional patients
    follow by release day and are
    admitted only when their cheapest place costs less than leaving them out. Every place respects the hard
    rules (surgeon and theater time, beds, one gender per room, compatible room, admission window, nurse on
    every shift), using the nurses already in ``state``.

    Parameters
    ----------
    tables
        Tables of the instance.
    state
        Plan to complete, changed in place; every room-shift should already have a nurse.
    cache
        Nurse-dependent constants of (patient, day, room).

    Returns
    -------
    list of int
        Mandatory patients that found no feasible place.
    """
    weights = tables.instance.weights
    days, shifts_per_day = tables.days, tables.shifts_per_day
    occupancy = measure_occupancy(tables, state)
    nurse_load = nurse_loads(tables, state, occupancy)
    surgeon_used = [[0] * days for _ in range(tables.surgeon_count)]
    theater_used = [[0] * days for _ in range(tables.theater_count)]
    surgeon_theaters: list[list[set[int]]] = [
        [set() for _ in range(days)] for _ in range(tables.surgeon_count)
    ]
    for p in range(tables.patient_count):
        if state.admitted(p):
            day, theater, surgeon = state.admission_day[p], state.theater[p], tables.patient_surgeon[p]
            surgeon_used[surgeon][day] += tables.patient_surgery_minutes[p]
            theater_used[theater][day] += tables.patient_surgery_minutes[p]
            surgeon_theaters[surgeon][day].add(theater)

    waiting = [p for p in range(tables.patient_count) if not state.admitted(p)]
    priority = {p: position for position, p in enumerate(first)}
    # days on which the patient's surgeon can operate them at all: fewer days, earlier turn
    surgery_days = {
        p: sum(
            1
            for day in range(tables.patient_release_day[p], tables.patient_last_day[p] + 1)
            if tables.surgeon_minutes[tables.patient_surgeon[p]][day] >= tables.patient_surgery_minutes[p]
        )
        for p in waiting
    }
    waiting.sort(
        key=lambda p: (
            priority.get(p, len(priority)),
            not tables.patient_mandatory[p],
            tables.patient_last_day[p] if tables.patient_mandatory[p] else tables.patient_release_day[p],
            surgery_days[p],
        )
    )
    not_placed = []
    for p in waiting:
        surgeon, minutes = tables.patient_surgeon[p], tables.patient_surgery_minutes[p]
        gender_a, age = tables.patient_gender_a[p], tables.patient_age[p]
        workload = tables.patient_workload[p]
        best: tuple[int, int, int, int] | None = None  # (cost, day, room, theater)
        for day in range(tables.patient_release_day[p], tables.patient_last_day[p] + 1):
            if surgeon_used[surgeon][day] + minutes > tables.surgeon_minutes[surgeon][day]:
                continue
            theater_costs = []
            for theater in range(tables.theater_count):
                if theater_used[theater][day] + minutes > tables.theater_minutes[theater][day]:
                    continue
                cost = 0
                if theater_used[theater][day] == 0:
                    cost += weights.open_operating_theater
                if surgeon_theaters[surgeon][day] and theater not in surgeon_theaters[surgeon][day]:
                    cost += weights.surgeon_transfer
                theater_costs.append((cost, theater))
            if not theater_costs:
                continue
            theater_cost, theater = min(theater_costs)
            day_cost = theater_cost + weights.patient_delay * (day - tables.patient_release_day[p])
            if best is not None and day_cost >= best[0]:
                continue
            stay_days = tables.patient_stay_days(p, day)
            for room in tables.patient_compatible_rooms[p]:
                cost = day_cost
                fits = True
                for d in stay_days:
                    if occupancy.count[room][d] >= tables.room_capacity[room]:
                        fits = False
                        break
                    if (occupancy.gender_b if gender_a else occupancy.gender_a)[room][d]:
                        fits = False
                        break
                    if occupancy.count[room][d]:
                        low, high = occupancy.age_min[room][d], occupancy.age_max[room][d]
                        cost += weights.room_mixed_age * (max(high, age) - min(low, age) - (high - low))
                if not fits:
                    continue
                first_shift = day * shifts_per_day
                nurses_of_room = state.nurse_of[room]
                for sigma in range(first_shift, stay_days.stop * shifts_per_day):
                    nurse = nurses_of_room[sigma]
                    if nurse == NO_NURSE:
                        fits = False
                        break
                    limit = tables.nurse_max_load[nurse][sigma]
                    before = max(0, nurse_load[nurse][sigma] - limit)
                    after = max(0, nurse_load[nurse][sigma] + workload[sigma - first_shift] - limit)
                    cost += weights.nurse_excessive_workload * (after - before)
                if not fits:
                    continue
                shortfall, distinct = cache.costs(tables, state, p, day, room)
                cost += weights.room_nurse_skill * shortfall + weights.continuity_of_care * distinct
                if best is None or cost < best[0]:
                    best = (cost, day, room, theater)
        if best is None or (not tables.patient_mandatory[p] and best[0] >= weights.unscheduled_optional):
            if tables.patient_mandatory[p]:
                not_placed.append(p)
            continue
        _, day, room, theater = best
        state.admission_day[p], state.room[p], state.theater[p] = day, room, theater
        surgeon_used[surgeon][day] += minutes
        theater_used[theater][day] += minutes
        surgeon_theaters[surgeon][day].add(theater)
        first_shift = day * shifts_per_day
        for d in tables.patient_stay_days(p, day):
            occupancy.count[room][d] += 1
            (occupancy.gender_a if gender_a else occupancy.gender_b)[room][d] += 1
            occupancy.age_min[room][d] = min(occupancy.age_min[room][d], age)
            occupancy.age_max[room][d] = max(occupancy.age_max[room][d], age)
            for k in range(shifts_per_day):
                sigma = d * shifts_per_day + k
                nurse_load[state.nurse_of[room][sigma]][sigma] += workload[sigma - first_shift]
    return not_placed
