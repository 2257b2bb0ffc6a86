"""The FastAPI service: read the twins, forecasts, KPIs and plans; save scenarios; run long jobs; ingest FHIR.

Start it with ``hospital-twin serve``; build it in-process with :func:`create_app`. The names are imported
on first use, so that :mod:`ui.api.services` (which the command view shares) loads without FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui.api.app import create_app
    from ui.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ui.api.app import create_app

        return create_app
    if name == "ApiSettings":
        from ui.api.settings import ApiSettings

        return ApiSettings
    raise AttributeError(f"module 'ui.api' has no attribute {name!r}")
