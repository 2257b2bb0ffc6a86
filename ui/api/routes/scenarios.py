"""Scenarios: saved ones, versioned, and the files shipped with the product.

Routes: ``GET/POST /scenarios``, ``GET /scenarios/{name}[/versions/{version}]`` and
``GET /shipped-scenarios[/{name}]``.

Every save is a new version; old versions stay readable. A what-if may run a saved or a shipped scenario
by name (a saved one of the same name wins).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError

from ops.jobs import SCENARIO_NAME_PATTERN, parse_scenario_text
from ops.store import ScenarioVersion
from scenarios import ScenarioError
from ui.api import services
from ui.api.answers import encode
from ui.api.audit import record
from ui.api.deps import AnswersDep, Reader, ScenarioWriter, StoreDep
from ui.api.errors import AUTH_ERRORS, NotFound, error_responses
from ui.api.schemas import (
    ScenarioCreate,
    ScenarioPublic,
    ScenarioSummaryPublic,
    ShippedScenarioPublic,
    ShippedScenarioSummaryPublic,
)

router = APIRouter(tags=["scenarios"])

ScenarioName = Annotated[str, Path(pattern=SCENARIO_NAME_PATTERN)]


def _public(saved: ScenarioVersion, versions: list[int]) -> ScenarioPublic:
    return ScenarioPublic(
        name=saved.name,
        version=saved.version,
        digest=saved.digest,
        created_at=saved.created_at,
        created_by=saved.created_by,
        toml_text=saved.toml_text,
        versions=versions,
    )


@router.get(
    "/scenarios",
    summary="Saved scenarios",
    response_model=list[ScenarioSummaryPublic],
    responses=AUTH_ERRORS,
)
async def list_scenarios(caller: Reader, store: StoreDep, answers: AnswersDep) -> Response:
    """Every saved scenario by its newest version."""

    def build() -> bytes:
        newest = [store.scenario_version(name) for name in store.scenario_names()]
        return encode(
            [
                ScenarioSummaryPublic(
                    name=saved.name,
                    latest_version=saved.version,
                    digest=saved.digest,
                    created_at=saved.created_at,
                )
                for saved in newest
            ]
        )

    return await answers.response(("scenarios",), build)


@router.post(
    "/scenarios",
    status_code=status.HTTP_201_CREATED,
    summary="Save a scenario as its next version",
    responses={**AUTH_ERRORS, **error_responses(400)},
)
def create_scenario(
    caller: ScenarioWriter, request: Request, store: StoreDep, scenario: ScenarioCreate
) -> ScenarioPublic:
    """Validate the scenario file and save it as the next version of ``name``.

    422 lists every problem with the key path at fault (``loc`` ends with the path in the file).
    """
    try:
        parse_scenario_text(scenario.name, scenario.toml_text)
    except ScenarioError as error:
        record(
            store,
            caller,
            "save scenario",
            "rejected",
            {"name": scenario.name, "problems": len(error.problems)},
        )
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "toml_text", *(part for part in problem.path.split(".") if part)),
                    "msg": problem.reason,
                    "type": "scenario_error",
                }
                for problem in error.problems
            ]
        ) from None
    saved = store.save_scenario(scenario.name, scenario.toml_text, created_by=caller.actor)
    record(store, caller, "save scenario", "ok", {"name": saved.name, "version": saved.version})
    return _public(saved, [version.version for version in store.scenario_versions(saved.name)])


@router.get(
    "/scenarios/{name}",
    summary="Newest version of a scenario",
    response_model=ScenarioPublic,
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def read_scenario(caller: Reader, store: StoreDep, answers: AnswersDep, name: ScenarioName) -> Response:
    """The newest saved version, with the list of every version."""

    def build() -> bytes:
        versions = store.scenario_versions(name)
        if not versions:
            raise NotFound(f"no saved scenario {name!r}")
        return encode(_public(versions[-1], [saved.version for saved in versions]))

    return await answers.response(("scenario", name), build)


@router.get(
    "/scenarios/{name}/versions/{version}",
    summary="One version of a scenario",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def read_scenario_version(
    caller: Reader, store: StoreDep, name: ScenarioName, version: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> ScenarioPublic:
    """A saved version, old or new."""
    versions = store.scenario_versions(name)
    chosen = [saved for saved in versions if saved.version == version]
    if not chosen:
        raise NotFound(f"no saved scenario {name!r} version {version}")
    return _public(chosen[0], [saved.version for saved in versions])


@router.get(
    "/shipped-scenarios",
    summary="Scenario files shipped with the product",
    response_model=list[ShippedScenarioSummaryPublic],
    responses=AUTH_ERRORS,
)
async def list_shipped_scenarios(caller: Reader, answers: AnswersDep) -> Response:
    """Every shipped scenario file (``baseline``, ``winter_surge``, ...) by name, title and digest."""

    def build() -> bytes:
        return encode([ShippedScenarioSummaryPublic(**shipped) for shipped in services.shipped_scenarios()])

    return await answers.response(("shipped_scenarios",), build)


@router.get(
    "/shipped-scenarios/{name}",
    summary="A shipped scenario file",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
def read_shipped_scenario(caller: Reader, name: ScenarioName) -> ShippedScenarioPublic:
    """A shipped scenario with its TOML text (edit it and save it under a name of yours to change it)."""
    return ShippedScenarioPublic(**services.shipped_scenario(name))
