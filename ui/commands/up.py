"""``hospital-twin up``: serve the API and the command view together on 127.0.0.1.

Registered by ``ui/cli.py``: ``app.command("up")(up)``. ``make run`` ends with it, after building the demo
hospital and running the nightly plan once.

Both run as child processes (uvicorn for the API, ``streamlit run`` for the view in embedded mode, reading
the same store). The command waits until both answer their health checks, prints their addresses, then
stays until Ctrl+C or SIGTERM, when it stops both. If either child dies, the other is stopped and the
command exits non-zero with the tail of the dead child's output, so a broken start is never silent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated

import httpx
import typer

from ops.settings import SaltNotConfigured, ingest_salt
from ops.store import open_store
from ops.store.tokens import ROLES, create_token
from ui.commands.view import VIEW_HOST, view_command, view_environment

DEMO_TOKEN_NAME = "make-run"
"""Name of the token ``up`` creates for the local user when the token file is absent."""

STARTUP_TIMEOUT_S = 90.0
"""How long both services get to answer their health checks [s]."""

EXIT_START_FAILED = 3


@dataclass
class _Child:
    """A service started by ``up``: its name, process, health address and captured output."""

    name: str
    process: subprocess.Popen[bytes]
    health_url: str
    log: IO[bytes]

    def output_tail(self, lines: int = 20) -> str:
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` yet."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def api_command(port: int, database: str | None) -> list[str]:
    """The command line of the API service on ``127.0.0.1:port``."""
    command = [sys.executable, "-m", "ui.cli", "serve", "--host", VIEW_HOST, "--port", str(port)]
    if database is not None:
        command += ["--database", database]
    return command


def check_salt(database: str | None) -> str | None:
    """Why the API would refuse to start for want of a pseudonymisation salt, or ``None`` when it has one.

    For the embedded store this creates its salt file (``var/salt``) the first time, as the API would.
    """
    with open_store(database) as store:
        try:
            ingest_salt(store)
        except SaltNotConfigured as error:
            return str(error)
    return None


def ensure_token(token_file: Path, database: str | None, role: str) -> bool:
    """Create a token of ``role`` into ``token_file`` (mode 600) unless the file exists; True if created."""
    if token_file.exists():
        return False
    token_file.parent.mkdir(parents=True, exist_ok=True)
    with open_store(database) as store:
        secret, token = create_token(store, name=DEMO_TOKEN_NAME, role=role)
        store.write_audit("cli:up", "create API token", "ok", {"token_id": token.id, "role": role})
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return True


def _start(name: str, command: Sequence[str], env: dict[str, str], health_url: str) -> _Child:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _stop, after the child has gone
    # A new session: Ctrl+C in the terminal reaches ``up`` only, which then stops the children in order.
    process = subprocess.Popen(
        list(command), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return _Child(name, process, health_url, log)


def _wait_healthy(children: Sequence[_Child], timeout_s: float) -> _Child | None:
    """Wait until every child answers 200 on its health address; the first child that died, else None."""
    deadline = time.monotonic() + timeout_s
    pending = list(children)
    while pending:
        for child in list(pending):
            if child.process.poll() is not None:
                return child
            try:
                if httpx.get(child.health_url, timeout=1.0).status_code == 200:
                    pending.remove(child)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(", ".join(child.name for child in pending))
        time.sleep(0.3)
    return None


def _stop(children: Sequence[_Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        child.log.close()


def up(
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the API.")] = 8000,
    view_port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port of the command view.")] = 8501,
    database: Annotated[
        str | None, typer.Option(help="Store URL; DATABASE_URL, else var/hospital_twin.db, when absent.")
    ] = None,
    scenario: Annotated[str, typer.Option(help="The hospital shown by the view.")] = "baseline",
    token_file: Annotated[
        Path, typer.Option(help="File holding an API token for you; created (mode 600) when absent.")
    ] = Path("var/api-token"),
    token_role: Annotated[str, typer.Option(help=f"Role of a token created here: {', '.join(ROLES)}.")] = (
        "planner"
    ),
) -> None:
    """Serve the API and the command view on 127.0.0.1, print their addresses, stop both on Ctrl+C."""
    if token_role not in ROLES:
        raise typer.BadParameter(
            f"{token_role!r} is not one of {', '.join(ROLES)}", param_hint="--token-role"
        )
    for option, port in (("--api-port", api_port), ("--view-port", view_port)):
        if not port_is_free(VIEW_HOST, port):
            typer.echo(
                f"up: port {port} on {VIEW_HOST} is in use (another `hospital-twin up`?); "
                f"stop that or choose another with {option}",
                err=True,
            )
            raise typer.Exit(code=2)
    if api_port == view_port:
        typer.echo("up: --api-port and --view-port must differ", err=True)
        raise typer.Exit(code=2)

    no_salt = check_salt(database)
    if no_salt is not None:
        typer.echo(f"up: {no_salt}", err=True)
        raise typer.Exit(code=2)
    created = ensure_token(token_file, database, token_role)
    api_url = f"http://{VIEW_HOST}:{api_port}"
    view_url = f"http://{VIEW_HOST}:{view_port}"
    children = [
        _start("API", api_command(api_port, database), dict(os.environ), f"{api_url}/health"),
        _start(
            "command view",
            view_command(view_port),
            view_environment(None, database, scenario),
            f"{view_url}/_stcore/health",
        ),
    ]
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            dead = _wait_healthy(children, STARTUP_TIMEOUT_S)
        except TimeoutError as late:
            typer.echo(f"up: no answer within {STARTUP_TIMEOUT_S:.0f} s from: {late}", err=True)
            for child in children:
                typer.echo(f"--- {child.name} output ---\n{child.output_tail()}", err=True)
            raise typer.Exit(code=EXIT_START_FAILED) from None
        if dead is not None:
            code = dead.process.returncode
            typer.echo(f"up: the {dead.name} stopped while starting (exit {code}):", err=True)
            typer.echo(dead.output_tail(), err=True)
            raise typer.Exit(code=EXIT_START_FAILED)

        token_note = "created now" if created else "kept"
        typer.echo(f"API:          {api_url}   (OpenAPI at {api_url}/docs)")
        typer.echo(f"Command view: {view_url}")
        typer.echo(
            f"API token ({token_role}, {token_note}) in {token_file}: send it as 'Authorization: Bearer …'"
        )
        typer.echo("Ctrl+C stops both.", err=False)
        sys.stdout.flush()
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    typer.echo(
                        f"up: the {child.name} stopped (exit {child.process.returncode}):\n"
                        f"{child.output_tail()}",
                        err=True,
                    )
                    raise typer.Exit(code=EXIT_START_FAILED)
            time.sleep(0.5)
        typer.echo("stopping the API and the command view")
    finally:
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
