"""The hospital now: ``GET /units``, ``GET /census/now``, ``GET /census/history`` and ``GET /twins``.

The routes are plain functions: FastAPI runs them in its thread pool, so their database and polars work
never holds up the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ops.jobs import SCENARIO_NAME_PATTERN
from ui.api import services
from ui.api.deps import PatientReader, Reader, SettingsDep, StoreDep
from ui.api.errors import AUTH_ERRORS, error_responses
from ui.api.schemas import CensusHistoryPublic, CensusPublic, TwinsPublic, UnitPublic

router = APIRouter(tags=["hospital"])


@router.get("/units", summary="Units of the hospital", responses={**AUTH_ERRORS, **error_responses(409)})
def list_units(caller: Reader, store: StoreDep, settings: SettingsDep) -> list[UnitPublic]:
    """Every unit of the hospital scenario the service runs with: id, name, kind and beds."""
    return [
        UnitPublic(**unit) for unit in services.units(services.hospital_scenario(store, settings.scenario))
    ]


@router.get(
    "/census/now", summary="Patients in each unit now", responses={**AUTH_ERRORS, **error_responses(409)}
)
def census_now(caller: Reader, request: Request, store: StoreDep, settings: SettingsDep) -> CensusPublic:
    """Patients inside each unit, occupancy against beds, and how many are in the high NEWS2 band.

    409 when no patient events were received yet.
    """
    scenario = services.hospital_scenario(store, settings.scenario)
    return CensusPublic(**services.census_now(request.app.state.twins, store, scenario))


@router.get(
    "/census/history",
    summary="Census in each unit at past moments",
    response_model=CensusHistoryPublic,
    responses={**AUTH_ERRORS, **error_responses(409)},
)
def census_history(
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    until: Annotated[
        datetime | None,
        Query(description="End of the window [UTC, with a time zone]; default the newest event"),
    ] = None,
    days: Annotated[int, Query(ge=1, le=31, description="Days before `until` [days]")] = 3,
) -> Response:
    """The census of every unit every 6 hours over the ``days`` before ``until``.

    Counted from the stays in the event log: the actuals the command view draws over a forecast.
    Readings later than the newest event are left out. 409 when no patient events were received yet;
    422 for an ``until`` without a time zone.
    """
    scenario = services.hospital_scenario(store, settings.scenario)
    encoded = services.census_history_json(store, scenario, _moment(until), days)
    return Response(encoded, media_type="application/json")


def _moment(until: datetime | None) -> datetime | None:
    """``until`` in UTC; 422 without a time zone or outside the years 1900-2200."""
    if until is None:
        return None
    problem = None
    if until.utcoffset() is None:
        problem = "needs a time zone, e.g. 2026-01-05T00:00:00Z"
    else:
        try:
            until = until.astimezone(UTC)
        except OverflowError:
            problem = "is out of range"
        else:
            if not 1900 <= until.year <= 2200:
                problem = "must be between the years 1900 and 2200"
    if problem is not None:
        raise RequestValidationError([{"loc": ("query", "until"), "msg": problem, "type": "value_error"}])
    return until


@router.get(
    "/twins", summary="Patient twins (pseudonymised)", responses={**AUTH_ERRORS, **error_responses(409)}
)
def list_twins(
    caller: PatientReader,
    request: Request,
    store: StoreDep,
    unit: Annotated[str | None, Query(pattern=SCENARIO_NAME_PATTERN, description="Only this unit")] = None,
) -> TwinsPublic:
    """The twins of the patients inside: salted keys, unit, stay so far and acuity; no identifier.

    Times are given to the hour and the stay in whole hours, and the bed is left out: an exact admission
    time, or a bed with its arrival time, could single out a patient (docs/reference/api.md).
    """
    return TwinsPublic(**services.twins(request.app.state.twins, store, unit))
