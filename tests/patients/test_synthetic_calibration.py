"""Length-of-stay calibration against the real MIMIC-IV demo transfers (../shared/data/mimic_iv_demo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from patients.synthetic.calibration import (
    LENGTH_OF_STAY_FITS_SCHEMA,
    MIMIC_UNIT_STAYS_SCHEMA,
    STEP_CALIBRATION_SCHEMA,
    calibrate_scenario,
    care_unit_kind,
    fit_lognormal,
    fit_mimic_length_of_stay,
    mean_preserving_median,
    read_mimic_unit_stays,
)
from scenarios import load_scenario, scenario_path
from scenarios.schema import LognormalHours


@pytest.fixture(scope="module")
def mimic(shared_data: Path) -> Path:
    folder = shared_data / "mimic_iv_demo"
    if not (folder / "transfers.csv.gz").is_file():
        pytest.skip(f"{folder}/transfers.csv.gz is absent")
    return folder


@pytest.fixture(scope="module")
def fits(mimic: Path) -> pl.DataFrame:
    return fit_mimic_length_of_stay(mimic)


def test_care_units_map_onto_our_unit_kinds() -> None:
    assert care_unit_kind("Surgical Intensive Care Unit (SICU)") == "icu"
    assert care_unit_kind("Coronary Care Unit (CCU)") == "icu"
    assert care_unit_kind("Neuro Stepdown") == "step_down"
    assert care_unit_kind("Hematology/Oncology Intermediate") == "step_down"
    assert care_unit_kind("Emergency Department Observation") == "ed"
    assert care_unit_kind("PACU") == "pacu"
    assert care_unit_kind("Medicine/Cardiology") == "ward"
    assert care_unit_kind("Discharge Lounge") is None
    assert care_unit_kind(None) is None


def test_fit_recovers_a_known_lognormal() -> None:
    sample = np.random.default_rng(0).lognormal(np.log(80.0), 0.9, 5000)
    fit = fit_lognormal(sample, resamples=300)
    assert fit.median_hours == pytest.approx(80.0, rel=0.05)
    assert fit.sigma == pytest.approx(0.9, abs=0.05)
    assert fit.mle_sigma == pytest.approx(0.9, abs=0.03)
    assert fit.sigma_low < 0.9 < fit.sigma_high


def test_robust_fit_resists_a_tail_of_short_stays() -> None:
    rng = np.random.default_rng(1)
    sample = np.concatenate([rng.lognormal(np.log(80.0), 0.9, 930), rng.uniform(0.1, 3.0, 70)])
    fit = fit_lognormal(sample, resamples=300)
    assert abs(fit.sigma - 0.9) < 0.1
    assert fit.mle_sigma > 1.2, "the short stays inflate the maximum-likelihood sigma"


def test_mimic_unit_stays_merge_moves_inside_a_unit(mimic: Path) -> None:
    stays = read_mimic_unit_stays(mimic)
    assert dict(stays.schema) == MIMIC_UNIT_STAYS_SCHEMA
    assert (stays["length_of_stay_hours"] > 0).all()
    consecutive = stays.sort("hadm_id", "intime").with_columns(
        pl.col("careunit").shift(1).over("hadm_id").alias("previous"),
        pl.col("outtime").shift(1).over("hadm_id").alias("previous_out"),
    )
    # Two stays in the same unit one after the other were separated by a stay elsewhere (left out here).
    repeated = consecutive.filter(pl.col("careunit") == pl.col("previous"))
    assert (repeated["previous_out"] < repeated["intime"]).all()
    assert stays["hadm_id"].n_unique() > 250


def test_mimic_fits_by_unit_kind(fits: pl.DataFrame) -> None:
    assert dict(fits.schema) == LENGTH_OF_STAY_FITS_SCHEMA
    by_group = {row["group"]: row for row in fits.iter_rows(named=True)}
    ward, icu = by_group["ward"], by_group["icu"]
    # The numbers written in docs/background/los-calibration.md.
    assert ward["stays"] == 283 and icu["stays"] == 151
    assert ward["median_hours"] == pytest.approx(72.0, abs=0.5)
    assert ward["sigma"] == pytest.approx(0.91, abs=0.01)
    assert icu["median_hours"] == pytest.approx(48.0, abs=0.5)
    assert icu["sigma"] == pytest.approx(0.88, abs=0.01)
    assert ward["mle_sigma"] > ward["sigma"] and icu["mle_sigma"] > icu["sigma"]
    assert by_group["ed"]["median_hours"] < 8
    assert by_group["admission:elective"]["sigma"] < by_group["admission:emergency"]["sigma"]


def test_baseline_takes_its_shape_from_mimic_and_keeps_english_means(fits: pl.DataFrame) -> None:
    baseline = load_scenario(scenario_path("baseline"))
    steps = calibrate_scenario(baseline, fits)
    assert dict(steps.schema) == STEP_CALIBRATION_SCHEMA
    proposed = steps.filter(pl.col("proposed_sigma").is_not_null())
    assert set(proposed["unit_kind"]) == {"ward", "icu"}
    assert (proposed["admission_type"] == "emergency").all()
    # Every emergency ward and ICU step of the baseline has MIMIC's sigma (2 decimals) and its median is
    # the mean-preserving one (whole hours): the calibration is applied.
    assert (proposed["sigma"] - proposed["proposed_sigma"]).abs().max() < 0.006  # type: ignore[operator]
    assert (proposed["median_hours"] - proposed["proposed_median_hours"]).abs().max() <= 0.5 + 1e-9  # type: ignore[operator]
    # Elective steps are compared but not changed: MIMIC's planned admissions are too few and too unlike.
    elective = steps.filter(pl.col("admission_type") == "elective")
    assert elective["proposed_sigma"].null_count() == elective.height
    assert elective["mimic_sigma"].null_count() == 0


def test_mean_preserving_median() -> None:
    step = LognormalHours(distribution="lognormal", median_hours=150.0, sigma=0.85)
    median = mean_preserving_median(step.mean_hours(), 0.91)
    calibrated = LognormalHours(distribution="lognormal", median_hours=median, sigma=0.91)
    assert calibrated.mean_hours() == pytest.approx(step.mean_hours())
    assert median < 150.0
