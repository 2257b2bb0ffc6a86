"""``hospital-twin bench ihtc``: solve one IHTC-2024 instance and print the checker's verdict as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scheduler.ihtc.instance import load_instance
from scheduler.ihtc.solution import write_solution
from scheduler.ihtc.solver import solve

# Best known cost per public instance (reference solutions, ../shared/data/README.md).
BEST_KNOWN: dict[str, int] = {
    "test01": 3177,
    "test02": 1583,
    "test03": 10184,
    "test04": 2332,
    "test05": 15713,
    "test06": 18558,
    "test07": 17048,
    "test08": 24947,
    "test09": 20492,
    "test10": 49444,
    "i01": 3842,
    "i02": 1264,
    "i03": 10490,
    "i04": 1884,
    "i05": 12760,
    "i06": 10671,
    "i07": 4985,
    "i08": 6249,
    "i09": 6611,
    "i10": 20705,
}


def ihtc(
    instance: Annotated[
        Path,
        typer.Argument(
            help="Instance JSON file, e.g. ../shared/data/ihtc2024/instances/test01.json.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Wall-clock budget in seconds.")
    ] = 600,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Sub-models solved in parallel.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write the solution JSON (competition format) here."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the search.")] = 0,
) -> None:
    """Solve an IHTC-2024 instance (surgical admission, rooms, theaters, nurses) and print the result.

    Prints one JSON object: instance, cost by term (weighted, from the independent checker), total, hard
    violations, feasible, status, seconds, and the ratio to the best known cost for the public instances.
    With ``--out`` the plan is also written in the competition's solution format.
    """
    problem = load_instance(instance)
    result = solve(problem, time_limit_s=time_limit, workers=workers, seed=seed)
    if out is not None:
        write_solution(result.plan, out, problem)
    evaluation = result.evaluation
    report = {
        "instance": problem.name,
        "cost_by_term": evaluation.cost_by_term,
        "total": evaluation.total_cost,
        "hard_violations": evaluation.violations.as_dict(),
        "feasible": evaluation.feasible,
        "status": result.status.value,
        "seconds": round(result.seconds, 3),
        "best_known": BEST_KNOWN.get(problem.name),
        "ratio_to_best_known": (
            round(evaluation.total_cost / BEST_KNOWN[problem.name], 4) if problem.name in BEST_KNOWN else None
        ),
        "time_limit": time_limit,
        "workers": workers,
        "seed": seed,
    }
    if result.unscheduled_mandatory:
        report["unscheduled_mandatory"] = list(result.unscheduled_mandatory)
    if result.unplaceable:
        report["unplaceable_mandatory"] = list(result.unplaceable)
    if result.nurseless_shifts:
        report["nurseless_shifts"] = [list(item) for item in result.nurseless_shifts]
    typer.echo(json.dumps(report, indent=2))
