"""``hospital-twin view`` starts ``streamlit run`` on 127.0.0.1 with the chosen mode."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ui.commands.view import VIEW_APP, view, view_command, view_environment


def test_the_command_line_listens_on_loopback_only() -> None:
    command = view_command(8600)
    assert command[1:5] == ["-m", "streamlit", "run", str(VIEW_APP)]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8600"
    assert VIEW_APP.is_file()


def test_api_mode_and_embedded_mode_environments() -> None:
    api = view_environment("http://127.0.0.1:8000", None, "baseline", base={"PATH": "/bin"})
    assert api["HOSPITAL_TWIN_API_URL"] == "http://127.0.0.1:8000"
    embedded = view_environment(None, "sqlite:///x.db", "winter_surge", base={})
    assert "HOSPITAL_TWIN_API_URL" not in embedded
    assert embedded["DATABASE_URL"] == "sqlite:///x.db"
    assert embedded["HOSPITAL_TWIN_VIEW_SCENARIO"] == "winter_surge"


def test_view_runs_streamlit_and_passes_on_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(command: list[str], *, env: dict[str, str], check: bool) -> Any:
        started.append((command, env))
        return subprocess.CompletedProcess(command, 3)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.delenv("HOSPITAL_TWIN_API_URL", raising=False)
    app = typer.Typer()
    app.command("view")(view)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["view", "--port", "8777", "--api", "http://api:8000"])
    assert result.exit_code == 3
    assert "http://127.0.0.1:8777" in result.output and "API http://api:8000" in result.output
    ((command, env),) = started
    assert command == view_command(8777)
    assert env["HOSPITAL_TWIN_API_URL"] == "http://api:8000"
