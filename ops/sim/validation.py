"""The hospital model reduced to textbook queues, and the exact results to check it against.

:func:`queue_scenario` builds a minimal but complete :class:`~scenarios.schema.Scenario`: an ED whose every
attendance is admitted after a fixed one-minute assessment (so bed requests stay a Poisson stream), one
service, one unit of ``servers`` beds with exponential stays, no nurses, theatres or diversion. Run through
the very same :func:`~ops.sim.model.simulate` (with the discharge profile switched off, so stays stay
exponential), the bed unit is an M/M/c queue whose waiting room is the ED (patients board until a bed is
free); declared a loss unit (``transfer_out_when_full``) it is an Erlang loss system M/M/c/c.

Exact figures: Erlang B for the loss system, Erlang C (probability of waiting, mean wait) for the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ops.sim.model import simulate
from ops.sim.replications import replication_seed
from ops.sim.results import SimulationResult
from ops.sim.state import SimulationOptions
from scenarios.schema import Scenario

BED_UNIT = "BEDS"
"""Id of the single bed unit of a queue scenario."""

_ASSESSMENT_HOURS = 1.0 / 60.0
_TARGET_ARRIVALS_PER_REPLICATION = 4000


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B: probability that an arrival finds all ``servers`` busy in an M/M/c/c loss system.

    Parameters
    ----------
    servers
        Beds (servers), at least 1.
    offered_load
        Arrival rate divided by service rate [Erlangs].

    Examples
    --------
    >>> round(erlang_b(2, 1.0), 6)
    0.2
    """
    if servers < 1:
        raise ValueError(f"servers must be >= 1, got {servers}")
    if offered_load < 0:
        raise ValueError(f"offered_load must be >= 0, got {offered_load}")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability that an arrival waits in an M/M/c queue (requires ``offered_load < servers``).

    Examples
    --------
    >>> round(erlang_c(1, 0.75), 6)
    0.75
    """
    if offered_load >= servers:
        raise ValueError(f"an M/M/c queue with load {offered_load} on {servers} servers is unstable")
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def exact_queue(servers: int, arrival_rate: float, service_rate: float, loss: bool) -> dict[str, float]:
    """Exact steady-state figures of an M/M/c queue (``loss=False``) or M/M/c/c loss system [hours].

    Returns
    -------
    dict
        Loss: ``blocking_probability`` and ``mean_busy_beds``. Queue: ``probability_of_waiting``,
        ``mean_wait_hours`` (Wq), ``mean_queue_length`` (Lq) and ``mean_busy_beds``.
    """
    load = arrival_rate / service_rate
    if loss:
        blocking = erlang_b(servers, load)
        return {"blocking_probability": blocking, "mean_busy_beds": load * (1.0 - blocking)}
    waiting = erlang_c(servers, load)
    mean_wait = waiting / (servers * service_rate - arrival_rate)
    return {
        "probability_of_waiting": waiting,
        "mean_wait_hours": mean_wait,
        "mean_queue_length": arrival_rate * mean_wait,
        "mean_busy_beds": load,
    }


def queue_scenario(servers: int, arrival_rate: float, service_rate: float, loss: bool = False) -> Scenario:
    """A scenario whose hospital reduces to one bed unit fed by Poisson arrivals with exponential stays.

    Parameters
    ----------
    servers
        Beds of the unit.
    arrival_rate
        Patients arriving per hour (all admitted).
    service_rate
        1 / mean length of stay [per hour].
    loss
        Only names the scenario; make the unit a loss unit with :func:`queue_options`.
    """
    if servers < 1 or arrival_rate <= 0 or service_rate <= 0:
        raise ValueError("need servers >= 1 and positive arrival and service rates")
    kind = "M/M/c/c" if loss else "M/M/c"
    flat_day = (1.0,) * 24
    return Scenario.model_validate(
        {
            "name": f"{kind} c={servers} λ={arrival_rate:g}/h μ={service_rate:g}/h",
            "description": "The hospital model reduced to a single bed unit (validation).",
            "horizon_days": 28,
            "hospital": {
                "name": "Validation queue",
                "timezone": "UTC",
                "shifts": [{"id": "all_day", "start": "00:00", "end": "00:00"}],
                "skills": [{"id": "rn"}],
                "contracts": [{"id": "any", "max_minutes_per_week": 10080}],
                "units": [
                    {
                        "id": "ED",
                        "kind": "ed",
                        "beds": 1_000_000,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                    },
                    {
                        "id": BED_UNIT,
                        "kind": "ward",
                        "beds": servers,
                        "skill": "rn",
                        "patients_per_nurse": {"all_day": 1},
                        "services": ["queue"],
                    },
                ],
                "services": [
                    {
                        "id": "queue",
                        "emergency_share": 1.0,
                        "pathways": [
                            {
                                "probability": 1.0,
                                "steps": [
                                    {
                                        "units": [BED_UNIT],
                                        "length_of_stay": {
                                            "distribution": "exponential",
                                            "mean_hours": 1.0 / service_rate,
                                        },
                                    }
                                ],
                            }
                        ],
                    }
                ],
                "ed": {
                    "unit": "ED",
                    "attendances_per_day": arrival_rate * 24.0,
                    "hourly_profile": flat_day,
                    "weekday_profile": (1.0,) * 7,
                    "triage": [
                        {
                            "category": 3,
                            "share": 1.0,
                            "admit_probability": 1.0,
                            "treatment": {"distribution": "fixed", "hours": _ASSESSMENT_HOURS},
                        }
                    ],
                    "diversion_boarding_threshold": 1_000_000_000,
                },
                "seasonality": {"winter_amplitude": 0.0, "holiday_ed_factor": 1.0},
                "costs": {
                    "agency_nurse_hour": 0.0,
                    "overtime_hour": 0.0,
                    "cancelled_operation": 0.0,
                    "diversion_hour": 0.0,
                },
                "policies": {"nurse_shortage": "agency", "discharge_hourly_profile": flat_day},
            },
        }
    )


def queue_options(loss: bool, warm_up_days: int) -> SimulationOptions:
    """Run options of a queue scenario: exponential stays kept as drawn, the bed unit a loss unit if asked."""
    return SimulationOptions(
        warm_up_days=warm_up_days,
        discharge_profile=False,
        transfer_out_when_full=frozenset({BED_UNIT}) if loss else frozenset(),
    )


def queue_figures(result: SimulationResult, loss: bool) -> dict[str, float]:
    """The figures of :func:`exact_queue` measured on one run of a queue scenario."""
    flow = result.unit_flow.row(result.unit_flow.get_column("unit").to_list().index(BED_UNIT), named=True)
    hours = flow["window_hours"]
    busy = flow["census_patient_hours"] / hours
    entries = flow["entries"]
    if loss:
        requests = entries + flow["transfers_out"]
        return {
            "blocking_probability": flow["transfers_out"] / requests if requests else math.nan,
            "mean_busy_beds": busy,
        }
    return {
        "probability_of_waiting": flow["entries_waited"] / entries if entries else math.nan,
        "mean_wait_hours": flow["bed_wait_hours"] / entries if entries else math.nan,
        "mean_queue_length": float(result.ed.get_column("boarding").to_numpy().mean()),
        "mean_busy_beds": busy,
    }


def default_run_length(arrival_rate: float, service_rate: float) -> tuple[int, int]:
    """(days, warm-up days) of a validation run.

    About 4000 arrivals are measured, after a warm-up of at least 50 mean stays.
    """
    per_day = arrival_rate * 24.0
    days = max(2, math.ceil(_TARGET_ARRIVALS_PER_REPLICATION / per_day))
    warm_up = max(1, math.ceil(50.0 / service_rate / 24.0))
    return days, warm_up


@dataclass(frozen=True)
class QueueValidation:
    """Simulated against exact figures of a queue scenario, over several replications."""

    servers: int
    arrival_rate: float
    service_rate: float
    loss: bool
    replications: int
    days: int
    warm_up_days: int
    exact: dict[str, float]
    mean: dict[str, float]
    lower: dict[str, float]
    upper: dict[str, float]
    runs: list[dict[str, float]] = field(default_factory=list)

    def within(self, tolerance: float = 1e-9) -> dict[str, bool]:
        """Whether each exact figure lies in the simulated confidence interval (``tolerance`` absolute)."""
        return {
            name: self.lower[name] - tolerance <= value <= self.upper[name] + tolerance
            for name, value in self.exact.items()
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "model": "M/M/c/c (Erlang loss)" if self.loss else "M/M/c (Erlang C)",
            "servers": self.servers,
            "arrival_rate_per_hour": self.arrival_rate,
            "service_rate_per_hour": self.service_rate,
            "offered_load": self.arrival_rate / self.service_rate,
            "replications": self.replications,
            "days": self.days,
            "warm_up_days": self.warm_up_days,
            "figures": {
                name: {
                    "exact": self.exact[name],
                    "simulated": self.mean[name],
                    "ci_lower": self.lower[name],
                    "ci_upper": self.upper[name],
                    "within_ci": self.within()[name],
                }
                for name in self.exact
            },
        }


def validate_queue(
    servers: int,
    arrival_rate: float,
    service_rate: float,
    loss: bool = False,
    seed: int = 0,
    replications: int = 8,
    days: int | None = None,
    warm_up_days: int | None = None,
    level: float = 0.95,
) -> QueueValidation:
    """Simulate a queue scenario several times and set its figures against the exact ones.

    Parameters
    ----------
    servers, arrival_rate, service_rate, loss
        The queue (rates per hour).
    seed
        Base seed; replication ``r`` uses ``replication_seed(seed, r)``.
    replications
        Independent runs (the t interval has ``replications - 1`` degrees of freedom).
    days, warm_up_days
        Measured days and warm-up days per run (see :func:`default_run_length` for the defaults).
    level
        Confidence level.
    """
    if replications < 2:
        raise ValueError("need at least 2 replications for a confidence interval")
    default_days, default_warm_up = default_run_length(arrival_rate, service_rate)
    days = days or default_days
    warm_up = default_warm_up if warm_up_days is None else warm_up_days
    scenario = queue_scenario(servers, arrival_rate, service_rate, loss)
    options = queue_options(loss, warm_up)
    runs = [
        queue_figures(simulate(scenario, None, replication_seed(seed, r), days, options), loss)
        for r in range(replications)
    ]
    exact = exact_queue(servers, arrival_rate, service_rate, loss)
    quantile = float(stats.t.ppf(0.5 + level / 2, replications - 1))
    mean: dict[str, float] = {}
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    for name in exact:
        values = np.array([run[name] for run in runs], dtype=np.float64)
        values = values[~np.isnan(values)]
        centre = float(values.mean()) if values.size else math.nan
        half_width = (
            quantile * float(values.std(ddof=1)) / math.sqrt(values.size) if values.size > 1 else math.nan
        )
        mean[name], lower[name], upper[name] = centre, centre - half_width, centre + half_width
    return QueueValidation(
        servers=servers,
        arrival_rate=arrival_rate,
        service_rate=service_rate,
        loss=loss,
        replications=replications,
        days=days,
        warm_up_days=warm_up,
        exact=exact,
        mean=mean,
        lower=lower,
        upper=upper,
        runs=runs,
    )
