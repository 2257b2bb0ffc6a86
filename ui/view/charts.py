"""Chart builders of the command view: each takes a polars frame and returns an Altair chart.

Colours come from the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies);
every axis names its unit, and axis titles are never cut short (``titleLimit``). Times are drawn as the
hospital's wall-clock time, named on the axis (e.g. ``Time [Europe/London]``), whatever the browser's own
time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
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


TITLE_LIMIT = 600
"""Longest axis title drawn in full [pixels]."""


def _records(frame: pl.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """The chart's data: datetimes as the wall-clock time of ``timezone``, written as ISO text in "UTC".

    Vega-Lite shows times in the browser's time zone unless the scale is ``utc``; the charts use ``utc``
    scales, so writing the hospital's wall-clock time as if it were UTC draws that wall-clock time. The data
    is a data frame, not inline values: Streamlit sends it to the browser as Arrow beside the spec, and the
    spec (validated by Altair on every render) stays small, which keeps a page of charts well under a second.
    """
    out = frame.with_columns(
        [
            pl.col(name)
            .dt.convert_time_zone(timezone)
            .dt.replace_time_zone(None)
            .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            if getattr(dtype, "time_zone", None)
            else pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for name, dtype in frame.schema.items()
            if dtype == pl.Datetime
        ]
    )
    return out.to_pandas()


TimeDomain = tuple[datetime, datetime]
"""First and last moment a time axis shows [UTC, timezone-aware]."""


def _wall_clock(moment: datetime, timezone: str) -> str:
    """A moment as the hospital's wall-clock time, in the form :func:`_records` writes."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_axis(timezone: str, domain: TimeDomain | None = None) -> alt.X:
    scale = alt.Scale(type="utc")
    if domain is not None:
        scale = alt.Scale(
            type="utc", domain=[_wall_clock(domain[0], timezone), _wall_clock(domain[1], timezone)]
        )
    return alt.X(
        "at:T",
        title=f"Time [{timezone}]",
        scale=scale,
        axis=alt.Axis(format="%a %d %b", titleLimit=TITLE_LIMIT, labelOverlap=True),
    )


def _when(timezone: str) -> alt.Tooltip:
    return alt.Tooltip("at:T", title=f"time [{timezone}]", format="%a %d %b %H:%M", formatType="utc")


def _y(field: str, title: str, **options: Any) -> alt.Y:
    """A count axis from zero, labelled ``0, 2.5, 5`` (no trailing zeros), its title never cut."""
    options.setdefault("scale", alt.Scale(domainMin=0, nice=True))
    return alt.Y(field, title=title, axis=alt.Axis(titleLimit=TITLE_LIMIT, format=".1~f"), **options)


def occupancy_chart(census: pl.DataFrame) -> ChartObject:
    """Occupancy by unit [% of staffed beds], one bar per unit, with the 100 % line.

    ``census`` has the columns of ``ui.view.sources.CENSUS_SCHEMA``; bars over 100 % are vermilion.
    """
    frame = census.filter(pl.col("beds") > 0).with_columns(
        (100.0 * pl.col("census") / pl.col("beds")).round(1).alias("occupancy_percent")
    )
    bars = (
        alt.Chart(_records(frame))
        .mark_bar()
        .encode(
            y=alt.Y("name:N", title="Unit", sort=None, axis=alt.Axis(labelLimit=260, titleLimit=TITLE_LIMIT)),
            x=alt.X(
                "occupancy_percent:Q",
                title="Occupancy [% of staffed beds]",
                scale=alt.Scale(domainMin=0, nice=True),
                axis=alt.Axis(titleLimit=TITLE_LIMIT),
            ),
            color=alt.condition(alt.datum.occupancy_percent > 100, alt.value(VERMILION), alt.value(BLUE)),
            tooltip=["name:N", "census:Q", "beds:Q", "occupancy_percent:Q"],
        )
    )
    full = (
        alt.Chart(alt.Data(values=[{"full": 100}]))
        .mark_rule(color=GREY, strokeDash=[4, 4])
        .encode(x="full:Q")
    )
    return alt.layer(bars, full).properties(height=alt.Step(18))


def census_forecast_chart(
    points: pl.DataFrame,
    actuals: pl.DataFrame | None = None,
    *,
    timezone: str = "UTC",
    domain: TimeDomain | None = None,
) -> ChartObject:
    """One unit's census forecast: 5–95 % band, mean, beds, and past actuals as dots.

    Parameters
    ----------
    points
        Rows of ``CENSUS_FORECAST_SCHEMA`` for one unit.
    actuals
        Optional ``(at, census)`` rows: the census counted at past moments [patients].
    timezone
        The hospital's time zone: the axis shows its wall-clock time.
    domain
        The time span drawn (default: the data's); give the same one to the acuity chart below it.
    """
    data = _records(points, timezone)
    x = _time_axis(timezone, domain)
    band = (
        alt.Chart(data)
        .mark_area(opacity=0.3, color=SKY)
        .encode(x=x, y=_y("p05:Q", "Census [patients]"), y2="p95:Q")
    )
    mean = (
        alt.Chart(data)
        .mark_line(color=BLUE)
        .encode(x=x, y="mean:Q", tooltip=[_when(timezone), "mean:Q", "p05:Q", "p95:Q", "beds:Q"])
    )
    beds = alt.Chart(data).mark_line(color=VERMILION, strokeDash=[5, 3]).encode(x=x, y="beds:Q")
    layers: list[Any] = [band, mean, beds]
    if actuals is not None and actuals.height > 0:
        layers.append(
            alt.Chart(_records(actuals.select("at", "census"), timezone))
            .mark_point(color="#000000", filled=True, size=30)
            .encode(x=x, y="census:Q", tooltip=[_when(timezone), "census:Q"])
        )
    return alt.layer(*layers).properties(height=260)


def acuity_forecast_chart(
    points: pl.DataFrame,
    actuals: pl.DataFrame | None = None,
    *,
    timezone: str = "UTC",
    domain: TimeDomain | None = None,
) -> ChartObject:
    """High-acuity patients (NEWS2 high band) by hour for one unit [patients].

    The expected number as a line; its 5–95 % band when the forecast has ``p05_high_acuity`` and
    ``p95_high_acuity``; the patients counted in the high band at past moments as dots when ``actuals``
    has ``high_acuity``. ``timezone`` and ``domain`` as for :func:`census_forecast_chart`.
    """
    data = _records(points, timezone)
    x = _time_axis(timezone, domain)
    y = _y("mean_high_acuity:Q", "High acuity [patients]")
    layers: list[Any] = []
    if {"p05_high_acuity", "p95_high_acuity"} <= set(points.columns):
        layers.append(
            alt.Chart(data)
            .mark_area(opacity=0.3, color=ORANGE)
            .encode(x=x, y=_y("p05_high_acuity:Q", "High acuity [patients]"), y2="p95_high_acuity:Q")
        )
    layers.append(
        alt.Chart(data)
        .mark_line(color=VERMILION)
        .encode(x=x, y=y, tooltip=[_when(timezone), alt.Tooltip("mean_high_acuity:Q", format=".1f")])
    )
    if actuals is not None and actuals.height > 0 and "high_acuity" in actuals.columns:
        layers.append(
            alt.Chart(_records(actuals.select("at", "high_acuity").drop_nulls(), timezone))
            .mark_point(color="#000000", filled=True, size=30)
            .encode(x=x, y="high_acuity:Q", tooltip=[_when(timezone), "high_acuity:Q"])
        )
    return alt.layer(*layers).properties(height=200)


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
    data = _records(frame)
    y = alt.Y("metric:N", title="KPI", sort=None, axis=alt.Axis(labelLimit=260, titleLimit=TITLE_LIMIT))
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
                axis=alt.Axis(titleLimit=TITLE_LIMIT),
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


def roster_grid_chart(assignments: pl.DataFrame, max_nurses: int = 400) -> ChartObject:
    """The roster as a nurse × day grid coloured by shift (``ROSTER_ASSIGNMENTS_SCHEMA`` rows).

    Every nurse of the rows is drawn (up to ``max_nurses``), one row of cells each, in the order given.
    """
    nurses = assignments.get_column("nurse_id").unique(maintain_order=True).head(max_nurses).to_list()
    frame = assignments.filter(pl.col("nurse_id").is_in(nurses))
    shifts = sorted(frame.get_column("shift").unique().to_list())
    return (
        alt.Chart(_records(frame.with_columns(pl.col("day").cast(pl.String))))
        .mark_rect()
        .encode(
            x=alt.X("day:O", title="Day [local date]", axis=alt.Axis(titleLimit=TITLE_LIMIT)),
            y=alt.Y("nurse_id:N", title="Nurse", sort=nurses, axis=alt.Axis(titleLimit=TITLE_LIMIT)),
            color=alt.Color("shift:N", title="Shift", scale=alt.Scale(domain=shifts, range=list(OKABE_ITO))),
            tooltip=["nurse_id:N", "day:N", "shift:N", "unit_id:N", "skill:N"],
        )
        .properties(height=alt.Step(14))
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
        alt.Chart(_records(frame))
        .mark_bar()
        .encode(
            x=alt.X(
                "start_hour:Q",
                title="Time of day [hours]",
                scale=alt.Scale(zero=False),
                axis=alt.Axis(titleLimit=TITLE_LIMIT),
            ),
            x2="end_hour:Q",
            y=alt.Y("session:N", title="Day · theatre", sort=None, axis=alt.Axis(titleLimit=TITLE_LIMIT)),
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
    data = pd.DataFrame(values)
    bars = (
        alt.Chart(data)
        .mark_bar(color=GREEN)
        .encode(
            x=alt.X("day:O", title="Plan day [days from start]", axis=alt.Axis(titleLimit=TITLE_LIMIT)),
            y=alt.Y("patients:Q", title="Elective patients [beds]", axis=alt.Axis(titleLimit=TITLE_LIMIT)),
        )
    )
    limit = alt.Chart(data).mark_rule(color=VERMILION, strokeDash=[4, 4]).encode(y="beds:Q")
    return alt.layer(bars, limit).properties(height=200)


def stockout_risk_chart(par_levels: pl.DataFrame) -> ChartObject:
    """Chance of running out of each item over the plan [%] (``PAR_LEVELS_SCHEMA`` rows)."""
    frame = par_levels.with_columns((100.0 * pl.col("stockout_risk")).alias("stockout_percent"))
    return (
        alt.Chart(_records(frame))
        .mark_bar()
        .encode(
            x=alt.X(
                "stockout_percent:Q",
                title="Chance of a stock-out over the plan [%]",
                axis=alt.Axis(titleLimit=TITLE_LIMIT),
            ),
            y=alt.Y("item:N", title="Item", sort="-x", axis=alt.Axis(titleLimit=TITLE_LIMIT)),
            color=alt.condition(alt.datum.stockout_percent >= 5, alt.value(VERMILION), alt.value(BLUE)),
            tooltip=["item:N", "stockout_percent:Q", "par_level:Q", "fill_rate:Q"],
        )
        .properties(height=max(120, 20 * frame.height))
    )
