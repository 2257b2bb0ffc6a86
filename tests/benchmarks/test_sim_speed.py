"""Speed of the hospital model (``make bench``): printed side by side with a reference.

1. Event rate of the full model against a bare SimPy M/M/c queue measured in the same process, interleaved
   (best of several rounds: other users of the machine only ever slow a round down). Goal: >= 0.5.
2. 100 replications x 90 days of the baseline in a local process pool. Goal: <= 60 s on 2 cores.
3. Speed-up of the same replications serially, in the local pool and on a Dask LocalCluster.

The asserts are loose bounds that catch regressions on a busy machine; the goals are printed with the
measurements.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import numpy as np
import pytest
import simpy

from ops.sim import run_replications, simulate
from ops.sim.model import _relaxed_garbage_collection
from scenarios import Scenario, load_scenario, scenario_path

ROUNDS = 5


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


def _bare_mmc_event_rate(customers: int = 60_000, servers: int = 3) -> tuple[float, float]:
    """SimPy events per second (wall clock, CPU) of a bare M/M/c queue: a process per customer, a Resource."""
    env = simpy.Environment()
    beds = simpy.Resource(env, capacity=servers)
    generator = np.random.default_rng(1)
    gaps = generator.exponential(1.0, customers).tolist()
    stays = generator.exponential(servers * 0.8, customers).tolist()

    def customer(i: int) -> Generator[simpy.Event, None, None]:
        with beds.request() as request:
            yield request
            yield env.timeout(stays[i])

    def arrivals() -> Generator[simpy.Event, None, None]:
        for i in range(customers):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(arrivals())
    began, cpu = time.perf_counter(), time.process_time()
    with _relaxed_garbage_collection():  # the same collector settings as the model's runs
        env.run()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    events = next(env._eid)
    return events / elapsed, events / cpu


def test_event_rate_against_bare_simpy(baseline: Scenario) -> None:
    simulate(baseline, seed=0, horizon_days=2)  # imports and caches warm
    bare_wall, bare_cpu, model_wall, model_cpu = [], [], [], []
    events = 0
    for round_ in range(ROUNDS):
        wall, cpu = _bare_mmc_event_rate()
        bare_wall.append(wall)
        bare_cpu.append(cpu)
        began, cpu_began = time.perf_counter(), time.process_time()
        result = simulate(baseline, seed=round_, horizon_days=90)
        elapsed, cpu_elapsed = time.perf_counter() - began, time.process_time() - cpu_began
        events = result.simpy_events
        model_wall.append(events / elapsed)
        model_cpu.append(events / cpu_elapsed)
    ratio = max(model_wall) / max(bare_wall)
    cpu_ratio = max(model_cpu) / max(bare_cpu)
    print(
        f"\n[event rate] bare SimPy M/M/c: {max(bare_wall):,.0f} events/s | full model (90 days, {events:,} "
        f"events, set-up and results included): {max(model_wall):,.0f} events/s | ratio {ratio:.2f} "
        f"wall clock, {cpu_ratio:.2f} CPU time (best of {ROUNDS} interleaved rounds; goal >= 0.5: "
        f"{'met' if max(ratio, cpu_ratio) >= 0.5 else 'NOT met'}); CPU per 90-day run "
        f"{events / max(model_cpu):.2f} s"
    )
    assert max(ratio, cpu_ratio) >= 0.2


def test_hundred_replications_of_ninety_days(baseline: Scenario) -> None:
    workers = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    cpu = time.process_time()
    simulate(baseline, seed=1000, horizon_days=90)
    one_run_cpu = time.process_time() - cpu
    began = time.perf_counter()
    result = run_replications(baseline, 100, horizon_days=90, executor="pool", workers=workers)
    elapsed = time.perf_counter() - began
    assert result.replications == 100
    print(
        f"\n[100 x 90 days] local pool of {workers} processes: {elapsed:.1f} s "
        f"({elapsed / 100:.2f} s per replication; goal <= 60 s: {'met' if elapsed <= 60 else 'NOT met'}); "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; one run takes "
        f"{one_run_cpu:.2f} s of CPU, so {100 * one_run_cpu / workers:.0f} s of CPU per worker when the "
        f"{workers} cores are free"
    )
    assert elapsed <= 240


def test_speed_up_serial_pool_dask(baseline: Scenario) -> None:
    distributed = pytest.importorskip("distributed")
    replications, days = 20, 28
    workers = os.cpu_count() or 1
    began = time.perf_counter()
    serial = run_replications(baseline, replications, horizon_days=days, executor="serial")
    serial_seconds = time.perf_counter() - began
    began = time.perf_counter()
    pool = run_replications(baseline, replications, horizon_days=days, executor="pool", workers=workers)
    pool_seconds = time.perf_counter() - began
    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_replications(baseline, workers, horizon_days=1, cluster=cluster.scheduler_address)  # warm workers
        began = time.perf_counter()
        on_dask = run_replications(
            baseline, replications, horizon_days=days, cluster=cluster.scheduler_address
        )
        dask_seconds = time.perf_counter() - began
    assert pool.kpis.equals(serial.kpis) and on_dask.kpis.equals(serial.kpis)
    print(
        f"\n[speed-up, {replications} x {days} days, {workers} workers] serial {serial_seconds:.1f} s | "
        f"pool {pool_seconds:.1f} s (x{serial_seconds / pool_seconds:.2f}, start-up included) | "
        f"Dask LocalCluster {dask_seconds:.1f} s (x{serial_seconds / dask_seconds:.2f}, cluster started "
        "beforehand) | KPIs bit-identical"
    )
