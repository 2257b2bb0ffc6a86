"""Remaining length of stay: the hazard GLM, its sampling, and its calibration on held-out stays."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from patients.los import (
    CALIBRATION_SCHEMA,
    DISCHARGE_PROBABILITIES_SCHEMA,
    LOS_FEATURES_SCHEMA,
    LengthOfStayModel,
    calibration,
    daily_readings,
    discharge_probabilities,
    fit_length_of_stay,
    remaining_stay_function,
    segments_from_events,
    twin_features,
)
from patients.los.mimic import mimic_segments
from patients.synthetic import generate_history
from patients.synthetic.history import History
from patients.twin import TwinRegistry
from scenarios import Scenario, load_scenario, scenario_path
from tests.conftest import SHARED_DATA, require

TRAIN_DAYS = 56
TEST_DAYS = 28


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(scenario: Scenario) -> History:
    return generate_history(scenario, date(2024, 2, 5), TRAIN_DAYS + TEST_DAYS, seed=21)


@pytest.fixture(scope="module")
def split(history: History) -> datetime:
    return history.starts_at + timedelta(days=TRAIN_DAYS)


@pytest.fixture(scope="module")
def model(history: History, scenario: Scenario, split: datetime) -> LengthOfStayModel:
    segments = segments_from_events(history.events.filter(pl.col("kind") != "observation"), scenario)
    return fit_length_of_stay(segments.filter(pl.col("started_at") < split), split)


@pytest.fixture(scope="module")
def held_out(history: History, scenario: Scenario, split: datetime) -> pl.DataFrame:
    segments = segments_from_events(history.events.filter(pl.col("kind") != "observation"), scenario)
    return daily_readings(segments, start=split, end=history.ends_at)


def test_fitted_model_is_sane(model: LengthOfStayModel) -> None:
    assert model.fitted_stays > 1000
    assert np.isclose(model.discharge_hour_profile.sum(), 1.0)
    assert 0.0 < model.base_rate_24h < model.base_rate_48h < 1.0


def test_held_out_probabilities_beat_the_base_rate_and_are_calibrated(
    model: LengthOfStayModel, held_out: pl.DataFrame
) -> None:
    result = calibration(model, held_out)
    assert dict(result.table.schema) == CALIBRATION_SCHEMA
    assert result.readings == held_out.height > 1000
    for hours in (24, 48):
        assert result.brier[hours] < result.brier_base_rate[hours], hours
        rows = result.table.filter(pl.col("within_hours") == hours)
        weights = rows["readings"].to_numpy() / rows["readings"].sum()
        gap = np.abs(rows["mean_predicted"].to_numpy() - rows["observed_share"].to_numpy())
        # calibration in the large and bin by bin (weighted): within a few percentage points
        assert float(np.sum(weights * gap)) < 0.05, hours
        overall = float(held_out[f"discharged_{hours}h"].mean())  # type: ignore[arg-type]
        assert abs(float(np.sum(weights * rows["mean_predicted"].to_numpy())) - overall) < 0.04


def test_sampled_remaining_stays_agree_with_the_probabilities(
    model: LengthOfStayModel, held_out: pl.DataFrame
) -> None:
    moment = held_out["at"].max()
    assert isinstance(moment, datetime)
    now = moment + timedelta(minutes=37)
    features = held_out.filter(pl.col("at") == moment).select(list(LOS_FEATURES_SCHEMA)).head(40)
    probabilities = model.discharge_within(features, now, (24.0, 48.0))
    samples = model.sample_remaining_hours(features, now, np.random.default_rng(3), 4000, 72.0)
    assert samples.shape == (features.height, 4000) and (samples >= 0).all()
    for column, hours in enumerate((24.0, 48.0)):
        share = (samples <= hours).mean(axis=1)
        p = probabilities[:, column]
        # binomial 4-sigma band; the interpolation inside a period adds a little
        assert np.all(np.abs(share - p) <= 4 * np.sqrt(p * (1 - p) / 4000) + 0.03)
    quantiles = model.remaining_stay_quantiles(features, now, quantiles=20)
    assert quantiles.shape == (features.height, 20)
    assert np.all(np.diff(quantiles, axis=1) >= 0)
    median_sampled = np.median(np.where(np.isinf(samples), 1e9, samples), axis=1)
    finite = median_sampled < 60
    # quantiles 9 and 10 are at 47.5 % and 52.5 %; inside a period the quantiles interpolate linearly
    # while samples follow the discharge hour profile: they agree to within one period (8 h)
    assert np.all(quantiles[finite, 9] - 8.0 <= median_sampled[finite])
    assert np.all(median_sampled[finite] <= quantiles[finite, 10] + 8.0)


def test_discharge_probabilities_of_twins(
    model: LengthOfStayModel, history: History, scenario: Scenario, split: datetime
) -> None:
    events = history.events.filter((pl.col("occurred_at") <= split) & (pl.col("kind") != "observation"))
    twins = TwinRegistry.from_frame(events).to_frame(split)
    features = twin_features(twins, scenario)
    assert dict(features.schema) == LOS_FEATURES_SCHEMA and features.height == twins.height
    probabilities = discharge_probabilities(model, twins, scenario, split)
    assert dict(probabilities.schema) == DISCHARGE_PROBABILITIES_SCHEMA
    assert probabilities.height == twins.filter(pl.col("status") == "admitted").height
    assert (probabilities["p_discharge_24h"] <= probabilities["p_discharge_48h"]).all()
    assert probabilities["p_discharge_24h"].is_between(0, 1).all()
    # the warm-start form: quantiles whose CDF at 24 h matches the probability
    remaining = remaining_stay_function(model, scenario, split, quantiles=200)
    rows = twins.filter(pl.col("status") == "admitted").head(5).to_dicts()
    for row, p24 in zip(rows, probabilities.head(5)["p_discharge_24h"].to_list(), strict=True):
        quantiles = remaining(row)
        assert quantiles is not None and quantiles.shape == (200,)
        assert abs(float(np.mean(quantiles <= 24.0)) - p24) < 0.02
    registered = twins.filter(pl.col("status") == "registered").head(1).to_dicts()
    assert all(remaining(row) is None for row in registered)


def test_unknown_covariate_and_empty_history_are_named(history: History, scenario: Scenario) -> None:
    segments = segments_from_events(history.events.head(0), scenario)
    with pytest.raises(ValueError, match="no discharged"):
        fit_length_of_stay(segments, history.ends_at)
    full = segments_from_events(history.events.filter(pl.col("kind") != "observation"), scenario)
    with pytest.raises(ValueError, match="covariates"):
        fit_length_of_stay(full, history.ends_at, covariates=("bed_colour",))


def test_mimic_demo_calibration() -> None:
    """Real stays: fitted on two thirds of the MIMIC-IV demo admissions, scored on the rest."""
    folder = SHARED_DATA / "mimic_iv_demo"
    require((folder / "transfers.csv.gz").is_file(), f"MIMIC-IV demo is absent from {folder}")
    segments = mimic_segments(Path(folder))
    held = segments["encounter_id"].map_elements(
        lambda stay: int(hashlib.sha256(stay.encode()).hexdigest(), 16) % 3 == 0, return_dtype=pl.Boolean
    )
    last_discharge = segments["discharged_at"].max()
    assert isinstance(last_discharge, datetime)
    until = last_discharge + timedelta(days=3)
    since = segments["started_at"].min()
    assert isinstance(since, datetime)
    model = fit_length_of_stay(segments.filter(~held), until, since, covariates=("unit_kind",))
    readings = daily_readings(segments.filter(held), start=None, end=until)
    result = calibration(model, readings, bins=5)
    print(
        f"MIMIC demo: readings {result.readings}, Brier {result.brier}, base rate {result.brier_base_rate}, "
        f"skill 24 h {result.skill(24):.3f}, 48 h {result.skill(48):.3f}"
    )
    print(result.table)
    assert result.readings > 300
    # The split is a fixed hash of hadm_id, so these are fixed numbers, not noise: with 180 training stays
    # the model must beat the no-skill base rate at 48 h and be no worse than it at 24 h.
    assert result.skill(48) > 0.0, result.brier
    assert result.brier[24] <= result.brier_base_rate[24], result.brier
    # the reliability table covers every held-out reading at both horizons
    for hours in (24, 48):
        rows = result.table.filter(pl.col("within_hours") == hours)
        assert rows["readings"].sum() == result.readings
