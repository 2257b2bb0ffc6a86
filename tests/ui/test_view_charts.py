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
    rows = sorted(spec["datasets"][spec["data"]["name"]], key=lambda row: row["sequence"])
    assert rows[0]["start_hour"] == 8.0 and rows[0]["end_hour"] == 9.5
    assert rows[1]["start_hour"] == rows[0]["end_hour"] and rows[1]["end_hour"] == 10.5


def _layer_fields(spec: dict[str, Any]) -> list[set[str]]:
    """The fields each layer of a layered spec encodes."""
    return [
        {
            value["field"]
            for value in layer.get("encoding", {}).values()
            if isinstance(value, dict) and "field" in value
        }
        for layer in spec.get("layer", [spec])
    ]


def _rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def test_the_acuity_chart_draws_the_band_and_the_actuals_when_it_has_them() -> None:
    start = datetime(2024, 3, 4, tzinfo=UTC)
    points = pl.DataFrame(
        {
            "at": [start + timedelta(hours=h) for h in range(3)],
            "mean_high_acuity": [1.0, 1.5, 2.0],
            "p05_high_acuity": [0.0, 0.5, 1.0],
            "p95_high_acuity": [2.0, 3.0, 4.0],
        }
    )
    actuals = pl.DataFrame({"at": [start - timedelta(hours=6)], "census": [9], "high_acuity": [1]})

    plain = charts.acuity_forecast_chart(points.drop("p05_high_acuity", "p95_high_acuity")).to_dict()
    full = charts.acuity_forecast_chart(points, actuals).to_dict()

    assert _layer_fields(plain) == [{"at", "mean_high_acuity"}]
    assert {"p05_high_acuity", "p95_high_acuity"} in [fields - {"at"} for fields in _layer_fields(full)]
    assert {"at", "high_acuity"} in _layer_fields(full)
    assert full["layer"][0]["mark"]["type"] == "area"


def test_times_are_drawn_as_the_hospitals_wall_clock_with_its_zone_named() -> None:
    summer = datetime(2024, 7, 1, 11, 0, tzinfo=UTC)  # 12:00 in London (BST)
    points = pl.DataFrame(
        {"at": [summer], "mean": [5.0], "p05": [4.0], "p95": [6.0], "beds": [8], "mean_high_acuity": [0.5]}
    )
    domain = (summer - timedelta(days=3), summer + timedelta(days=14))
    spec = charts.census_forecast_chart(points, timezone="Europe/London", domain=domain).to_dict()

    x = spec["layer"][0]["encoding"]["x"]
    assert x["title"] == "Time [Europe/London]" and x["scale"]["type"] == "utc"
    assert x["scale"]["domain"] == ["2024-06-28T12:00:00Z", "2024-07-15T12:00:00Z"]
    assert {row["at"] for row in _rows(spec)} == {"2024-07-01T12:00:00Z"}


@pytest.mark.parametrize("name", list(_examples()))
def test_axis_titles_are_never_cut_short(name: str) -> None:
    titled = [e for e in _encodings(_examples()[name].to_dict()) if e.get("title")]
    assert titled and all(e.get("axis", {}).get("titleLimit", 0) >= 400 for e in titled), titled


def test_the_occupancy_chart_marks_units_over_capacity() -> None:
    census = pl.DataFrame({"name": ["Ward A", "Ward B"], "census": [31, 20], "beds": [30, 30]})
    spec = charts.occupancy_chart(census).to_dict()
    rows = {row["name"]: row["occupancy_percent"] for row in _rows(spec)}
    assert rows == {"Ward A": 103.3, "Ward B": 66.7}
    assert charts.VERMILION in json.dumps(spec["layer"][0]["encoding"]["color"])
