"""The pages of the command view. They read through cached calls and lay out charts; they never compute.

Each page says in plain words when its data is missing (and which command makes it) instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from ops.nightly import ALERT_PROBABILITY, likelihood_words
from ops.sim.kpis import metric_info
from scenarios.schema import Hospital
from scheduler.staffing.demand import shift_of_hours
from ui.view import charts
from ui.view.sources import (
    ACUITY_BAND_COLUMNS,
    CensusForecastView,
    CensusNow,
    PlanView,
    ViewSource,
    ViewSourceError,
    source_from_environment,
)

CACHE_SECONDS = 30
"""Reads are reused for this long within a scenario [seconds]."""

JOB_POLL_SECONDS = 0.5
"""How often the What-if page looks at a running job [seconds]."""


@st.cache_resource(show_spinner=False)
def shared_source() -> ViewSource:
    """One source per view process (its store connection and job runner serve every session)."""
    return source_from_environment()


def clear_caches() -> None:
    """Forget the source and every cached read (a fresh view process, as far as the data goes)."""
    for cached in (shared_source, _hospital_of, _census, _forecast, _history, _plan):
        cached.clear()


def _hospital_key(source: ViewSource) -> str:
    scenario = cached_hospital(source)
    return "none" if scenario is None else scenario.digest()


@st.cache_resource(show_spinner=False)
def _hospital_of(_source: ViewSource, source_id: int) -> Any:
    return _source.hospital()


def cached_hospital(source: ViewSource) -> Any:
    """The hospital scenario, read once per source."""
    return _hospital_of(source, id(source))


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _census(_source: ViewSource, source_id: int, scenario_digest: str) -> CensusNow | None:
    return _source.census_now()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _forecast(_source: ViewSource, source_id: int, scenario_digest: str) -> CensusForecastView | None:
    return _source.census_forecast()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _history(
    _source: ViewSource, source_id: int, scenario_digest: str, until: datetime
) -> pl.DataFrame | None:
    return _source.census_history(until)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _plan(_source: ViewSource, source_id: int, scenario_digest: str, kind: str) -> PlanView | None:
    return _source.plan(kind)


def read(source: ViewSource, what: str, *args: Any) -> Any:
    """A cached read keyed by the source and the hospital scenario's hash; ``None`` on a source error."""
    key = _hospital_key(source)
    readers: dict[str, Callable[..., Any]] = {
        "census": _census,
        "forecast": _forecast,
        "plan": _plan,
        "history": _history,
    }
    try:
        return readers[what](source, id(source), key, *args)
    except ViewSourceError as error:
        st.warning(str(error))
        return None


def missing(note: str) -> None:
    """A plain-language note for data that is not there yet."""
    st.info(note)


def _unit_alerts(plan: PlanView | None) -> list[dict[str, Any]]:
    return [] if plan is None else list(plan.payload.get("alerts") or [])


def current_shift(source: ViewSource, moment: datetime) -> tuple[str, str] | None:
    """The local date the shift on duty at ``moment`` started on (ISO text) and its id."""
    scenario = cached_hospital(source)
    if scenario is None:
        return None
    found = shift_of_hours(pl.Series("at", [moment]).dt.cast_time_unit("us"), scenario.hospital)
    if found.height == 0 or found.get_column("shift").item() is None:
        return None
    return found.get_column("day").item().isoformat(), str(found.get_column("shift").item())


def nurses_on_shift(plan: PlanView | None, day: str, shift: str) -> pl.DataFrame:
    """Nurses rostered (staff and agency) and required per unit on one shift of the roster plan."""
    empty = pl.DataFrame(schema={"unit_id": pl.String, "required": pl.Int64, "rostered": pl.Int64})
    if plan is None or not plan.payload.get("cover"):
        return empty
    cover = pl.DataFrame(plan.payload["cover"], infer_schema_length=None)
    return (
        cover.filter((pl.col("day").cast(pl.String) == day) & (pl.col("shift") == shift))
        .group_by("unit_id")
        .agg(
            pl.col("required").sum().cast(pl.Int64),
            (pl.col("staff") + pl.col("agency")).sum().cast(pl.Int64).alias("rostered"),
        )
    )


def page_now(source: ViewSource) -> None:
    """Now: a tile per unit and the hospital totals."""
    st.header("Now")
    census: CensusNow | None = read(source, "census")
    if census is None:
        missing(
            "No census yet: the store holds no patient events. "
            "Run `hospital-twin demo` or feed the ADT listener."
        )
        return
    roster: PlanView | None = read(source, "plan", "roster")
    units = census.units
    st.caption(f"As of {census.as_of:%A %d %B %Y, %H:%M} UTC")
    beds = int(units.get_column("beds").fill_null(0).sum())
    inside = int(units.get_column("census").sum())
    totals = st.columns(4)
    totals[0].metric("Patients in the hospital", f"{inside}")
    totals[1].metric("Occupancy [% of beds]", f"{100 * inside / beds:.0f} %" if beds else "–")
    totals[2].metric(
        "Free beds", f"{int(units.get_column('free_beds').fill_null(0).clip(lower_bound=0).sum())}"
    )
    totals[3].metric("ED boarding [patients]", f"{int(units.get_column('boarding').sum())}")
    on_duty = current_shift(source, census.as_of)
    cover = nurses_on_shift(roster, *on_duty) if on_duty is not None else None
    nurses = {} if cover is None else {row["unit_id"]: row for row in cover.iter_rows(named=True)}
    alerts = _unit_alerts(roster)
    over = units.filter(pl.col("free_beds") < 0)
    for row in over.iter_rows(named=True):
        st.error(f"{row['name']} is over capacity now: {row['census']} patients in {row['beds']} beds.")
    columns = st.columns(4)
    for index, row in enumerate(units.iter_rows(named=True)):
        with columns[index % 4].container(border=True):
            st.markdown(f"**{row['name']}**")
            occupancy = f"{100 * row['census'] / row['beds']:.0f} %" if row["beds"] else "–"
            st.metric("Occupancy", occupancy, help="Patients in the unit / staffed beds")
            free = row["free_beds"] if row["free_beds"] is not None else "–"
            lines = [f"{row['census']} patients, {free} free beds"]
            if row["kind"] == "ed":
                lines.append(f"{row['boarding']} boarding (admitted, waiting for a bed)")
            staffed = nurses.get(row["unit_id"])
            if staffed is not None:
                shift_name = on_duty[1] if on_duty is not None else "current"
                lines.append(
                    f"nurses on the {shift_name} shift: {staffed['rostered']} "
                    f"of {staffed['required']} required"
                )
            unit_alerts = [a for a in alerts if a.get("unit_id") == row["unit_id"]]
            if unit_alerts:
                lines.append(f"{len(unit_alerts)} alert(s)")
            st.caption(" · ".join(lines))
    st.altair_chart(charts.occupancy_chart(units), width="stretch")
    st.subheader("Alerts")
    if roster is None:
        missing("No alerts yet: the nightly plan raises them (`hospital-twin nightly`).")
    elif not alerts:
        st.success("No alerts in the published plan.")
    else:
        for alert in alerts[:30]:
            (st.error if alert.get("severity") == "high" else st.warning)(str(alert.get("message", "")))
        if len(alerts) > 30:
            st.caption(f"… and {len(alerts) - 30} more on the Staffing page.")


def unit_names(source: ViewSource) -> dict[str, str]:
    """Unit names by id (ids alone when the hospital is unknown)."""
    scenario = cached_hospital(source)
    return {} if scenario is None else {unit.id: unit.name for unit in scenario.hospital.units}


def shift_words(hospital: Hospital, day: date, shift_id: str) -> str:
    """A shift in plain words, with the local day it starts on and its hours.

    A shift that crosses midnight is named after the evening it starts: the night shift of a Tuesday runs
    from Tuesday 23:00 to Wednesday 07:00, so 00:30 on Wednesday falls in *Tuesday night*.

    >>> from scenarios import load_scenario, scenario_path
    >>> hospital = load_scenario(scenario_path("baseline")).hospital
    >>> shift_words(hospital, date(2024, 3, 5), "night")
    'Tuesday night shift (Tuesday 5 March 23:00 to Wednesday 6 March 07:00)'
    >>> shift_words(hospital, date(2024, 3, 6), "early")
    'Wednesday early shift (07:00 to 15:00)'
    """
    shift = next((s for s in hospital.shifts if s.id == shift_id), None)
    if shift is None:
        return f"{day:%A} {shift_id} shift"
    name = (shift.name or shift.id).lower()
    start, end = str(shift.start)[:5], str(shift.end)[:5]
    crosses_midnight = end <= start
    label = f"{day:%A} {name}" + ("" if "shift" in name else " shift")
    if not crosses_midnight:
        return f"{label} ({start} to {end})"
    following = day + timedelta(days=1)
    starts, ends = (
        f"{day:%A} {day.day} {day:%B} {start}",
        f"{following:%A} {following.day} {following:%B} {end}",
    )
    return f"{label} ({starts} to {ends})"


def forecast_alerts(
    points: pl.DataFrame, names: dict[str, str], hospital: Hospital | None = None
) -> list[str]:
    """Plain-language alerts: per unit, the first hour when over-capacity is at least likely.

    ``points`` are ``CENSUS_FORECAST_SCHEMA`` rows; the chance is the forecast's ``p_over_capacity``. The
    hour is told in the hospital's time zone with the shift it falls in (:func:`shift_words`), e.g. *"Ward
    A is likely (80%) to be over capacity from 00:00 on Wednesday 6 March, in the Tuesday night shift
    (Tuesday 5 March 23:00 to Wednesday 6 March 07:00; 28 beds)"*. Without a hospital, times are UTC.
    """
    first = (
        points.filter(pl.col("p_over_capacity") >= ALERT_PROBABILITY)
        .sort("at")
        .group_by("unit_id", maintain_order=True)
        .first()
    )
    if first.height == 0:
        return []
    zone = ZoneInfo(hospital.timezone if hospital is not None else "UTC")
    shifts = (
        shift_of_hours(first.get_column("at").dt.cast_time_unit("us"), hospital)
        if hospital is not None
        else None
    )
    messages = []
    for number, row in enumerate(first.iter_rows(named=True)):
        chance = float(row["p_over_capacity"])
        at: datetime = row["at"].astimezone(zone)
        when = f"from {at:%H:%M} on {at:%A} {at.day} {at:%B}"
        shift_id = None if shifts is None else shifts.get_column("shift")[number]
        if hospital is not None and shifts is not None and shift_id is not None:
            when += f", in the {shift_words(hospital, shifts.get_column('day')[number], shift_id)}"
        zone_note = "" if hospital is not None else " UTC"
        messages.append(
            f"{names.get(row['unit_id'], row['unit_id'])} is {likelihood_words(chance)} ({chance:.0%}) to be "
            f"over capacity {when}{zone_note} ({row['beds']} beds)"
        )
    return messages


def page_forecast(source: ViewSource) -> None:
    """Forecast: census and acuity by unit for 14 days with bands, past actuals overlaid."""
    st.header("Forecast")
    forecast: CensusForecastView | None = read(source, "forecast")
    if forecast is None or forecast.points.height == 0:
        missing("No census forecast yet: the nightly plan makes one (`hospital-twin nightly`).")
        return
    points = forecast.points
    units = points.get_column("unit_id").unique(maintain_order=True).to_list()
    st.caption(f"Forecast made from {forecast.as_of:%A %d %B %Y, %H:%M} UTC; band: 5th to 95th percentile.")
    chosen = st.multiselect("Units", units, default=units_most_at_risk(points, 4))
    history: pl.DataFrame | None = read(source, "history", forecast.as_of)
    if history is None or history.height == 0:
        st.caption("Past days' census is not available from this source.")
    horizon_end = forecast.as_of + timedelta(days=14)
    names = unit_names(source)
    scenario = cached_hospital(source)
    hospital = None if scenario is None else scenario.hospital
    zone = "UTC" if hospital is None else hospital.timezone
    shown = points.filter(pl.col("at") <= horizon_end)
    for message in forecast_alerts(shown, names, hospital):
        st.warning(message)
    if not all(column in points.columns for column in ACUITY_BAND_COLUMNS):
        st.caption("Acuity: expected high-acuity patients (this forecast keeps no band for them).")
    first_shown = forecast.as_of
    first_actual = None if history is None else history.get_column("at").min()
    if isinstance(first_actual, datetime):
        first_shown = min(first_shown, first_actual)
    last_point = shown.get_column("at").max()
    domain = (first_shown, min(horizon_end, last_point) if isinstance(last_point, datetime) else horizon_end)
    for unit in chosen:
        unit_points = shown.filter(pl.col("unit_id") == unit)
        actuals = None if history is None else history.filter(pl.col("unit_id") == unit)
        worst = unit_points.get_column("p_over_capacity").max()
        st.subheader(names.get(unit, unit))
        if isinstance(worst, float) and 0.1 <= worst < ALERT_PROBABILITY:
            st.caption(f"Up to {worst:.0%} chance of more patients than beds within the forecast.")
        census = charts.census_forecast_chart(unit_points, actuals, timezone=zone, domain=domain)
        st.altair_chart(census, width="stretch")
        acuity = charts.acuity_forecast_chart(unit_points, actuals, timezone=zone, domain=domain)
        st.altair_chart(acuity, width="stretch")


def units_most_at_risk(points: pl.DataFrame, count: int) -> list[str]:
    """The ``count`` units with the highest chance of more patients than beds (ties in forecast order)."""
    order = {unit: k for k, unit in enumerate(points.get_column("unit_id").unique(maintain_order=True))}
    worst = points.group_by("unit_id").agg(pl.col("p_over_capacity").max().fill_null(0.0).alias("worst"))
    ranked = sorted(worst.iter_rows(named=True), key=lambda row: (-row["worst"], order[row["unit_id"]]))
    return [row["unit_id"] for row in ranked[:count]]


def page_whatif(source: ViewSource) -> None:
    """What-if: pick or edit a scenario, run it as a job, compare every KPI with the baseline."""
    st.header("What-if")
    try:
        names = source.scenario_names()
    except ViewSourceError as error:
        st.warning(str(error))
        return
    if not names:
        missing("No scenarios yet: save one with `hospital-twin scenario` or the API.")
        return
    default = names.index("winter_surge") if "winter_surge" in names else 0
    name = st.selectbox("Scenario", names, index=default)
    text = source.scenario_text(name) or ""
    with st.expander("Edit the scenario (TOML)"):
        edited = st.text_area("Scenario file", text, height=300, key=f"toml-{name}")
        save_as = st.text_input("Save as", value=name)
        if st.button("Save as a new version"):
            try:
                version = source.save_scenario(save_as, edited)
                st.success(f"Saved {save_as} version {version}.")
            except (ValueError, ViewSourceError) as error:
                st.error(f"Not saved: {error}")
    cols = st.columns(3)
    days = cols[0].number_input("Days simulated", min_value=1, max_value=365, value=7)
    replications = cols[1].number_input("Replications", min_value=2, max_value=200, value=5)
    against = cols[2].selectbox(
        "Compared with", names, index=names.index("baseline") if "baseline" in names else 0
    )
    if st.button("Run what-if", type="primary"):
        try:
            started = source.submit_whatif(
                {"scenario": name, "against": against, "days": int(days), "replications": int(replications)}
            )
            st.session_state["whatif_job"] = started
        except (ValueError, ViewSourceError) as error:
            st.error(f"Could not start the what-if: {error}")
    job_id = st.session_state.get("whatif_job")
    if job_id is None:
        st.caption("Pick a scenario and run it: the comparison with the baseline appears here.")
        _earlier_runs(source)
        return
    bar = st.progress(0.0, text="what-if queued")
    job = source.job(job_id)
    while not job.final:
        bar.progress(
            job.fraction_done, text=f"{job.message or job.status} ({job.progress_done}/{job.progress_total})"
        )
        time.sleep(JOB_POLL_SECONDS)
        job = source.job(job_id)
    bar.progress(job.fraction_done, text=f"what-if {job.status}")
    if job.status != "finished" or job.result is None:
        st.error(f"The what-if ended {job.status}: {job.error or job.message}")
        return
    comparison = source.comparison(int(job.result["run_id"]))
    if comparison is None or comparison.height == 0:
        missing("The what-if finished but kept no comparison.")
        return
    st.subheader(f"{job.result.get('scenario')} against {job.result.get('against')}")
    st.caption(f"{job.result.get('replications')} paired replications; intervals are 95 % t intervals.")
    _show_comparison(comparison)
    if st.button("Run another what-if"):
        st.session_state.pop("whatif_job", None)
        st.rerun()


def _show_comparison(comparison: pl.DataFrame) -> None:
    """Every KPI side by side (a plain table, every row visible), then the chart of the differences."""
    table = comparison_table(comparison).with_columns(
        pl.col("clear change").replace_strict({True: "yes", False: "no"}, default="–", return_dtype=pl.String)
    )
    st.table(table.to_pandas().set_index("KPI").style.format(precision=2, thousands=",", na_rep="–"))
    st.altair_chart(charts.comparison_chart(comparison), width="stretch")


def _earlier_runs(source: ViewSource) -> None:
    """Earlier what-if runs, to look at one's comparison again."""
    try:
        runs = source.whatif_runs()
    except ViewSourceError as error:
        st.warning(str(error))
        return
    runs = runs.filter(pl.col("has_results").fill_null(False))
    if runs.height == 0:
        return
    st.subheader("Earlier runs")
    labels = {
        f"run {row['run_id']}: {row['scenario_name']} against {row['against'] or 'baseline'}, "
        f"{row['replications']} replications, {row['status']}"
        + (f", {row['started_at']:%d %b %H:%M} UTC" if row["started_at"] is not None else ""): row["run_id"]
        for row in runs.iter_rows(named=True)
    }
    chosen = st.selectbox("Show an earlier run", ["(none)", *labels], index=0)
    if chosen == "(none)":
        return
    comparison = source.comparison(int(labels[chosen]))
    if comparison is None or comparison.height == 0:
        missing("That run kept no comparison.")
        return
    _show_comparison(comparison)


def kpi_words(metric: str) -> tuple[str, str]:
    """A KPI's description and unit (the id itself and '' for a KPI the model does not describe)."""
    try:
        info = metric_info(metric)
    except (KeyError, ValueError):
        return metric, ""
    return info.description, info.unit


def comparison_table(comparison: pl.DataFrame) -> pl.DataFrame:
    """The what-if comparison as the planner reads it: each KPI in words, with its unit and 95 % interval."""
    words = [kpi_words(metric) for metric in comparison.get_column("metric").to_list()]
    return comparison.select(
        pl.Series("KPI", [description for description, _ in words]),
        pl.Series("unit", [unit for _, unit in words]),
        pl.col("against_mean").round(2).alias("baseline mean"),
        pl.col("scenario_mean").round(2).alias("what-if mean"),
        pl.col("difference").round(2),
        pl.col("lower").round(2).alias("95 % CI low"),
        pl.col("upper").round(2).alias("95 % CI high"),
        pl.col("significant").alias("clear change"),
        pl.col("metric").alias("id"),
    )


def page_staffing(source: ViewSource) -> None:
    """Staffing: the roster grid (nurse × day), unfilled shifts, the explanation when infeasible, publish."""
    st.header("Staffing")
    plan: PlanView | None = read(source, "plan", "roster")
    failure = source.last_nightly_failure()
    if failure is not None:
        st.error(
            f"The last nightly plan ({failure.get('plan_date', '?')}) ended {failure['outcome']} at the "
            f"{failure.get('stage', '?')} stage: {failure.get('error', 'no reason given')}"
        )
    draft = source.draft_plan("roster")
    if draft is not None:
        st.info(f"Roster version {draft.version} is a draft, not yet in force.")
        if st.button(f"Publish version {draft.version}"):
            try:
                source.publish_plan("roster", draft.version)
                st.success(f"Published roster version {draft.version}.")
                st.cache_data.clear()
                plan = source.plan("roster")
            except (KeyError, ViewSourceError) as error:
                st.error(f"Not published: {error}")
    if plan is None:
        missing("No roster yet: the nightly plan makes and publishes one (`hospital-twin nightly`).")
        return
    payload = plan.payload
    st.caption(
        f"Roster plan version {plan.version} ({plan.status}), from {payload.get('first_day', '?')} for "
        f"{payload.get('days', '?')} days; solver status {payload.get('status', '?')}."
    )
    summary = payload.get("summary") or {}
    cols = st.columns(4)
    for col, (label, key) in zip(
        cols,
        [
            ("Nurse-shifts required", "required"),
            ("Staff", "staff"),
            ("Agency", "agency"),
            ("Unfilled", "unfilled"),
        ],
        strict=True,
    ):
        col.metric(label, summary.get(key, "–"))
    if payload.get("status") in ("infeasible", "timeout"):
        st.error(
            "No roster meets every hard rule: "
            + str(payload.get("explanation") or payload.get("relax") or "")
        )
    assignments = payload.get("assignments") or []
    if assignments:
        frame = pl.DataFrame(assignments, infer_schema_length=None)
        unfilled_by_unit: dict[str, int] = {}
        for alert in payload.get("alerts") or []:
            if alert.get("kind") == "unfilled_shift":
                unfilled_by_unit[str(alert.get("unit_id"))] = (
                    unfilled_by_unit.get(str(alert.get("unit_id")), 0) + 1
                )
        # The unit with the most unfilled shifts first: that is the grid the planner needs to look at.
        units = sorted(
            frame.get_column("unit_id").unique().to_list(), key=lambda u: (-unfilled_by_unit.get(u, 0), u)
        )
        unit = st.selectbox("Unit", units)
        st.altair_chart(charts.roster_grid_chart(frame.filter(pl.col("unit_id") == unit)), width="stretch")
    unfilled = [a for a in payload.get("alerts") or [] if a.get("kind") == "unfilled_shift"]
    st.subheader("Unfilled shifts")
    if not unfilled:
        st.success("Every shift is covered.")
    for alert in unfilled[:50]:
        st.warning(str(alert["message"]))


def page_theatres(source: ViewSource) -> None:
    """Theatres: the surgical plan as a Gantt chart with utilisation and downstream beds."""
    st.header("Theatres")
    plan: PlanView | None = read(source, "plan", "surgery")
    if plan is None:
        missing("No surgical plan yet: make one with `hospital-twin plan surgery`.")
        return
    payload = plan.payload
    summary = payload.get("summary") or {}
    cols = st.columns(4)
    cols[0].metric("Theatre utilisation", f"{100 * float(summary.get('theatre_utilisation', 0.0)):.0f} %")
    cols[1].metric("Cases planned", summary.get("cases_planned", "–"))
    cols[2].metric("Cases not scheduled", summary.get("cases_unscheduled", "–"))
    cols[3].metric(
        "Peak elective beds",
        f"{summary.get('peak_elective_beds', '–')} of {summary.get('elective_beds', '–')}",
    )
    st.caption(
        f"Plan version {plan.version} from {_day_text(payload.get('start'))} "
        f"for {payload.get('days', '?')} days."
    )
    cases = payload.get("cases") or []
    if cases:
        st.altair_chart(
            charts.theatre_gantt_chart(pl.DataFrame(cases, infer_schema_length=None)), width="stretch"
        )
    if summary.get("beds_by_day"):
        st.subheader("Downstream beds")
        st.altair_chart(
            charts.elective_beds_chart(list(summary["beds_by_day"]), int(summary.get("elective_beds", 0))),
            width="stretch",
        )


def page_supply(source: ViewSource) -> None:
    """Supply: orders and stock-out risk."""
    st.header("Supply")
    plan: PlanView | None = read(source, "plan", "supply")
    if plan is None:
        missing("No supply plan yet: make one with `hospital-twin plan supply`.")
        return
    payload = plan.payload
    st.caption(
        f"Plan version {plan.version} from {_day_text(payload.get('start'))} "
        f"for {payload.get('days', '?')} days; "
        f"status {payload.get('status', '?')}, cost {float(payload.get('total_cost') or 0):,.0f}."
    )
    par = payload.get("par_levels") or []
    if par:
        par_frame = pl.DataFrame(par, infer_schema_length=None)
        risky = par_frame.filter(pl.col("stockout_risk") >= 0.05)
        for row in risky.iter_rows(named=True):
            st.warning(
                f"{row['item']} is at risk ({row['stockout_risk']:.0%}) of running out within the plan's "
                f"{payload.get('days', '?')} days."
            )
        st.altair_chart(charts.stockout_risk_chart(par_frame), width="stretch")
    orders = payload.get("orders") or []
    st.subheader("Orders")
    if orders:
        st.dataframe(pl.DataFrame(orders, infer_schema_length=None).to_pandas(), hide_index=True)
    else:
        st.caption("No orders in this plan.")


def _day_text(moment: Any) -> str:
    """A plan's start (ISO text) as a day in words, e.g. 'Friday 8 March 2024'."""
    try:
        day = datetime.fromisoformat(str(moment))
    except ValueError:
        return str(moment) if moment else "?"
    return f"{day:%A} {day.day} {day:%B %Y}"


PAGES: dict[str, Callable[[ViewSource], None]] = {
    "Now": page_now,
    "Forecast": page_forecast,
    "What-if": page_whatif,
    "Staffing": page_staffing,
    "Theatres": page_theatres,
    "Supply": page_supply,
}
"""Every page by its title, in menu order."""


def render(source: ViewSource, title: str) -> None:
    """Render one page; anything unexpected becomes a plain message, never a stack trace."""
    try:
        PAGES[title](source)
    except ViewSourceError as error:
        st.warning(str(error))
    except Exception as error:  # the planner sees a sentence; the log keeps the detail
        st.error(f"This page could not be shown ({type(error).__name__}: {str(error)[:200]}).")
        _log_failure(title, error)


def _log_failure(title: str, error: Exception) -> None:
    import logging

    logging.getLogger("hospital_twin.view").exception("page %s failed", title, exc_info=error)
