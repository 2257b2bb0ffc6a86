"""``hospital-twin view``: the Streamlit command view on 127.0.0.1.

Registered by ``ui/cli.py``: ``app.command("view")(view)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from ui.view.sources import API_URL_ENV, SCENARIO_ENV

VIEW_APP = Path(__file__).resolve().parent.parent / "view" / "app.py"
"""The Streamlit entry of the command view."""

VIEW_HOST = "127.0.0.1"
"""The view listens on this machine only; put the hospital's proxy in front of it to share it."""


def view_command(port: int) -> list[str]:
    """The ``streamlit run`` command line of the view on ``127.0.0.1:port``.

    The toolbar is in ``viewer`` mode: planners see no developer menu and no *Deploy* button.
    """
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(VIEW_APP),
        "--server.address",
        VIEW_HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def view_environment(
    api: str | None, database: str | None, scenario: str, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of the view process: the API URL (API mode) or the store URL (embedded mode)."""
    env = dict(os.environ if base is None else base)
    if api is not None:
        env[API_URL_ENV] = api
    if database is not None:
        env["DATABASE_URL"] = database
    env[SCENARIO_ENV] = scenario
    return env


def view(
    api: Annotated[
        str | None,
        typer.Option(
            help="Read from this API (e.g. http://127.0.0.1:8000; token from HOSPITAL_TWIN_API_TOKEN). "
            "Default: HOSPITAL_TWIN_API_URL, else the store directly (embedded)."
        ),
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the view.")] = 8501,
    database: Annotated[
        str | None, typer.Option(help="Store URL in embedded mode; DATABASE_URL, else var/hospital_twin.db.")
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="The hospital shown (saved or shipped scenario).")
    ] = "baseline",
) -> None:
    """Open the command view (now, forecast, what-if, staffing, theatres, supply) in a browser.

    In embedded mode every save, run and publication is recorded in the audit log under the name in
    HOSPITAL_TWIN_VIEW_USER (default: your user name on this machine).
    """
    env = view_environment(api, database, scenario)
    mode = f"API {env[API_URL_ENV]}" if env.get(API_URL_ENV) else "embedded store"
    typer.echo(f"Command view on http://{VIEW_HOST}:{port} ({mode}); Ctrl+C stops it.")
    try:
        finished = subprocess.run(view_command(port), env=env, check=False)
    except KeyboardInterrupt:
        raise typer.Exit(code=0) from None
    raise typer.Exit(code=finished.returncode)
