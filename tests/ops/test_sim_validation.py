"""Agreement with theory: the model reduced to M/M/c and Erlang loss queues, and Little's law on every unit.

Statistical checks use fixed seeds and ask that the exact figure lie in the 95 % t confidence interval over
several independent replications (each case has its own base seed, so cases do not share luck).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ops.sim import SimulationOptions, replication_seed, simulate
from ops.sim.validation import erlang_b, erlang_c, exact_queue, queue_scenario, validate_queue
from scenarios import load_scenario, scenario_path

ARRIVALS_PER_HOUR = 10.0
"""Reference cases are in arbitrary time units; they are rescaled so that 10 patients arrive an hour."""


def _rows(shared_data: Path, name: str) -> list[dict[str, str]]:
    with (shared_data / "queueing" / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


# ---- exact formulas against the reference tables -------------------------------------------------


def test_erlang_b_reproduces_the_whole_reference_table(shared_data: Path) -> None:
    for row in _rows(shared_data, "erlang_b_table.csv"):
        servers, load = int(row["servers"]), float(row["offered_load"])
        expected = float(row["blocking_prob"])
        assert erlang_b(servers, load) == pytest.approx(expected, rel=1e-10, abs=1e-300)
        carried = exact_queue(servers, load, 1.0, loss=True)["mean_busy_beds"]
        assert carried == pytest.approx(float(row["carried_load"]), rel=1e-10)


def test_erlang_c_reproduces_the_mmc_reference_cases(shared_data: Path) -> None:
    for row in _rows(shared_data, "mmc_reference_cases.csv"):
        servers = int(row["servers"])
        arrival_rate = 1.0 / float(row["mean_interarrival"])
        service_rate = 1.0 / float(row["mean_service"])
        exact = exact_queue(servers, arrival_rate, service_rate, loss=False)
        assert erlang_c(servers, arrival_rate / service_rate) == pytest.approx(float(row["P_wait"]), rel=1e-9)
        assert exact["mean_wait_hours"] == pytest.approx(float(row["Wq"]), rel=1e-9, abs=1e-30)
        assert exact["mean_queue_length"] == pytest.approx(float(row["Lq"]), rel=1e-9, abs=1e-30)


# ---- the model against the exact figures ---------------------------------------------------------

MMC_CASES = range(8)


@pytest.mark.parametrize("case", MMC_CASES)
def test_model_reduced_to_mmc_matches_erlang_c(shared_data: Path, case: int) -> None:
    row = _rows(shared_data, "mmc_reference_cases.csv")[case]
    servers = int(row["servers"])
    scale = ARRIVALS_PER_HOUR * float(row["mean_interarrival"])  # reference time unit -> hours
    arrival_rate = scale / float(row["mean_interarrival"])
    service_rate = scale / float(row["mean_service"])
    result = validate_queue(servers, arrival_rate, service_rate, loss=False, seed=100 + case, replications=8)
    within = result.within(tolerance=1e-9)
    assert within["mean_wait_hours"], result.as_dict()
    assert within["probability_of_waiting"], result.as_dict()
    assert within["mean_busy_beds"], result.as_dict()
    # the reference wait, back in its own time unit
    assert result.exact["mean_wait_hours"] * scale == pytest.approx(float(row["Wq"]), rel=1e-9, abs=1e-20)


ERLANG_B_CASES = [(1, 1.0), (2, 2.0), (5, 5.0), (10, 8.0), (20, 15.0), (30, 25.0)]


@pytest.mark.parametrize(("servers", "load"), ERLANG_B_CASES)
def test_model_reduced_to_a_loss_unit_matches_erlang_b(shared_data: Path, servers: int, load: float) -> None:
    row = next(
        r
        for r in _rows(shared_data, "erlang_b_table.csv")
        if int(r["servers"]) == servers and float(r["offered_load"]) == load
    )
    service_rate = ARRIVALS_PER_HOUR / load
    result = validate_queue(
        servers, ARRIVALS_PER_HOUR, service_rate, loss=True, seed=200 + servers, replications=8
    )
    assert result.exact["blocking_probability"] == pytest.approx(float(row["blocking_prob"]), rel=1e-10)
    within = result.within(tolerance=1e-9)
    assert within["blocking_probability"], result.as_dict()
    assert within["mean_busy_beds"], result.as_dict()


def test_a_queue_scenario_is_a_valid_minimal_hospital() -> None:
    scenario = queue_scenario(3, 2.0, 1.0)
    assert [u.id for u in scenario.hospital.units] == ["ED", "BEDS"]
    assert scenario.hospital.total_beds == 3
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(2, 2.0)


# ---- Little's law on every unit of the whole hospital ---------------------------------------------


@pytest.mark.slow
def test_littles_law_holds_on_every_unit_of_the_baseline() -> None:
    """L (time-average census) = λ W (departures per hour x their mean stay), within the 95 % CI.

    After a warm-up (8 weeks: ward stays have long tails) the two estimates differ only by edge terms that
    cancel in expectation; the paired difference over independent replications has a t interval that must
    contain zero on every unit, or the difference must be within 2 % of L (the edge terms of heavy-tailed
    stays are skewed, which the t interval does not know). About 6 s.
    """
    baseline = load_scenario(scenario_path("baseline"))
    options = SimulationOptions(warm_up_days=56)
    runs = [
        simulate(baseline, seed=replication_seed(7, r), horizon_days=112, options=options).unit_flow
        for r in range(8)
    ]
    units = runs[0].get_column("unit").to_list()
    quantile = stats.t.ppf(0.975, len(runs) - 1)
    for i, unit in enumerate(units):
        census = np.array([run.row(i, named=True)["census_patient_hours"] for run in runs])
        stays = np.array([run.row(i, named=True)["exit_stay_hours"] for run in runs])
        hours = runs[0].row(i, named=True)["window_hours"]
        little_l = census / hours
        lambda_w = stays / hours
        difference = little_l - lambda_w
        half_width = quantile * difference.std(ddof=1) / np.sqrt(len(runs))
        mean = difference.mean()
        assert abs(mean) <= half_width or abs(mean) <= 0.02 * little_l.mean(), (
            f"{unit}: L = {little_l.mean():.3f}, λW = {lambda_w.mean():.3f}, "
            f"difference {mean:.3f} ± {half_width:.3f}"
        )
