"""The FastAPI service: read the twins, forecasts, KPIs and plans; save scenarios; run long jobs; ingest FHIR.

Start it with ``hospital-twin serve``; build it in-process with :func:`create_app`.
"""

from ui.api.app import create_app
from ui.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
