"""ED attendances of the synthetic history: arrivals, triage, treatment, and the decision to admit.

Arrivals are a Poisson process whose hourly intensity is the product of

- ``ed.attendances_per_day``,
- the weekday profile (normalised to mean 1),
- the yearly seasonality ``1 + A cos(2 pi (day_of_year - peak) / 365.25)``,
- ``seasonality.holiday_ed_factor`` on bank holidays,
- the scenario's ``arrivals`` override for ``"ed"`` on that day, and
- the hourly profile (normalised to sum 1), read on the local clock.

The attendances are drawn as a superposition of independent streams: those who go home, and one stream of
admissions per service (share ``emergency_share``, times that service's ``arrivals`` override). With no
service override this is exactly one stream thinned by the triage categories' admission probabilities;
with one, a service's emergency admissions scale without changing anyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from patients.synthetic.clock import HistoryClock
from patients.synthetic.frames import label_series
from patients.synthetic.sampling import choose_categories, sample_duration
from scenarios.schema import LognormalHours, Scenario
from scenarios.timeline import arrivals_factor

ED_ATTENDANCES_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "patient_key": pl.String(),
    "arrived_at": pl.Datetime("us", "UTC"),
    "triage_category": pl.Int8(),
    "triaged_at": pl.Datetime("us", "UTC"),
    "decision_at": pl.Datetime("us", "UTC"),
    "departed_at": pl.Datetime("us", "UTC"),
    "disposition": pl.String(),
    "admitted_service": pl.String(),
}
"""One row per ED attendance.

``triage_category`` is the Manchester-style category 1-5; ``decision_at`` the decision to admit or
discharge (end of treatment); ``departed_at`` when the patient left the ED (home, or to the first inpatient
unit, which is then the admission's ``admitted_at``); ``disposition`` is ``admitted`` or ``discharged``;
``admitted_service`` the service of the admission. Times after the history's end are null.
"""

TIME_TO_TRIAGE_MEAN_HOURS = 0.2
"""Mean wait from arrival to triage [hours] (exponential; the NHS standard is 15 minutes)."""

GOING_HOME = LognormalHours(distribution="lognormal", median_hours=0.25, sigma=0.6)
"""From the decision to discharge to leaving the ED [hours]."""

WAIT_FOR_A_BED = LognormalHours(distribution="lognormal", median_hours=1.0, sigma=0.9)
"""From the decision to admit to leaving the ED for a bed [hours]; sampled, not queued for beds."""


def ed_daily_factor(scenario: Scenario, clock: HistoryClock) -> NDArray[np.float64]:
    """Relative ED demand of each axis day: weekday x season x bank holiday x ``ed`` override.

    Parameters
    ----------
    scenario
        Supplies the weekday profile, seasonality and overrides.
    clock
        The history's calendar.

    Returns
    -------
    numpy.ndarray
        One factor per axis day (1 = an average day).
    """
    hospital = scenario.hospital
    weekday_profile = np.asarray(hospital.ed.weekday_profile, dtype=np.float64)
    weekday_factor = weekday_profile / weekday_profile.mean()
    return (
        weekday_factor[clock.weekday]
        * seasonal_factor(scenario, clock.day_of_year)
        * np.where(clock.bank_holiday, hospital.seasonality.holiday_ed_factor, 1.0)
        * overrides_factor(scenario, "ed", clock)
    )


def seasonal_factor(scenario: Scenario, day_of_year: NDArray[np.int64]) -> NDArray[np.float64]:
    """Winter seasonality ``1 + A cos(2 pi (day_of_year - peak) / 365.25)`` of the scenario."""
    seasonality = scenario.hospital.seasonality
    phase = 2.0 * np.pi * (np.asarray(day_of_year) - seasonality.winter_peak_day_of_year) / 365.25
    return 1.0 + seasonality.winter_amplitude * np.cos(phase)


def overrides_factor(scenario: Scenario, service_id: str, clock: HistoryClock) -> NDArray[np.float64]:
    """The ``arrivals`` overrides' multiplier for a service (or ``"ed"``) on each axis day."""
    return np.array(
        [arrivals_factor(scenario, service_id, clock.history_day(d)) for d in range(clock.day_count)],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class EdAttendances:
    """ED attendances as arrays in continuous hours, ordered by arrival.

    Attributes
    ----------
    arrived, triaged, decided, departed
        Continuous hours of arrival, triage, decision and departure.
    triage_category
        Category 1-5.
    admitted_service
        Index of the admitting service in ``hospital.services``; -1 when sent home.
    """

    arrived: NDArray[np.float64]
    triaged: NDArray[np.float64]
    decided: NDArray[np.float64]
    departed: NDArray[np.float64]
    triage_category: NDArray[np.int64]
    admitted_service: NDArray[np.int64]

    @property
    def count(self) -> int:
        """Number of attendances."""
        return int(self.arrived.size)


def simulate_ed_attendances(
    scenario: Scenario, clock: HistoryClock, streams: dict[str, np.random.Generator]
) -> EdAttendances:
    """Draw every ED attendance of the axis (warm-up included).

    Parameters
    ----------
    scenario
        The hospital and its overrides.
    clock
        The history's calendar.
    streams
        Activity streams; uses ``ed_arrivals``, ``ed_triage``, ``ed_treatment`` and ``ed_departure``.

    Returns
    -------
    EdAttendances
        Sorted by arrival.
    """
    hospital = scenario.hospital
    ed = hospital.ed
    hourly = np.asarray(ed.hourly_profile, dtype=np.float64)
    hourly = hourly / hourly.sum()
    per_hour = (
        ed.attendances_per_day * ed_daily_factor(scenario, clock)[clock.hour_day] * hourly[clock.hour_of_day]
    )

    triage = ed.triage
    share = np.array([t.share for t in triage], dtype=np.float64)
    admit = np.array([t.admit_probability for t in triage], dtype=np.float64)
    admitted_fraction = float((share * admit).sum())
    service_share = np.array([s.emergency_share for s in hospital.services], dtype=np.float64)
    service_share = service_share / service_share.sum()

    # Streams: column 0 goes home, column 1 + s is admitted to service s.
    rates = np.empty((clock.total_hours, 1 + service_share.size), dtype=np.float64)
    rates[:, 0] = per_hour * (1.0 - admitted_fraction)
    for s, service in enumerate(hospital.services):
        service_factor = overrides_factor(scenario, service.id, clock)[clock.hour_day]
        rates[:, 1 + s] = per_hour * admitted_fraction * service_share[s] * service_factor
    arrivals_rng = streams["ed_arrivals"]
    counts = arrivals_rng.poisson(rates)
    cell = np.repeat(np.arange(counts.size), counts.reshape(-1))  # row-major (hour, stream) cells
    hour_index, stream = np.divmod(cell, rates.shape[1])
    arrived = hour_index + arrivals_rng.random(cell.size)
    order = np.argsort(arrived, kind="stable")
    arrived = arrived[order]
    stream = stream[order]
    admitted_service = stream - 1
    n = arrived.size

    # Triage category given the disposition: P(c | admitted) ~ share * p_admit, P(c | home) ~ share * (1 - p).
    triage_rng = streams["ed_triage"]
    category_index = np.empty(n, dtype=np.int64)
    going_home = admitted_service < 0
    category_index[going_home] = choose_categories(triage_rng, share * (1.0 - admit), int(going_home.sum()))
    category_index[~going_home] = choose_categories(triage_rng, share * admit, int((~going_home).sum()))
    triaged = arrived + triage_rng.exponential(TIME_TO_TRIAGE_MEAN_HOURS, n)

    treatment_rng = streams["ed_treatment"]
    treatment = np.empty(n, dtype=np.float64)
    for c, category in enumerate(triage):
        mask = category_index == c
        treatment[mask] = sample_duration(treatment_rng, category.treatment, int(mask.sum()))
    decided = triaged + treatment

    departure_rng = streams["ed_departure"]
    leaving = np.where(
        going_home,
        sample_duration(departure_rng, GOING_HOME, n),
        sample_duration(departure_rng, WAIT_FOR_A_BED, n),
    )
    categories = np.array([t.category for t in triage], dtype=np.int64)
    return EdAttendances(
        arrived=arrived,
        triaged=triaged,
        decided=decided,
        departed=decided + leaving,
        triage_category=categories[category_index],
        admitted_service=admitted_service,
    )


def ed_attendances_frame(
    attendances: EdAttendances,
    rows: NDArray[np.int64],
    encounter_ids: list[str],
    patient_keys: list[str],
    service_ids: tuple[str, ...],
    clock: HistoryClock,
) -> pl.DataFrame:
    """The kept attendances as a frame with :data:`ED_ATTENDANCES_SCHEMA`.

    Parameters
    ----------
    attendances
        Every attendance of the axis.
    rows
        Which attendances to keep (those overlapping the history's window), in output order.
    encounter_ids, patient_keys
        Pseudonymous ids of the kept attendances, aligned with ``rows``.
    service_ids
        Service ids by index (``hospital.services``).
    clock
        The history's calendar; times at or after its window end are null.
    """
    end = int(clock.to_minutes(np.array([clock.window_end]))[0])
    arrived = clock.to_minutes(attendances.arrived[rows])
    triaged = clock.to_minutes(attendances.triaged[rows])
    decided = clock.to_minutes(attendances.decided[rows])
    departed = clock.to_minutes(attendances.departed[rows])
    service = attendances.admitted_service[rows]
    decision_known = decided < end
    disposition = np.where(decision_known, np.where(service >= 0, 0, 1), -1)
    admitted_service = np.where(decision_known, service, -1)
    frame = pl.DataFrame(
        [
            pl.Series("encounter_id", encounter_ids, dtype=pl.String),
            pl.Series("patient_key", patient_keys, dtype=pl.String),
            clock.utc_series("arrived_at", arrived),
            pl.Series("triage_category", attendances.triage_category[rows], dtype=pl.Int8),
            clock.utc_series("triaged_at", triaged, triaged < end),
            clock.utc_series("decision_at", decided, decision_known),
            clock.utc_series("departed_at", departed, departed < end),
            label_series("disposition", ("admitted", "discharged"), disposition),
            label_series("admitted_service", service_ids, admitted_service),
        ]
    )
    return frame.select(list(ED_ATTENDANCES_SCHEMA)).cast(pl.Schema(ED_ATTENDANCES_SCHEMA))
