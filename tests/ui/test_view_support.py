"""A store for the command view's tests and benchmarks (no tests here): synthetic history, a census forecast
whose alerts agree with its bands, and roster, surgical and supply plans of realistic shape.

The plans are built without the solvers (the view only shows them), but the alerts of the roster plan come
from the nightly plan's own functions (:func:`ops.nightly.unfilled_alerts` and
:func:`ops.nightly.over_capacity_alerts`), so the pages' words and charts agree the way they do in a real
nightly plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ops.live import load_twins
from ops.nightly import ALERT_PROBABILITY, over_capacity_alerts, roster_summary, unfilled_alerts
from ops.store import open_store
from patients.census.schema import CENSUS_FORECAST_SCHEMA
from patients.synthetic import generate_history
from scenarios import Scenario, load_scenario, scenario_path
from scheduler.roster.from_scenario import ROSTER_COVER_SCHEMA, pool_nurse_ids
from scheduler.staffing.demand import shift_of_hours
from ui.api.services import census_history

HISTORY_START = date(2024, 3, 4)
WARM_UP_DAYS = 10
"""Days simulated before the history starts, so the wards are at their usual census from its first day."""
PRESSURED_UNIT = 2
"""Index (in the scenario's units) of the ward whose forecast crosses its beds."""


@dataclass(frozen=True)
class ViewStoreSizes:
    """How much the plans of the view store hold."""

    roster_days: int = 2
    roster_pools: int | None = 3  # staff pools rostered (None: every pool of the scenario)
    theatre_days: int = 2
    supply_items: int = 4


SMALL = ViewStoreSizes()
DEMO = ViewStoreSizes(roster_days=28, roster_pools=None, theatre_days=7, supply_items=40)
"""The 500-bed demo's sizes: every nurse (hundreds) for 28 days, a week of theatre cases."""


def _normal_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def forecast_frame(
    scenario: Scenario, origin: datetime, profile: pl.DataFrame, hours: int = 14 * 24
) -> pl.DataFrame:
    """A census forecast by unit and hour that carries on from the history and agrees with itself.

    ``profile`` gives each unit's mean census and share of high-acuity patients by hour of the day
    (``unit_id, hour, census, high_share``, from the history before ``origin``); the forecast repeats it,
    except that the pressured ward climbs from it towards 106 % of its beds over a few days. The band is
    mean ± 1.645 sd with sd = √mean (a Poisson-like spread), and ``p_over_capacity`` is the normal chance of
    more patients than beds, so an alert is raised only where the band crosses the beds line. High-acuity
    patients keep the unit's share, with their own band.
    """
    by_key = {(row["unit_id"], row["hour"]): row for row in profile.iter_rows(named=True)}
    rows = []
    for number, unit in enumerate(scenario.hospital.units):
        for hour in range(1, hours + 1):
            at = origin + timedelta(hours=hour)
            usual = by_key.get((unit.id, at.hour), {"census": 0.8 * unit.beds, "high_share": 0.0})
            mean = float(usual["census"])
            if number == PRESSURED_UNIT:
                mean += (1.06 * unit.beds - mean) * (1 - math.exp(-hour / 72))
            spread = math.sqrt(max(mean, 1.0))
            high = float(usual["high_share"] or 0.0) * mean
            high_spread = math.sqrt(high)
            rows.append(
                {
                    "unit_id": unit.id,
                    "at": at,
                    "horizon_hours": hour,
                    "mean": mean,
                    "p05": max(0.0, mean - 1.645 * spread),
                    "p50": mean,
                    "p95": mean + 1.645 * spread,
                    "mean_high_acuity": high,
                    "beds": unit.beds,
                    "p_over_capacity": round(_normal_tail((unit.beds + 0.5 - mean) / spread), 4),
                    "p05_high_acuity": max(0.0, high - 1.645 * high_spread),
                    "p95_high_acuity": high + 1.645 * high_spread,
                }
            )
    schema = {**CENSUS_FORECAST_SCHEMA, "p05_high_acuity": pl.Float64(), "p95_high_acuity": pl.Float64()}
    return pl.DataFrame(rows, schema=schema)


def history_profile(
    store: Any, scenario: Scenario, origin: datetime, high_share: dict[str, float], days: int = 7
) -> pl.DataFrame:
    """Each unit's mean census by hour of the day over the ``days`` before ``origin``, and its high share."""
    hourly = census_history(store, scenario, origin, days=days, now=origin, step_hours=1)
    return (
        hourly.with_columns(pl.col("at").dt.hour().alias("hour"))
        .group_by("unit_id", "hour")
        .agg(pl.col("census").mean())
        .with_columns(
            pl.col("unit_id")
            .replace_strict(high_share, default=0.0, return_dtype=pl.Float64)
            .alias("high_share")
        )
    )


def roster_payload(
    scenario: Scenario, first_day: date, sizes: ViewStoreSizes, summary: pl.DataFrame
) -> dict[str, Any]:
    """A published roster plan: nurses of the pools on a 5-in-7 rota, cover per unit and shift, alerts."""
    hospital = scenario.hospital
    shifts = [shift.id for shift in hospital.shifts]
    pools = hospital.staff_pools if sizes.roster_pools is None else hospital.staff_pools[: sizes.roster_pools]
    assignments = []
    for pool in pools:
        for number, nurse in enumerate(pool_nurse_ids(pool)):
            unit = pool.units[number % len(pool.units)]
            for day in range(sizes.roster_days):
                if (number + day) % 7 in (5, 6):
                    continue  # two days off a week
                assignments.append(
                    {
                        "nurse_id": nurse,
                        "staff_pool": pool.id,
                        "day": (first_day + timedelta(days=day)).isoformat(),
                        "shift": shifts[(number // 3 + day // 4) % len(shifts)],
                        "unit_id": unit,
                        "skill": pool.skills[0],
                    }
                )
    staffed = (
        pl.DataFrame(assignments, infer_schema_length=None)
        .group_by("unit_id", "day", "shift", "skill")
        .agg(pl.len().cast(pl.Int32).alias("staff"))
    )
    cover = (
        staffed.with_columns(
            pl.col("day").str.to_date(),
            # One nurse short everywhere on early shifts of the pressured ward; the rest fully met.
            (
                pl.col("staff")
                + pl.when(
                    (pl.col("unit_id") == hospital.units[PRESSURED_UNIT].id) & (pl.col("shift") == shifts[0])
                )
                .then(1)
                .otherwise(0)
            ).alias("required"),
            pl.lit(0, dtype=pl.Int32).alias("agency"),
        )
        .with_columns(
            pl.col("required").alias("minimum"),
            (pl.col("required") - pl.col("staff") - pl.col("agency")).clip(lower_bound=0).alias("unfilled"),
            pl.lit("forecast").alias("basis"),
        )
        .select(list(ROSTER_COVER_SCHEMA))
        .cast(ROSTER_COVER_SCHEMA)  # type: ignore[arg-type]
        .sort("unit_id", "day", "shift")
    )
    alerts = unfilled_alerts(scenario, cover) + over_capacity_alerts(
        scenario, summary, first_day, sizes.roster_days, ALERT_PROBABILITY
    )
    cover_rows = cover.with_columns(pl.col("day").cast(pl.String)).to_dicts()
    return {
        "plan_date": first_day.isoformat(),
        "first_day": first_day.isoformat(),
        "days": sizes.roster_days,
        "status": "feasible",
        "summary": roster_summary(cover),
        "assignments": assignments,
        "cover": cover_rows,
        "alerts": alerts,
    }


def surgery_payload(scenario: Scenario, origin: datetime, sizes: ViewStoreSizes) -> dict[str, Any]:
    """A surgical plan: 3-5 cases a session in every theatre for ``theatre_days`` days."""
    services = [service.id for service in scenario.hospital.services if service.surgery is not None] or [
        "general"
    ]
    theatres = [theatre.id for theatre in scenario.hospital.theatres] or ["T1"]
    wards = [unit.id for unit in scenario.hospital.units if unit.kind.value == "ward"] or [
        scenario.hospital.units[0].id
    ]
    cases = []
    minutes_used = 0
    for day in range(sizes.theatre_days):
        for t, theatre in enumerate(theatres):
            service = services[(day + t) % len(services)]
            for sequence in range(3 + (day + t) % 3):
                duration = 45 + 15 * ((day * 7 + t * 3 + sequence) % 8)
                minutes_used += duration
                cases.append(
                    {
                        "case_id": f"C{day}-{theatre}-{sequence}",
                        "service": service,
                        "surgeon": f"S{(t + sequence) % 12}",
                        "planned": True,
                        "day": day,
                        "theatre": theatre,
                        "sequence": sequence,
                        "ward": wards[(t + sequence) % len(wards)],
                        "duration_minutes": duration,
                    }
                )
    cases.append({**cases[0], "case_id": "C-waiting", "planned": False, "day": None, "sequence": None})
    # Two of three patients need a ward bed afterwards, for the day of surgery and the two after it.
    beds_by_day = [
        sum(
            1
            for c in cases
            if c["planned"]
            and c["day"] is not None
            and d - 2 <= c["day"] <= d
            and (c["sequence"] + c["day"]) % 3
        )
        for d in range(sizes.theatre_days)
    ]
    session_minutes = 8 * 60 * len(theatres) * sizes.theatre_days
    return {
        "start": origin.isoformat(),
        "days": sizes.theatre_days,
        "summary": {
            "theatre_utilisation": round(minutes_used / session_minutes, 3),
            "cases_planned": len(cases) - 1,
            "cases_unscheduled": 1,
            "peak_elective_beds": max(beds_by_day),
            "elective_beds": max(beds_by_day) + 10,
            "beds_by_day": beds_by_day,
        },
        "cases": cases,
    }


def supply_payload(origin: datetime, sizes: ViewStoreSizes) -> dict[str, Any]:
    """A supply plan: par levels with their stock-out risk, and the orders."""
    items = ["gloves", "sutures", *[f"item-{k:02d}" for k in range(max(0, sizes.supply_items - 2))]]
    par = [
        {
            "item": item,
            "stockout_risk": 0.2 if item == "sutures" else round(0.001 * (k % 30), 3),
            "par_level": 100.0 + 10 * k,
            "fill_rate": 0.9 if item == "sutures" else 0.99,
        }
        for k, item in enumerate(items)
    ]
    orders = [
        {"item": item, "order_day": k % 3, "delivery_day": k % 3 + 1, "packs": 2, "units": 200, "cost": 60.0}
        for k, item in enumerate(items)
    ]
    return {
        "start": origin.isoformat(),
        "days": 14,
        "status": "optimal",
        "total_cost": sum(order["cost"] for order in orders),
        "orders": orders,
        "par_levels": par,
    }


def build_view_store(
    folder: Path, days: int = 3, *, plans: bool = True, sizes: ViewStoreSizes = SMALL, snapshots: int = 3
) -> str:
    """A store with ``days`` of synthetic baseline history and (optionally) a forecast and saved plans.

    ``snapshots`` twin snapshots are kept at the newest event and every 6 hours before it (the Forecast
    page's acuity actuals). Returns the database URL (results go to ``folder / "results"``).
    """
    scenario = load_scenario(scenario_path("baseline"))
    url = f"sqlite:///{folder / 'view.db'}"
    with open_store(url, results_dir=folder / "results") as store:
        history = generate_history(scenario, HISTORY_START, days, seed=3, warm_up_days=WARM_UP_DAYS)
        store.append_events(history.events)
        if not plans:
            return url
        newest: datetime = history.events.get_column("occurred_at").max()  # type: ignore[assignment]
        high_share: dict[str, float] = {}
        for k in range(snapshots):
            moment = newest - timedelta(hours=6 * k)
            twins = load_twins(store, moment).to_frame(moment)
            store.save_twin_snapshot(moment, twins)
            if k == 0:
                inside = twins.filter(pl.col("status").is_in(["registered", "admitted"]))
                shares = inside.group_by("unit").agg(
                    (pl.col("acuity_band") == "high").fill_null(False).mean().alias("share")
                )
                high_share = {
                    row["unit"]: float(row["share"]) for row in shares.iter_rows(named=True) if row["unit"]
                }
        origin = history.ends_at
        forecast = forecast_frame(
            scenario, origin, history_profile(store, scenario, origin, high_share, min(7, days))
        )
        store.save_forecast("census", origin, forecast)
        on_duty = shift_of_hours(pl.Series("at", [newest]), scenario.hospital).row(0, named=True)
        first_day = min(origin.date(), on_duty["day"])
        store.save_plan("roster", roster_payload(scenario, first_day, sizes, forecast), created_by="test")
        store.save_plan("surgery", surgery_payload(scenario, origin, sizes), created_by="test")
        store.save_plan("supply", supply_payload(origin, sizes), created_by="test")
    return url
