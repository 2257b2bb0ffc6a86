"""Benchmark: our roster and surgical-plan solvers against the published results, at the goals' limits.

Runs the documented commands, ``hospital-twin bench curtois`` and ``hospital-twin bench ihtc``, one
instance at a time with 2 workers, and prints each answer next to the published numbers of
``../shared/data/README.md`` (best known; Gurobi 10 min for Curtois; Team 42's CP-SAT and the median team
for IHTC). Each instance takes the whole time limit, so the default is the hardest instance of each:

- ``BENCH_CURTOIS`` — Curtois instance numbers, comma-separated (default ``10``; ``1-12`` for all);
- ``BENCH_IHTC`` — IHTC instance names (default ``i08``; ``all`` for the 20 public instances);
- ``BENCH_TIME_LIMIT`` — seconds per instance (default 600, the goals' limit).

Goals (issue 5 and 6): Curtois best known on 1–7 and 9–11, within 3 % on 8 and 12; IHTC feasible, at most
1.25 × best known on each instance and below Team 42. Every instance is run and printed before the goals are
asserted, so one missed goal does not hide the others. Run with ``make bench`` or
``BENCH_CURTOIS=1-12 .venv/bin/pytest tests/benchmarks/test_optimiser_quality.py -s -o addopts=""``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA, require
from ui.commands.bench_ihtc import BEST_KNOWN as IHTC_BEST_KNOWN

WORKERS = 2
CURTOIS_GUROBI_10_MIN = {1: 607, 2: 828, 3: 1001, 4: 1716, 5: 1143, 6: 1950, 7: 1056, 8: 8995, 9: 439}
CURTOIS_GUROBI_10_MIN |= {10: 4631, 11: 3443, 12: 4045}
CURTOIS_WITHIN_3_PERCENT = {8, 12}
"""Instances whose goal is within 3 % of the best known (the others: the best known itself)."""
IHTC_TEAM_42 = {"i01": 4083, "i02": 1528, "i03": 10690, "i04": 2151, "i05": 13166}
IHTC_TEAM_42 |= {"i06": 10738, "i07": 5991, "i08": 8103, "i09": 8110, "i10": 23895}
IHTC_MEDIAN_TEAM = {"i01": 3974, "i02": 1492, "i03": 10645, "i04": 2127, "i05": 13118}
IHTC_MEDIAN_TEAM |= {"i06": 10734, "i07": 5833, "i08": 7723, "i09": 7647, "i10": 22277}
IHTC_MOST_RATIO = 1.25


def _numbers(text: str) -> list[int]:
    chosen: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        chosen.extend(range(int(first), int(last or first) + 1))
    return chosen


def _run(*args: str, time_limit: float) -> dict[str, object]:
    command = [str(Path(sys.executable).parent / "hospital-twin"), "bench", *args]
    command += ["--time-limit", str(time_limit), "--workers", str(WORKERS), "--seed", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=time_limit * 2 + 300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_curtois_against_the_best_known() -> None:
    require((SHARED_DATA / "rostering" / "curtois").is_dir(), "../shared/data/rostering/curtois is absent")
    time_limit = float(os.environ.get("BENCH_TIME_LIMIT", "600"))
    missed = []
    print(f"\nCurtois, {WORKERS} workers, {time_limit:.0f} s each")
    print("instance  ours  bound  best-known  gap  Gurobi-10-min  status  seconds")
    for number in _numbers(os.environ.get("BENCH_CURTOIS", "10")):
        path = SHARED_DATA / "rostering" / "curtois" / f"Instance{number}.txt"
        report = _run("curtois", str(path), time_limit=time_limit)
        ours, best = report["objective"], report["best_known"]
        assert isinstance(ours, int) and isinstance(best, int) and report["feasible"] is True, report
        gap = (ours - best) / best
        print(
            f"{number:8d}  {ours:4d}  {report['bound']:5.0f}  {best:10d}  {gap:+.1%}  "
            f"{CURTOIS_GUROBI_10_MIN.get(number, 0):13d}  {report['status']}  {report['seconds']}"
        )
        if gap > (0.03 if number in CURTOIS_WITHIN_3_PERCENT else 0.0):
            missed.append(f"Instance{number}: {ours} against best known {best} ({gap:+.1%})")
    assert not missed, "goal missed: " + "; ".join(missed)


def test_ihtc_against_the_competition() -> None:
    require((SHARED_DATA / "ihtc2024" / "instances").is_dir(), "../shared/data/ihtc2024 is absent")
    time_limit = float(os.environ.get("BENCH_TIME_LIMIT", "600"))
    chosen = os.environ.get("BENCH_IHTC", "i08")
    names = list(IHTC_BEST_KNOWN) if chosen == "all" else [n.strip() for n in chosen.split(",")]
    missed = []
    ratios = []
    print(f"\nIHTC-2024, {WORKERS} workers, {time_limit:.0f} s each")
    print("instance  ours  best-known  ratio  Team-42  median-team  feasible")
    for name in names:
        path = SHARED_DATA / "ihtc2024" / "instances" / f"{name}.json"
        report = _run("ihtc", str(path), time_limit=time_limit)
        ours, feasible = report["total"], report["feasible"]
        assert isinstance(ours, int), report
        ratio = ours / IHTC_BEST_KNOWN[name]
        ratios.append(ratio)
        team_42 = IHTC_TEAM_42.get(name)
        print(
            f"{name:8s}  {ours:5d}  {IHTC_BEST_KNOWN[name]:10d}  {ratio:.3f}  {team_42 or '-':>7}  "
            f"{IHTC_MEDIAN_TEAM.get(name, '-'):>11}  {feasible}"
        )
        if not feasible or ratio > IHTC_MOST_RATIO or (team_42 is not None and ours >= team_42):
            missed.append(f"{name}: {ours} (ratio {ratio:.3f}, feasible {feasible}, Team 42 {team_42})")
    print(f"mean ratio {sum(ratios) / len(ratios):.3f} over {len(ratios)} instance(s); goal 1.10 over all 20")
    assert not missed, "goal missed: " + "; ".join(missed)
