"""Admissions and their unit stays: routes through the hospital, lengths of stay, transfers, discharges.

An emergency admission starts when the patient leaves the ED; an elective one when the patient enters
theatre. Each follows one pathway of its service, drawn with the pathways' probabilities (emergency
``pathways`` or ``surgery.elective_pathways``). For every step of the pathway

- the unit is drawn among ``step.units`` with probability proportional to the beds open in each on the
  day the step starts (:func:`scenarios.timeline.beds_on`), so a closed unit takes no new patients; when
  all of a step's units are closed, units of the same kind that take the service are used instead;
- the acuity band is the step's;
- the length of stay is a draw of the step's distribution; the next step starts when this one ends.

The last step's end is then moved to a discharge hour drawn from ``policies.discharge_hourly_profile``
on about the same local day (the shift is centred so the mean length of stay is kept). Elective patients
spend their operation and recovery in PACU first; day cases go home from PACU the same evening.

Bed capacity is **not** enforced: the history is demand-driven (the hospital model, not this generator,
queues for beds). Beds are still labelled: each stay takes the lowest-numbered free bed of its unit, and a
stay that finds every declared bed taken is given an escalation bed (``<unit>-X01``...).

When a unit closes completely (its open beds fall to zero), the patients still in it are moved at local
midnight of the closure's first day to the other units of their step (a transfer), so a closed unit is
empty during the closure.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.synthetic.clock import HistoryClock
from patients.synthetic.emergency_department import EdAttendances
from patients.synthetic.frames import label_series
from patients.synthetic.sampling import choose_categories, choose_rows, sample_duration
from patients.synthetic.theatres import ElectiveCases
from scenarios.schema import LognormalHours, Pathway, Scenario, UnitKind
from scenarios.timeline import beds_on

ADMISSIONS_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "patient_key": pl.String(),
    "service": pl.String(),
    "admission_type": pl.String(),
    "pathway": pl.String(),
    "day_case": pl.Boolean(),
    "admitted_at": pl.Datetime("us", "UTC"),
    "discharged_at": pl.Datetime("us", "UTC"),
    "length_of_stay_hours": pl.Float64(),
}
"""One row per inpatient stay (admission to discharge).

``admission_type`` is ``emergency`` or ``elective``; ``pathway`` the name of the route taken (``day case``
for elective day cases); ``discharged_at`` and ``length_of_stay_hours`` are null for patients still in
hospital at the history's end.
"""

UNIT_STAYS_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "stay_index": pl.Int16(),
    "unit": pl.String(),
    "bed": pl.String(),
    "service": pl.String(),
    "acuity": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),
}
"""One row per stay of an admission in one unit, ``stay_index`` 0, 1, ... in time order.

The stays of an admission cover ``admitted_at`` to ``discharged_at`` without gap or overlap; the first
starts at admission, each next one where the previous ends (a transfer). ``acuity`` is the NEWS2
clinical-risk band the patient is in there (``low``, ``low_medium``, ``medium``, ``high``); ``ended_at``
is null for a stay still running at the history's end.
"""

ACUITY_BANDS: tuple[str, ...] = ("low", "low_medium", "medium", "high")
"""Acuity bands by code (the order of the codes used inside the generator)."""

RECOVERY_ACUITY = "low"
"""Acuity band of a patient in PACU after elective surgery."""

SECOND_STAGE_RECOVERY = LognormalHours(distribution="lognormal", median_hours=1.5, sigma=0.5)
"""A day case's time from the end of PACU recovery to going home [hours]."""

DAY_CASE_LATEST_HOUR = 22.0
"""Day cases leave by this local hour of the day of their operation (unless recovery ends later)."""

SHORTEST_FINAL_STAY_HOURS = 1.0
"""A discharge hour is never placed less than this after the start of the last stay [hours]."""


# --------------------------------------------------------------------------------------------------
# The routes of a hospital
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCatalogue:
    """Every pathway and step of a hospital, numbered, with the units each step can use.

    Attributes
    ----------
    pathway_names
        Name of each numbered pathway (number 0 is ``day case``).
    pathway_first_step
        Number of the first step of each numbered pathway (-1 for ``day case``).
    routes
        Numbered pathways of each ``(service index, elective)``, in the scenario's order.
    step_candidates
        Unit indices each numbered step can use.
    step_fallbacks
        Unit indices used when all of a step's units are closed.
    step_acuity
        Acuity code of each numbered step.
    recovery_step
        The numbered step of a PACU stay (or -1 when the hospital has no PACU).
    """

    pathway_names: list[str]
    pathway_first_step: list[int]
    routes: dict[tuple[int, bool], list[int]]
    step_candidates: list[NDArray[np.int64]]
    step_fallbacks: list[NDArray[np.int64]]
    step_acuity: list[int]
    recovery_step: int

    @classmethod
    def of(cls, scenario: Scenario) -> StepCatalogue:
        """Number the pathways and steps of a scenario's hospital."""
        hospital = scenario.hospital
        unit_index = {unit.id: i for i, unit in enumerate(hospital.units)}
        pathway_names, pathway_first_step = ["day case"], [-1]
        routes: dict[tuple[int, bool], list[int]] = {}
        candidates: list[NDArray[np.int64]] = []
        fallbacks: list[NDArray[np.int64]] = []
        acuity: list[int] = []
        pacu = np.array(
            [i for i, unit in enumerate(hospital.units) if unit.kind == UnitKind.PACU], dtype=np.int64
        )
        recovery_step = -1
        if pacu.size:
            recovery_step = 0
            candidates.append(pacu)
            fallbacks.append(pacu)
            acuity.append(ACUITY_BANDS.index(RECOVERY_ACUITY))
        for s, service in enumerate(hospital.services):
            planned = service.surgery.elective_pathways if service.surgery is not None else ()
            for elective, pathways in ((False, service.pathways), (True, planned)):
                routes[(s, elective)] = []
                for pathway in pathways:
                    routes[(s, elective)].append(len(pathway_names))
                    pathway_names.append(pathway.name or f"{service.id} pathway")
                    pathway_first_step.append(len(candidates))
                    for step in pathway.steps:
                        units = [unit_index[u] for u in step.units]
                        kind = hospital.units[units[0]].kind
                        same_kind = [i for i, unit in enumerate(hospital.units) if unit.kind == kind]
                        for_service = [i for i in same_kind if service.id in hospital.units[i].services]
                        candidates.append(np.asarray(units, dtype=np.int64))
                        fallbacks.append(np.asarray(for_service or same_kind, dtype=np.int64))
                        acuity.append(ACUITY_BANDS.index(step.acuity))
        return cls(pathway_names, pathway_first_step, routes, candidates, fallbacks, acuity, recovery_step)


def open_beds_by_day(scenario: Scenario, clock: HistoryClock) -> NDArray[np.float64]:
    """Open beds of every unit on every axis day, ``(day_count + 1, units)`` (overrides applied)."""
    units = scenario.hospital.units
    beds = np.empty((clock.day_count + 1, len(units)), dtype=np.float64)
    for day in range(clock.day_count + 1):
        history_day = clock.history_day(day)
        for u, unit in enumerate(units):
            beds[day, u] = beds_on(scenario, unit.id, history_day)
    return beds


# --------------------------------------------------------------------------------------------------
# Building the admissions
# --------------------------------------------------------------------------------------------------


@dataclass
class StayRows:
    """Unit stays as parallel arrays (continuous hours); one row per stay."""

    encounter: NDArray[np.int64]
    step: NDArray[np.int64]
    unit: NDArray[np.int64]
    started: NDArray[np.float64]
    ended: NDArray[np.float64]
    observe_from: NDArray[np.float64]
    last: NDArray[np.bool_]

    @classmethod
    def concatenate(cls, parts: list[StayRows]) -> StayRows:
        """Join several sets of rows."""
        return cls(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in ("encounter", "step", "unit", "started", "ended", "observe_from", "last")
            }
        )

    def take(self, index: NDArray[np.int64]) -> StayRows:
        """The rows at ``index``, in that order."""
        return StayRows(
            **{
                name: getattr(self, name)[index]
                for name in ("encounter", "step", "unit", "started", "ended", "observe_from", "last")
            }
        )

    @property
    def count(self) -> int:
        """Number of stays."""
        return int(self.encounter.size)


@dataclass(frozen=True)
class Admissions:
    """Admissions (one row per encounter that became an inpatient stay) and their unit stays.

    Attributes
    ----------
    encounter
        Encounter number (ED attendances first by arrival, then elective operations by start).
    service
        Index into ``hospital.services``.
    elective, day_case
        Admission type flags.
    pathway
        Index into ``catalogue.pathway_names``.
    admitted, discharged
        Continuous hours.
    stays
        The unit stays, sorted by encounter then time, units assigned (beds are labelled later).
    """

    encounter: NDArray[np.int64]
    service: NDArray[np.int64]
    elective: NDArray[np.bool_]
    day_case: NDArray[np.bool_]
    pathway: NDArray[np.int64]
    admitted: NDArray[np.float64]
    discharged: NDArray[np.float64]
    stays: StayRows


def _route(
    scenario: Scenario,
    catalogue: StepCatalogue,
    rng: np.random.Generator,
    encounter: NDArray[np.int64],
    service: NDArray[np.int64],
    start: NDArray[np.float64],
    elective: bool,
) -> tuple[NDArray[np.int64], StayRows]:
    """Draw each admission's pathway and the start and end of every step (units not yet chosen)."""
    pathway_of = np.full(encounter.size, -1, dtype=np.int64)
    parts: list[StayRows] = []
    for s, spec in enumerate(scenario.hospital.services):
        members = np.nonzero(service == s)[0]
        own: tuple[Pathway, ...] = spec.pathways
        if elective:
            own = spec.surgery.elective_pathways if spec.surgery is not None else ()
        if members.size == 0 or not own:
            continue
        numbers = catalogue.routes[(s, elective)]
        choice = choose_categories(rng, np.array([p.probability for p in own]), members.size)
        for p, pathway in enumerate(own):
            chosen = members[choice == p]
            pathway_of[chosen] = numbers[p]
            first_step = catalogue.pathway_first_step[numbers[p]]
            step_start = start[chosen].copy()
            for k, step in enumerate(pathway.steps):
                length = sample_duration(rng, step.length_of_stay, chosen.size)
                parts.append(
                    StayRows(
                        encounter=encounter[chosen],
                        step=np.full(chosen.size, first_step + k, dtype=np.int64),
                        unit=np.full(chosen.size, -1, dtype=np.int64),
                        started=step_start,
                        ended=step_start + length,
                        observe_from=step_start,
                        last=np.full(chosen.size, k == len(pathway.steps) - 1),
                    )
                )
                step_start = step_start + length
    return pathway_of, StayRows.concatenate(parts) if parts else _no_rows()


def _no_rows() -> StayRows:
    empty_int = np.empty(0, dtype=np.int64)
    empty_float = np.empty(0, dtype=np.float64)
    return StayRows(empty_int, empty_int, empty_int, empty_float, empty_float, empty_float, np.empty(0, bool))


def shape_discharge_times(
    rng: np.random.Generator,
    clock: HistoryClock,
    profile: tuple[float, ...],
    last_started: NDArray[np.float64],
    nominal_end: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Move discharges to an hour of the day drawn from the discharge profile.

    The local day is that of ``nominal_end`` shifted back by (mean discharge hour - 12 h), so that on
    average the length of stay is unchanged; the hour (and minute) comes from the profile. A discharge that
    would fall less than :data:`SHORTEST_FINAL_STAY_HOURS` after the last stay's start moves a day later.

    Parameters
    ----------
    rng
        The ``discharge_times`` stream (two draws per discharge).
    clock
        The history's calendar.
    profile
        Relative discharges by local hour of the day (24 weights).
    last_started, nominal_end
        Start of the last stay and the end drawn from its length of stay [continuous hours].

    Returns
    -------
    numpy.ndarray
        Discharge times [continuous hours]; unchanged beyond the end of the clock's axis.
    """
    weights = np.asarray(profile, dtype=np.float64)
    mean_hour = float(((np.arange(24) + 0.5) * weights).sum() / weights.sum())
    hour = choose_categories(rng, weights, nominal_end.size) + rng.random(nominal_end.size)
    shifted = nominal_end - (mean_hour - 12.0)
    inside = (shifted >= 0) & (shifted < clock.total_hours)
    day = clock.local_day_of(shifted)
    discharged = np.where(inside, clock.at_local(day, hour), nominal_end)
    for _ in range(3):
        early = inside & (discharged < last_started + SHORTEST_FINAL_STAY_HOURS)
        if not early.any():
            break
        day = np.where(early, day + 1, day)
        discharged = np.where(early, clock.at_local(day, hour), discharged)
    return np.maximum(discharged, last_started + SHORTEST_FINAL_STAY_HOURS)


def _choose_units(
    rng: np.random.Generator,
    catalogue: StepCatalogue,
    open_beds: NDArray[np.float64],
    base_beds: NDArray[np.float64],
    step: NDArray[np.int64],
    day: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Unit of each stay: among its step's units, in proportion to their open beds that day."""
    unit = np.full(step.size, -1, dtype=np.int64)
    for step_id in np.unique(step):
        rows = np.nonzero(step == step_id)[0]
        candidates = catalogue.step_candidates[step_id]
        chosen = choose_rows(rng, open_beds[day[rows]][:, candidates])
        unit[rows] = np.where(chosen >= 0, candidates[np.maximum(chosen, 0)], -1)
        closed = rows[chosen < 0]
        if closed.size:
            fallbacks = catalogue.step_fallbacks[step_id]
            again = choose_rows(rng, open_beds[day[closed]][:, fallbacks])
            # Nowhere open at all: ignore the closure rather than refuse the patient.
            last_resort = choose_rows(rng, np.tile(base_beds[candidates] + 1e-9, (closed.size, 1)))
            unit[closed] = np.where(again >= 0, fallbacks[np.maximum(again, 0)], candidates[last_resort])
    return unit


def _decant_closed_units(
    rng: np.random.Generator,
    catalogue: StepCatalogue,
    clock: HistoryClock,
    open_beds: NDArray[np.float64],
    base_beds: NDArray[np.float64],
    stays: StayRows,
) -> StayRows:
    """Move patients out of a unit at local midnight of the first day it has no open beds."""
    closing = (open_beds[1:] == 0) & (open_beds[:-1] > 0)
    for day_before, u in zip(*np.nonzero(closing), strict=True):
        day = int(day_before) + 1
        if day >= clock.day_count:
            continue
        moment = float(clock.day_hour_starts[day, 0])
        inside = np.nonzero((stays.unit == u) & (stays.started < moment) & (stays.ended > moment))[0]
        if inside.size == 0:
            continue
        moved = stays.take(inside)
        moved.started = np.full(inside.size, moment)
        moved.observe_from = np.maximum(moved.observe_from, moment)
        moved.unit = _choose_units(
            rng, catalogue, open_beds, base_beds, moved.step, np.full(inside.size, day, dtype=np.int64)
        )
        stays.ended[inside] = moment
        stays.last[inside] = False
        stays = StayRows.concatenate([stays, moved])
    return stays


def build_admissions(
    scenario: Scenario,
    clock: HistoryClock,
    streams: dict[str, np.random.Generator],
    attendances: EdAttendances,
    cases: ElectiveCases,
) -> tuple[Admissions, StepCatalogue]:
    """Turn ED admissions and elective operations into admissions with their unit stays.

    Parameters
    ----------
    scenario
        The hospital (pathways, units, discharge profile) and its bed overrides.
    clock
        The history's calendar.
    streams
        Activity streams; uses ``emergency_pathways``, ``elective_pathways``, ``unit_choice``,
        ``discharge_times`` and ``decant``.
    attendances
        ED attendances; those with an admitting service become emergency admissions at ED departure.
    cases
        Elective operations; each is an elective admission at the start of surgery.

    Returns
    -------
    tuple
        The admissions and the catalogue of the hospital's pathways and steps.
    """
    hospital = scenario.hospital
    catalogue = StepCatalogue.of(scenario)
    open_beds = open_beds_by_day(scenario, clock)
    base_beds = np.array([unit.beds for unit in hospital.units], dtype=np.float64)

    # Emergency admissions: encounter number = attendance number.
    admitted_rows = np.nonzero(attendances.admitted_service >= 0)[0]
    emergency_encounter = admitted_rows.astype(np.int64)
    emergency_service = attendances.admitted_service[admitted_rows]
    emergency_start = attendances.departed[admitted_rows]
    emergency_pathway, emergency_stays = _route(
        scenario,
        catalogue,
        streams["emergency_pathways"],
        emergency_encounter,
        emergency_service,
        emergency_start,
        elective=False,
    )

    # Elective admissions: surgery and recovery in PACU first; day cases go home from there.
    elective_encounter = attendances.count + np.arange(cases.count, dtype=np.int64)
    elective_rng = streams["elective_pathways"]
    if cases.count and catalogue.recovery_step < 0:
        raise ValueError("the hospital has elective operations but no unit of kind 'pacu' to recover in")
    second_stage = sample_duration(elective_rng, SECOND_STAGE_RECOVERY, cases.count)
    latest = clock.at_local(cases.axis_day, np.full(cases.count, DAY_CASE_LATEST_HOUR))
    day_case_home = np.maximum(np.minimum(cases.recovered + second_stage, latest), cases.recovered + 0.25)
    recovery_end = np.where(cases.day_case, day_case_home, cases.recovered)
    recovery_stays = StayRows(
        encounter=elective_encounter,
        step=np.full(cases.count, catalogue.recovery_step, dtype=np.int64),
        unit=np.full(cases.count, -1, dtype=np.int64),
        started=cases.started,
        ended=recovery_end,
        observe_from=cases.ended,
        last=cases.day_case.copy(),
    )
    inpatient = ~cases.day_case
    elective_pathway = np.zeros(cases.count, dtype=np.int64)  # 0 = day case
    routed_pathway, elective_stays = _route(
        scenario,
        catalogue,
        elective_rng,
        elective_encounter[inpatient],
        cases.service[inpatient],
        cases.recovered[inpatient],
        elective=True,
    )
    elective_pathway[inpatient] = routed_pathway

    stays = StayRows.concatenate([emergency_stays, recovery_stays, elective_stays])
    # Discharge hours follow the hospital's discharge profile (day cases excepted).
    shaped = stays.last & (stays.step != catalogue.recovery_step)
    stays.ended[shaped] = shape_discharge_times(
        streams["discharge_times"],
        clock,
        hospital.policies.discharge_hourly_profile,
        stays.started[shaped],
        stays.ended[shaped],
    )
    stays.unit = _choose_units(
        streams["unit_choice"],
        catalogue,
        open_beds,
        base_beds,
        stays.step,
        np.minimum(clock.local_day_of(stays.started), clock.day_count),
    )
    stays = _decant_closed_units(streams["decant"], catalogue, clock, open_beds, base_beds, stays)
    stays = stays.take(np.lexsort((stays.started, stays.encounter)))

    encounter = np.concatenate([emergency_encounter, elective_encounter])
    order = np.argsort(encounter, kind="stable")
    encounter = encounter[order]
    last_end = np.full(attendances.count + cases.count, np.nan)
    last_end[stays.encounter[stays.last]] = stays.ended[stays.last]
    admissions = Admissions(
        encounter=encounter,
        service=np.concatenate([emergency_service, cases.service])[order],
        elective=np.concatenate([np.zeros(emergency_encounter.size, bool), np.ones(cases.count, bool)])[
            order
        ],
        day_case=np.concatenate([np.zeros(emergency_encounter.size, bool), cases.day_case])[order],
        pathway=np.concatenate([emergency_pathway, elective_pathway])[order],
        admitted=np.concatenate([emergency_start, cases.started])[order],
        discharged=last_end[encounter],
        stays=stays,
    )
    return admissions, catalogue


# --------------------------------------------------------------------------------------------------
# Beds and frames
# --------------------------------------------------------------------------------------------------


def label_beds(
    unit: NDArray[np.int64], started: NDArray[np.int64], ended: NDArray[np.int64], scenario: Scenario
) -> list[str]:
    """Give each stay the lowest-numbered bed of its unit free at its start.

    Parameters
    ----------
    unit
        Unit index of each stay.
    started, ended
        Minutes since the origin (a bed freed at minute m can be taken at minute m).
    scenario
        Declared beds per unit; beds beyond them are escalation beds ``<unit>-X01``...

    Returns
    -------
    list of str
        Bed label of each stay, e.g. ``MED-A-07``.
    """
    units = scenario.hospital.units
    labels: list[str] = [""] * unit.size
    order = np.lexsort((started, unit))
    unit_sorted = unit[order]
    bounds = np.flatnonzero(np.diff(unit_sorted)) + 1
    for block in np.split(order, bounds):
        if block.size == 0:
            continue
        spec = units[int(unit[block[0]])]
        free: list[int] = []
        busy: list[tuple[int, int]] = []
        next_bed = 1
        for i, begin, finish in zip(
            block.tolist(), started[block].tolist(), ended[block].tolist(), strict=True
        ):
            while busy and busy[0][0] <= begin:
                heapq.heappush(free, heapq.heappop(busy)[1])
            if free:
                bed = heapq.heappop(free)
            else:
                bed = next_bed
                next_bed += 1
            heapq.heappush(busy, (finish, bed))
            labels[i] = f"{spec.id}-{bed:02d}" if bed <= spec.beds else f"{spec.id}-X{bed - spec.beds:02d}"
    return labels


def admissions_frame(
    admissions: Admissions,
    rows: NDArray[np.int64],
    encounter_ids: list[str],
    patient_keys: list[str],
    catalogue: StepCatalogue,
    scenario: Scenario,
    clock: HistoryClock,
) -> pl.DataFrame:
    """The kept admissions as a frame with :data:`ADMISSIONS_SCHEMA`.

    Parameters
    ----------
    admissions
        Every admission of the axis.
    rows
        Which admissions to keep, in output order.
    encounter_ids, patient_keys
        Pseudonymous ids aligned with ``rows``.
    catalogue
        Pathway names.
    scenario
        Service ids.
    clock
        The history's calendar; a discharge at or after its window end is null.
    """
    end = int(clock.to_minutes(np.array([clock.window_end]))[0])
    admitted = clock.to_minutes(admissions.admitted[rows])
    discharged = clock.to_minutes(admissions.discharged[rows])
    still_in = discharged >= end
    length = ((discharged - admitted) / 60.0).astype(np.float64)
    length[still_in] = np.nan
    service_ids = [s.id for s in scenario.hospital.services]
    frame = pl.DataFrame(
        [
            pl.Series("encounter_id", encounter_ids, dtype=pl.String),
            pl.Series("patient_key", patient_keys, dtype=pl.String),
            label_series("service", service_ids, admissions.service[rows]),
            label_series(
                "admission_type", ("emergency", "elective"), admissions.elective[rows].astype(np.int64)
            ),
            label_series("pathway", catalogue.pathway_names, admissions.pathway[rows]),
            pl.Series("day_case", admissions.day_case[rows], dtype=pl.Boolean),
            clock.utc_series("admitted_at", admitted),
            clock.utc_series("discharged_at", discharged, ~still_in),
            pl.Series("length_of_stay_hours", length, dtype=pl.Float64).fill_nan(None),
        ]
    )
    return frame.select(list(ADMISSIONS_SCHEMA)).cast(pl.Schema(ADMISSIONS_SCHEMA))


@dataclass(frozen=True)
class KeptStays:
    """The unit stays written out, in minutes, with their beds and output row order."""

    index: NDArray[np.int64]
    stay_index: NDArray[np.int64]
    started: NDArray[np.int64]
    ended: NDArray[np.int64]
    beds: list[str]


def keep_stays(
    admissions: Admissions, keep_encounter: NDArray[np.bool_], scenario: Scenario, clock: HistoryClock
) -> KeptStays:
    """Select the unit stays of kept encounters that start before the history's end, and label beds.

    Beds are labelled over every stay of the axis (so that the beds of the first kept stays account for
    the patients already in), then the kept ones are selected.
    """
    stays = admissions.stays
    started = clock.to_minutes(stays.started)
    ended = clock.to_minutes(stays.ended)
    beds = label_beds(stays.unit, started, ended, scenario)
    end = int(clock.to_minutes(np.array([clock.window_end]))[0])
    index = np.nonzero(keep_encounter[stays.encounter] & (started < end))[0]
    # Stays are sorted by encounter then start: the order within an encounter is a running count.
    encounter = stays.encounter[index]
    first = np.r_[True, encounter[1:] != encounter[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(index.size), 0))
    return KeptStays(
        index=index,
        stay_index=np.arange(index.size) - group_start,
        started=started[index],
        ended=ended[index],
        beds=[beds[i] for i in index.tolist()],
    )


def unit_stays_frame(
    admissions: Admissions,
    kept: KeptStays,
    encounter_id_of: dict[int, str],
    catalogue: StepCatalogue,
    scenario: Scenario,
    clock: HistoryClock,
) -> pl.DataFrame:
    """The kept unit stays as a frame with :data:`UNIT_STAYS_SCHEMA`.

    Parameters
    ----------
    admissions
        Every admission of the axis with its stays.
    kept
        Which stays are written, with beds.
    encounter_id_of
        Pseudonymous encounter id by encounter number.
    catalogue
        The steps' acuity.
    scenario
        Unit and service ids.
    clock
        The history's calendar.
    """
    hospital = scenario.hospital
    stays = admissions.stays
    end = int(clock.to_minutes(np.array([clock.window_end]))[0])
    encounter = stays.encounter[kept.index]
    service_by_encounter = np.full(int(admissions.encounter.max(initial=0)) + 1, -1, dtype=np.int64)
    service_by_encounter[admissions.encounter] = admissions.service
    unit_ids = [u.id for u in hospital.units]
    service_ids = [s.id for s in hospital.services]
    acuity = np.array(catalogue.step_acuity, dtype=np.int64)[stays.step[kept.index]]
    frame = pl.DataFrame(
        [
            pl.Series("encounter_id", [encounter_id_of[e] for e in encounter.tolist()], dtype=pl.String),
            pl.Series("stay_index", kept.stay_index, dtype=pl.Int16),
            label_series("unit", unit_ids, stays.unit[kept.index]),
            pl.Series("bed", kept.beds, dtype=pl.String),
            label_series("service", service_ids, service_by_encounter[encounter]),
            label_series("acuity", ACUITY_BANDS, acuity),
            clock.utc_series("started_at", kept.started),
            clock.utc_series("ended_at", kept.ended, kept.ended < end),
        ]
    )
    return frame.select(list(UNIT_STAYS_SCHEMA)).cast(pl.Schema(UNIT_STAYS_SCHEMA))
