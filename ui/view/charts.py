"""Chart builders of the command view: each takes a polars frame and returns an Altair chart.

Colours come from the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies);
every axis names its unit.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

OKABE_ITO: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermilion
    "#CC79A7",  # reddish purple
    "#000000",  # black
)
"""Okabe & Ito (2008) colour-blind-safe palette."""

BLUE, VERMILION, GREEN, ORANGE, SKY, GREY = (
    OKABE_ITO[4],
    OKABE_ITO[5],
    OKABE_ITO[2],
    OKABE_ITO[0],
    OKABE_ITO[1],
    "#999999",
)


ChartObject = alt.Chart | alt.LayerChart | alt.FacetChart
"""What a chart builder returns: a chart Streamlit can show with ``st.altair_chart``."""


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for Vega-Lite (datetimes as ISO text)."""
    out = frame.with_columns(
        [
            pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for name, dtype in frame.schema.items()
            if dtype == pl.Datetime
        ]
    )
    return out.to_dicts()


def occupancy_chart(census: pl.DataFrame) -> ChartObject:
    """Occupancy by unit [% of staffed beds], with the 100 % line (``ui.view.sources.CENSUS_SCHEMA``)."""
    frame = census.filter(pl.col("beds") > 0).with_columns(
        (100.0 * pl.col("census") / pl.col("beds")).round(1).alias("occupancy_percent")
    )
    bars = (
        alt.Chart(alt.Data(values=_records(frame)))
        .mark_bar()
        .encode(
            x=alt.X("name:N", title="Unit", sort=None),
            y=alt.Y("occupancy_percent:Q", title="Occupancy [% of staffed beds]"),
            color=alt.condition(alt.datum.occupancy_percent > 100, alt.value(VERMILION), alt.value(BLUE)),
            tooltip=["name:N", "census:Q", "beds:Q", "occupancy_percent:Q"],
        )
    )
    full = (
        alt.Chart(alt.Data(values=[{"full": 100}]))
        .mark_rule(color=GREY, strokeDash=[4, 4])
        .encode(y="full:Q")
    )
    return alt.layer(bars, full).properties(height=260)


def census_forecast_chart(points: pl.DataFrame, actuals: pl.DataFrame | None = None) -> ChartObject:
    """One unit's census forecast: 5–95 % band, mean, beds, and past actuals as dots.

    Parameters
    ----------
    points
        Rows of ``CENSUS_FORECAST_SCHEMA`` for one unit.
    actuals
        Optional ``(at, census)`` rows: the census counted at past moments [patients].
    """
    data = alt.Data(values=_records(points))
    x = alt.X("at:T", title="Time [UTC]")
    band = (
        alt.Chart(data)
        .mark_area(opacity=0.3, color=SKY)
        .encode(x=x, y=alt.Y("p05:Q", title="Census [patients]"), y2="p95:Q")
    )
    mean = alt.Chart(data).mark_line(color=BLUE).encode(x=x, y="mean:Q", tooltip=["at:T", "mean:Q", "p95:Q"])
    beds = alt.Chart(data).mark_line(color=VERMILION, strokeDash=[5, 3]).encode(x=x, y="beds:Q")
    layers: list[Any] = [band, mean, beds]
    if actuals is not None and actuals.height > 0:
        layers.append(
            alt.Chart(alt.Data(values=_records(actuals)))
            .mark_point(color="#000000", filled=True, size=30)
            .encode(x="at:T", y="census:Q", tooltip=["at:T", "census:Q"])
        )
    return alt.layer(*layers).properties(height=240)


def acuity_forecast_chart(points: pl.DataFrame) -> ChartObject:
    """Expected high-acuity patients (NEWS2 high band) by hour for one unit [patients]."""
    return (
        alt.Chart(alt.Data(values=_records(points)))
        .mark_line(color=ORANGE)
        .encode(
            x=alt.X("at:T", title="Time [UTC]"),
            y=alt.Y("mean_high_acuity:Q", title="High acuity [patients]"),
        )
        .properties(height=140)
    )


def comparison_chart(comparison: pl.DataFrame, clip_percent: float = 100.0) -> ChartObject:
    """Each KPI's paired difference from the baseline [% of the baseline mean] with its 95 % interval.

    KPIs whose baseline mean is zero have no relative difference and are left out (the table has them);
    intervals are drawn up to ``clip_percent`` either side so one wide interval does not hide the rest.

    Parameters
    ----------
    comparison
        Rows of ``ops.sim.compare.COMPARISON_SCHEMA``.
    clip_percent
        Half-width of the x axis [% of the baseline mean].
    """
    frame = comparison.filter(pl.col("against_mean").abs() > 0).with_columns(
        (100.0 * pl.col("difference") / pl.col("against_mean").abs()).alias("difference_percent"),
        (100.0 * pl.col("lower") / pl.col("against_mean").abs()).alias("lower_percent"),
        (100.0 * pl.col("upper") / pl.col("against_mean").abs()).alias("upper_percent"),
        pl.when(pl.col("significant").fill_null(False))
        .then(pl.lit("interval excludes 0"))
        .otherwise(pl.lit("no clear change"))
        .alias("verdict"),
    )
    data = alt.Data(values=_records(frame))
    y = alt.Y("metric:N", title="KPI", sort=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(domain=[-clip_percent, clip_percent], clamp=True)
    colour = alt.Color(
        "verdict:N",
        title="Difference",
        scale=alt.Scale(domain=["interval excludes 0", "no clear change"], range=[VERMILION, BLUE]),
    )
    whiskers = (
        alt.Chart(data)
        .mark_rule()
        .encode(
            y=y,
            x=alt.X(
                "lower_percent:Q",
                title=f"What-if minus baseline [% of baseline mean; axis cut at ±{clip_percent:.0f} %]",
                scale=x_scale,
            ),
            x2="upper_percent:Q",
            color=colour,
        )
    )
    dots = (
        alt.Chart(data)
        .mark_point(filled=True, size=60)
        .encode(
            y=y,
            x=alt.X("difference_percent:Q", scale=x_scale),
            color=colour,
            tooltip=["metric:N", "difference:Q", "lower:Q", "upper:Q"],
        )
    )
    zero = alt.Chart(alt.Data(values=[{"zero": 0}])).mark_rule(color=GREY).encode(x="zero:Q")
    return alt.layer(zero, whiskers, dots).properties(height=max(120, 22 * frame.height))


def roster_grid_chart(assignments: pl.DataFrame, max_nurses: int = 60) -> ChartObject:
    """The roster as a nurse × day grid coloured by shift (``ROSTER_ASSIGNMENTS_SCHEMA`` rows)."""
    nurses = assignments.get_column("nurse_id").unique(maintain_order=True).head(max_nurses).to_list()
    frame = assignments.filter(pl.col("nurse_id").is_in(nurses))
    shifts = sorted(frame.get_column("shift").unique().to_list())
    return (
        alt.Chart(alt.Data(values=_records(frame.with_columns(pl.col("day").cast(pl.String)))))
        .mark_rect()
        .encode(
            x=alt.X("day:O", title="Day [local date]"),
            y=alt.Y("nurse_id:N", title="Nurse", sort=nurses),
            color=alt.Color("shift:N", title="Shift", scale=alt.Scale(domain=shifts, range=list(OKABE_ITO))),
            tooltip=["nurse_id:N", "day:N", "shift:N", "unit_id:N", "skill:N"],
        )
        .properties(height=alt.Step(20))
    )


def theatre_gantt_chart(cases: pl.DataFrame, session_start_minute: int = 8 * 60) -> ChartObject:
    """The surgical plan as a Gantt chart: a bar per planned case, one row per theatre and day.

    Cases follow each other in ``sequence`` order from ``session_start_minute`` (minutes after midnight);
    the bar length is the case's ``duration_minutes``.
    """
    planned = cases.filter(pl.col("planned").fill_null(False)).sort("day", "theatre", "sequence")
    frame = planned.with_columns(
        (pl.col("duration_minutes").cum_sum().over("day", "theatre") - pl.col("duration_minutes")).alias(
            "offset"
        )
    ).with_columns(
        ((session_start_minute + pl.col("offset")) / 60.0).alias("start_hour"),
        ((session_start_minute + pl.col("offset") + pl.col("duration_minutes")) / 60.0).alias("end_hour"),
        pl.format("day {} · {}", pl.col("day"), pl.col("theatre")).alias("session"),
    )
    services = sorted(frame.get_column("service").unique().to_list())
    return (
        alt.Chart(alt.Data(values=_records(frame)))
        .mark_bar()
        .encode(
            x=alt.X("start_hour:Q", title="Time of day [hours]", scale=alt.Scale(zero=False)),
            x2="end_hour:Q",
            y=alt.Y("session:N", title="Day · theatre", sort=None),
            color=alt.Color(
                "service:N", title="Service", scale=alt.Scale(domain=services, range=list(OKABE_ITO))
            ),
            tooltip=["case_id:N", "service:N", "surgeon:N", "duration_minutes:Q", "ward:N"],
        )
        .properties(height=alt.Step(22))
    )


def elective_beds_chart(beds_by_day: list[int], elective_beds: int) -> ChartObject:
    """Elective patients in bed per plan day [patients] against the elective beds."""
    values = [{"day": day, "patients": count, "beds": elective_beds} for day, count in enumerate(beds_by_day)]
    data = alt.Data(values=values)
    bars = (
        alt.Chart(data)
        .mark_bar(color=GREEN)
        .encode(
            x=alt.X("day:O", title="Plan day [days from start]"),
            y=alt.Y("patients:Q", title="Elective patients [beds]"),
        )
    )
    limit = alt.Chart(data).mark_rule(color=VERMILION, strokeDash=[4, 4]).encode(y="beds:Q")
    return alt.layer(bars, limit).properties(height=200)


def stockout_risk_chart(par_levels: pl.DataFrame) -> ChartObject:
    """Chance of running out of each item over the plan [%] (``PAR_LEVELS_SCHEMA`` rows)."""
    frame = par_levels.with_columns((100.0 * pl.col("stockout_risk")).alias("stockout_percent"))
    return (
        alt.Chart(alt.Data(values=_records(frame)))
        .mark_bar()
        .encode(
            x=alt.X("stockout_percent:Q", title="Chance of a stock-out over the plan [%]"),
            y=alt.Y("item:N", title="Item", sort="-x"),
            color=alt.condition(alt.datum.stockout_percent >= 5, alt.value(VERMILION), alt.value(BLUE)),
            tooltip=["item:N", "stockout_percent:Q", "par_level:Q", "fill_rate:Q"],
        )
        .properties(height=max(120, 20 * frame.height))
    )
