"""Forecasts, KPIs, runs, plans and alerts.

Routes: ``/forecasts/census``, ``/kpis/{run_id}``, ``/runs``, ``/plans/...``, ``/nightly/last-run`` and
``/alerts``.

The reads come from :class:`~ui.api.answers.Answers` (sent from memory when recent, else built in the
thread pool); the publish route is a plain function that FastAPI runs in its thread pool. Database and
polars work never holds up the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from ops.jobs import SCENARIO_NAME_PATTERN
from ops.store import Store
from ui.api import services
from ui.api.answers import encode
from ui.api.audit import record
from ui.api.deps import AnswersDep, Publisher, Reader, SettingsDep, StoreDep
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
async def census_forecast(
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    answers: AnswersDep,
    hours: Annotated[int | None, Query(ge=1, le=60 * 24, description="Hours after the origin")] = None,
    unit: Annotated[str | None, Query(pattern=SCENARIO_NAME_PATTERN, description="Only this unit")] = None,
) -> Response:
    """Census by unit and hour with its 5–95 % band and the chance of running out of beds.

    A forecast stored in the last few seconds may show a few seconds late (answers are reused briefly).
    """
    horizon = hours or settings.forecast_hours
    build = partial(services.census_forecast_json, store, horizon, unit)
    return await answers.response(("census_forecast", horizon, unit), build)


@router.get(
    "/kpis/{run_id}",
    tags=["kpis"],
    summary="KPIs of a what-if run",
    response_model=KpisPublic,
    responses={**AUTH_ERRORS, **error_responses(404, 409)},
)
async def run_kpis(
    caller: Reader,
    store: StoreDep,
    answers: AnswersDep,
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """Each KPI's mean with its 95 % interval per scenario, and the paired what-if minus baseline."""
    return await answers.response(("kpis", run_id), partial(services.run_kpis_json, store, run_id))


@router.get(
    "/runs",
    tags=["kpis"],
    summary="What-if runs",
    response_model=list[WhatIfRunPublic],
    responses=AUTH_ERRORS,
)
async def list_runs(
    caller: Reader, store: StoreDep, answers: AnswersDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Response:
    """The newest runs of the hospital model first; the KPIs of each are at ``GET /kpis/{run_id}``."""

    def build() -> bytes:
        return encode([WhatIfRunPublic(**run) for run in services.whatif_runs(store, limit)])

    return await answers.response(("runs", limit), build)


@router.get(
    "/plans/{kind}/latest",
    tags=["plans"],
    summary="The published plan of a kind",
    response_model=PlanPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def latest_plan(caller: Reader, store: StoreDep, answers: AnswersDep, kind: PlanKind) -> Response:
    """The plan of ``kind`` in force."""
    return await answers.response(("plan", kind, "latest"), partial(_plan, services.latest_plan, store, kind))


@router.get(
    "/plans/{kind}/draft",
    tags=["plans"],
    summary="The draft of a kind awaiting publication",
    response_model=PlanPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def draft_plan(caller: Reader, store: StoreDep, answers: AnswersDep, kind: PlanKind) -> Response:
    """The newest version of ``kind`` when it is a draft (e.g. a roster job's result); 404 otherwise."""
    return await answers.response(("plan", kind, "draft"), partial(_plan, services.draft_plan, store, kind))


@router.get(
    "/plans/{kind}/{version}",
    tags=["plans"],
    summary="One version of a plan",
    response_model=PlanPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def plan_version(
    caller: Reader, store: StoreDep, answers: AnswersDep, kind: PlanKind, version: Version
) -> Response:
    """Any version of a plan, published, draft or superseded."""

    def build() -> bytes:
        return encode(PlanPublic(**services.plan_version(store, kind, version)))

    return await answers.response(("plan", kind, version), build)


def _plan(find: Callable[[Store, str], dict[str, Any]], store: Store, kind: str) -> bytes:
    return encode(PlanPublic(**find(store, kind)))


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
    response_model=NightlyRunPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def last_nightly_run(caller: Reader, store: StoreDep, answers: AnswersDep) -> Response:
    """The outcome of the newest nightly run; when it failed, the stage and the reason.

    After a failure the published plan is the one before. 404 before the first run.
    """

    def build() -> bytes:
        return encode(NightlyRunPublic(**services.last_nightly_run(store)))

    return await answers.response(("nightly_last_run",), build)


@router.get(
    "/alerts",
    tags=["plans"],
    summary="Alerts of the nightly plan",
    response_model=AlertsPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def alerts(caller: Reader, store: StoreDep, answers: AnswersDep) -> Response:
    """Pressure alerts (unfilled shifts, predicted over-capacity) of the newest published nightly plan."""

    def build() -> bytes:
        return encode(AlertsPublic(**services.alerts(store)))

    return await answers.response(("alerts",), build)
