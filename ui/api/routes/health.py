"""``GET /health``: is the service up (no token needed)."""

from __future__ import annotations

from importlib import metadata

from fastapi import APIRouter

from ui.api.deps import StoreDep
from ui.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return metadata.version("hospital-twin")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@router.get("/health", summary="The service is up")
async def health(store: StoreDep) -> HealthPublic:
    """Answer ``ok`` with the product version and the kind of database."""
    return HealthPublic(version=_version(), database=store.dialect)
