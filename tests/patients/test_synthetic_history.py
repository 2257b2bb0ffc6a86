"""Synthetic hospital history: schemas, determinism, conservation, demand patterns, overrides, events."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from patients.events import EVENT_SCHEMA, EventKind, frame_to_events
from patients.news2 import VitalSigns, news2_score
from patients.synthetic import (
    HISTORY_SCHEMAS,
    History,
    HistoryCancelled,
    HistoryProgress,
    generate_history,
    read_parquet,
)
from scenarios import load_scenario, scenario_path
from scenarios.schema import ArrivalsOverride, Scenario, UnitKind

LONDON = ZoneInfo("Europe/London")
START = date(2024, 10, 7)  # a Monday; no bank holiday in the next four weeks; demand near its yearly mean
DAYS = 28
SEED = 11


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(baseline: Scenario) -> History:
    return generate_history(baseline, START, DAYS, seed=SEED)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def in_window(frame: pl.DataFrame, column: str, history: History) -> pl.DataFrame:
    return frame.filter((pl.col(column) >= history.starts_at) & (pl.col(column) < history.ends_at))


# ---- shape ---------------------------------------------------------------------------------------------


def test_every_frame_has_its_declared_schema(history: History) -> None:
    assert set(history.frames()) == set(HISTORY_SCHEMAS)
    for name, frame in history.frames().items():
        assert dict(frame.schema) == HISTORY_SCHEMAS[name], name
        assert frame.height > 0, name
    assert dict(history.events.schema) == EVENT_SCHEMA


def test_window_is_local_midnight_to_local_midnight(history: History) -> None:
    assert history.starts_at == local_midnight(START)
    assert history.ends_at == local_midnight(START + timedelta(days=DAYS))


def test_parquet_round_trip(history: History, tmp_path) -> None:
    folder = history.write_parquet(tmp_path / "history")
    again = read_parquet(folder)
    assert (again.scenario_digest, again.start, again.days, again.seed) == (
        history.scenario_digest,
        history.start,
        history.days,
        history.seed,
    )
    assert (again.starts_at, again.ends_at) == (history.starts_at, history.ends_at)
    for name, frame in history.frames().items():
        assert getattr(again, name).equals(frame), name
    assert not list(folder.glob(".*.tmp"))


def test_ids_are_pseudonymous_and_unique(history: History) -> None:
    hexadecimal = r"^[0-9a-f]{32}$"
    for frame in (history.ed_attendances, history.admissions):
        assert frame["patient_key"].str.contains(hexadecimal).all()
        assert frame["encounter_id"].str.contains(hexadecimal).all()
        assert frame["encounter_id"].n_unique() == frame.height
    assert history.events["event_id"].n_unique() == history.events.height
    assert history.observations["observation_id"].n_unique() == history.observations.height
    assert (history.events["source"] == "synthetic").all()


# ---- determinism ---------------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames_and_another_seed_differs(
    baseline: Scenario, history: History
) -> None:
    again = generate_history(baseline, START, DAYS, seed=SEED)
    for name, frame in history.frames().items():
        assert getattr(again, name).equals(frame), name
    other = generate_history(baseline, START, DAYS, seed=SEED + 1)
    assert not other.ed_attendances.equals(history.ed_attendances)
    assert not other.unit_stays.equals(history.unit_stays)


# ---- conservation ----------------------------------------------------------------------------------------


def test_unit_stays_cover_each_admission_without_gap_or_overlap(history: History) -> None:
    stays = history.unit_stays.sort(["encounter_id", "stay_index"])
    checks = stays.join(history.admissions, on="encounter_id", how="left", validate="m:1").with_columns(
        pl.col("ended_at").shift(1).over("encounter_id").alias("previous_end"),
        pl.col("stay_index").max().over("encounter_id").alias("last_index"),
        pl.int_range(pl.len()).over("encounter_id").alias("position"),
    )
    assert checks["admitted_at"].null_count() == 0, "every stay belongs to an admission"
    assert (checks["stay_index"] == checks["position"]).all(), "stay_index runs 0, 1, 2, ..."
    first = checks.filter(pl.col("stay_index") == 0)
    assert (first["started_at"] == first["admitted_at"]).all()
    later = checks.filter(pl.col("stay_index") > 0)
    assert (later["started_at"] == later["previous_end"]).all(), "each stay starts where the previous ended"
    last = checks.filter(pl.col("stay_index") == pl.col("last_index"))
    closed = last.filter(pl.col("discharged_at").is_not_null())
    assert (closed["ended_at"] == closed["discharged_at"]).all()
    still_in = last.filter(pl.col("discharged_at").is_null())
    assert still_in["ended_at"].null_count() == still_in.height
    assert checks.filter(pl.col("stay_index") < pl.col("last_index"))["ended_at"].null_count() == 0
    bounded = checks.filter(pl.col("ended_at").is_not_null())
    assert (bounded["ended_at"] > bounded["started_at"]).all()
    assert set(history.admissions["encounter_id"]) == set(stays["encounter_id"])


def test_patients_still_in_at_the_end_are_open_and_nothing_happens_after_it(history: History) -> None:
    open_stays = history.admissions.filter(pl.col("discharged_at").is_null())
    assert 300 < open_stays.height < 600, "a hospital of ~430 occupied beds is full at the cut-off"
    assert open_stays["length_of_stay_hours"].null_count() == open_stays.height
    assert (history.events["occurred_at"] < history.ends_at).all()
    assert (history.admissions["admitted_at"] < history.ends_at).all()
    # Patients already in on day 0 come with their earlier records.
    assert (history.admissions["admitted_at"] < history.starts_at).sum() > 300


def test_admissions_come_from_the_ed_or_from_theatre(history: History) -> None:
    emergency = history.admissions.filter(pl.col("admission_type") == "emergency")
    ed = history.ed_attendances.filter(pl.col("disposition") == "admitted")
    joined = emergency.join(ed, on="encounter_id", how="left")
    assert joined["departed_at"].null_count() == 0
    assert (joined["admitted_at"] == joined["departed_at"]).all()
    assert (joined["service"] == joined["admitted_service"]).all()
    elective = history.admissions.filter(pl.col("admission_type") == "elective")
    cases = elective.join(history.surgical_cases, on="encounter_id", how="left")
    assert (cases["admitted_at"] == cases["surgery_started_at"]).all()


# ---- demand patterns -------------------------------------------------------------------------------------


def test_ed_volume_and_mondays_are_busiest(baseline: Scenario, history: History) -> None:
    arrivals = in_window(history.ed_attendances, "arrived_at", history)
    per_day = baseline.hospital.ed.attendances_per_day
    assert 0.93 * per_day * DAYS < arrivals.height < 1.10 * per_day * DAYS
    by_weekday = (
        arrivals.with_columns(
            pl.col("arrived_at").dt.convert_time_zone("Europe/London").dt.weekday().alias("wd")
        )
        .group_by("wd")
        .len()
        .sort("wd")
    )
    counts = dict(zip(by_weekday["wd"].to_list(), by_weekday["len"].to_list(), strict=True))
    assert counts[1] > 1.07 * np.mean([counts[d] for d in range(2, 8)])


def test_ed_arrivals_follow_the_local_hourly_profile(baseline: Scenario, history: History) -> None:
    arrivals = in_window(history.ed_attendances, "arrived_at", history)
    hours = arrivals["arrived_at"].dt.convert_time_zone("Europe/London").dt.hour().to_numpy()
    observed = np.bincount(hours, minlength=24) / hours.size
    profile = np.asarray(baseline.hospital.ed.hourly_profile)
    expected = profile / profile.sum()
    standard_error = np.sqrt(expected * (1 - expected) / hours.size)
    assert (np.abs(observed - expected) < 4 * standard_error).all()
    assert observed[4] < observed[11] / 3


def test_admission_share_matches_triage(baseline: Scenario, history: History) -> None:
    arrivals = in_window(history.ed_attendances, "arrived_at", history).filter(
        pl.col("disposition").is_not_null()
    )
    admitted = (arrivals["disposition"] == "admitted").mean()
    expected = sum(t.share * t.admit_probability for t in baseline.hospital.ed.triage)
    assert abs(admitted - expected) < 0.015


def test_discharges_follow_the_discharge_profile(baseline: Scenario, history: History) -> None:
    discharged = in_window(history.admissions, "discharged_at", history).filter(~pl.col("day_case"))
    hours = discharged["discharged_at"].dt.convert_time_zone("Europe/London").dt.hour().to_numpy()
    observed = np.bincount(hours, minlength=24) / hours.size
    profile = np.asarray(baseline.hospital.policies.discharge_hourly_profile)
    expected = profile / profile.sum()
    assert np.abs(observed - expected).max() < 0.02


def test_mean_inpatient_occupancy_is_realistic(baseline: Scenario, history: History) -> None:
    hospital = baseline.hospital
    inpatient_units = [u.id for u in hospital.units if u.kind not in (UnitKind.ED, UnitKind.PACU)]
    window_hours = (history.ends_at - history.starts_at).total_seconds() / 3600
    bed_hours = (
        history.unit_stays.filter(pl.col("unit").is_in(inpatient_units))
        .select(
            (
                pl.col("ended_at").fill_null(history.ends_at).clip(history.starts_at, history.ends_at)
                - pl.col("started_at").clip(history.starts_at, history.ends_at)
            )
            .dt.total_seconds()
            .sum()
            / 3600
        )
        .item()
    )
    occupancy = bed_hours / window_hours / hospital.total_beds
    assert 0.85 <= occupancy <= 0.92


# ---- electives -------------------------------------------------------------------------------------------


def test_elective_lists_run_on_weekday_sessions_only(baseline: Scenario) -> None:
    # May 2024: Monday the 6th and Monday the 27th are bank holidays.
    history = generate_history(baseline, date(2024, 5, 1), 28, seed=3, warm_up_days=0)
    cases = history.surgical_cases
    dates = set(cases["session_date"].to_list())
    assert date(2024, 5, 6) not in dates and date(2024, 5, 27) not in dates
    assert all(d.weekday() < 5 for d in dates)
    assert date(2024, 5, 7) in dates
    weekly = cases.height / 4
    assert 115 < weekly < 160, "150 cases a week, less two bank holidays"
    sessions = {
        (t.id, d): s.service
        for t in baseline.hospital.theatres
        for d in range(7)
        if (s := t.sessions.on(d)) is not None
    }
    for row in cases.select("theatre", "session_date", "service").iter_rows():
        assert sessions[(row[0], row[1].weekday())] == row[2]
    starts = cases["surgery_started_at"].dt.convert_time_zone("Europe/London").dt.hour()
    assert starts.min() >= 8


def test_day_cases_go_home_from_pacu_the_same_day(history: History) -> None:
    day_cases = history.admissions.filter(pl.col("day_case") & pl.col("discharged_at").is_not_null())
    assert day_cases.height > 100
    local = day_cases.select(
        pl.col("admitted_at").dt.convert_time_zone("Europe/London").dt.date().alias("in"),
        pl.col("discharged_at").dt.convert_time_zone("Europe/London").dt.date().alias("out"),
    )
    assert (local["in"] == local["out"]).all()
    stays = history.unit_stays.join(day_cases.select("encounter_id"), on="encounter_id")
    assert (stays["unit"] == "PACU").all() and stays.height == day_cases.height
    inpatients = history.admissions.filter((pl.col("admission_type") == "elective") & ~pl.col("day_case"))
    first = history.unit_stays.join(inpatients.select("encounter_id"), on="encounter_id")
    assert (first.filter(pl.col("stay_index") == 0)["unit"] == "PACU").all()
    assert (first.filter(pl.col("stay_index") == 1)["unit"] != "PACU").all()


def test_surgery_precedes_recovery(history: History) -> None:
    cases = history.surgical_cases.drop_nulls()
    assert (cases["surgery_ended_at"] > cases["surgery_started_at"]).all()
    assert (cases["recovery_ended_at"] > cases["surgery_ended_at"]).all()


# ---- acuity and observations -----------------------------------------------------------------------------


def _news2_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """NEWS2 from the chart (RCP 2017), written independently of the generator."""
    rr, spo2, sbp, hr, temp = (
        pl.col(c) for c in ("respiration_rate", "spo2", "systolic_bp", "heart_rate", "temperature_c")
    )
    parameters = [
        pl.when(rr <= 8)
        .then(3)
        .when(rr <= 11)
        .then(1)
        .when(rr <= 20)
        .then(0)
        .when(rr <= 24)
        .then(2)
        .otherwise(3),
        pl.when(spo2 <= 91).then(3).when(spo2 <= 93).then(2).when(spo2 <= 95).then(1).otherwise(0),
        pl.when(pl.col("on_oxygen")).then(2).otherwise(0),
        pl.when(sbp <= 90)
        .then(3)
        .when(sbp <= 100)
        .then(2)
        .when(sbp <= 110)
        .then(1)
        .when(sbp <= 219)
        .then(0)
        .otherwise(3),
        pl.when(hr <= 40)
        .then(3)
        .when(hr <= 50)
        .then(1)
        .when(hr <= 90)
        .then(0)
        .when(hr <= 110)
        .then(1)
        .when(hr <= 130)
        .then(2)
        .otherwise(3),
        pl.when(pl.col("consciousness") == "A").then(0).otherwise(3),
        pl.when(temp <= 35.0)
        .then(3)
        .when(temp <= 36.0)
        .then(1)
        .when(temp <= 38.0)
        .then(0)
        .when(temp <= 39.0)
        .then(1)
        .otherwise(2),
    ]
    scored = frame.with_columns([p.alias(f"p{i}") for i, p in enumerate(parameters)])
    names = [f"p{i}" for i in range(7)]
    return scored.with_columns(
        pl.sum_horizontal(names).alias("total"),
        pl.any_horizontal([pl.col(n) == 3 for n in names]).alias("red"),
    ).with_columns(
        pl.when(pl.col("total") >= 7)
        .then(pl.lit("high"))
        .when(pl.col("total") >= 5)
        .then(pl.lit("medium"))
        .when(pl.col("red"))
        .then(pl.lit("low_medium"))
        .otherwise(pl.lit("low"))
        .alias("band")
    )


def test_every_observation_scores_in_its_stays_band(history: History) -> None:
    scored = _news2_scores(history.observations)
    assert (scored["total"] == scored["news2_score"].cast(pl.Int32)).all()
    assert (scored["band"] == scored["acuity"]).all()
    assert set(scored["acuity"].unique()) == {"low", "low_medium", "medium", "high"}


def test_observations_agree_with_patients_news2(history: History) -> None:
    sample = history.observations.sample(3000, seed=1)
    for row in sample.iter_rows(named=True):
        score = news2_score(VitalSigns.from_payload(row))
        assert score.band.value == row["acuity"]
        assert score.total == row["news2_score"]


def test_observations_lie_in_a_stay_of_their_unit_and_band(history: History) -> None:
    observations = history.observations.select(
        "observation_id", "encounter_id", "unit", "observed_at", "acuity"
    )
    matched = (
        observations.join(history.unit_stays, on=["encounter_id", "unit"], how="inner")
        .filter(
            (pl.col("observed_at") >= pl.col("started_at"))
            & (pl.col("ended_at").is_null() | (pl.col("observed_at") < pl.col("ended_at")))
        )
        .filter(pl.col("acuity") == pl.col("acuity_right"))
    )
    assert matched["observation_id"].n_unique() == observations.height


def test_icu_is_observed_hourly_and_wards_less_often(history: History) -> None:
    per_stay = (
        in_window(history.observations, "observed_at", history)
        .group_by("encounter_id", "unit")
        .agg(pl.col("observed_at").sort().diff().dt.total_minutes().median().alias("gap"))
        .drop_nulls()
    )
    icu = per_stay.filter(pl.col("unit") == "ICU")["gap"].median()
    ward = per_stay.filter(pl.col("unit").str.starts_with("MED-"))["gap"].median()
    assert icu is not None and ward is not None
    assert 50 <= float(icu) <= 70  # type: ignore[arg-type]
    assert float(ward) >= 300  # type: ignore[arg-type]
    volume = in_window(history.observations, "observed_at", history).height / DAYS
    assert 1500 < volume < 6000, "a sane number of observations per day"


# ---- events ----------------------------------------------------------------------------------------------


def test_events_mirror_the_frames(history: History) -> None:
    events = history.events
    counts = dict(events.group_by("kind").len().iter_rows())
    went_home = history.ed_attendances.filter(
        (pl.col("disposition") == "discharged") & pl.col("departed_at").is_not_null()
    ).height
    assert counts[EventKind.REGISTER.value] == history.ed_attendances.height
    assert counts[EventKind.ADMIT.value] == history.admissions.height
    assert counts[EventKind.TRANSFER.value] == history.unit_stays.filter(pl.col("stay_index") > 0).height
    discharged = history.admissions["discharged_at"].is_not_null().sum()
    assert counts[EventKind.DISCHARGE.value] == discharged + went_home
    assert counts[EventKind.OBSERVATION.value] == history.observations.height
    assert events["occurred_at"].is_sorted()


def test_events_parse_as_patient_events(history: History) -> None:
    some = history.events.filter(
        pl.col("encounter_id").is_in(history.admissions["encounter_id"].head(20).implode())
    )
    parsed = frame_to_events(some)
    assert {e.kind for e in parsed} >= {EventKind.ADMIT, EventKind.OBSERVATION, EventKind.REGISTER}
    for event in parsed:
        if event.kind is EventKind.OBSERVATION:
            vitals = VitalSigns.from_payload(event.payload)
            assert news2_score(vitals).total >= 0
        if event.kind in (EventKind.ADMIT, EventKind.TRANSFER):
            assert event.unit is not None and event.bed is not None and event.service is not None
    observation = history.observations.row(0, named=True)
    payload = json.loads(
        history.events.filter(pl.col("event_id") == observation["observation_id"])["payload"].item()
    )
    assert payload["spo2"] == observation["spo2"]
    assert payload["temperature_c"] == observation["temperature_c"]


def test_beds_are_never_double_booked(history: History) -> None:
    stays = history.unit_stays.with_columns(pl.col("ended_at").fill_null(history.ends_at)).sort(
        "bed", "started_at"
    )
    overlap = stays.with_columns(pl.col("ended_at").shift(1).over("bed").alias("previous_end")).filter(
        pl.col("started_at") < pl.col("previous_end")
    )
    assert overlap.height == 0


# ---- overrides -------------------------------------------------------------------------------------------


def test_ward_closure_empties_the_ward_for_its_period() -> None:
    closure = load_scenario(scenario_path("ward_closure"))  # MED-C closed from day 7 to day 21
    history = generate_history(closure, START, DAYS, seed=SEED)
    closed_from, closed_to = (
        local_midnight(START + timedelta(days=7)),
        local_midnight(START + timedelta(days=21)),
    )
    med_c = history.unit_stays.filter(pl.col("unit") == "MED-C").with_columns(
        pl.col("ended_at").fill_null(history.ends_at)
    )
    assert (
        med_c.filter((pl.col("started_at") >= closed_from) & (pl.col("started_at") < closed_to)).height == 0
    )
    assert med_c.filter((pl.col("started_at") < closed_to) & (pl.col("ended_at") > closed_from)).height == 0
    assert med_c.filter(pl.col("started_at") >= closed_to).height > 10, "the ward reopens"
    # Its patients were moved to the other medical wards at the closure.
    moved = history.unit_stays.filter((pl.col("started_at") == closed_from) & (pl.col("stay_index") > 0))
    assert moved.height > 15
    assert set(moved["unit"]) <= {"MED-A", "MED-B", "MED-D", "MED-E"}


def test_arrivals_overrides_scale_volume(baseline: Scenario) -> None:
    surge = Scenario(
        name="test surge",
        hospital=baseline.hospital,
        horizon_days=28,
        overrides=(
            ArrivalsOverride(kind="arrivals", service="ed", factor=1.5, from_day=7, to_day=14),
            ArrivalsOverride(kind="arrivals", service="respiratory", factor=3.0, from_day=7, to_day=14),
            ArrivalsOverride(kind="arrivals", service="orthopaedics", factor=0.0, from_day=7, to_day=14),
        ),
    )
    plain = generate_history(baseline, START, 14, seed=5, warm_up_days=0)
    surged = generate_history(surge, START, 14, seed=5, warm_up_days=0)
    first, second = local_midnight(START + timedelta(days=7)), local_midnight(START + timedelta(days=14))

    def arrivals(history: History, begin: datetime, end: datetime) -> int:
        return history.ed_attendances.filter(
            (pl.col("arrived_at") >= begin) & (pl.col("arrived_at") < end)
        ).height

    def admitted(history: History, service: str, admission_type: str) -> int:
        return history.admissions.filter(
            (pl.col("admitted_at") >= first)
            & (pl.col("admitted_at") < second)
            & (pl.col("service") == service)
            & (pl.col("admission_type") == admission_type)
        ).height

    assert arrivals(surged, history_start := local_midnight(START), first) == arrivals(
        plain, history_start, first
    )
    ratio = arrivals(surged, first, second) / arrivals(plain, first, second)
    assert 1.40 < ratio < 1.60
    assert (
        3.0 < admitted(surged, "respiratory", "emergency") / admitted(plain, "respiratory", "emergency") < 6.0
    )
    assert admitted(surged, "orthopaedics", "elective") == 0 < admitted(plain, "orthopaedics", "elective")


# ---- progress and cancellation ---------------------------------------------------------------------------


def test_progress_is_reported_and_cancel_stops(baseline: Scenario) -> None:
    reports: list[HistoryProgress] = []
    generate_history(baseline, START, 3, seed=1, progress=reports.append, warm_up_days=0)
    fractions = [r.fraction_done for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(HistoryCancelled):
        generate_history(baseline, START, 3, seed=1, cancel=cancel, warm_up_days=0)


def test_rejects_bad_arguments(baseline: Scenario) -> None:
    with pytest.raises(ValueError, match="days"):
        generate_history(baseline, START, 0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        generate_history(baseline, START, 3, seed=-1)
