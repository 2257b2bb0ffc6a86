"""Generate a synthetic patient-level history of a scenario's hospital: :func:`generate_history`.

The history covers ``days`` local days from ``start``. The generator first runs a warm-up of
:data:`WARM_UP_DAYS` so that the hospital is already full on day 0, like a real extract taken from a
running hospital: encounters that began in the warm-up and are still open on day 0 are kept whole (their
earlier records included); encounters that end before day 0 are dropped. Records after the history's end
are cut off: a patient still in hospital then has a null ``discharged_at``. Overrides count their days
from ``start`` (day 0), as :mod:`scenarios.timeline` reads them; the warm-up runs the base hospital.

Patients are never named: ``patient_key`` and ``encounter_id`` are keyed hashes
(:mod:`patients.identity`) of synthetic record numbers made from the seed, with a fixed synthetic salt so
that the same seed gives the same keys on any machine. Each encounter is a new patient (no readmissions).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from patients.events import EVENT_SCHEMA
from patients.identity import encounter_key, patient_key
from patients.synthetic.admissions import (
    ACUITY_BANDS,
    ADMISSIONS_SCHEMA,
    UNIT_STAYS_SCHEMA,
    Admissions,
    KeptStays,
    admissions_frame,
    build_admissions,
    keep_stays,
    unit_stays_frame,
)
from patients.synthetic.clock import HistoryClock
from patients.synthetic.emergency_department import (
    ED_ATTENDANCES_SCHEMA,
    ed_attendances_frame,
    simulate_ed_attendances,
)
from patients.synthetic.event_stream import history_events
from patients.synthetic.sampling import activity_streams
from patients.synthetic.theatres import SURGICAL_CASES_SCHEMA, simulate_elective_cases, surgical_cases_frame
from patients.synthetic.vital_signs import (
    INTERVAL_HOURS_BY_BAND,
    LONGEST_INTERVAL_HOURS_BY_KIND,
    OBSERVATIONS_SCHEMA,
    observation_times,
    observations_frame,
    sample_vital_signs,
)
from scenarios.schema import Scenario, UnitKind

WARM_UP_DAYS = 60
"""Days simulated before the history's start so that the hospital is in steady state on day 0."""

SYNTHETIC_SALT = "hospital-twin-synthetic-history"
"""Salt of the keyed hashes of synthetic record numbers (public: the records are not real)."""

HISTORY_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "ed_attendances": ED_ATTENDANCES_SCHEMA,
    "admissions": ADMISSIONS_SCHEMA,
    "unit_stays": UNIT_STAYS_SCHEMA,
    "surgical_cases": SURGICAL_CASES_SCHEMA,
    "observations": OBSERVATIONS_SCHEMA,
    "events": EVENT_SCHEMA,
}
"""Schema of each frame of a :class:`History`, by frame name (also the Parquet file's stem)."""

METADATA_FILE = "history.json"
"""Name of the file describing a history written with :meth:`History.write_parquet`."""


@dataclass(frozen=True)
class HistoryProgress:
    """A progress report of :func:`generate_history`.

    Attributes
    ----------
    stage
        What has just been done, e.g. ``"ED attendances"``.
    fraction_done
        Share of the work done (0-1).
    """

    stage: str
    fraction_done: float


class HistoryCancelled(RuntimeError):
    """:func:`generate_history` was cancelled through its ``cancel`` event."""


@dataclass(frozen=True)
class History:
    """A synthetic patient-level history: one polars frame per kind of record.

    Attributes
    ----------
    scenario_name, scenario_digest
        The scenario it was generated from (:meth:`scenarios.schema.Scenario.digest`).
    start, days, seed
        The local start date, length [days] and seed.
    starts_at, ends_at
        The history's window in UTC: local midnight of ``start`` to local midnight after the last day.
    ed_attendances
        :data:`~patients.synthetic.emergency_department.ED_ATTENDANCES_SCHEMA`.
    admissions
        :data:`~patients.synthetic.admissions.ADMISSIONS_SCHEMA`.
    unit_stays
        :data:`~patients.synthetic.admissions.UNIT_STAYS_SCHEMA`.
    surgical_cases
        :data:`~patients.synthetic.theatres.SURGICAL_CASES_SCHEMA`.
    observations
        :data:`~patients.synthetic.vital_signs.OBSERVATIONS_SCHEMA`.
    events
        :data:`patients.events.EVENT_SCHEMA`: the same history as canonical patient events.
    """

    scenario_name: str
    scenario_digest: str
    start: date
    days: int
    seed: int
    starts_at: datetime
    ends_at: datetime
    ed_attendances: pl.DataFrame = field(repr=False)
    admissions: pl.DataFrame = field(repr=False)
    unit_stays: pl.DataFrame = field(repr=False)
    surgical_cases: pl.DataFrame = field(repr=False)
    observations: pl.DataFrame = field(repr=False)
    events: pl.DataFrame = field(repr=False)

    FRAMES: ClassVar[tuple[str, ...]] = tuple(HISTORY_SCHEMAS)

    def frames(self) -> dict[str, pl.DataFrame]:
        """Every frame by name."""
        return {name: getattr(self, name) for name in self.FRAMES}

    def row_counts(self) -> dict[str, int]:
        """Rows of every frame by name."""
        return {name: frame.height for name, frame in self.frames().items()}

    def write_parquet(self, folder: str | Path) -> Path:
        """Write every frame as ``<name>.parquet`` and the description as ``history.json`` into a folder.

        Each file is written under a temporary name and then renamed, so a reader sees a whole file or
        none; ``history.json`` is written last.

        Parameters
        ----------
        folder
            Created if missing.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        for name, frame in self.frames().items():
            temporary = target / f".{name}.parquet.tmp"
            frame.write_parquet(temporary)
            os.replace(temporary, target / f"{name}.parquet")
        description = {
            "scenario_name": self.scenario_name,
            "scenario_digest": self.scenario_digest,
            "start": self.start.isoformat(),
            "days": self.days,
            "seed": self.seed,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "rows": self.row_counts(),
        }
        temporary = target / f".{METADATA_FILE}.tmp"
        temporary.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, target / METADATA_FILE)
        return target

    @classmethod
    def read_parquet(cls, folder: str | Path) -> History:
        """Read a history written by :meth:`write_parquet`.

        Raises
        ------
        FileNotFoundError
            When the folder holds no ``history.json``.
        ValueError
            When a frame's columns differ from its declared schema.
        """
        source = Path(folder)
        description = json.loads((source / METADATA_FILE).read_text(encoding="utf-8"))
        frames: dict[str, pl.DataFrame] = {}
        for name, schema in HISTORY_SCHEMAS.items():
            frame = pl.read_parquet(source / f"{name}.parquet")
            if dict(frame.schema) != schema:
                raise ValueError(
                    f"{source / name}.parquet: columns {dict(frame.schema)} differ from {schema}"
                )
            frames[name] = frame
        return cls(
            scenario_name=description["scenario_name"],
            scenario_digest=description["scenario_digest"],
            start=date.fromisoformat(description["start"]),
            days=int(description["days"]),
            seed=int(description["seed"]),
            starts_at=datetime.fromisoformat(description["starts_at"]),
            ends_at=datetime.fromisoformat(description["ends_at"]),
            **frames,
        )


def read_parquet(folder: str | Path) -> History:
    """Read a history written by :meth:`History.write_parquet` (same as :meth:`History.read_parquet`)."""
    return History.read_parquet(folder)


def generate_history(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    progress: Callable[[HistoryProgress], None] | None = None,
    *,
    cancel: threading.Event | None = None,
    warm_up_days: int = WARM_UP_DAYS,
) -> History:
    """Generate a synthetic patient-level history of a scenario's hospital.

    Parameters
    ----------
    scenario
        The hospital and its dated overrides (day 0 = ``start``).
    start
        Local date of the history's first day.
    days
        Length of the history [days].
    seed
        Seed of the random streams (one per activity, from ``numpy.random.SeedSequence(seed)``); the same
        seed gives identical frames.
    progress
        Called after each stage with a :class:`HistoryProgress`.
    cancel
        When set, generation stops at the next stage with :class:`HistoryCancelled`.
    warm_up_days
        Days simulated before ``start`` (0 starts from an empty hospital).

    Returns
    -------
    History
        ED attendances, admissions, unit stays, surgical cases, observations and events.

    Examples
    --------
    >>> from datetime import date
    >>> from scenarios import load_scenario, scenario_path
    >>> history = generate_history(load_scenario(scenario_path("baseline")), date(2024, 4, 1), 7, seed=1)
    >>> history.admissions.height > 300
    True
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if warm_up_days < 0:
        raise ValueError(f"warm_up_days must not be negative, got {warm_up_days}")

    stages = 8

    def report(stage: str, done: int) -> None:
        if cancel is not None and cancel.is_set():
            raise HistoryCancelled(f"history generation cancelled after: {stage}")
        if progress is not None:
            progress(HistoryProgress(stage=stage, fraction_done=done / stages))

    hospital = scenario.hospital
    clock = HistoryClock.build(
        start,
        days,
        warm_up_days,
        hospital.timezone,
        hospital.seasonality.holidays_country,
        hospital.seasonality.holidays_subdivision,
    )
    streams = activity_streams(seed)
    report("calendar", 0)
    attendances = simulate_ed_attendances(scenario, clock, streams)
    report("ED attendances", 1)
    cases = simulate_elective_cases(scenario, clock, streams)
    report("elective operations", 2)
    admissions, catalogue = build_admissions(scenario, clock, streams, attendances, cases)
    report("admissions and unit stays", 3)

    # Keep the encounters that overlap the window.
    began = np.concatenate([attendances.arrived, cases.started])
    ended = np.concatenate([attendances.departed, np.zeros(cases.count)])
    ended[admissions.encounter] = admissions.discharged
    keep = (began < clock.window_end) & (ended > clock.window_start)
    kept_numbers = np.nonzero(keep)[0]
    encounter_ids = [encounter_key(f"SYN{seed}-V{n:08d}", salt=SYNTHETIC_SALT) for n in kept_numbers.tolist()]
    patient_keys = [patient_key(f"SYN{seed}-P{n:08d}", salt=SYNTHETIC_SALT) for n in kept_numbers.tolist()]
    encounter_id_of = dict(zip(kept_numbers.tolist(), encounter_ids, strict=True))
    patient_key_of = dict(zip(kept_numbers.tolist(), patient_keys, strict=True))
    report("pseudonymous keys", 4)

    ed_rows = np.nonzero(keep[: attendances.count])[0]
    ed_frame = ed_attendances_frame(
        attendances,
        ed_rows,
        encounter_ids[: ed_rows.size],
        patient_keys[: ed_rows.size],
        tuple(s.id for s in hospital.services),
        clock,
    )
    # An admission decided before the end but starting after it (still waiting in the ED) is left out.
    admission_rows = np.nonzero(keep[admissions.encounter] & (admissions.admitted < clock.window_end))[0]
    admission_numbers = admissions.encounter[admission_rows].tolist()
    admissions_table = admissions_frame(
        admissions,
        admission_rows,
        [encounter_id_of[n] for n in admission_numbers],
        [patient_key_of[n] for n in admission_numbers],
        catalogue,
        scenario,
        clock,
    )
    case_rows = np.nonzero(keep[attendances.count :])[0]
    cases_table = surgical_cases_frame(
        cases,
        case_rows,
        [encounter_id_of[attendances.count + n] for n in case_rows.tolist()],
        scenario,
        clock,
    )
    kept_stays = keep_stays(admissions, keep, scenario, clock)
    stays_table = unit_stays_frame(admissions, kept_stays, encounter_id_of, catalogue, scenario, clock)
    report("frames", 5)

    observations, observation_beds = _observations(
        scenario, clock, streams, admissions, kept_stays, stays_table
    )
    report("observations", 6)
    events = history_events(
        ed_frame, admissions_table, stays_table, observations, observation_beds, hospital.ed.unit
    )
    report("events", 7)

    history = History(
        scenario_name=scenario.name,
        scenario_digest=scenario.digest(),
        start=start,
        days=days,
        seed=seed,
        starts_at=clock.origin_utc + timedelta(hours=clock.window_start),
        ends_at=clock.origin_utc + timedelta(hours=clock.window_end),
        ed_attendances=ed_frame,
        admissions=admissions_table,
        unit_stays=stays_table,
        surgical_cases=cases_table,
        observations=observations,
        events=events,
    )
    report("done", stages)
    return history


def _observations(
    scenario: Scenario,
    clock: HistoryClock,
    streams: dict[str, np.random.Generator],
    admissions: Admissions,
    kept_stays: KeptStays,
    stays_table: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.Series]:
    """Vital-sign observations of the kept stays, with each observation's bed."""
    hospital = scenario.hospital
    stays = admissions.stays
    index = kept_stays.index
    acuity_code = np.array([ACUITY_BANDS.index(a) for a in stays_table["acuity"].to_list()], dtype=np.int64)
    kind_interval = np.array(
        [LONGEST_INTERVAL_HOURS_BY_KIND[UnitKind(unit.kind).value] for unit in hospital.units],
        dtype=np.float64,
    )
    band_interval = np.array([INTERVAL_HOURS_BY_BAND[band] for band in ACUITY_BANDS], dtype=np.float64)
    interval = np.minimum(kind_interval[stays.unit[index]], band_interval[acuity_code])
    until = np.minimum(stays.ended[index], clock.window_end)
    times = observation_times(streams["observations"], stays.observe_from[index], until, interval)

    minutes = clock.to_minutes(times.observed)
    end_minute = int(clock.to_minutes(np.array([clock.window_end]))[0])
    inside = (minutes < kept_stays.ended[times.stay]) & (minutes < end_minute)
    stay = times.stay[inside]
    minutes = minutes[inside]
    vitals = sample_vital_signs(streams["vital_signs"], acuity_code[stay])

    # Observations are sorted by stay, and stays by encounter then time: number them within encounters.
    stay_positions = pl.Series(stay)
    encounter_ids = stays_table["encounter_id"].gather(stay_positions)
    encounter_number = stays.encounter[index][stay]
    new_encounter = np.ones(stay.size, dtype=np.bool_)
    new_encounter[1:] = encounter_number[1:] != encounter_number[:-1]
    group_start = np.maximum.accumulate(np.where(new_encounter, np.arange(stay.size), 0))
    observation_ids = (
        pl.DataFrame({"encounter_id": encounter_ids, "sequence": np.arange(stay.size) - group_start})
        .select(
            pl.concat_str(pl.lit("syn-obs-"), "encounter_id", pl.lit("-"), pl.col("sequence").cast(pl.String))
        )
        .to_series()
    )
    frame = observations_frame(
        observation_ids,
        encounter_ids,
        stays_table["unit"].gather(stay_positions),
        clock.utc_series("observed_at", minutes),
        vitals,
        stays_table["acuity"].gather(stay_positions),
    )
    return frame, stays_table["bed"].gather(stay_positions)
