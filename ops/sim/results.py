"""What a run produces: polars frames with declared schemas, the patient accounting and the event log.

Frames are summaries kept while the model runs (hourly counters per unit and for the ED, one row per nursing
shift and per theatre session, one row per unit for the flow through it), so memory grows with the
horizon, not with the number of patients; the full event log is kept only on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from scenarios.schema import Costs

_UTC_TIME = pl.Datetime("us", "UTC")

OCCUPANCY_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.String(),
    "t": _UTC_TIME,
    "beds_open": pl.Float64(),
    "occupied": pl.Float64(),
    "waiting_to_move": pl.Float64(),
}
"""Occupancy by unit and hour: time averages over the hour starting at ``t`` of the beds open (after any
closed for lack of nurses), the beds occupied and the patients occupying one while waiting for a bed on
their next step (bed blocking). The ED's trolleys and PACU bays are units too."""

ED_HOURLY_SCHEMA: dict[str, pl.DataType] = {
    "t": _UTC_TIME,
    "arrivals": pl.Int64(),
    "ambulances_diverted": pl.Int64(),
    "seen": pl.Int64(),
    "wait_to_be_seen_minutes": pl.Float64(),
    "departures": pl.Int64(),
    "departures_within_target": pl.Int64(),
    "time_in_department_minutes": pl.Float64(),
    "admitted": pl.Int64(),
    "boarding_minutes": pl.Float64(),
    "boarding": pl.Float64(),
    "diversion_minutes": pl.Float64(),
}
"""ED by hour. Counts of the hour (arrivals, ambulances diverted away, patients seen, departures and those
within the target time, admitted departures); sums of the hour for the patients counted (waits to be seen,
times in department, decision-to-admit to departure); the time-average number of patients boarding; the
minutes the ED spent on diversion."""

NURSING_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.String(),
    "day": pl.Int64(),
    "shift": pl.String(),
    "t": _UTC_TIME,
    "nurses_on_duty": pl.Float64(),
    "patient_hours": pl.Float64(),
    "shortfall_nurse_hours": pl.Float64(),
    "agency_nurse_hours": pl.Float64(),
}
"""Nursing by unit and shift (shifts starting in the run). ``nurses_on_duty`` is the unit's share of its
staff pools' nurses (split by open beds); ``shortfall_nurse_hours`` integrates the nurses missing to meet the
unit's patients-per-nurse ratio; under the ``agency`` policy the shortfall is filled by agency nurses."""

THEATRE_SCHEMA: dict[str, pl.DataType] = {
    "theatre": pl.String(),
    "day": pl.Int64(),
    "service": pl.String(),
    "emergency": pl.Boolean(),
    "session_minutes": pl.Float64(),
    "cases_booked": pl.Int64(),
    "cases_unbooked": pl.Int64(),
    "cases_performed": pl.Int64(),
    "cancelled_no_bed": pl.Int64(),
    "cancelled_no_time": pl.Int64(),
    "operating_minutes": pl.Float64(),
    "operating_minutes_in_session": pl.Float64(),
    "overtime_minutes": pl.Float64(),
    "emergency_cases": pl.Int64(),
    "emergency_wait_minutes": pl.Float64(),
}
"""One row per theatre session of the run: elective cases booked, performed and cancelled (no
post-operative bed free at the start of the case, or no session time left), operating time in and beyond
the session, and on emergency theatres the emergency cases done and their waits."""

UNIT_FLOW_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.String(),
    "kind": pl.String(),
    "window_hours": pl.Float64(),
    "inside_at_start": pl.Int64(),
    "entries": pl.Int64(),
    "exits": pl.Int64(),
    "inside_at_end": pl.Int64(),
    "census_patient_hours": pl.Float64(),
    "window_stay_hours": pl.Float64(),
    "exit_stay_hours": pl.Float64(),
    "entries_waited": pl.Int64(),
    "bed_wait_hours": pl.Float64(),
    "transfers_out": pl.Int64(),
    "blocked_patient_hours": pl.Float64(),
}
"""Flow through each unit over the run (warm-up excluded). ``census_patient_hours`` integrates the census
kept by the bed board; ``window_stay_hours`` adds up each patient's time in the unit within the run (the two
agree exactly); ``exit_stay_hours`` is the whole stay of the patients who left during the run (for Little's
law, L = λW); ``bed_wait_hours`` is the wait for a bed of the patients who entered (0 when one was free);
``transfers_out`` counts emergency admissions sent to another hospital because the unit was full."""

EVENT_LOG_SCHEMA: dict[str, pl.DataType] = {
    "t": _UTC_TIME,
    "patient": pl.String(),
    "event": pl.String(),
    "place": pl.String(),
}
"""Every patient event (only with ``SimulationOptions(event_log=True)``)."""


@dataclass(frozen=True)
class PatientFlow:
    """Patients in and out over the whole simulated time (warm-up included): arrived = left + inside.

    ``arrived`` counts by where patients came from (``ed``, ``elective``, ``start_state``); ``left`` by how
    they left; ``inside`` by where they are at the end. Ambulances diverted away never arrive.
    """

    arrived: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    inside: dict[str, int] = field(default_factory=dict)
    ambulances_diverted: int = 0

    @property
    def total_arrived(self) -> int:
        """Patients who arrived."""
        return sum(self.arrived.values())

    @property
    def total_left(self) -> int:
        """Patients who left."""
        return sum(self.left.values())

    @property
    def total_inside(self) -> int:
        """Patients still inside at the end."""
        return sum(self.inside.values())


@dataclass(frozen=True)
class SimulationResult:
    """Everything one run of the hospital model produced.

    The frames follow the schemas of this module; :func:`ops.sim.kpis.kpi_frame` turns them into the long
    ``kpis(replication, scenario, metric, value)`` frame.
    """

    scenario: str
    """Name of the scenario."""
    scenario_digest: str
    start: datetime
    """Start of the run (UTC); the frames cover ``horizon_days`` from here."""
    horizon_days: int
    warm_up_days: int
    nurse_shortage_policy: str
    costs: Costs
    occupancy: pl.DataFrame
    ed: pl.DataFrame
    nursing: pl.DataFrame
    theatres: pl.DataFrame
    unit_flow: pl.DataFrame
    flow: PatientFlow
    event_log: pl.DataFrame | None
    simpy_events: int
    """SimPy events scheduled during the run (the model's event count, for speed comparisons)."""
    inpatient_units: tuple[str, ...]
    """Units counted as inpatient beds (not the ED, not PACU)."""

    def kpis(self, replication: int = 0, scenario: str | None = None) -> pl.DataFrame:
        """Long KPI frame (see :data:`ops.sim.kpis.KPI_SCHEMA`)."""
        from ops.sim.kpis import kpi_frame

        return kpi_frame(self, replication=replication, scenario=scenario)
