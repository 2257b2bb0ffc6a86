"""Parts of the synthetic history generator: clock, sampling, vital signs, discharge times, seasonality."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from patients.news2 import AcuityBand, Consciousness, VitalSigns, news2_score
from patients.synthetic import generate_history
from patients.synthetic.admissions import ACUITY_BANDS, shape_discharge_times
from patients.synthetic.clock import HistoryClock, bank_holidays
from patients.synthetic.sampling import activity_streams, choose_rows, sample_duration
from patients.synthetic.vital_signs import observation_times, sample_vital_signs
from scenarios import load_scenario, scenario_path
from scenarios.schema import ExponentialHours, FixedHours, GammaHours, LognormalHours

LONDON = ZoneInfo("Europe/London")


# ---- clock -----------------------------------------------------------------------------------------------


def test_clock_follows_the_local_calendar_across_clock_changes() -> None:
    # 2024: clocks go forward on Sunday 31 March, back on Sunday 27 October.
    clock = HistoryClock.build(date(2024, 3, 30), 212, 0, "Europe/London", "GB", "ENG")
    day_lengths = np.diff(clock.day_hour_starts[:, 0])
    assert day_lengths[1] == 23 and day_lengths[0] == 24
    assert day_lengths[(date(2024, 10, 27) - date(2024, 3, 30)).days] == 25
    assert clock.origin_utc == datetime(2024, 3, 30, 0, 0, tzinfo=UTC)
    for hours in (5.5, 30.25, 24 * 100 + 13.75):
        local = (clock.origin_utc + timedelta(hours=hours)).astimezone(LONDON)
        day = int(clock.local_day_of(np.array([hours]))[0])
        assert date(2024, 3, 30) + timedelta(days=day) == local.date()
        assert int(clock.local_hour_of(np.array([hours]))[0]) == local.hour
        back = clock.at_local(np.array([day]), np.array([local.hour + local.minute / 60]))
        assert back[0] == pytest.approx(hours)
    assert clock.weekday[0] == 5  # Saturday
    assert clock.bank_holiday[(date(2024, 5, 6) - date(2024, 3, 30)).days]


def test_bank_holidays_of_england() -> None:
    holidays = bank_holidays("GB", "ENG", date(2024, 1, 1), date(2024, 12, 31))
    assert date(2024, 12, 25) in holidays and date(2024, 8, 26) in holidays
    assert date(2024, 3, 17) not in holidays  # St Patrick's day is Northern Ireland's
    assert len(holidays) == 8


def test_minutes_and_utc_series() -> None:
    clock = HistoryClock.build(date(2024, 6, 1), 2, 1, "Europe/London", "GB", "ENG")
    minutes = clock.to_minutes(np.array([0.0, 1.0 / 60 - 1e-12, 25.5]))
    assert minutes.tolist() == [0, 1, 1530]
    series = clock.utc_series("t", minutes, np.array([True, True, False]))
    assert series.dtype == pl.Datetime("us", "UTC")
    assert series[0] == datetime(2024, 5, 30, 23, 0, tzinfo=UTC)  # local midnight in summer time
    assert series[2] is None


# ---- sampling --------------------------------------------------------------------------------------------


def test_streams_are_independent_and_reproducible() -> None:
    first, again, other = activity_streams(3), activity_streams(3), activity_streams(4)
    draws = {name: rng.random(4).tolist() for name, rng in first.items()}
    assert draws == {name: rng.random(4).tolist() for name, rng in again.items()}
    assert draws != {name: rng.random(4).tolist() for name, rng in other.items()}
    assert len({tuple(v) for v in draws.values()}) == len(draws)


@pytest.mark.parametrize(
    ("duration", "mean"),
    [
        (LognormalHours(distribution="lognormal", median_hours=20.0, sigma=0.5), 20.0 * np.exp(0.125)),
        (ExponentialHours(distribution="exponential", mean_hours=7.0), 7.0),
        (GammaHours(distribution="gamma", mean_hours=9.0, shape=3.0), 9.0),
        (FixedHours(distribution="fixed", hours=4.0), 4.0),
    ],
)
def test_sample_duration_has_the_distribution_mean(duration: object, mean: float) -> None:
    values = sample_duration(np.random.default_rng(0), duration, 40_000)  # type: ignore[arg-type]
    assert values.mean() == pytest.approx(mean, rel=0.02)


def test_choose_rows_is_proportional_and_skips_closed_options() -> None:
    weights = np.tile(np.array([0.0, 30.0, 10.0]), (40_000, 1))
    weights[:5] = 0.0
    chosen = choose_rows(np.random.default_rng(1), weights)
    assert (chosen[:5] == -1).all()
    assert (chosen[5:] != 0).all()
    assert (chosen[5:] == 1).mean() == pytest.approx(0.75, abs=0.01)


# ---- vital signs -----------------------------------------------------------------------------------------


def test_vital_signs_score_in_their_band_by_the_news2_chart() -> None:
    bands = np.repeat(np.arange(4), 1500)
    sets = sample_vital_signs(np.random.default_rng(2), bands)
    levels = list(Consciousness)
    seen_totals: dict[str, set[int]] = {band: set() for band in ACUITY_BANDS}
    for i, band in enumerate(bands.tolist()):
        vitals = VitalSigns(
            respiration_rate=int(sets.respiration_rate[i]),
            spo2=int(sets.spo2[i]),
            on_oxygen=bool(sets.on_oxygen[i]),
            temperature_c=float(sets.temperature_c[i]),
            systolic_bp=int(sets.systolic_bp[i]),
            heart_rate=int(sets.heart_rate[i]),
            consciousness=levels[int(sets.consciousness[i])],
        )
        score = news2_score(vitals)
        assert score.band == AcuityBand(ACUITY_BANDS[band])
        assert score.total == sets.news2_score[i]
        seen_totals[ACUITY_BANDS[band]].add(score.total)
    assert seen_totals["low"] == {0, 1, 2, 3, 4}
    assert seen_totals["low_medium"] == {3, 4}
    assert seen_totals["medium"] == {5, 6}
    assert min(seen_totals["high"]) == 7 and max(seen_totals["high"]) >= 11


def test_vital_signs_are_plausible() -> None:
    sets = sample_vital_signs(np.random.default_rng(3), np.zeros(20_000, dtype=np.int64))
    assert 14 <= np.median(sets.respiration_rate) <= 18
    assert 95 <= np.median(sets.spo2) <= 99
    assert 36.3 <= np.median(sets.temperature_c) <= 37.3
    assert 60 <= np.median(sets.heart_rate) <= 90
    assert 110 <= np.median(sets.systolic_bp) <= 150
    assert (sets.consciousness == 0).all(), "a low-acuity patient is alert"


def test_observation_times_stay_inside_their_windows() -> None:
    rng = np.random.default_rng(4)
    start = rng.uniform(0, 100, 500)
    until = start + rng.uniform(0.1, 50, 500)
    interval = rng.choice([1.0, 2.0, 4.0, 6.0], 500)
    times = observation_times(rng, start, until, interval)
    assert (times.observed >= start[times.stay]).all()
    assert (times.observed < until[times.stay]).all()
    assert (np.diff(times.stay) >= 0).all()
    per_stay = np.bincount(times.stay, minlength=500)
    expected = (until - start) / interval
    assert np.abs(per_stay - expected).max() <= 2


# ---- discharge times -------------------------------------------------------------------------------------


def test_discharge_times_follow_the_profile_and_keep_the_mean() -> None:
    clock = HistoryClock.build(date(2024, 6, 3), 60, 0, "Europe/London", "GB", "ENG")
    rng = np.random.default_rng(5)
    started = rng.uniform(0, 24 * 40, 20_000)
    nominal = started + rng.lognormal(np.log(100), 0.8, 20_000)
    profile = tuple(float(w) for w in np.r_[np.zeros(9), np.ones(8), np.zeros(7)])  # 09:00-17:00 only
    shaped = shape_discharge_times(rng, clock, profile, started, nominal)
    inside = nominal < clock.total_hours - 48
    assert inside.mean() > 0.9
    started, nominal, shaped = started[inside], nominal[inside], shaped[inside]
    hours = clock.local_hour_of(shaped)
    assert ((hours >= 9) & (hours < 17)).all()
    assert (shaped >= started + 1.0).all()
    assert (shaped - started).mean() == pytest.approx((nominal - started).mean(), rel=0.03)


# ---- seasonality -----------------------------------------------------------------------------------------


def test_winter_is_busier_than_summer() -> None:
    baseline = load_scenario(scenario_path("baseline"))

    def daily_attendances(start: date) -> float:
        history = generate_history(baseline, start, 28, seed=9, warm_up_days=0)
        window = history.ed_attendances.filter(pl.col("arrived_at") < history.ends_at)
        return window.height / 28

    winter, summer = daily_attendances(date(2024, 1, 8)), daily_attendances(date(2024, 7, 8))
    amplitude = baseline.hospital.seasonality.winter_amplitude
    # Mid-window days of the year: 22 (January) and 204 (July); the peak is on day 15.
    winter_factor = 1 + amplitude * np.cos(2 * np.pi * (22 - 15) / 365.25)
    summer_factor = 1 + amplitude * np.cos(2 * np.pi * (204 - 15) / 365.25)
    expected = winter_factor / summer_factor
    assert winter / summer == pytest.approx(expected, rel=0.04)
    assert winter / summer > 1.1


def test_a_bank_holiday_is_quieter_in_the_ed() -> None:
    baseline = load_scenario(scenario_path("baseline"))
    history = generate_history(baseline, date(2024, 8, 19), 15, seed=2, warm_up_days=0)
    local_day = history.ed_attendances.select(
        pl.col("arrived_at").dt.convert_time_zone("Europe/London").dt.date().alias("day")
    )
    counts = dict(local_day.group_by("day").len().iter_rows())
    holiday, ordinary_mondays = (
        counts[date(2024, 8, 26)],
        [counts[date(2024, 8, 19)], counts[date(2024, 9, 2)]],
    )
    assert holiday < 0.97 * np.mean(ordinary_mondays)


def test_local_midnight_helper_matches_history_window() -> None:
    baseline = load_scenario(scenario_path("baseline"))
    history = generate_history(baseline, date(2024, 3, 30), 2, seed=1, warm_up_days=0)
    assert history.starts_at == datetime.combine(date(2024, 3, 30), time(0), tzinfo=LONDON).astimezone(UTC)
    assert (history.ends_at - history.starts_at) == timedelta(hours=47)
