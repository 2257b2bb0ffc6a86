"""Load benchmark of the API's read routes: uvicorn in a subprocess on loopback, an open-loop client
sending 200 requests/s over 32 keep-alive connections, latency percentiles printed against the goal
p99 <= 100 ms.

The store holds 14 days of the 500-bed demo hospital's history (so the census and the twins cover several
hundred patients), a 14-day census forecast, plans and a what-if run. Latency is measured from the moment
each request was due (open loop: a slow answer does not delay the next request), so queueing in the
service counts against it. Run with ``make bench``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from ops.sim.kpis import KPI_SCHEMA
from ops.store import open_store
from ops.store.tokens import create_token
from patients.census.schema import CENSUS_FORECAST_SCHEMA
from patients.synthetic import generate_history
from scenarios import load_scenario, scenario_path

RATES_PER_SECOND = (100, 200)
"""Offered loads: the goal's 200 requests/s, and half of it to show where the service stands."""
VARIED_PATHS = (
    "/census/history?days={days}",
    "/twins?unit={unit}",
    "/forecasts/census?hours={hours}&unit={unit}",
    "/runs?limit={limit}",
)
"""Routes asked with parameters drawn at random in the varied run, as ward dashboards would each ask for
their own unit and window: each value is an answer of its own, so far fewer are ready in memory than when
every client asks the same."""
DURATION_SECONDS = 15
GOAL_P99_MS = 100.0
READ_PATHS = (
    "/units",
    "/census/now",
    "/census/history?days=3",
    "/twins?unit=AMU",
    "/forecasts/census?hours=24",
    "/plans/roster/latest",
    "/nightly/last-run",
    "/alerts",
    "/scenarios",
    "/shipped-scenarios",
    "/kpis/1",
    "/runs?limit=20",
    "/jobs?limit=20",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fill_store(url: str, results: Path) -> str:
    baseline = load_scenario(scenario_path("baseline"))
    today = datetime.now(UTC).date()
    history = generate_history(baseline, today - timedelta(days=14), 14, seed=11, warm_up_days=30)
    origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    generator = np.random.default_rng(5)
    rows = []
    for unit in baseline.hospital.units:
        for hour in range(1, 14 * 24 + 1):
            mean = float(unit.beds * generator.uniform(0.7, 1.0))
            high, p_over = mean * 0.1, float(generator.uniform(0, 0.2))
            at = origin + timedelta(hours=hour)
            rows.append((unit.id, at, hour, mean, mean * 0.85, mean, mean * 1.15, high, unit.beds, p_over))
    forecast = pl.DataFrame(rows, schema=CENSUS_FORECAST_SCHEMA, orient="row")
    with open_store(url, results_dir=results) as store:
        store.append_events(history.events)
        store.save_forecast("census", origin, forecast)
        store.save_plan("roster", {"shifts": [{"unit": u.id, "nurses": 5} for u in baseline.hospital.units]})
        store.save_plan(
            "nightly", {"alerts": [{"unit": "AMU", "kind": "over_capacity", "day": str(date.today())}]}
        )
        store.save_scenario("surge", scenario_path("winter_surge").read_text())
        store.write_audit("nightly-plan", "nightly_plan", "ok", {"plan_kind": "roster", "plan_version": 1})
        run_id = store.start_scenario_run("surge", "digest", seed=0, replications=10)
        kpis = pl.DataFrame(
            {
                "replication": list(range(10)) * 2,
                "scenario": ["Baseline"] * 10 + ["Winter surge"] * 10,
                "metric": ["ed_attendances"] * 20,
                "value": generator.normal(500, 20, 20).tolist(),
            },
            schema=KPI_SCHEMA,
        )
        store.put_result_parquet(f"runs/{run_id}/kpis", kpis)
        store.finish_scenario_run(run_id, "finished", result_name=f"runs/{run_id}/kpis")
        return create_token(store, name="load-test", role="admin")[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("api-load")
    url = f"sqlite:///{folder / 'load.db'}"
    secret = _fill_store(url, folder / "results")
    port = _free_port()
    environment = {
        **os.environ,
        "HOSPITAL_TWIN_API_DATABASE_URL": url,
        "HOSPITAL_TWIN_API_RESULTS_DIR": str(folder / "results"),
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "ui.api:create_app", "--factory", "--host", "127.0.0.1"),
            *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        ],
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "the API server exited"
            assert time.monotonic() < deadline, "the API server did not start in 60 s"
            time.sleep(0.2)
        yield base, secret
    finally:
        server.terminate()
        server.wait(timeout=30)


CONNECTIONS = 32
"""Keep-alive connections of the load client (like an interface engine's or a view's connection pool)."""


class _Connection:
    """One keep-alive HTTP/1.1 connection, read by hand: the client must cost far less than the service.

    An ``httpx.AsyncClient`` in the same process spends about as much CPU a request as the service itself
    does; on two shared cores it then cannot offer 200 requests/s (measured: 81/s), and the benchmark
    measured the client. This client writes a GET and reads the status line, the headers and
    ``Content-Length`` bytes of body (every answer of the service has one), nothing else.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: str) -> None:
        self.reader, self.writer = reader, writer
        self.head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\r\n"

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.head}".encode())
        status_line = await self.reader.readuntil(b"\r\n")
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


def _paths(total: int, varied: bool, units: list[str]) -> list[str]:
    """The path of each request: the read routes in turn, half of them with random parameters if varied."""
    generator = np.random.default_rng(17)
    paths = []
    for number in range(total):
        if varied and number % 2:
            template = VARIED_PATHS[int(generator.integers(len(VARIED_PATHS)))]
            paths.append(
                template.format(
                    days=int(generator.integers(1, 32)),
                    unit=units[int(generator.integers(len(units)))],
                    hours=int(generator.integers(1, 14 * 24 + 1)),
                    limit=int(generator.integers(1, 101)),
                )
            )
        else:
            paths.append(READ_PATHS[number % len(READ_PATHS)])
    return paths


async def _load(
    base: str, secret: str, rate: int, varied: bool = False
) -> tuple[list[tuple[str, float, int]], float]:
    headers = {"Authorization": f"Bearer {secret}"}
    results: list[tuple[str, float, int]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        deadline = time.monotonic() + 120
        for path in READ_PATHS:  # warm up: the service builds the twins as it starts (409 until then)
            while (status := (await client.get(path)).status_code) == 409 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            assert status == 200, path
    host, port = base.removeprefix("http://").split(":")
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(_Connection(*await asyncio.open_connection(host, int(port)), secret))

    async def one(path: str, due: float) -> None:
        connection = await idle.get()
        try:
            status = await connection.get(path)
        finally:
            idle.put_nowait(connection)
        results.append((path, (time.perf_counter() - due) * 1000, status))

    total = rate * DURATION_SECONDS
    units = [unit.id for unit in load_scenario(scenario_path("baseline")).hospital.units]
    paths = _paths(total, varied, units)
    start = time.perf_counter()
    tasks = []
    for number, path in enumerate(paths):
        due = start + number / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(path, due)))
    await asyncio.gather(*tasks)
    sent_seconds = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().writer.close()
    return results, sent_seconds


@pytest.mark.parametrize(
    ("rate", "varied"), [*((rate, False) for rate in RATES_PER_SECOND), (max(RATES_PER_SECOND), True)]
)
def test_read_routes_under_load(served: tuple[str, str], rate: int, varied: bool) -> None:
    base, secret = served
    load_before = os.getloadavg()
    results, elapsed = asyncio.run(_load(base, secret, rate, varied))

    schema = {"path": pl.String, "ms": pl.Float64, "status": pl.Int64}
    frame = pl.DataFrame(results, schema=schema, orient="row").with_columns(
        pl.when(pl.col("path").is_in(READ_PATHS))
        .then(pl.col("path"))
        .otherwise(pl.col("path").str.split("?").list.first() + "?(random)")
        .alias("route")
    )
    overall = np.percentile(frame["ms"].to_numpy(), [50, 95, 99])
    mix = "half with random parameters" if varied else "the same paths in turn"
    print(
        f"\nAPI read load at {rate} req/s, {mix}: {frame.height} requests in {elapsed:.1f} s "
        f"({frame.height / elapsed:.0f} req/s offered; machine load average {load_before[0]:.2f} "
        f"{load_before[1]:.2f} {load_before[2]:.2f} (1/5/15 min) on {os.cpu_count()} cores before the run)"
    )
    print(f"{'route':32s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for route in frame["route"].unique(maintain_order=True).sort():
        values = frame.filter(pl.col("route") == route)["ms"].to_numpy()
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        print(f"{route:32s} {len(values):5d} {p50:8.1f} {p95:8.1f} {p99:8.1f}")
    print(f"{'all read routes':32s} {frame.height:5d} {overall[0]:8.1f} {overall[1]:8.1f} {overall[2]:8.1f}")
    verdict = "met" if overall[2] <= GOAL_P99_MS else "NOT met"
    print(
        f"ours p99 {overall[2]:.1f} ms vs goal p99 <= {GOAL_P99_MS:.0f} ms at {rate} req/s ({mix}): {verdict}"
    )

    assert frame.filter(pl.col("status") != 200).height == 0
    assert frame.height == rate * DURATION_SECONDS
