"""The hospital now: ``GET /units``, ``GET /census/now`` and ``GET /twins`` (pseudonymised)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ops.jobs import SCENARIO_NAME_PATTERN
from ui.api import services
from ui.api.deps import PatientReader, Reader, SettingsDep, StoreDep
from ui.api.errors import AUTH_ERRORS, error_responses
from ui.api.schemas import CensusPublic, TwinsPublic, UnitPublic

router = APIRouter(tags=["hospital"])


@router.get("/units", summary="Units of the hospital", responses={**AUTH_ERRORS, **error_responses(409)})
async def list_units(caller: Reader, store: StoreDep, settings: SettingsDep) -> list[UnitPublic]:
    """Every unit of the hospital scenario the service runs with: id, name, kind and beds."""
    return [
        UnitPublic(**unit) for unit in services.units(services.hospital_scenario(store, settings.scenario))
    ]


@router.get(
    "/census/now", summary="Patients in each unit now", responses={**AUTH_ERRORS, **error_responses(409)}
)
async def census_now(
    caller: Reader, request: Request, store: StoreDep, settings: SettingsDep
) -> CensusPublic:
    """Patients inside each unit, occupancy against beds, and how many are in the high NEWS2 band.

    409 when no patient events were received yet.
    """
    scenario = services.hospital_scenario(store, settings.scenario)
    return CensusPublic(**services.census_now(request.app.state.twins, store, scenario))


@router.get(
    "/twins", summary="Patient twins (pseudonymised)", responses={**AUTH_ERRORS, **error_responses(409)}
)
async def list_twins(
    caller: PatientReader,
    request: Request,
    store: StoreDep,
    unit: Annotated[str | None, Query(pattern=SCENARIO_NAME_PATTERN, description="Only this unit")] = None,
) -> TwinsPublic:
    """The twins of the patients inside: salted keys, place, stay so far and acuity; no identifier."""
    return TwinsPublic(**services.twins(request.app.state.twins, store, unit))
