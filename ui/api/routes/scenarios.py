"""Scenarios: ``GET/POST /scenarios``, ``GET /scenarios/{name}[/versions/{version}]``.

Every save is a new version; old versions stay readable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.exceptions import RequestValidationError

from ops.jobs import SCENARIO_NAME_PATTERN, parse_scenario_text
from ops.store import ScenarioVersion
from scenarios import ScenarioError
from ui.api.audit import record
from ui.api.deps import Reader, ScenarioWriter, StoreDep
from ui.api.errors import AUTH_ERRORS, NotFound, error_responses
from ui.api.schemas import ScenarioCreate, ScenarioPublic, ScenarioSummaryPublic

router = APIRouter(prefix="/scenarios", tags=["scenarios"])

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


@router.get("", summary="Saved scenarios", responses=AUTH_ERRORS)
async def list_scenarios(caller: Reader, store: StoreDep) -> list[ScenarioSummaryPublic]:
    """Every saved scenario by its newest version."""
    newest = [store.scenario_version(name) for name in store.scenario_names()]
    return [
        ScenarioSummaryPublic(
            name=saved.name, latest_version=saved.version, digest=saved.digest, created_at=saved.created_at
        )
        for saved in newest
    ]


@router.post(
    "",
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
    "/{name}", summary="Newest version of a scenario", responses={**AUTH_ERRORS, **error_responses(404)}
)
async def read_scenario(caller: Reader, store: StoreDep, name: ScenarioName) -> ScenarioPublic:
    """The newest saved version, with the list of every version."""
    versions = store.scenario_versions(name)
    if not versions:
        raise NotFound(f"no saved scenario {name!r}")
    return _public(versions[-1], [saved.version for saved in versions])


@router.get(
    "/{name}/versions/{version}",
    summary="One version of a scenario",
    responses={**AUTH_ERRORS, **error_responses(404)},
)
async def read_scenario_version(
    caller: Reader, store: StoreDep, name: ScenarioName, version: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> ScenarioPublic:
    """A saved version, old or new."""
    versions = store.scenario_versions(name)
    chosen = [saved for saved in versions if saved.version == version]
    if not chosen:
        raise NotFound(f"no saved scenario {name!r} version {version}")
    return _public(chosen[0], [saved.version for saved in versions])
