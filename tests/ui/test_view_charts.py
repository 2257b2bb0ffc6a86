"""Chart builders: every quantitative or time axis names its unit; colours come from the Okabe–Ito palette."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from ops.sim.compare import COMPARISON_SCHEMA
from ui.view import charts

UNIT_IN_BRACKETS = re.compile(r"\[[^\]]+\]")


def _encodings(spec: Any) -> list[dict[str, Any]]:
    """Every x / y encoding of a Vega-Lite spec (layers included)."""
    found = []
    if isinstance(spec, dict):
        encoding = spec.get("encoding", {})
        for channel in ("x", "y"):
            if isinstance(encoding.get(channel), dict):
                found.append(encoding[channel])
        for value in spec.values():
            found.extend(_encodings(value))
    elif isinstance(spec, list):
        for value in spec:
            found.extend(_encodings(value))
    return found


def _colours(spec: Any) -> set[str]:
    return {c.upper() for c in re.findall(r"#[0-9A-Fa-f]{6}", json.dumps(spec))}


def _examples() -> dict[str, Any]:
    start = datetime(2024, 3, 4, tzinfo=UTC)
    points = pl.DataFrame(
        {
            "unit_id": ["MED-A"] * 3,
            "at": [start + timedelta(hours=h) for h in range(3)],
            "mean": [10.0, 11.0, 12.0],
            "p05": [8.0, 9.0, 10.0],
            "p95": [12.0, 13.0, 14.0],
            "mean_high_acuity": [1.0, 1.5, 2.0],
            "beds": [12, 12, 12],
        }
    )
    actuals = pl.DataFrame({"at": [start - timedelta(hours=6)], "census": [9]})
    census = pl.DataFrame({"name": ["Ward"], "census": [11], "beds": [12]})
    comparison = pl.DataFrame(
        [
            {
                "metric": "ed_attendances",
                "against_mean": 100.0,
                "difference": 5.0,
                "lower": 1.0,
                "upper": 9.0,
                "significant": True,
            },
            {
                "metric": "agency_cost",
                "against_mean": 10.0,
                "difference": -1.0,
                "lower": -3.0,
                "upper": 1.0,
                "significant": False,
            },
        ]
    ).with_columns(
        [
            pl.lit(None, dtype=d).alias(n)
            for n, d in COMPARISON_SCHEMA.items()
            if n not in ("metric", "against_mean", "difference", "lower", "upper", "significant")
        ]
    )
    assignments = pl.DataFrame(
        {
            "nurse_id": ["N1", "N2"],
            "day": [date(2024, 3, 4)] * 2,
            "shift": ["early", "night"],
            "unit_id": ["MED-A"] * 2,
            "skill": ["rn"] * 2,
        }
    )
    cases = pl.DataFrame(
        {
            "case_id": ["C1", "C2"],
            "service": ["gen", "ortho"],
            "surgeon": ["S", "T"],
            "planned": [True, True],
            "day": [0, 0],
            "theatre": ["T1", "T1"],
            "sequence": [0, 1],
            "ward": ["W", "W"],
            "duration_minutes": [90, 60],
        }
    )
    par = pl.DataFrame(
        {
            "item": ["gloves", "sutures"],
            "stockout_risk": [0.01, 0.2],
            "par_level": [1.0, 2.0],
            "fill_rate": [0.99, 0.9],
        }
    )
    return {
        "occupancy": charts.occupancy_chart(census),
        "forecast": charts.census_forecast_chart(points, actuals),
        "acuity": charts.acuity_forecast_chart(points),
        "comparison": charts.comparison_chart(comparison),
        "roster": charts.roster_grid_chart(assignments),
        "gantt": charts.theatre_gantt_chart(cases),
        "elective_beds": charts.elective_beds_chart([1, 2], 10),
        "stockout": charts.stockout_risk_chart(par),
    }


@pytest.mark.parametrize("name", list(_examples()))
def test_axes_name_their_units_and_colours_are_colour_blind_safe(name: str) -> None:
    spec = _examples()[name].to_dict()
    titled = [e for e in _encodings(spec) if e.get("title")]
    assert titled, "a chart without axis titles"
    for encoding in titled:
        if encoding.get("type") in ("quantitative", "temporal"):
            assert UNIT_IN_BRACKETS.search(encoding["title"]), f"{name}: {encoding['title']!r} has no unit"
    allowed = {c.upper() for c in charts.OKABE_ITO} | {charts.GREY.upper()}
    assert _colours(spec) <= allowed, _colours(spec) - allowed


def test_gantt_cases_follow_each_other_from_the_session_start() -> None:
    spec = _examples()["gantt"].to_dict()
    rows = sorted(spec["data"]["values"], key=lambda row: row["sequence"])
    assert rows[0]["start_hour"] == 8.0 and rows[0]["end_hour"] == 9.5
    assert rows[1]["start_hour"] == rows[0]["end_hour"] and rows[1]["end_hour"] == 10.5
