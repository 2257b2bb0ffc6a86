"""Calibrate lengths of stay against the real MIMIC-IV demo transfers (PhysioNet, ODbL).

MIMIC-IV's ``transfers`` table records every bed movement of a hospital admission at Beth Israel Deaconess
Medical Center (Boston): ``hadm_id``, ``eventtype`` (ED, admit, transfer, discharge), ``careunit``,
``intime`` and ``outtime``. We turn it into *unit stays* the same way the synthetic history defines them:

1. drop the ``discharge`` rows (they have no duration) and rows without an admission;
2. merge consecutive rows of one admission in the same care unit (a bed move inside a unit is not a
   transfer between units);
3. classify each care unit into one of our unit kinds (:func:`care_unit_kind`): ``ed``, ``icu`` (medical,
   surgical, cardiac, trauma, neuro ICUs and the coronary care unit), ``step_down`` (step-down and
   intermediate units), ``pacu``, ``ward`` (every other inpatient unit); the discharge lounge and
   observation units are left out.

Each kind's length of stay is then fitted with a lognormal in two ways:

- **robust** (the one we use): median = the sample median; sigma = the interquartile range of the log
  lengths of stay / 1.349 (the IQR of a standard normal). Real unit stays have a tail of very short stays
  (patients moved on within a few hours), which a lognormal does not have; they inflate the maximum
  likelihood sigma, while the middle half of the data fits a lognormal well.
- **maximum likelihood**: mean and standard deviation of the log lengths of stay.

A bootstrap (fixed seed) gives a 95 % interval of the robust sigma.

MIMIC is a US academic centre, whose stays are shorter than English ones and whose demo patients were
chosen among ICU patients, so only the *shape* (sigma) is carried over to the demo hospital; the level
(median) stays English. :func:`calibrate_scenario` proposes, for every pathway step whose unit kind has
enough MIMIC stays, the MIMIC sigma with the median rescaled so that the step's mean length of stay, and
therefore the hospital's occupancy, is unchanged: ``median = mean / exp(sigma**2 / 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from scenarios.schema import LognormalHours, Scenario, UnitKind, mean_duration_hours

TRANSFERS_FILE = "transfers.csv.gz"
ADMISSIONS_FILE = "admissions.csv.gz"

NORMAL_IQR = 1.3489795003921634
"""Interquartile range of a standard normal distribution."""

SHORT_STAY_HOURS = 4.0
"""Unit stays shorter than this are counted (and reported) as short stays [hours]."""

MINIMUM_STAYS = 100
"""Fewest MIMIC unit stays of a kind for its sigma to be carried over to the demo hospital."""

MIMIC_UNIT_STAYS_SCHEMA: dict[str, pl.DataType] = {
    "hadm_id": pl.Int64(),
    "careunit": pl.String(),
    "unit_kind": pl.String(),
    "intime": pl.Datetime("us"),
    "outtime": pl.Datetime("us"),
    "length_of_stay_hours": pl.Float64(),
}
"""One row per MIMIC unit stay (consecutive transfers within one care unit merged)."""

LENGTH_OF_STAY_FITS_SCHEMA: dict[str, pl.DataType] = {
    "group": pl.String(),
    "stays": pl.Int64(),
    "median_hours": pl.Float64(),
    "sigma": pl.Float64(),
    "sigma_low": pl.Float64(),
    "sigma_high": pl.Float64(),
    "mle_median_hours": pl.Float64(),
    "mle_sigma": pl.Float64(),
    "mean_hours": pl.Float64(),
    "short_stay_share": pl.Float64(),
}
"""One row per group (unit kind, or admission type): robust and maximum-likelihood lognormal fits.

``sigma_low``/``sigma_high`` bound the bootstrap 95 % interval of the robust ``sigma``; ``mean_hours`` is
the sample mean; ``short_stay_share`` the share of stays shorter than :data:`SHORT_STAY_HOURS`.
"""

STEP_CALIBRATION_SCHEMA: dict[str, pl.DataType] = {
    "service": pl.String(),
    "pathway": pl.String(),
    "admission_type": pl.String(),
    "step": pl.Int64(),
    "units": pl.String(),
    "unit_kind": pl.String(),
    "mimic_group": pl.String(),
    "median_hours": pl.Float64(),
    "sigma": pl.Float64(),
    "mean_hours": pl.Float64(),
    "mimic_sigma": pl.Float64(),
    "mimic_sigma_low": pl.Float64(),
    "mimic_sigma_high": pl.Float64(),
    "within_interval": pl.Boolean(),
    "proposed_median_hours": pl.Float64(),
    "proposed_sigma": pl.Float64(),
}
"""One row per lognormal pathway step of a scenario, compared with the MIMIC fit of its kind.

``proposed_*`` keep the step's mean and take MIMIC's sigma; they are null when the MIMIC group is not a
unit-stay group with at least :data:`MINIMUM_STAYS` stays.
"""

ELECTIVE_ADMISSION_TYPES = ("ELECTIVE", "SURGICAL SAME DAY ADMISSION")
"""MIMIC admission types of planned admissions."""


def care_unit_kind(careunit: str | None) -> str | None:
    """Our unit kind of a MIMIC-IV care unit name (``None`` for units we leave out).

    Examples
    --------
    >>> care_unit_kind("Medical Intensive Care Unit (MICU)"), care_unit_kind("Med/Surg")
    ('icu', 'ward')
    >>> care_unit_kind("Discharge Lounge") is None
    True
    """
    if careunit is None:
        return None
    name = careunit.lower()
    if "emergency" in name:
        return UnitKind.ED.value
    if "pacu" in name:
        return UnitKind.PACU.value
    if "intensive care" in name or "icu" in name or "coronary care" in name:
        return UnitKind.ICU.value
    if "stepdown" in name or "step down" in name or "intermediate" in name:
        return UnitKind.STEP_DOWN.value
    if "discharge lounge" in name or "observation" in name or name in ("unknown", "careunit"):
        return None
    return UnitKind.WARD.value


def read_mimic_unit_stays(folder: str | Path) -> pl.DataFrame:
    """Unit stays of the MIMIC-IV (demo) transfers, consecutive rows in one care unit merged.

    Parameters
    ----------
    folder
        Folder holding ``transfers.csv.gz``.

    Returns
    -------
    polars.DataFrame
        :data:`MIMIC_UNIT_STAYS_SCHEMA`, stays with a positive length and a known kind.
    """
    transfers = pl.read_csv(Path(folder) / TRANSFERS_FILE, try_parse_dates=True)
    movements = (
        transfers.filter((pl.col("eventtype") != "discharge") & pl.col("hadm_id").is_not_null())
        .filter(pl.col("outtime").is_not_null())
        .sort(["hadm_id", "intime"])
        .with_columns(
            (pl.col("careunit") != pl.col("careunit").shift(1).over("hadm_id"))
            .fill_null(True)
            .cum_sum()
            .over("hadm_id")
            .alias("block")
        )
    )
    stays = (
        movements.group_by(["hadm_id", "block"], maintain_order=True)
        .agg(pl.col("careunit").first(), pl.col("intime").min(), pl.col("outtime").max())
        .with_columns(
            pl.col("careunit").map_elements(care_unit_kind, return_dtype=pl.String).alias("unit_kind"),
            ((pl.col("outtime") - pl.col("intime")).dt.total_seconds() / 3600.0).alias(
                "length_of_stay_hours"
            ),
        )
        .filter(pl.col("unit_kind").is_not_null() & (pl.col("length_of_stay_hours") > 0))
    )
    return stays.select(list(MIMIC_UNIT_STAYS_SCHEMA)).cast(pl.Schema(MIMIC_UNIT_STAYS_SCHEMA))


def read_mimic_admissions(folder: str | Path) -> pl.DataFrame:
    """Hospital admissions of MIMIC-IV (demo) with their length of stay and whether they were planned.

    Returns
    -------
    polars.DataFrame
        ``hadm_id``, ``admission_type`` (MIMIC's), ``planned`` (elective or same-day surgical) and
        ``length_of_stay_hours``.
    """
    admissions = pl.read_csv(Path(folder) / ADMISSIONS_FILE, try_parse_dates=True)
    return admissions.select(
        pl.col("hadm_id").cast(pl.Int64),
        "admission_type",
        pl.col("admission_type").is_in(ELECTIVE_ADMISSION_TYPES).alias("planned"),
        ((pl.col("dischtime") - pl.col("admittime")).dt.total_seconds() / 3600.0).alias(
            "length_of_stay_hours"
        ),
    ).filter(pl.col("length_of_stay_hours") > 0)


@dataclass(frozen=True)
class LognormalFit:
    """A lognormal fitted to lengths of stay [hours].

    Attributes
    ----------
    stays
        Number of stays.
    median_hours, sigma
        Robust fit: sample median and log-IQR / 1.349.
    sigma_low, sigma_high
        Bootstrap 95 % interval of the robust sigma.
    mle_median_hours, mle_sigma
        Maximum-likelihood fit: exp(mean of logs) and standard deviation of logs.
    mean_hours
        Sample mean.
    short_stay_share
        Share of stays shorter than :data:`SHORT_STAY_HOURS`.
    """

    stays: int
    median_hours: float
    sigma: float
    sigma_low: float
    sigma_high: float
    mle_median_hours: float
    mle_sigma: float
    mean_hours: float
    short_stay_share: float


def _robust_sigma(log_hours: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    upper, lower = np.quantile(log_hours, [0.75, 0.25], axis=axis)
    return np.asarray((upper - lower) / NORMAL_IQR, dtype=np.float64)


def fit_lognormal(hours: NDArray[np.float64], *, resamples: int = 2000, seed: int = 0) -> LognormalFit:
    """Fit a lognormal to positive durations, robustly and by maximum likelihood.

    Parameters
    ----------
    hours
        Lengths of stay [hours], all positive; at least 4 of them.
    resamples
        Bootstrap resamples for the interval of the robust sigma.
    seed
        Seed of the bootstrap.

    Returns
    -------
    LognormalFit
        The fits.

    Examples
    --------
    >>> import numpy as np
    >>> sample = np.random.default_rng(0).lognormal(np.log(50.0), 0.8, 20000)
    >>> fit = fit_lognormal(sample, resamples=200)
    >>> round(fit.median_hours), round(fit.sigma, 1), round(fit.mle_sigma, 1)
    (50, 0.8, 0.8)
    """
    values = np.asarray(hours, dtype=np.float64)
    if values.size < 4 or (values <= 0).any():
        raise ValueError("fit_lognormal needs at least 4 positive durations")
    logs = np.log(values)
    rng = np.random.default_rng(seed)
    resampled = logs[rng.integers(0, logs.size, size=(resamples, logs.size))]
    bootstrap = _robust_sigma(resampled, axis=1)
    low, high = np.quantile(bootstrap, [0.025, 0.975])
    return LognormalFit(
        stays=int(values.size),
        median_hours=float(np.median(values)),
        sigma=float(_robust_sigma(logs)),
        sigma_low=float(low),
        sigma_high=float(high),
        mle_median_hours=float(np.exp(logs.mean())),
        mle_sigma=float(logs.std(ddof=1)),
        mean_hours=float(values.mean()),
        short_stay_share=float((values < SHORT_STAY_HOURS).mean()),
    )


def _fits_frame(groups: dict[str, NDArray[np.float64]]) -> pl.DataFrame:
    rows = []
    for group, hours in groups.items():
        if hours.size < 4:
            continue
        fit = fit_lognormal(hours)
        rows.append({"group": group, **fit.__dict__})
    return pl.DataFrame(rows, schema=LENGTH_OF_STAY_FITS_SCHEMA)


def fit_mimic_length_of_stay(folder: str | Path) -> pl.DataFrame:
    """Lognormal fits of MIMIC unit stays by unit kind and of admissions by planned / unplanned.

    Parameters
    ----------
    folder
        Folder of the MIMIC-IV (demo) CSV files (``transfers.csv.gz``, ``admissions.csv.gz``).

    Returns
    -------
    polars.DataFrame
        :data:`LENGTH_OF_STAY_FITS_SCHEMA`; groups are the unit kinds (``ward``, ``icu``, ``step_down``,
        ``ed``, ``pacu``) and ``admission:emergency`` / ``admission:elective`` (whole hospital stays).
    """
    stays = read_mimic_unit_stays(folder)
    admissions = read_mimic_admissions(folder)
    groups: dict[str, NDArray[np.float64]] = {}
    for kind in (UnitKind.WARD, UnitKind.ICU, UnitKind.STEP_DOWN, UnitKind.ED, UnitKind.PACU):
        groups[kind.value] = stays.filter(pl.col("unit_kind") == kind.value)[
            "length_of_stay_hours"
        ].to_numpy()
    groups["admission:emergency"] = admissions.filter(~pl.col("planned"))["length_of_stay_hours"].to_numpy()
    groups["admission:elective"] = admissions.filter(pl.col("planned"))["length_of_stay_hours"].to_numpy()
    return _fits_frame(groups)


def calibrate_scenario(
    scenario: Scenario, fits: pl.DataFrame, *, minimum_stays: int = MINIMUM_STAYS
) -> pl.DataFrame:
    """Compare every lognormal pathway step of a scenario with the MIMIC fit of its kind.

    An emergency step is compared with the MIMIC unit stays of its unit kind (``ward``, ``icu``,
    ``step_down``); an elective step with MIMIC's planned admissions (their whole stays, the closest MIMIC
    has to a planned surgical stay). Assessment units (AMU) have no MIMIC counterpart.

    A change is *proposed* only from a unit-stay group with at least ``minimum_stays`` stays: MIMIC's
    planned admissions are whole stays of a few dozen patients, many after cardiac or transplant surgery,
    too far from an English elective surgical ward stay to set its shape.

    Parameters
    ----------
    scenario
        The scenario whose steps are compared.
    fits
        :func:`fit_mimic_length_of_stay`'s frame.
    minimum_stays
        Fewest MIMIC stays for a group to be used.

    Returns
    -------
    polars.DataFrame
        :data:`STEP_CALIBRATION_SCHEMA`: the step's median, sigma and mean, MIMIC's sigma and interval,
        whether the step's sigma lies inside it, and the proposal (MIMIC's sigma, the step's mean kept).
    """
    by_group = {row["group"]: row for row in fits.iter_rows(named=True)}
    unit_kinds = {kind.value for kind in UnitKind}
    hospital = scenario.hospital
    rows = []
    for service in hospital.services:
        routes = [("emergency", p) for p in service.pathways]
        if service.surgery is not None:
            routes += [("elective", p) for p in service.surgery.elective_pathways]
        for admission_type, pathway in routes:
            for k, step in enumerate(pathway.steps):
                if not isinstance(step.length_of_stay, LognormalHours):
                    continue
                kind = hospital.unit(step.units[0]).kind.value
                group = "admission:elective" if admission_type == "elective" else kind
                fit = by_group.get(group)
                mean = mean_duration_hours(step.length_of_stay)
                row: dict[str, object] = {
                    "service": service.id,
                    "pathway": pathway.name,
                    "admission_type": admission_type,
                    "step": k,
                    "units": ",".join(step.units),
                    "unit_kind": kind,
                    "mimic_group": group if fit else None,
                    "median_hours": step.length_of_stay.median_hours,
                    "sigma": step.length_of_stay.sigma,
                    "mean_hours": mean,
                    "mimic_sigma": None,
                    "mimic_sigma_low": None,
                    "mimic_sigma_high": None,
                    "within_interval": None,
                    "proposed_median_hours": None,
                    "proposed_sigma": None,
                }
                if fit is not None:
                    sigma = float(fit["sigma"])
                    row.update(
                        mimic_sigma=sigma,
                        mimic_sigma_low=fit["sigma_low"],
                        mimic_sigma_high=fit["sigma_high"],
                        within_interval=fit["sigma_low"] <= step.length_of_stay.sigma <= fit["sigma_high"],
                    )
                    if group in unit_kinds and fit["stays"] >= minimum_stays:
                        row.update(
                            proposed_median_hours=mean_preserving_median(mean, sigma), proposed_sigma=sigma
                        )
                rows.append(row)
    return pl.DataFrame(rows, schema=STEP_CALIBRATION_SCHEMA)


def mean_preserving_median(mean_hours: float, sigma: float) -> float:
    """Median [hours] of the lognormal with this mean and sigma: ``mean / exp(sigma**2 / 2)``.

    Examples
    --------
    >>> round(mean_preserving_median(100.0, 0.0), 6)
    100.0
    """
    return mean_hours / math.exp(sigma**2 / 2.0)
