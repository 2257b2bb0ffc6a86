"""Fixtures for the store tests: every store test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from, in order:

1. ``DATABASE_URL_TEST`` (any database the user may create schemas in);
2. a throwaway cluster started for the test session from the server binaries on this machine
   (``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``, ...), on a free loopback port, in a
   temporary folder that is removed afterwards. PostgreSQL refuses to run as root, so as root the
   cluster runs as the ``postgres`` user (created if absent);
3. otherwise the PostgreSQL tests are skipped locally and fail in CI (:func:`tests.conftest.require`).

Each test gets a fresh schema (PostgreSQL) or a fresh file (SQLite), so tests never see each other's data.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url, text

from ops.store import Store, open_store
from tests.conftest import require

DATABASE_URL_TEST_ENV = "DATABASE_URL_TEST"
POSTGRES_USER = "postgres"
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server for the tests: where it is, and an engine with rights to create schemas."""

    url: URL
    admin: Engine


def find_postgres_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None`` when this machine has no server."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        answer = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if answer.returncode == 0 and answer.stdout.strip():
            candidates.append(Path(answer.stdout.strip()))

    def version(folder: str) -> tuple[int, ...]:
        digits = "".join(c if c.isdigit() else " " for c in folder).split()
        return tuple(int(d) for d in digits)

    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql*/bin"):
        candidates.extend(Path(folder) for folder in sorted(glob.glob(pattern), key=version, reverse=True))
    candidates.append(Path("/usr/local/pgsql/bin"))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_account() -> pwd.struct_passwd | None:
    """As root, the unprivileged account the server runs as (created if absent); ``None`` otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise RuntimeError(f"running as root, no {POSTGRES_USER!r} user, and no useradd to create one")
    subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            POSTGRES_USER,
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(POSTGRES_USER)


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port, trusting local connections."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.account = _server_account()
        self.root = Path(tempfile.mkdtemp(prefix="hospital-twin-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        if self.account is not None:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)

    def _run(self, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *arguments]
        if self.account is not None:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root but runuser is missing; cannot start PostgreSQL")
            command = [runuser, "-u", self.account.pw_name, "--", *command]
        # cwd: the server account may not be allowed into the caller's working directory.
        return subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )

    def start(self) -> URL:
        """Create the cluster and start the server; returns the URL of its ``postgres`` database."""
        created = self._run(
            "initdb", "-D", str(self.data), "-U", POSTGRES_USER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{created.stdout}\n{created.stderr}")
        for _ in range(_START_ATTEMPTS):  # another process may take the free port before the server does
            self.port = _free_loopback_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=40 -c shared_buffers=32MB"
            )
            started = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
            )
            if started.returncode == 0:
                return URL.create(
                    "postgresql+psycopg",
                    username=POSTGRES_USER,
                    host="127.0.0.1",
                    port=self.port,
                    database="postgres",
                )
        server_log = self.log.read_text(errors="replace") if self.log.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}\n{started.stderr}\n{server_log}")

    def stop(self) -> None:
        """Stop the server (fast: the data is thrown away) and remove the folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (see the module docstring for where it comes from)."""
    configured = os.environ.get(DATABASE_URL_TEST_ENV)
    if configured:
        url = make_url(configured)
        url = (
            url.set(drivername="postgresql+psycopg") if url.get_backend_name().startswith("postgres") else url
        )
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            yield PostgresServer(url, admin)
        finally:
            admin.dispose()
        return

    bindir = find_postgres_bindir()
    require(
        bindir is not None,
        f"no PostgreSQL server: set {DATABASE_URL_TEST_ENV} or install the postgresql package (.ci/run does)",
    )
    assert bindir is not None
    cluster = ThrowawayCluster(bindir)
    try:
        url = cluster.start()
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            yield PostgresServer(url, admin)
        finally:
            admin.dispose()
    finally:
        cluster.stop()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database on each backend: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'hospital_twin.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with server.admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # Everything the store creates or reads lands in the test's own schema.
        url = server.url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with server.admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """An open, migrated, empty store on each backend."""
    with open_store(store_url, results_dir=tmp_path / "results") as opened:
        yield opened
