"""What the simulation starts from and how it is asked to run.

:class:`StartState` is the hospital *now*, as the patient twins see it: each inpatient with where they are,
how long they have been there and what is left of their route; the patients in the ED; optionally a
forecast of arrivals that replaces the scenario's rates. :class:`SimulationOptions` holds the choices of a
run that are not part of the hospital (warm-up, event log, model switches used by validation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from ops.sim.distributions import RemainingStay
from scenarios.schema import Duration, PathwayStep

DEFAULT_START = datetime(2024, 4, 14, 23, 0, tzinfo=UTC)
"""Start of a cold-started run when none is given: Monday 15 April 2024, midnight in London. A Monday away
from public holidays, where the seasonal factor of emergency demand is about 1 (between the winter peak and
the summer trough), so that a default run shows an average season."""

DEFAULT_AMBULANCE_SHARE = 0.30
"""Share of ED attendances arriving by ambulance, the ones that can be diverted.

The scenario schema has no such key; about 30 % of type-1 ED attendances in England arrive by ambulance
(NHS England A&E statistics), hence this default. Override it with ``SimulationOptions.ambulance_share``.
"""

ARRIVAL_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "t": pl.Datetime("us", "UTC"),
    "service": pl.String(),
    "arrivals_per_hour": pl.Float64(),
}
"""Hourly arrival rates that replace the scenario's expected demand: ``service = "ed"`` for ED attendances,
or a service id for that service's emergency admissions (counted at their ED arrival); ``t`` is the start of
the hour (UTC). The scenario's dated arrival overrides (a surge) still multiply these rates."""

SURGICAL_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Int64(),
    "theatre": pl.String(),
    "service": pl.String(),
    "sequence": pl.Int64(),
    "day_case": pl.Boolean(),
}
"""A surgical plan: elective cases by day of the run, theatre and order on the list. ``day_case`` may be
null, in which case it is drawn from the service's ``day_case_share``."""


@dataclass(frozen=True)
class InpatientAtStart:
    """A patient in an inpatient bed when the run starts (from their patient twin).

    Parameters
    ----------
    patient_id
        The twin's id (kept in the event log).
    unit
        Unit whose bed the patient occupies.
    service
        Service the patient is under.
    acuity
        Acuity band in the current unit (``low``, ``low_medium``, ``medium``, ``high``).
    elapsed_hours
        Time already spent in the current unit [hours].
    remaining_steps
        Steps of the route still to come after the current unit, in order.
    length_of_stay
        Length-of-stay distribution of the current step; when absent, the scenario's pathway step for this
        service and unit is used.
    remaining_stay
        The twin's own distribution of the time left until it leaves the **hospital** [hours] (not the
        current unit). The route is then walked with the scenario's stays (the current one conditioned on
        ``elapsed_hours``) and cut where that time runs out, so that the patient's total remaining stay
        follows its own distribution (bed waits and the discharge hour apart). When absent, the residual of
        ``length_of_stay`` given ``elapsed_hours`` is drawn and the remaining steps follow in full.
    """

    patient_id: str
    unit: str
    service: str
    acuity: str = "low"
    elapsed_hours: float = 0.0
    remaining_steps: tuple[PathwayStep, ...] = ()
    length_of_stay: Duration | None = None
    remaining_stay: RemainingStay | None = None


@dataclass(frozen=True)
class EdPatientAtStart:
    """A patient in the ED when the run starts.

    Parameters
    ----------
    patient_id
        The twin's id.
    triage_category
        Triage category (1 = most urgent).
    elapsed_hours
        Time since arrival [hours].
    awaiting_bed
        True when a decision to admit has been made and the patient is waiting for a bed (boarding).
    service
        Admitting service of a boarding patient; drawn from the emergency shares when absent.
    """

    patient_id: str
    triage_category: int
    elapsed_hours: float
    awaiting_bed: bool = False
    service: str | None = None


@dataclass(frozen=True)
class StartState:
    """The hospital at the start of a run (a warm start).

    Parameters
    ----------
    now
        Start of the run, timezone-aware (converted to UTC).
    patients
        Current inpatients.
    ed_patients
        Patients in the ED.
    arrival_forecast
        Optional hourly arrival rates with :data:`ARRIVAL_FORECAST_SCHEMA`, replacing the scenario's rates
        for the hours and services it covers.
    """

    now: datetime
    patients: Sequence[InpatientAtStart] = ()
    ed_patients: Sequence[EdPatientAtStart] = ()
    arrival_forecast: pl.DataFrame | None = None


@dataclass(frozen=True)
class SimulationOptions:
    """How to run the model (everything that is not the hospital itself).

    Parameters
    ----------
    start
        Start of a cold-started run (ignored when a :class:`StartState` is given).
    warm_up_days
        Days simulated from an empty hospital before the run's start and left out of the results
        (cold start only).
    event_log
        Keep every patient event (memory grows with the run); otherwise only hourly counters are kept.
    discharge_profile
        Hold a patient whose stay has ended until a discharge hour drawn from
        ``policies.discharge_hourly_profile``. Validation runs switch it off to keep exponential stays.
    transfer_out_when_full
        Units where an emergency admission finding no free bed is transferred to another hospital instead
        of waiting in the ED (a loss system, as for critical care transfers). The scenario schema has no
        such policy; the default is none.
    ambulance_share
        Share of ED attendances arriving by ambulance (see :data:`DEFAULT_AMBULANCE_SHARE`).
    surgical_plan
        Elective cases with :data:`SURGICAL_PLAN_SCHEMA` replacing the lists built from block sessions.
    """

    start: datetime = DEFAULT_START
    warm_up_days: int = 0
    event_log: bool = False
    discharge_profile: bool = True
    transfer_out_when_full: frozenset[str] = field(default_factory=frozenset)
    ambulance_share: float = DEFAULT_AMBULANCE_SHARE
    surgical_plan: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.warm_up_days < 0:
            raise ValueError(f"warm_up_days must be >= 0, got {self.warm_up_days}")
        if not 0.0 <= self.ambulance_share <= 1.0:
            raise ValueError(f"ambulance_share must be within [0, 1], got {self.ambulance_share}")
        object.__setattr__(self, "transfer_out_when_full", frozenset(self.transfer_out_when_full))
