"""``hospital-twin serve``: the API service on uvicorn.

Registered by ``ui/cli.py``: ``app.command("serve")(serve)``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ui.api import ApiSettings, create_app


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    database: Annotated[
        str | None, typer.Option(help="Store URL; DATABASE_URL, else var/hospital_twin.db, when absent.")
    ] = None,
    job_workers: Annotated[int, typer.Option(min=1, max=16, help="Long jobs run at the same time.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API (census, twins, forecasts, KPIs, plans, scenarios, jobs, FHIR ingestion).

    Every route but /health needs a bearer token from `hospital-twin token create`. The OpenAPI document
    is at /openapi.json and readable at /docs.
    """
    import uvicorn  # the server is only needed by this command

    settings = ApiSettings(job_workers=job_workers)
    if database is not None:
        settings = settings.model_copy(update={"database_url": database})
    application = create_app(settings)
    # Access logs carry the method, path and status only: no route takes an identifier in its path.
    uvicorn.run(application, host=host, port=port, log_level=log_level)
