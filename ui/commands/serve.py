"""``hospital-twin serve``: the API service on uvicorn.

Registered by ``ui/cli.py``: ``app.command("serve")(serve)``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ops.settings import SaltNotConfigured
from ui.api import ApiSettings, create_app

EXIT_NO_SALT = 2
"""Exit status when no secret pseudonymisation salt is configured."""


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
    is at /openapi.json and readable at /docs. FHIR bundles are pseudonymised with HOSPITAL_TWIN_SALT (or
    the file HOSPITAL_TWIN_SALT_FILE; an embedded store keeps a random one in var/salt); with PostgreSQL and
    neither set, the service refuses to start.
    """
    import uvicorn  # the server is only needed by this command

    settings = ApiSettings(job_workers=job_workers)
    if database is not None:
        settings = settings.model_copy(update={"database_url": database})
    try:
        application = create_app(settings)
    except SaltNotConfigured as error:
        typer.echo(f"serve: {error}", err=True)
        raise typer.Exit(code=EXIT_NO_SALT) from None
    # Access logs carry the method, path and status only: no route takes an identifier in its path.
    uvicorn.run(application, host=host, port=port, log_level=log_level)
