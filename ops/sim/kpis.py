"""Key performance indicators of a run: pure functions of the result's frames.

Every KPI covers the run's window (warm-up excluded). The long frame ``kpis(replication, scenario, metric,
value)`` is what replications, comparisons, the store and the command view exchange.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from ops.sim.results import SimulationResult

KPI_SCHEMA: dict[str, pl.DataType] = {
    "replication": pl.Int64(),
    "scenario": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
}
"""The long KPI frame: one row per replication, scenario and metric."""


@dataclass(frozen=True)
class Metric:
    """What a KPI means: a description, its unit and which way is better."""

    description: str
    unit: str
    lower_is_better: bool = True


METRICS: dict[str, Metric] = {
    "ed_attendances": Metric("ED attendances (arrived, not diverted)", "patients", False),
    "ed_admissions": Metric("ED patients admitted (or transferred out)", "patients", False),
    "ed_four_hour_performance": Metric("ED departures within the target time", "share", False),
    "ed_mean_time_in_department_hours": Metric("Mean time in the ED, arrival to departure", "hours"),
    "ed_mean_wait_to_be_seen_minutes": Metric("Mean wait for a trolley and first assessment", "minutes"),
    "ed_mean_boarding_hours": Metric("Mean decision-to-admit to departure", "hours"),
    "ed_mean_boarding_patients": Metric("Mean patients boarding in the ED", "patients"),
    "ed_peak_boarding_patients": Metric("Highest hourly mean of patients boarding", "patients"),
    "diversion_hours": Metric("Hours on ambulance diversion", "hours"),
    "ambulances_diverted": Metric("Ambulances diverted away", "patients"),
    "transfers_out": Metric("Emergency admissions transferred to another hospital", "patients"),
    "inpatient_occupancy": Metric("Inpatient beds occupied / open", "share"),
    "mean_inpatients": Metric("Mean inpatients in a bed", "patients"),
    "bed_blocking_patient_hours": Metric("Patient-hours in a bed waiting for the next step's bed", "hours"),
    "elective_operations": Metric("Elective operations performed", "cases", False),
    "cancelled_operations": Metric("Elective operations cancelled on the day", "cases"),
    "cancelled_operations_no_bed": Metric("... of which no post-operative bed", "cases"),
    "cancelled_operations_no_time": Metric("... of which no session time left", "cases"),
    "theatre_utilisation": Metric("Elective session time spent operating", "share", False),
    "theatre_overtime_hours": Metric("Operating beyond session end", "hours"),
    "emergency_operations": Metric("Emergency operations performed", "cases", False),
    "emergency_surgery_mean_wait_hours": Metric("Mean wait for the emergency theatre", "hours"),
    "nurse_shortfall_hours": Metric("Nurse-hours missing to meet the ratios", "hours"),
    "agency_nurse_hours": Metric("Agency nurse-hours booked", "hours"),
    "agency_cost": Metric("Agency nurse cost", "currency"),
    "overtime_cost": Metric("Theatre overtime cost", "currency"),
    "cancellation_cost": Metric("Cost of cancelled operations", "currency"),
    "diversion_cost": Metric("Cost of diversion hours", "currency"),
    "total_cost": Metric("Agency + overtime + cancellations + diversion", "currency"),
}
"""Every hospital-wide KPI; per-unit occupancy adds ``occupancy_<unit>`` (beds occupied / open)."""

HEADLINE_METRICS: tuple[str, ...] = (
    "ed_four_hour_performance",
    "ed_mean_boarding_hours",
    "diversion_hours",
    "inpatient_occupancy",
    "bed_blocking_patient_hours",
    "elective_operations",
    "cancelled_operations",
    "theatre_utilisation",
    "theatre_overtime_hours",
    "nurse_shortfall_hours",
    "agency_cost",
    "total_cost",
)
"""The KPIs a what-if shows first."""


def metric_info(metric: str) -> Metric:
    """Description of a KPI, including the per-unit ``occupancy_<unit>``."""
    if metric in METRICS:
        return METRICS[metric]
    if metric.startswith("occupancy_"):
        return Metric(f"Beds occupied / open on {metric.removeprefix('occupancy_')}", "share")
    return Metric(metric, "")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _sum(frame: pl.DataFrame, column: str) -> float:
    value = frame.get_column(column).sum() if frame.height else 0.0
    return float(value or 0.0)


def kpi_values(result: SimulationResult) -> dict[str, float]:
    """Every KPI of a run as ``{metric: value}`` (NaN when undefined, e.g. no departures)."""
    ed = result.ed
    theatres = result.theatres
    nursing = result.nursing
    costs = result.costs
    values: dict[str, float] = {}

    departures = _sum(ed, "departures")
    admitted = _sum(ed, "admitted")
    values["ed_attendances"] = _sum(ed, "arrivals")
    values["ed_admissions"] = admitted
    values["ed_four_hour_performance"] = _ratio(_sum(ed, "departures_within_target"), departures)
    values["ed_mean_time_in_department_hours"] = (
        _ratio(_sum(ed, "time_in_department_minutes"), departures) / 60
    )
    values["ed_mean_wait_to_be_seen_minutes"] = _ratio(_sum(ed, "wait_to_be_seen_minutes"), _sum(ed, "seen"))
    values["ed_mean_boarding_hours"] = _ratio(_sum(ed, "boarding_minutes"), admitted) / 60
    boarding = ed.get_column("boarding").to_numpy()
    values["ed_mean_boarding_patients"] = float(boarding.mean()) if boarding.size else math.nan
    values["ed_peak_boarding_patients"] = float(boarding.max()) if boarding.size else math.nan
    values["diversion_hours"] = _sum(ed, "diversion_minutes") / 60
    values["ambulances_diverted"] = _sum(ed, "ambulances_diverted")
    values["transfers_out"] = _sum(result.unit_flow, "transfers_out")

    by_unit = result.occupancy.group_by("unit", maintain_order=True).agg(
        pl.col("occupied").sum(), pl.col("beds_open").sum(), pl.col("waiting_to_move").sum(), pl.len()
    )
    inpatient = by_unit.filter(pl.col("unit").is_in(list(result.inpatient_units)))
    values["inpatient_occupancy"] = _ratio(_sum(inpatient, "occupied"), _sum(inpatient, "beds_open"))
    hours = float(result.horizon_days * 24)
    values["mean_inpatients"] = _sum(inpatient, "occupied") / hours
    values["bed_blocking_patient_hours"] = _sum(inpatient, "waiting_to_move")

    elective = theatres.filter(~pl.col("emergency"))
    no_bed = _sum(theatres, "cancelled_no_bed")
    no_time = _sum(theatres, "cancelled_no_time")
    values["elective_operations"] = _sum(theatres, "cases_performed")
    values["cancelled_operations"] = no_bed + no_time
    values["cancelled_operations_no_bed"] = no_bed
    values["cancelled_operations_no_time"] = no_time
    values["theatre_utilisation"] = _ratio(
        _sum(elective, "operating_minutes_in_session"), _sum(elective, "session_minutes")
    )
    overtime_hours = _sum(theatres, "overtime_minutes") / 60
    values["theatre_overtime_hours"] = overtime_hours
    values["emergency_operations"] = _sum(theatres, "emergency_cases")
    values["emergency_surgery_mean_wait_hours"] = (
        _ratio(_sum(theatres, "emergency_wait_minutes"), _sum(theatres, "emergency_cases")) / 60
    )

    values["nurse_shortfall_hours"] = _sum(nursing, "shortfall_nurse_hours")
    agency_hours = _sum(nursing, "agency_nurse_hours")
    values["agency_nurse_hours"] = agency_hours
    values["agency_cost"] = agency_hours * costs.agency_nurse_hour
    values["overtime_cost"] = overtime_hours * costs.overtime_hour
    values["cancellation_cost"] = (no_bed + no_time) * costs.cancelled_operation
    values["diversion_cost"] = values["diversion_hours"] * costs.diversion_hour
    values["total_cost"] = (
        values["agency_cost"]
        + values["overtime_cost"]
        + values["cancellation_cost"]
        + values["diversion_cost"]
    )
    for unit, occupied, beds_open in by_unit.select("unit", "occupied", "beds_open").iter_rows():
        values[f"occupancy_{unit}"] = _ratio(occupied, beds_open)
    return values


def kpi_frame(result: SimulationResult, replication: int = 0, scenario: str | None = None) -> pl.DataFrame:
    """The long KPI frame of one run (:data:`KPI_SCHEMA`).

    Parameters
    ----------
    result
        A run of the model.
    replication
        Replication number to put in the frame.
    scenario
        Scenario label; the scenario's name when ``None``.
    """
    values = kpi_values(result)
    label = result.scenario if scenario is None else scenario
    return pl.DataFrame(
        {
            "replication": [replication] * len(values),
            "scenario": [label] * len(values),
            "metric": list(values),
            "value": list(values.values()),
        },
        schema=KPI_SCHEMA,
    )
