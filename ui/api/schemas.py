"""Request and answer bodies, one family per resource (``XCreate`` in, ``XPublic`` out).

Patients appear only through salted keys (``patient_key``, ``encounter_id``); no schema here has a field
for a name, a medical record number or a birth date.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.jobs import JOB_KINDS, SCENARIO_NAME_PATTERN

JobKindName = Literal["whatif", "roster", "surgery", "nightly"]
assert set(JobKindName.__args__) == set(JOB_KINDS)  # type: ignore[attr-defined]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- health and units -------------------------------------------------------------------------------------


class HealthPublic(_Public):
    """The service is up."""

    status: Literal["ok"] = "ok"
    version: str
    database: str = Field(description="sqlite or postgresql")


class UnitPublic(_Public):
    """A unit of the hospital."""

    id: str
    name: str
    kind: str
    beds: int = Field(description="Staffed beds (ED: trolleys) [count]")


# -- census and twins -------------------------------------------------------------------------------------


class CensusUnitPublic(_Public):
    """Patients in one unit now."""

    unit: str = Field(description="Unit id")
    kind: str | None = Field(description="ed, ward, icu, ... (null for a unit the scenario does not declare)")
    beds: int | None = Field(description="Staffed beds of the unit, when the scenario knows it [count]")
    census: int = Field(description="Patients in the unit [count]")
    free_beds: int | None = Field(description="beds - census, negative when over capacity [count]")
    occupancy: float | None = Field(description="census / beds (null without beds)")
    high_acuity: int = Field(description="Patients in the high NEWS2 band [count]")
    boarding: int = Field(description="ED only: admitted patients still in the ED [count]")


class CensusPublic(_Public):
    """Patients in each unit now."""

    as_of: datetime
    total: int = Field(description="Patients inside the hospital, located or not [count]")
    units: list[CensusUnitPublic]


class TwinPublic(_Public):
    """One stay's patient twin, pseudonymised: salted keys, times to the hour, no bed."""

    encounter_id: str = Field(description="Salted key of the stay")
    patient_key: str = Field(description="Salted key of the patient")
    status: str
    unit: str | None
    unit_since: datetime | None = Field(description="In this unit since, to the hour [UTC]")
    service: str | None
    admission_type: str | None
    arrived_at: datetime | None = Field(description="Arrival, to the hour [UTC]")
    admitted_at: datetime | None = Field(description="Admission, to the hour [UTC]")
    discharged_at: datetime | None = Field(description="Discharge, to the hour [UTC]")
    length_of_stay_hours: float | None = Field(description="Elapsed stay, whole hours [hours]")
    news2_score: int | None
    acuity_band: str | None
    news2_observed_at: datetime | None = Field(description="Newest NEWS2 observation, to the hour [UTC]")


class TwinsPublic(_Public):
    """The twins of the patients inside the hospital."""

    as_of: datetime
    count: int
    twins: list[TwinPublic]


class CensusReadingPublic(_Public):
    """The census of one unit at one past moment."""

    unit_id: str
    at: datetime
    census: int = Field(description="Patients in the unit then [count]")
    high_acuity: int | None = Field(
        None, description="Of them, in the high NEWS2 band, when a twin snapshot was kept then [count]"
    )


class CensusHistoryPublic(_Public):
    """The census by unit at past moments, counted from the stays in the event log."""

    until: datetime = Field(description="End of the window asked for (readings stop at the newest event)")
    days: int = Field(description="Days before ``until`` covered [days]")
    step_hours: int = Field(description="Hours between readings [hours]")
    readings: list[CensusReadingPublic]


# -- forecasts --------------------------------------------------------------------------------------------


class ForecastPointPublic(_Public):
    """Census forecast of one unit at one hour (``patients.census.schema.CENSUS_FORECAST_SCHEMA``)."""

    unit_id: str
    at: datetime
    horizon_hours: int
    mean: float | None
    p05: float | None
    p50: float | None
    p95: float | None
    mean_high_acuity: float | None
    p05_high_acuity: float | None = Field(
        None, description="5th percentile of high-acuity patients, when the forecast keeps it"
    )
    p95_high_acuity: float | None = Field(
        None, description="95th percentile of high-acuity patients, when the forecast keeps it"
    )
    beds: int | None
    p_over_capacity: float | None = Field(description="Share of paths with census above beds")


class ForecastUnitPublic(_Public):
    """The forecast of one unit over the hours returned, in a line."""

    unit_id: str
    beds: int | None
    peak_mean: float | None = Field(description="Highest mean census [patients]")
    peak_p95: float | None = Field(description="Highest 95th percentile of census [patients]")
    max_p_over_capacity: float | None = Field(description="Highest chance of more patients than beds")
    hours_at_risk: int = Field(description="Hours with a chance over 10 % of more patients than beds")


class ForecastPublic(_Public):
    """The latest census forecast."""

    as_of: datetime = Field(description="Forecast origin")
    created_at: datetime
    hours: int = Field(description="Hours after the origin returned")
    units: list[ForecastUnitPublic]
    points: list[ForecastPointPublic]


# -- KPIs -------------------------------------------------------------------------------------------------


class KpiSummaryPublic(_Public):
    """Mean of one KPI of one scenario over the replications, with its confidence interval."""

    scenario: str
    metric: str
    replications: int
    mean: float | None
    std: float | None
    half_width: float | None
    lower: float | None
    upper: float | None


class KpiComparisonPublic(_Public):
    """What-if minus baseline for one KPI (paired over replications), with its confidence interval."""

    metric: str
    replications: int
    against_mean: float | None
    scenario_mean: float | None
    difference: float | None
    half_width: float | None
    lower: float | None
    upper: float | None
    relative_difference: float | None
    significant: bool | None
    lower_is_better: bool | None


class KpisPublic(_Public):
    """The KPIs of a what-if run."""

    run_id: int
    scenario_name: str
    scenario_version: int | None
    status: str
    seed: int
    replications: int
    started_at: datetime
    finished_at: datetime | None
    summary: list[KpiSummaryPublic]
    comparison: list[KpiComparisonPublic]


# -- plans and alerts -------------------------------------------------------------------------------------


class PlanPublic(_Public):
    """One version of a plan."""

    kind: str
    version: int
    status: str
    created_at: datetime
    created_by: str | None
    payload: dict[str, Any]


class NightlyRunPublic(_Public):
    """How the newest nightly plan run ended (from its audit entry)."""

    outcome: str = Field(description="ok, failed or cancelled")
    recorded_at: datetime
    plan_date: str | None = Field(description="Local date the run planned from (YYYY-MM-DD)")
    stage: str | None = Field(description="Stage it stopped at (failed or cancelled runs)")
    error: str | None = Field(description="Why it failed, in words (failed or cancelled runs)")
    plan_kind: str | None = Field(description="Kind of the plan published (ok runs)")
    plan_version: int | None = Field(description="Version of the plan published (ok runs)")


class WhatIfRunPublic(_Public):
    """A run of the hospital model (a what-if and its baseline)."""

    run_id: int = Field(description="Its KPIs are at GET /kpis/{run_id}")
    scenario_name: str
    scenario_version: int | None = Field(description="Saved version run (null for a shipped scenario)")
    against: str | None = Field(description="Scenario compared against")
    status: str = Field(description="running, finished, failed or cancelled")
    seed: int
    replications: int = Field(description="Replications asked for")
    replications_finished: int | None
    started_at: datetime
    finished_at: datetime | None
    has_results: bool = Field(description="True when its KPIs can be read")


class AlertsPublic(_Public):
    """Pressure alerts of the latest nightly plan."""

    plan_kind: str
    plan_version: int
    created_at: datetime
    alerts: list[dict[str, Any]]


# -- scenarios --------------------------------------------------------------------------------------------


class ScenarioCreate(BaseModel):
    """A scenario file to save as the next version of ``name``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SCENARIO_NAME_PATTERN, description="Saved name (letters, digits, _ and -)")
    toml_text: str = Field(max_length=1_000_000, description="The scenario file (TOML)")


class ScenarioPublic(_Public):
    """One saved version of a scenario."""

    name: str
    version: int
    digest: str = Field(description="SHA-256 of the TOML text")
    created_at: datetime
    created_by: str | None
    toml_text: str
    versions: list[int] = Field(description="Every saved version of this name")


class ScenarioSummaryPublic(_Public):
    """A saved scenario, by its newest version."""

    name: str
    latest_version: int
    digest: str
    created_at: datetime


class ShippedScenarioSummaryPublic(_Public):
    """A scenario file shipped with the product (run by name; save an edited copy to change it)."""

    name: str
    title: str = Field(description="The scenario's own name, e.g. 'Winter surge'")
    digest: str = Field(description="SHA-256 of the TOML text")


class ShippedScenarioPublic(ShippedScenarioSummaryPublic):
    """A shipped scenario file with its text."""

    toml_text: str


# -- jobs -------------------------------------------------------------------------------------------------


class JobCreate(BaseModel):
    """A long job to run."""

    model_config = ConfigDict(extra="forbid")

    kind: JobKindName
    params: dict[str, Any] = Field(default_factory=dict, description="See docs/reference/api.md")


class JobPublic(_Public):
    """A job's status and progress."""

    id: str
    kind: str
    status: str = Field(description="queued, running, finished, failed, cancelled or interrupted")
    params: dict[str, Any]
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress_done: int
    progress_total: int
    message: str
    cancel_requested: bool
    error: str | None


class JobResultPublic(_Public):
    """A finished (or cancelled, with what was done) job's result."""

    id: str
    kind: str
    status: str
    result: dict[str, Any]


# -- FHIR -------------------------------------------------------------------------------------------------


class OperationOutcomeIssue(_Public):
    """One issue of a FHIR OperationOutcome."""

    severity: Literal["fatal", "error", "warning", "information"]
    code: str = Field(description="FHIR issue type, e.g. invalid, not-supported, processing")
    diagnostics: str
    expression: list[str] = Field(description="Where, e.g. Bundle.entry[3].resource.status")


class OperationOutcome(_Public):
    """A FHIR R4 OperationOutcome."""

    resourceType: Literal["OperationOutcome"] = "OperationOutcome"
    issue: list[OperationOutcomeIssue]


class BundleEntryResponse(_Public):
    """What happened to one entry."""

    status: str = Field(description="HTTP status of the entry, e.g. '201 Created'")
    outcome: OperationOutcome | None = None


class BundleResponseEntry(_Public):
    """One entry of a batch or transaction response."""

    response: BundleEntryResponse


class BundleResponse(_Public):
    """A FHIR batch-response or transaction-response Bundle: one entry per entry sent, in order."""

    resourceType: Literal["Bundle"] = "Bundle"
    type: Literal["batch-response", "transaction-response"]
    entry: list[BundleResponseEntry]
