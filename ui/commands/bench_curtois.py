"""``hospital-twin bench curtois``: roster a Curtois benchmark instance and print the result as JSON.

The objective printed is the one our independent checker computes from the roster (the Curtois objective:
requests not granted plus weighted under- and over-cover), not the solver's own number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scheduler.roster.curtois import CURTOIS_TERMS, read_curtois, solve_curtois
from scheduler.roster.lns import (
    ALL_NEIGHBOURHOODS,
    FINAL_SHARE,
    NEIGHBOURHOODS,
    STALL_GROWTH,
    checked_neighbourhoods,
)


def curtois(
    instance: Annotated[
        Path,
        typer.Argument(
            help="Curtois instance file, e.g. ../shared/data/rostering/curtois/Instance1.txt",
            exists=True,
            dir_okay=False,
        ),
    ],
    time_limit: Annotated[float, typer.Option(help="Wall-time limit of the search [s]", min=0.1)] = 600,
    workers: Annotated[int, typer.Option(help="Solver threads", min=1)] = 2,
    seed: Annotated[int, typer.Option(help="Random seed of the search")] = 0,
    neighbourhoods: Annotated[
        str,
        typer.Option(
            help="Comma-separated kinds of neighbourhood of the large neighbourhood search, from "
            + ", ".join(ALL_NEIGHBOURHOODS)
        ),
    ] = ",".join(NEIGHBOURHOODS),
    shortfall_cuts: Annotated[
        bool,
        typer.Option(
            help="Cap the nurses short in each neighbourhood at what a roster no worse than the best allows"
        ),
    ] = False,
    neighbourhood_seconds: Annotated[
        float, typer.Option(help="First time limit of one neighbourhood search [s]", min=0.1)
    ] = 2.0,
    max_neighbourhood_seconds: Annotated[
        float | None,
        typer.Option(
            help="Most time limit of one neighbourhood search [s]; it doubles when the search stalls "
            f"(default: {STALL_GROWTH:g} times the first; equal to it keeps the limit fixed)",
            min=0.1,
        ),
    ] = None,
    final_share: Annotated[
        float,
        typer.Option(
            help="Share of the time left, at the latest, to a final CP-SAT search of the whole model from "
            "the best roster (it starts earlier when the neighbourhoods stall; 0: none)",
            min=0.0,
            max=1.0,
        ),
    ] = FINAL_SHARE,
) -> None:
    """Solve a Curtois shift scheduling instance and print instance, objective, status, bound, seconds."""
    try:
        kinds = checked_neighbourhoods(tuple(k.strip() for k in neighbourhoods.split(",") if k.strip()))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--neighbourhoods") from None
    benchmark = read_curtois(instance)
    result = solve_curtois(
        benchmark,
        time_limit_seconds=time_limit,
        workers=workers,
        seed=seed,
        neighbourhoods=kinds,
        shortfall_cuts=shortfall_cuts,
        neighbourhood_seconds=neighbourhood_seconds,
        max_neighbourhood_seconds=max_neighbourhood_seconds,
        final_share=final_share,
    )
    best_known = benchmark.best_known
    report = {
        "instance": benchmark.name,
        "objective": result.objective,
        "feasible": result.feasible,
        "objective_terms": (
            None
            if result.check is None
            else {term: result.check.penalties.get(term, 0) for term in CURTOIS_TERMS}
        ),
        "status": result.solution.status.value,
        "bound": result.solution.bound,
        "seconds": round(result.solution.seconds, 3),
        "best_known": best_known,
        "gap_to_best_known": (
            None
            if best_known is None or result.objective is None
            else round((result.objective - best_known) / best_known, 6)
        ),
        "time_limit": time_limit,
        "workers": workers,
        "seed": seed,
        "neighbourhoods": list(kinds),
        "shortfall_cuts": shortfall_cuts,
        "neighbourhood_seconds": neighbourhood_seconds,
        # the time limit of one neighbourhood search when the LNS stopped (None for plain CP-SAT)
        "neighbourhood_seconds_reached": result.solution.neighbourhood_seconds,
        "final_share": final_share,
        # when the final search of the whole model started [s] (None: none, or plain CP-SAT)
        "final_search_started": (
            None
            if result.solution.final_search_started is None
            else round(result.solution.final_search_started, 3)
        ),
        # per kind searched by the LNS (empty for plain CP-SAT): searches, proved, improvements
        "neighbourhood_searches": {
            kind: [record.searches, record.proved, record.improvements]
            for kind, record in result.solution.neighbourhoods.items()
        },
    }
    typer.echo(json.dumps(report))
