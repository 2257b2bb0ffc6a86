"""``hospital-twin up`` serves the API and the view, prints both addresses, and stops both on a signal."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ops.store import open_store
from tests.conftest import PROJECT_ROOT
from tests.ui.test_view_support import build_view_store
from ui.commands.up import check_salt, ensure_token, port_is_free


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_until(process: subprocess.Popen[bytes], pattern: str, timeout_s: float) -> str:
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 0.2)
        if ready:
            chunk = os.read(descriptor, 65536)
            if not chunk:  # end of output: the command stopped
                break
            seen += chunk
            if re.search(pattern, seen.decode(errors="replace")):
                return seen.decode(errors="replace")
    raise AssertionError(f"never printed {pattern!r}; output so far:\n{seen.decode(errors='replace')}")


@pytest.mark.slow
def test_up_serves_both_prints_addresses_and_stops_both(tmp_path: Path) -> None:
    url = build_view_store(tmp_path, days=2)
    api_port, view_port = _free_port(), _free_port()
    token_file = tmp_path / "token"
    env = {**os.environ, "HOSPITAL_TWIN_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("HOSPITAL_TWIN_API_URL", None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ui.cli", "up", "--database", url),
            *("--api-port", str(api_port), "--view-port", str(view_port), "--token-file", str(token_file)),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        output = _read_until(process, r"Ctrl\+C stops both", timeout_s=120)
        assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{view_port}" in output

        # The token written for the user works on the API; the file is private to the user.
        secret = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o077 == 0
        units = httpx.get(
            f"http://127.0.0.1:{api_port}/units", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        )
        assert units.status_code == 200 and len(units.json()) > 0
        assert httpx.get(f"http://127.0.0.1:{api_port}/units", timeout=10).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{view_port}/_stcore/health", timeout=10).status_code == 200
        # The API pseudonymises with a private random salt kept beside the store, not the demo salt.
        salt = tmp_path / "salt"
        assert salt.is_file() and salt.stat().st_mode & 0o077 == 0 and len(salt.read_text().strip()) == 64

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    # Both children are gone: their ports are free again.
    deadline = time.monotonic() + 10
    while not (port_is_free("127.0.0.1", api_port) and port_is_free("127.0.0.1", view_port)):
        assert time.monotonic() < deadline, "a child of `up` is still listening"
        time.sleep(0.2)


def test_up_refuses_a_port_in_use_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "ui.cli",
                "up",
                "--api-port",
                str(port),
                "--token-file",
                str(tmp_path / "t"),
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 2
    assert f"port {port}" in finished.stderr and "--api-port" in finished.stderr
    assert not (tmp_path / "t").exists()


def test_a_token_file_is_created_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    token_file = tmp_path / "var" / "api-token"
    assert ensure_token(token_file, url, "planner") is True
    first = token_file.read_text()
    assert ensure_token(token_file, url, "planner") is False
    assert token_file.read_text() == first
    with open_store(url) as store:
        assert len(store.audit_entries(action="create API token")) == 1


def test_up_says_what_to_set_when_the_store_has_no_salt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HOSPITAL_TWIN_SALT", "HOSPITAL_TWIN_SALT_FILE", "HOSPITAL_TWIN_DEMO"):
        monkeypatch.delenv(name, raising=False)
    assert check_salt(f"sqlite:///{tmp_path / 'store.db'}") is None
    assert (tmp_path / "salt").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_TWIN_SALT")}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.cli",
            "up",
            "--database",
            "sqlite://",
            "--token-file",
            str(tmp_path / "t"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert "HOSPITAL_TWIN_SALT" in finished.stderr and "HOSPITAL_TWIN_SALT_FILE" in finished.stderr
    assert not (tmp_path / "t").exists()
