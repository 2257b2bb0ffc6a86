"""Forecasts, KPIs, plans and alerts: ``/forecasts/census``, ``/kpis/{run_id}``, ``/plans``, ``/alerts``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ops.jobs import SCENARIO_NAME_PATTERN
from ui.api import services
from ui.api.deps import Reader, SettingsDep, StoreDep
from ui.api.errors import AUTH_ERRORS, error_responses
from ui.api.schemas import AlertsPublic, ForecastPublic, KpisPublic, PlanPublic

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
async def census_forecast(
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
async def run_kpis(
    caller: Reader, store: StoreDep, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """Each KPI's mean with its 95 % interval per scenario, and the paired what-if minus baseline."""
    return Response(services.run_kpis_json(store, run_id), media_type="application/json")


@router.get(
    "/plans/{kind}/latest",
    tags=["plans"],
    summary="The published plan of a kind",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def latest_plan(caller: Reader, store: StoreDep, kind: PlanKind) -> PlanPublic:
    """The plan of ``kind`` in force."""
    return PlanPublic(**services.latest_plan(store, kind))


@router.get(
    "/plans/{kind}/{version}",
    tags=["plans"],
    summary="One version of a plan",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def plan_version(caller: Reader, store: StoreDep, kind: PlanKind, version: Version) -> PlanPublic:
    """Any version of a plan, published, draft or superseded."""
    return PlanPublic(**services.plan_version(store, kind, version))


@router.get(
    "/alerts",
    tags=["plans"],
    summary="Alerts of the nightly plan",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def alerts(caller: Reader, store: StoreDep) -> AlertsPublic:
    """Pressure alerts (unfilled shifts, predicted over-capacity) of the newest published nightly plan."""
    return AlertsPublic(**services.alerts(store))
