"""Elective operating lists of the synthetic history.

Each service's ``elective_cases_per_week`` is spread evenly over the weekly sessions allocated to it in the
base hospital, so each of its sessions books the same expected number of cases. On each day the sessions
actually running come from :func:`scenarios.timeline.theatre_session_on` (theatre block overrides
apply); there are no elective lists on bank holidays. A list books ``ceil(mean / 0.9)`` patients and each
goes ahead with probability ``mean / booked`` (cancellations on the day), so the mean is kept and the count
varies less than a Poisson count would. The cases of a list follow one another from the session's start,
each taking a draw of the service's ``surgery.duration`` (which includes turnaround); a list may overrun.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.synthetic.clock import HistoryClock
from patients.synthetic.frames import label_series
from patients.synthetic.sampling import sample_duration
from scenarios.schema import Scenario, minutes_of_day
from scenarios.timeline import arrivals_factor, theatre_session_on

SURGICAL_CASES_SCHEMA: dict[str, pl.DataType] = {
    "case_id": pl.String(),
    "encounter_id": pl.String(),
    "service": pl.String(),
    "theatre": pl.String(),
    "admission_type": pl.String(),
    "day_case": pl.Boolean(),
    "session_date": pl.Date(),
    "surgery_started_at": pl.Datetime("us", "UTC"),
    "surgery_ended_at": pl.Datetime("us", "UTC"),
    "recovery_ended_at": pl.Datetime("us", "UTC"),
}
"""One row per operation: elective cases on their service's theatre sessions.

``surgery_started_at`` to ``surgery_ended_at`` is the theatre time (knife-to-skin to close plus
turnaround); recovery in PACU follows until ``recovery_ended_at``. ``session_date`` is the local date of
the list. Times after the history's end are null.
"""

BOOKED_SHARE_GOING_AHEAD = 0.9
"""Lists book ``ceil(mean / 0.9)`` patients; about one in ten does not go ahead on the day."""


@dataclass(frozen=True)
class ElectiveCases:
    """Elective operations as arrays in continuous hours, ordered by start.

    Attributes
    ----------
    service, theatre
        Indices into ``hospital.services`` and ``hospital.theatres``.
    axis_day
        Local axis day of the session.
    started, ended, recovered
        Continuous hours of the start and end of surgery and of the end of recovery.
    day_case
        Whether the patient goes home the same day.
    """

    service: NDArray[np.int64]
    theatre: NDArray[np.int64]
    axis_day: NDArray[np.int64]
    started: NDArray[np.float64]
    ended: NDArray[np.float64]
    recovered: NDArray[np.float64]
    day_case: NDArray[np.bool_]

    @property
    def count(self) -> int:
        """Number of operations."""
        return int(self.started.size)


def base_sessions_per_week(scenario: Scenario) -> dict[str, int]:
    """Weekly sessions allocated to each service in the base hospital (no overrides)."""
    sessions: dict[str, int] = {}
    for theatre in scenario.hospital.theatres:
        for weekday in range(7):
            session = theatre.sessions.on(weekday)
            if session is not None and session.service is not None:
                sessions[session.service] = sessions.get(session.service, 0) + 1
    return sessions


def simulate_elective_cases(
    scenario: Scenario, clock: HistoryClock, streams: dict[str, np.random.Generator]
) -> ElectiveCases:
    """Draw every elective operation of the axis (warm-up included).

    Parameters
    ----------
    scenario
        The hospital, its theatres' sessions and overrides.
    clock
        The history's calendar (weekdays, bank holidays).
    streams
        Activity streams; uses ``theatre_lists`` and ``surgery``.

    Returns
    -------
    ElectiveCases
        Sorted by start of surgery.
    """
    hospital = scenario.hospital
    service_index = {service.id: i for i, service in enumerate(hospital.services)}
    weekly_sessions = base_sessions_per_week(scenario)
    cases_per_session: dict[str, float] = {}
    for service in hospital.services:
        if service.surgery is not None and service.surgery.elective_cases_per_week > 0:
            cases_per_session[service.id] = (
                service.surgery.elective_cases_per_week / weekly_sessions[service.id]
            )

    session_day: list[int] = []
    session_theatre: list[int] = []
    session_service: list[int] = []
    session_start: list[float] = []
    session_mean: list[float] = []
    for day in range(clock.day_count):
        if clock.bank_holiday[day]:
            continue
        weekday = int(clock.weekday[day])
        for t, theatre in enumerate(hospital.theatres):
            session = theatre_session_on(scenario, theatre.id, clock.history_day(day), weekday)
            if session is None or session.service not in cases_per_session:
                continue
            factor = arrivals_factor(scenario, session.service, clock.history_day(day))
            session_day.append(day)
            session_theatre.append(t)
            session_service.append(service_index[session.service])
            session_start.append(minutes_of_day(session.start) / 60.0)
            session_mean.append(cases_per_session[session.service] * factor)

    mean = np.asarray(session_mean, dtype=np.float64)
    booked = np.array([math.ceil(m / BOOKED_SHARE_GOING_AHEAD - 1e-9) for m in mean], dtype=np.int64)
    going_ahead = np.divide(mean, booked, out=np.zeros_like(mean), where=booked > 0)
    counts = streams["theatre_lists"].binomial(booked, going_ahead)

    session_of_case = np.repeat(np.arange(mean.size), counts)
    case_service = np.asarray(session_service, dtype=np.int64)[session_of_case]
    surgery_rng = streams["surgery"]
    duration = np.zeros(session_of_case.size, dtype=np.float64)
    recovery = np.zeros(session_of_case.size, dtype=np.float64)
    day_case = np.zeros(session_of_case.size, dtype=np.bool_)
    for s, spec in enumerate(hospital.services):
        mask = case_service == s
        if spec.surgery is None or not mask.any():
            continue
        size = int(mask.sum())
        duration[mask] = sample_duration(surgery_rng, spec.surgery.duration, size)
        recovery[mask] = sample_duration(surgery_rng, spec.surgery.recovery, size)
        day_case[mask] = surgery_rng.random(size) < spec.surgery.day_case_share

    # Cases of a list follow one another: start = session start + durations of the earlier cases.
    running = np.cumsum(duration)
    first_of_session = np.repeat(np.cumsum(counts) - counts, counts)
    before = running - duration - (running[first_of_session] - duration[first_of_session])
    case_day = np.asarray(session_day, dtype=np.int64)[session_of_case]
    started = clock.at_local(case_day, np.asarray(session_start, dtype=np.float64)[session_of_case]) + before
    ended = started + duration
    order = np.argsort(started, kind="stable")
    return ElectiveCases(
        service=case_service[order],
        theatre=np.asarray(session_theatre, dtype=np.int64)[session_of_case][order],
        axis_day=case_day[order],
        started=started[order],
        ended=ended[order],
        recovered=(ended + recovery)[order],
        day_case=day_case[order],
    )


def surgical_cases_frame(
    cases: ElectiveCases,
    rows: NDArray[np.int64],
    encounter_ids: list[str],
    scenario: Scenario,
    clock: HistoryClock,
) -> pl.DataFrame:
    """The kept operations as a frame with :data:`SURGICAL_CASES_SCHEMA`.

    Parameters
    ----------
    cases
        Every operation of the axis.
    rows
        Which operations to keep, in output order.
    encounter_ids
        The admissions' pseudonymous ids, aligned with ``rows``.
    scenario
        Service and theatre ids.
    clock
        The history's calendar; times at or after its window end are null.
    """
    hospital = scenario.hospital
    end = int(clock.to_minutes(np.array([clock.window_end]))[0])
    started = clock.to_minutes(cases.started[rows])
    ended = clock.to_minutes(cases.ended[rows])
    recovered = clock.to_minutes(cases.recovered[rows])
    service_ids = [s.id for s in hospital.services]
    theatre_ids = [t.id for t in hospital.theatres]
    session_date = np.datetime64(clock.first_day, "D") + cases.axis_day[rows].astype("timedelta64[D]")
    frame = pl.DataFrame(
        [
            pl.Series("case_id", [f"{e}-op1" for e in encounter_ids], dtype=pl.String),
            pl.Series("encounter_id", encounter_ids, dtype=pl.String),
            label_series("service", service_ids, cases.service[rows]),
            label_series("theatre", theatre_ids, cases.theatre[rows]),
            pl.Series("admission_type", ["elective"] * rows.size, dtype=pl.String),
            pl.Series("day_case", cases.day_case[rows], dtype=pl.Boolean),
            pl.Series("session_date", session_date).cast(pl.Date),
            clock.utc_series("surgery_started_at", started),
            clock.utc_series("surgery_ended_at", ended, ended < end),
            clock.utc_series("recovery_ended_at", recovered, recovered < end),
        ]
    )
    return frame.select(list(SURGICAL_CASES_SCHEMA)).cast(pl.Schema(SURGICAL_CASES_SCHEMA))
