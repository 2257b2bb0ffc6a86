"""Forecasts, KPIs, runs, plans and alerts.

Routes: ``/forecasts/census``, ``/kpis/{run_id}``, ``/runs``, ``/plans/...``, ``/nightly/last-run`` and
``/alerts``.

The routes are plain functions: FastAPI runs them in its thread pool, so their database and polars work
never holds up the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ops.jobs import SCENARIO_NAME_PATTERN
from ui.api import services
from ui.api.audit import record
from ui.api.deps import Publisher, Reader, SettingsDep, StoreDep
from ui.api.errors import AUTH_ERRORS, NotFound, error_responses
from ui.api.schemas import (
    AlertsPublic,
    ForecastPublic,
    KpisPublic,
    NightlyRunPublic,
    PlanPublic,
    WhatIfRunPublic,
)

router = APIRouter()

PlanKind = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_\-]{0,49}$", description="roster, surgery, nightly, supplies, ...")
]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/forecasts/census",
    tags=["forecasts"],
    summary="Latest census forecast",
    response_model=ForecastPublic,
    responses={**AUTH_ERRORS, **error_responses(404, 409)},
)
def census_forecast(
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    hours: Annotated[int | None, Query(ge=1, le=60 * 24, description="Hours after the origin")] = None,
    unit: Annotated[str | None, Query(pattern=SCENARIO_NAME_PATTERN, description="Only this unit")] = None,
) -> Response:
    """Census by unit and hour with its 5–95 % band and the chance of running out of beds.

    A forecast stored in the last few seconds may show a few seconds late (answers are reused briefly).
    """
    encoded = services.census_forecast_json(store, hours or settings.forecast_hours, unit)
    return Response(encoded, media_type="application/json")


@router.get(
    "/kpis/{run_id}",
    tags=["kpis"],
    summary="KPIs of a what-if run",
    response_model=KpisPublic,
    responses={**AUTH_ERRORS, **error_responses(404, 409)},
)
def run_kpis(caller: Reader, store: StoreDep, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    """Each KPI's mean with its 95 % interval per scenario, and the paired what-if minus baseline."""
    return Response(services.run_kpis_json(store, run_id), media_type="application/json")


@router.get("/runs", tags=["kpis"], summary="What-if runs", responses=AUTH_ERRORS)
def list_runs(
    caller: Reader, store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[WhatIfRunPublic]:
    """The newest runs of the hospital model first; the KPIs of each are at ``GET /kpis/{run_id}``."""
    return [WhatIfRunPublic(**run) for run in services.whatif_runs(store, limit)]


@router.get(
    "/plans/{kind}/latest",
    tags=["plans"],
    summary="The published plan of a kind",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def latest_plan(caller: Reader, store: StoreDep, kind: PlanKind) -> PlanPublic:
    """The plan of ``kind`` in force."""
    return PlanPublic(**services.latest_plan(store, kind))


@router.get(
    "/plans/{kind}/draft",
    tags=["plans"],
    summary="The draft of a kind awaiting publication",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def draft_plan(caller: Reader, store: StoreDep, kind: PlanKind) -> PlanPublic:
    """The newest version of ``kind`` when it is a draft (e.g. a roster job's result); 404 otherwise."""
    return PlanPublic(**services.draft_plan(store, kind))


@router.get(
    "/plans/{kind}/{version}",
    tags=["plans"],
    summary="One version of a plan",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def plan_version(caller: Reader, store: StoreDep, kind: PlanKind, version: Version) -> PlanPublic:
    """Any version of a plan, published, draft or superseded."""
    return PlanPublic(**services.plan_version(store, kind, version))


@router.post(
    "/plans/{kind}/{version}/publish",
    tags=["plans"],
    summary="Publish a version of a plan",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def publish_plan(
    caller: Publisher, request: Request, store: StoreDep, kind: PlanKind, version: Version
) -> PlanPublic:
    """Make this version the plan in force (a draft, or an older version again).

    The version in force before it is superseded in the same transaction; 404 for an unknown version.
    """
    try:
        published = services.publish_plan(store, kind, version)
    except NotFound:
        record(store, caller, "publish plan", "rejected", {"plan_kind": kind, "version": version})
        raise
    record(store, caller, "publish plan", "ok", {"plan_kind": kind, "version": version})
    return PlanPublic(**published)


@router.get(
    "/nightly/last-run",
    tags=["plans"],
    summary="How the last nightly plan run ended",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def last_nightly_run(caller: Reader, store: StoreDep) -> NightlyRunPublic:
    """The outcome of the newest nightly run; when it failed, the stage and the reason.

    After a failure the published plan is the one before. 404 before the first run.
    """
    return NightlyRunPublic(**services.last_nightly_run(store))


@router.get(
    "/alerts",
    tags=["plans"],
    summary="Alerts of the nightly plan",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def alerts(caller: Reader, store: StoreDep) -> AlertsPublic:
    """Pressure alerts (unfilled shifts, predicted over-capacity) of the newest published nightly plan."""
    return AlertsPublic(**services.alerts(store))
