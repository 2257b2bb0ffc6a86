"""Demand of a run, drawn before the clock starts: ED attendances, emergency operations and elective lists.

Arrivals are non-homogeneous Poisson processes with piecewise-constant hourly rates, drawn by inverting the
cumulative rate: the n-th arrival is at the time where the expected number of arrivals reaches the n-th
point of a unit-rate Poisson process. A surge that raises the rates moves arrivals earlier but keeps each
attendance and its patient's attributes (triage category, treatment, admission, service, route, stays),
which is what makes paired what-if comparisons precise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from ops.sim.calendar import SimulationCalendar
from ops.sim.days import HospitalDays
from ops.sim.distributions import categorical, duration_minutes, mean_minutes
from ops.sim.state import SURGICAL_PLAN_SCHEMA
from ops.sim.streams import RandomStreams
from scenarios.schema import Pathway, Scenario, Service
from scenarios.timeline import arrivals_factor

_CHUNK = 4096
_NO_SERVICE = -1


def route_depth(scenario: Scenario) -> int:
    """Most steps on any route of the hospital (emergency or elective)."""
    depth = 1
    for service in scenario.hospital.services:
        pathways = list(service.pathways)
        if service.surgery is not None:
            pathways += list(service.surgery.elective_pathways)
        for pathway in pathways:
            depth = max(depth, len(pathway.steps))
    return depth


def poisson_arrival_minutes(
    rate_per_hour: NDArray[np.float64], generator: np.random.Generator
) -> NDArray[np.float64]:
    """Arrival times [minutes] of a Poisson process with a piecewise-constant hourly rate, by inversion.

    Parameters
    ----------
    rate_per_hour
        Expected arrivals in each hour of the run.
    generator
        The activity's stream; its unit exponentials are consumed in fixed chunks so that the first
        arrivals use the same numbers whatever the total.
    """
    rate = np.asarray(rate_per_hour, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(rate)])
    total = float(cumulative[-1])
    if total <= 0.0:
        return np.empty(0, dtype=np.float64)
    chunks: list[NDArray[np.float64]] = []
    reached = 0.0
    while reached <= total:
        chunk = reached + np.cumsum(generator.standard_exponential(_CHUNK))
        chunks.append(chunk)
        reached = float(chunk[-1])
    points = np.concatenate(chunks)
    points = points[points < total]
    hour = np.searchsorted(cumulative, points, side="right") - 1
    fraction = (points - cumulative[hour]) / rate[hour]
    return np.asarray((hour + fraction) * 60.0, dtype=np.float64)


def seasonal_factor(scenario: Scenario, calendar: SimulationCalendar) -> NDArray[np.float64]:
    """Multiplier on emergency demand for each simulated hour (winter peak, summer trough)."""
    season = scenario.hospital.seasonality
    angle = 2.0 * math.pi * (calendar.day_of_year - season.winter_peak_day_of_year) / 365.25
    return np.asarray(1.0 + season.winter_amplitude * np.cos(angle), dtype=np.float64)


def _daily_factor(scenario: Scenario, service_id: str, calendar: SimulationCalendar) -> NDArray[np.float64]:
    by_day = {d: arrivals_factor(scenario, service_id, d) for d in calendar.days()}
    return np.array([by_day[int(d)] for d in calendar.run_day], dtype=np.float64)


def _forecast_rates(
    forecast: pl.DataFrame | None, calendar: SimulationCalendar
) -> dict[str, NDArray[np.float64]]:
    """Hourly forecast rates by service (NaN where the forecast says nothing)."""
    if forecast is None or forecast.height == 0:
        return {}
    missing = set(("t", "service", "arrivals_per_hour")) - set(forecast.columns)
    if missing:
        raise ValueError(f"arrival forecast lacks column(s) {sorted(missing)}")
    rates: dict[str, NDArray[np.float64]] = {}
    for t, service, value in forecast.select("t", "service", "arrivals_per_hour").iter_rows():
        hour = round(calendar.minute_of(t) / 60.0)
        if 0 <= hour < calendar.hours:
            if value is None or value < 0:
                raise ValueError(f"arrival forecast has an invalid rate {value!r} for {service} at {t}")
            rates.setdefault(str(service), np.full(calendar.hours, np.nan))[hour] = float(value)
    return rates


@dataclass(frozen=True)
class Attendances:
    """ED attendances of a run, one entry per patient, sorted by arrival."""

    minute: NDArray[np.float64]
    """Arrival [simulation minutes]."""
    category: NDArray[np.intp]
    """Index of the triage category in ``hospital.ed.triage``."""
    treatment_minutes: NDArray[np.float64]
    """First assessment to decision [minutes]."""
    admit: NDArray[np.bool_]
    """Decision to admit."""
    service: NDArray[np.intp]
    """Index of the admitting service in ``hospital.services`` (-1 when not admitted)."""
    pathway: NDArray[np.intp]
    """Index of the route in the service's emergency pathways."""
    length_of_stay: NDArray[np.float64]
    """Stay on each step of the route [minutes], one column per step."""
    discharge_minute_of_day: NDArray[np.float64]
    """Local time of day the patient would leave at when discharged [minutes after midnight]."""
    ambulance: NDArray[np.bool_]
    """Arrived by ambulance (can be diverted)."""

    def __len__(self) -> int:
        return int(self.minute.size)


def discharge_minutes_of_day(
    profile: tuple[float, ...], uniforms: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Local discharge times [minutes after midnight] drawn from an hourly profile, one per uniform.

    The hour comes from the profile and the minute within it from the same uniform (inversion), so one
    number decides both.
    """
    weights = np.asarray(profile, dtype=np.float64)
    cumulative = np.cumsum(weights) / weights.sum()
    hour = np.minimum(np.searchsorted(cumulative, uniforms, side="right"), 23)
    below = np.where(hour > 0, cumulative[np.maximum(hour - 1, 0)], 0.0)
    width = np.maximum(cumulative[hour] - below, 1e-12)
    within = np.clip((uniforms - below) / width, 0.0, 1.0 - 1e-9)
    return np.asarray((hour + within) * 60.0, dtype=np.float64)


def _routes(
    services: tuple[Service, ...],
    service: NDArray[np.intp],
    pathway_uniform: NDArray[np.float64],
    los_uniform: NDArray[np.float64],
    elective: bool,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Route index and stays [minutes] for patients of the given services."""
    count = service.size
    pathway = np.zeros(count, dtype=np.intp)
    stays = np.zeros_like(los_uniform)
    for s, svc in enumerate(services):
        routes: tuple[Pathway, ...] = (
            svc.surgery.elective_pathways if elective and svc.surgery is not None else svc.pathways
        )
        mine = np.flatnonzero(service == s)
        if mine.size == 0 or not routes:
            continue
        chosen = categorical(np.array([p.probability for p in routes]), pathway_uniform[mine])
        pathway[mine] = chosen
        for r, route in enumerate(routes):
            on_route = mine[chosen == r]
            for j, step in enumerate(route.steps):
                stays[on_route, j] = duration_minutes(step.length_of_stay, los_uniform[on_route, j])
    return pathway, stays


def ed_attendances(
    scenario: Scenario,
    calendar: SimulationCalendar,
    streams: RandomStreams,
    ambulance_share: float,
    forecast: pl.DataFrame | None = None,
) -> Attendances:
    """Draw every ED attendance of the run with its patient's attributes.

    Parameters
    ----------
    scenario
        The hospital and its overrides (ED rates, per-service arrival factors).
    calendar
        The run's calendar.
    streams
        The run's random streams.
    ambulance_share
        Share of attendances arriving by ambulance.
    forecast
        Optional hourly rates replacing the scenario's expected demand (see ``ARRIVAL_FORECAST_SCHEMA``);
        the scenario's arrival overrides multiply them.
    """
    hospital = scenario.hospital
    ed = hospital.ed
    services = hospital.services
    depth = route_depth(scenario)
    forecast_rates = _forecast_rates(forecast, calendar)

    hourly = np.asarray(ed.hourly_profile, dtype=np.float64)
    weekly = np.asarray(ed.weekday_profile, dtype=np.float64)
    rate = (
        ed.attendances_per_day
        / 24.0
        * (hourly / hourly.mean())[calendar.local_hour]
        * (weekly / weekly.mean())[calendar.weekday]
        * seasonal_factor(scenario, calendar)
        * np.where(calendar.holiday, hospital.seasonality.holiday_ed_factor, 1.0)
        * _daily_factor(scenario, "ed", calendar)
    )
    if "ed" in forecast_rates:
        # A forecast replaces the scenario's expected demand (profiles, season, holidays); the scenario's
        # dated arrival overrides still scale it, so a surge what-if stays a surge on a warm start.
        given = forecast_rates["ed"] * _daily_factor(scenario, "ed", calendar)
        rate = np.where(np.isnan(given), rate, given)

    # Emergency admissions by service: the share of ED attendances admitted to each service, then scaled by
    # the service's arrival factor (or replaced by its forecast): extra admissions for a factor above one
    # (a separate Poisson stream), fewer admissions (thinning) below one.
    triage_share = np.array([t.share for t in ed.triage])
    triage_admit = np.array([t.admit_probability for t in ed.triage])
    admit_rate = float(triage_share @ triage_admit)
    shares = np.array([s.emergency_share for s in services], dtype=np.float64)
    shares = shares / shares.sum()
    base = rate[:, None] * admit_rate * shares[None, :]
    target = base.copy()
    for s, svc in enumerate(services):
        target[:, s] = base[:, s] * _daily_factor(scenario, svc.id, calendar)
        if svc.id in forecast_rates:
            given = forecast_rates[svc.id] * _daily_factor(scenario, svc.id, calendar)
            target[:, s] = np.where(np.isnan(given), target[:, s], given)
    extra = np.maximum(target - base, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(base > 0, np.minimum(target / base, 1.0), 1.0)

    minute = poisson_arrival_minutes(rate, streams["ed_arrivals"])
    count = minute.size
    hour = np.minimum((minute // 60).astype(np.intp), calendar.hours - 1)
    category = categorical(triage_share, streams["triage"].random(count))
    treatment_uniform = streams["ed_treatment"].random(count)
    treatment = np.zeros(count)
    for c, tri in enumerate(ed.triage):
        mine = category == c
        treatment[mine] = duration_minutes(tri.treatment, treatment_uniform[mine])
    admission_uniform = streams["admission"].random((count, 2))
    service = categorical(shares, streams["service_routing"].random(count))
    admit = (admission_uniform[:, 0] < triage_admit[category]) & (
        admission_uniform[:, 1] < keep[hour, service]
    )
    pathway, stays = _routes(
        services,
        service,
        streams["pathway_routing"].random(count),
        streams["length_of_stay"].random((count, depth)),
        False,
    )
    discharge = discharge_minutes_of_day(
        hospital.policies.discharge_hourly_profile, streams["discharge_timing"].random(count)
    )
    ambulance = streams["ambulance"].random(count) < ambulance_share

    # Extra emergency admissions (a surge of one service): each arrives at the ED already bound for admission.
    extra_rate = extra.sum(axis=1)
    extra_minute = poisson_arrival_minutes(extra_rate, streams["extra_admission_arrivals"])
    n_extra = extra_minute.size
    if n_extra:
        draws = streams["extra_admission_cases"].random((n_extra, 6 + depth))
        extra_hour = np.minimum((extra_minute // 60).astype(np.intp), calendar.hours - 1)
        weights = np.cumsum(extra[extra_hour], axis=1)
        extra_service = np.minimum(
            (weights < draws[:, [0]] * weights[:, [-1]]).sum(axis=1), len(services) - 1
        ).astype(np.intp)
        extra_category = categorical(triage_share * triage_admit, draws[:, 1])
        extra_treatment = np.zeros(n_extra)
        for c, tri in enumerate(ed.triage):
            mine = extra_category == c
            extra_treatment[mine] = duration_minutes(tri.treatment, draws[mine, 2])
        extra_pathway, extra_stays = _routes(services, extra_service, draws[:, 3], draws[:, 6:], False)
        minute = np.concatenate([minute, extra_minute])
        category = np.concatenate([category, extra_category])
        treatment = np.concatenate([treatment, extra_treatment])
        admit = np.concatenate([admit, np.ones(n_extra, dtype=bool)])
        service = np.concatenate([service, extra_service])
        pathway = np.concatenate([pathway, extra_pathway])
        stays = np.concatenate([stays, extra_stays])
        discharge = np.concatenate(
            [discharge, discharge_minutes_of_day(hospital.policies.discharge_hourly_profile, draws[:, 5])]
        )
        ambulance = np.concatenate([ambulance, draws[:, 4] < ambulance_share])
        order = np.argsort(minute, kind="stable")
        minute, category, treatment, admit = minute[order], category[order], treatment[order], admit[order]
        service, pathway, stays = service[order], pathway[order], stays[order]
        discharge, ambulance = discharge[order], ambulance[order]

    service = np.where(admit, service, _NO_SERVICE).astype(np.intp)
    return Attendances(
        minute=minute,
        category=category.astype(np.intp),
        treatment_minutes=treatment,
        admit=admit,
        service=service,
        pathway=pathway,
        length_of_stay=stays,
        discharge_minute_of_day=discharge,
        ambulance=ambulance,
    )


@dataclass(frozen=True)
class EmergencyOperations:
    """Emergency operations requested during the run (on patients already in a bed)."""

    minute: NDArray[np.float64]
    service: NDArray[np.intp]
    duration_minutes: NDArray[np.float64]
    recovery_minutes: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.minute.size)


def emergency_operations(
    scenario: Scenario, calendar: SimulationCalendar, streams: RandomStreams
) -> EmergencyOperations:
    """Draw the emergency operations: a Poisson stream per surgical service, seasonal like ED demand."""
    services = scenario.hospital.services
    season = seasonal_factor(scenario, calendar)
    rates = np.zeros((calendar.hours, len(services)))
    for s, svc in enumerate(services):
        if svc.surgery is not None and svc.surgery.emergency_cases_per_day > 0:
            rates[:, s] = (
                svc.surgery.emergency_cases_per_day
                / 24.0
                * season
                * _daily_factor(scenario, svc.id, calendar)
            )
    minute = poisson_arrival_minutes(rates.sum(axis=1), streams["emergency_surgery_arrivals"])
    count = minute.size
    draws = streams["emergency_surgery_cases"].random((count, 3))
    hour = np.minimum((minute // 60).astype(np.intp), calendar.hours - 1)
    weights = np.cumsum(rates[hour], axis=1) if count else np.zeros((0, len(services)))
    service = (
        np.minimum((weights < draws[:, [0]] * weights[:, [-1]]).sum(axis=1), len(services) - 1).astype(
            np.intp
        )
        if count
        else np.zeros(0, dtype=np.intp)
    )
    duration = np.zeros(count)
    recovery = np.zeros(count)
    for s, svc in enumerate(services):
        mine = service == s
        if svc.surgery is not None and mine.any():
            duration[mine] = duration_minutes(svc.surgery.duration, draws[mine, 1])
            recovery[mine] = duration_minutes(svc.surgery.recovery, draws[mine, 2])
    return EmergencyOperations(
        minute=minute, service=service, duration_minutes=duration, recovery_minutes=recovery
    )


@dataclass(frozen=True)
class TheatreList:
    """One theatre session of the run: its times and the elective cases booked on it, in order."""

    theatre: str
    run_day: int
    service: str | None
    start: float
    """Session start [simulation minutes]."""
    end: float
    """Session end [simulation minutes]."""
    emergency: bool
    cases: tuple[int, ...]
    """Indexes into :class:`ElectiveCases`."""
    unbooked: int = 0
    """Cases of the week's demand that did not fit on this list."""
    closed: bool = False
    """True when a surgical plan put cases on a theatre that has no session that day."""


@dataclass(frozen=True)
class ElectiveCases:
    """Elective cases of the run with their patients' attributes, in list order."""

    service: NDArray[np.intp]
    day_case: NDArray[np.bool_]
    pathway: NDArray[np.intp]
    duration_minutes: NDArray[np.float64]
    recovery_minutes: NDArray[np.float64]
    length_of_stay: NDArray[np.float64]
    discharge_minute_of_day: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.service.size)


@dataclass
class _Session:
    """A theatre session while lists are being booked."""

    run_day: int
    theatre: str
    order: int
    service: str | None
    start: float
    end: float
    emergency: bool
    closed: bool = False
    unbooked: int = 0
    cases: list[tuple[str, bool | None]] = field(default_factory=list)
    """Booked cases as (service id, day case or None when to be drawn)."""


def _sessions(scenario: Scenario, calendar: SimulationCalendar, days: HospitalDays) -> list[_Session]:
    """Every theatre session of the simulated days, in start order."""
    sessions = []
    for d in calendar.days():
        weekday = calendar.day_weekday(d)
        for order, theatre in enumerate(scenario.hospital.theatres):
            session = days.session(theatre.id, d, weekday)
            if session is not None:
                start, end = calendar.minute_at(d, session.start), calendar.minute_at(d, session.end)
                if start < 0.0 or start >= calendar.end:
                    continue  # started before the run, or after it
                sessions.append(
                    _Session(d, theatre.id, order, session.service, start, end, theatre.emergency)
                )
    return sessions


def _book_blocks(
    scenario: Scenario, calendar: SimulationCalendar, days: HospitalDays, sessions: list[_Session]
) -> None:
    """Book elective cases on block sessions.

    Each service's weekly elective cases (times its arrival factor) are spread over that calendar week's
    sessions allocated to it in proportion to their minutes, rounded cumulatively so the week's total is
    kept; a list never holds more cases than fit at their mean duration. No elective lists on public holidays.
    """
    hospital = scenario.hospital
    minutes_by_week: dict[tuple[str, int], float] = {}

    def week_minutes(service_id: str, run_day: int) -> float:
        monday = run_day - calendar.day_weekday(run_day)
        key = (service_id, monday)
        if key not in minutes_by_week:
            total = 0.0
            for d in range(monday, monday + 7):
                if d in calendar.holiday_days:
                    continue
                for theatre in hospital.theatres:
                    session = days.session(theatre.id, d, calendar.day_weekday(d))
                    if session is not None and session.service == service_id:
                        total += session.minutes
            minutes_by_week[key] = total
        return minutes_by_week[key]

    cumulative: dict[str, float] = {}
    booked_so_far: dict[str, int] = {}
    for session in sessions:
        if session.service is None or session.run_day in calendar.holiday_days:
            continue
        service = hospital.service(session.service)
        surgery = service.surgery
        if surgery is None or surgery.elective_cases_per_week <= 0:
            continue
        length = session.end - session.start
        expected = (
            surgery.elective_cases_per_week
            * arrivals_factor(scenario, service.id, session.run_day)
            * length
            / week_minutes(service.id, session.run_day)
        )
        cumulative[service.id] = cumulative.get(service.id, 0.0) + expected
        wanted = math.floor(cumulative[service.id] + 0.5) - booked_so_far.get(service.id, 0)
        booked_so_far[service.id] = booked_so_far.get(service.id, 0) + wanted
        fits = math.floor(length / mean_minutes(surgery.duration))
        booked = max(min(wanted, fits), 0)
        session.unbooked = max(wanted - booked, 0)
        session.cases = [(service.id, None)] * booked


def _book_plan(
    scenario: Scenario, calendar: SimulationCalendar, sessions: list[_Session], plan: pl.DataFrame
) -> list[_Session]:
    """Book the cases of a surgical plan (see ``SURGICAL_PLAN_SCHEMA``); returns the sessions in order.

    Cases planned on a theatre with no session that day get a closed list: they will all be cancelled.
    """
    hospital = scenario.hospital
    missing = set(SURGICAL_PLAN_SCHEMA) - {"day_case"} - set(plan.columns)
    if missing:
        raise ValueError(f"surgical plan lacks column(s) {sorted(missing)}")
    theatres = {t.id: (i, t) for i, t in enumerate(hospital.theatres)}
    service_ids = {s.id for s in hospital.services}
    frame = (
        plan if "day_case" in plan.columns else plan.with_columns(pl.lit(None, pl.Boolean).alias("day_case"))
    )
    by_list: dict[tuple[int, str], list[tuple[str, bool | None]]] = {}
    for day, theatre_id, service_id, day_case in (
        frame.sort("day", "theatre", "sequence").select("day", "theatre", "service", "day_case").iter_rows()
    ):
        if theatre_id not in theatres:
            raise ValueError(f"surgical plan names unknown theatre '{theatre_id}'")
        if service_id not in service_ids:
            raise ValueError(f"surgical plan names unknown service '{service_id}'")
        if 0 <= int(day) < calendar.horizon_days:
            by_list.setdefault((int(day), str(theatre_id)), []).append((str(service_id), day_case))
    for session in sessions:
        session.cases = by_list.pop((session.run_day, session.theatre), [])
    for (d, theatre_id), cases in by_list.items():
        order, theatre = theatres[theatre_id]
        moment = calendar.minute_at(d, "08:00")
        sessions.append(
            _Session(d, theatre_id, order, None, moment, moment, theatre.emergency, True, 0, cases)
        )
    return sorted(sessions, key=lambda s: (s.start, s.order))


def theatre_lists(
    scenario: Scenario,
    calendar: SimulationCalendar,
    streams: RandomStreams,
    plan: pl.DataFrame | None = None,
    days: HospitalDays | None = None,
) -> tuple[list[TheatreList], ElectiveCases]:
    """Theatre sessions of the run with their elective lists, and the elective patients' attributes.

    Parameters
    ----------
    scenario
        The hospital and its overrides (sessions by weekday, theatre block changes, arrival factors).
    calendar
        The run's calendar.
    streams
        The run's random streams.
    plan
        A surgical plan replacing the lists built from block sessions.
    days
        The hospital by day (memoised timeline), shared with the caller.
    """
    hospital = scenario.hospital
    services = hospital.services
    service_index = {s.id: i for i, s in enumerate(services)}
    days = days or HospitalDays(scenario)
    sessions = _sessions(scenario, calendar, days)
    if plan is None:
        _book_blocks(scenario, calendar, days, sessions)
    else:
        sessions = _book_plan(scenario, calendar, sessions, plan)

    lists: list[TheatreList] = []
    booked: list[tuple[str, bool | None]] = []
    for session in sessions:
        first = len(booked)
        booked += session.cases
        lists.append(
            TheatreList(
                theatre=session.theatre,
                run_day=session.run_day,
                service=session.service,
                start=session.start,
                end=session.end,
                emergency=session.emergency,
                cases=tuple(range(first, len(booked))),
                unbooked=session.unbooked,
                closed=session.closed,
            )
        )
    count = len(booked)
    case_service = np.array([service_index[s] for s, _ in booked], dtype=np.intp)
    depth = route_depth(scenario)
    draws = streams["elective_cases"].random((count, 3 + depth))
    day_case_share = np.array(
        [s.surgery.day_case_share if s.surgery is not None else 0.0 for s in services], dtype=np.float64
    )
    given = np.array([np.nan if dc is None else float(dc) for _, dc in booked], dtype=np.float64)
    day_case = np.where(np.isnan(given), draws[:, 0] < day_case_share[case_service], given == 1.0)
    # a service without elective routes sends every case home the same day
    has_routes = np.array([bool(s.surgery and s.surgery.elective_pathways) for s in services])
    day_case = day_case | ~has_routes[case_service]
    pathway, stays = _routes(services, case_service, draws[:, 1], draws[:, 3:], True)
    duration_uniform = streams["theatre_durations"].random(count)
    recovery_uniform = streams["recovery"].random(count)
    duration = np.zeros(count)
    recovery = np.zeros(count)
    for s, svc in enumerate(services):
        mine = case_service == s
        if svc.surgery is not None and mine.any():
            duration[mine] = duration_minutes(svc.surgery.duration, duration_uniform[mine])
            recovery[mine] = duration_minutes(svc.surgery.recovery, recovery_uniform[mine])
    cases = ElectiveCases(
        service=case_service,
        day_case=np.asarray(day_case, dtype=bool),
        pathway=pathway,
        duration_minutes=duration,
        recovery_minutes=recovery,
        length_of_stay=stays,
        discharge_minute_of_day=discharge_minutes_of_day(
            hospital.policies.discharge_hourly_profile, draws[:, 2]
        ),
    )
    return lists, cases
