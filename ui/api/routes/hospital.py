"""The hospital now: ``GET /units``, ``GET /census/now``, ``GET /census/history`` and ``GET /twins``.

Each answer comes from :class:`~ui.api.answers.Answers`: sent from memory when recent, else built in the
thread pool, so database and polars work never holds up the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ops.jobs import SCENARIO_NAME_PATTERN
from ui.api import services
from ui.api.answers import encode
from ui.api.deps import AnswersDep, PatientReader, Reader, SettingsDep, StoreDep
from ui.api.errors import AUTH_ERRORS, error_responses
from ui.api.schemas import CensusHistoryPublic, CensusPublic, TwinsPublic, UnitPublic

router = APIRouter(tags=["hospital"])


@router.get(
    "/units",
    summary="Units of the hospital",
    response_model=list[UnitPublic],
    responses={**AUTH_ERRORS, **error_responses(409)},
)
async def list_units(caller: Reader, store: StoreDep, settings: SettingsDep, answers: AnswersDep) -> Response:
    """Every unit of the hospital scenario the service runs with: id, name, kind and beds."""

    def build() -> bytes:
        scenario = services.hospital_scenario(store, settings.scenario)
        return encode([UnitPublic(**unit) for unit in services.units(scenario)])

    return await answers.response(("units", settings.scenario), build)


@router.get(
    "/census/now",
    summary="Patients in each unit now",
    response_model=CensusPublic,
    responses={**AUTH_ERRORS, **error_responses(409)},
)
async def census_now(
    caller: Reader, request: Request, store: StoreDep, settings: SettingsDep, answers: AnswersDep
) -> Response:
    """Patients inside each unit, occupancy against beds, and how many are in the high NEWS2 band.

    409 when no patient events were received yet.
    """
    twins = request.app.state.twins

    def build() -> bytes:
        scenario = services.hospital_scenario(store, settings.scenario)
        return encode(CensusPublic(**services.census_now(twins, store, scenario)))

    return await answers.response(("census_now", settings.scenario), build)


@router.get(
    "/census/history",
    summary="Census in each unit at past moments",
    response_model=CensusHistoryPublic,
    responses={**AUTH_ERRORS, **error_responses(409)},
)
async def census_history(
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    answers: AnswersDep,
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
    moment = _moment(until)

    def build() -> bytes:
        scenario = services.hospital_scenario(store, settings.scenario)
        return services.census_history_json(store, scenario, moment, days)

    return await answers.response(("census_history", settings.scenario, moment, days), build)


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
    "/twins",
    summary="Patient twins (pseudonymised)",
    response_model=TwinsPublic,
    responses={**AUTH_ERRORS, **error_responses(409)},
)
async def list_twins(
    caller: PatientReader,
    request: Request,
    store: StoreDep,
    answers: AnswersDep,
    unit: Annotated[str | None, Query(pattern=SCENARIO_NAME_PATTERN, description="Only this unit")] = None,
) -> Response:
    """The twins of the patients inside: salted keys, unit, stay so far and acuity; no identifier.

    Times are given to the hour and the stay in whole hours, and the bed is left out: an exact admission
    time, or a bed with its arrival time, could single out a patient (docs/reference/api.md).
    """
    twins = request.app.state.twins

    def build() -> bytes:
        return encode(TwinsPublic(**services.twins(twins, store, unit)))

    return await answers.response(("twins", unit), build)
