"""``hospital-twin validate queue``: the hospital model reduced to a textbook queue, against exact figures.

The model becomes an M/M/c queue, or an Erlang loss system with ``--loss``.

Registered by ``ui/cli.py``, e.g. ``validate_app = typer.Typer(); validate_app.command("queue")(queue);
app.add_typer(validate_app, name="validate")``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ops.sim.validation import validate_queue


def queue(
    servers: Annotated[int, typer.Option(min=1, help="Beds of the unit (servers).")],
    arrival_rate: Annotated[float, typer.Option(min=0.0, help="Patients arriving per hour.")],
    service_rate: Annotated[float, typer.Option(min=0.0, help="1 / mean length of stay [per hour].")],
    loss: Annotated[
        bool, typer.Option(help="Erlang loss system: a patient finding no bed is transferred out.")
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Base seed.")] = 0,
    replications: Annotated[int, typer.Option(min=2, help="Independent runs.")] = 8,
    days: Annotated[
        int | None, typer.Option(min=1, help="Days measured per run (default: ~4000 arrivals).")
    ] = None,
    warm_up_days: Annotated[
        int | None, typer.Option(min=0, help="Warm-up days per run (default: at least 50 mean stays).")
    ] = None,
) -> None:
    """Simulate one bed unit fed by Poisson arrivals with exponential stays; print simulated vs exact as JSON.

    Exact figures: Erlang B blocking and carried load for a loss unit; Erlang C probability of waiting, mean
    wait (Wq), mean queue length (Lq) and busy beds for a queueing unit. Each simulated figure comes with its
    95 % t confidence interval over the replications.

    The simulated wait is the mean wait of the patients who got a bed in the measured window; beds go
    first come first served, so leaving out those still waiting at the end biases it by O(1/N) only. Waits
    in a busy queue are strongly correlated: with 8 replications of ~4000 arrivals the standard error of
    Wq is about 6 % (c=3, λ=2, μ=1), and a run a little below or above the exact value is expected;
    over 480 replications that case gives 0.448 ± 0.003 h against the exact 0.444 h.
    """
    if arrival_rate <= 0 or service_rate <= 0:
        raise typer.BadParameter("arrival and service rates must be positive")
    if not loss and arrival_rate / service_rate >= servers:
        raise typer.BadParameter(
            f"offered load {arrival_rate / service_rate:g} >= {servers} servers: "
            "the queue has no steady state"
        )
    validation = validate_queue(
        servers,
        arrival_rate,
        service_rate,
        loss=loss,
        seed=seed,
        replications=replications,
        days=days,
        warm_up_days=warm_up_days,
    )
    report = validation.as_dict()
    report["all_within_ci"] = all(validation.within().values())
    print(json.dumps(report, indent=2))
