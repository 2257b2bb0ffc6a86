"""The elective waiting list: the cases the surgical admission plan chooses from.

A waiting list is a polars frame with :data:`WAITING_LIST_SCHEMA`, one row per case. Days count from day 0 of
the plan. :func:`check_waiting_list` rejects a list that the planner cannot use, naming the row and the column
at fault; :func:`read_waiting_list` reads a real list from a CSV file (:data:`WAITING_LIST_CSV_COLUMNS`), its
errors naming the file's line and column; :func:`generate_waiting_list` draws a list from the scenario's
elective rates and a seed, so that the demo hospital has one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from scenarios.schema import Duration, ExponentialHours, FixedHours, GammaHours, Scenario
from scheduler.surgery.hospital import SurgicalFirm, surgical_firms

__all__ = [
    "AGE_GROUPS",
    "SEXES",
    "WAITING_LIST_CSV_COLUMNS",
    "WAITING_LIST_SCHEMA",
    "WaitingListError",
    "check_waiting_list",
    "generate_waiting_list",
    "read_waiting_list",
]

WAITING_LIST_SCHEMA: dict[str, pl.DataType] = {
    "case_id": pl.String(),
    "service": pl.String(),
    "surgeon": pl.String(),
    "duration_minutes": pl.Int64(),
    "length_of_stay_days": pl.Int64(),
    "earliest_day": pl.Int64(),
    "due_day": pl.Int64(),
    "mandatory": pl.Boolean(),
    "age_group": pl.String(),
    "sex": pl.String(),
}
"""One row per elective case waiting for surgery.

``surgeon`` is a surgical firm id (``"<service>@<theatre>"``, see
:func:`scheduler.surgery.hospital.surgical_firms`); ``duration_minutes`` is theatre time including turnaround
[minutes]; ``length_of_stay_days`` is the expected stay on the ward after surgery [days], 0 for a day case;
``earliest_day`` is the first day the case may be operated; ``due_day`` the last (required when
``mandatory``, null otherwise: an optional case may wait beyond the plan); ``age_group`` is one of
:data:`AGE_GROUPS`; ``sex`` one of :data:`SEXES` (bays are single-sex)."""

AGE_GROUPS: tuple[str, ...] = ("under_18", "18_to_64", "65_and_over")
"""Age groups, youngest first (mixing distant groups in a bay costs more)."""

SEXES: tuple[str, ...] = ("female", "male")

_AGE_SHARES = (0.05, 0.55, 0.40)
_MANDATORY_SHARE = 0.25
_LIST_OVERBOOKING = 1.15


class WaitingListError(ValueError):
    """A waiting list the planner cannot use; ``problems`` holds every (row, column, reason).

    ``row`` is the 0-based row of the frame, or, with ``source`` (a file name), the file's line number
    (the header is line 1).
    """

    def __init__(self, problems: Sequence[tuple[int | None, str, str]], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        label = "line" if source is not None else "row"
        lines = [
            f"{label} {row} ({column}): {reason}" if row is not None else f"{column}: {reason}"
            for row, column, reason in self.problems
        ]
        where = f"waiting list {source}" if source is not None else "waiting list"
        super().__init__(f"{where} rejected:\n  - " + "\n  - ".join(lines))


def check_waiting_list(
    waiting_list: pl.DataFrame, days: int, firms: Iterable[SurgicalFirm] | None = None
) -> None:
    """Reject a waiting list the planner cannot use.

    Parameters
    ----------
    waiting_list
        The cases, with :data:`WAITING_LIST_SCHEMA`.
    days
        Days in the plan: ``earliest_day`` and ``due_day`` must fall within ``0..days-1``.
    firms
        The surgical firms the list may name; when given, ``surgeon`` must be one of them, of the case's
        service.

    Raises
    ------
    WaitingListError
        Naming every row (0-based) and column at fault.
    """
    problems: list[tuple[int | None, str, str]] = []
    for column, dtype in WAITING_LIST_SCHEMA.items():
        if column not in waiting_list.columns:
            problems.append((None, column, "column is missing"))
        elif waiting_list.schema[column] != dtype:
            problems.append((None, column, f"has type {waiting_list.schema[column]}, expected {dtype}"))
    if problems:
        raise WaitingListError(problems)
    firm_service = {f.id: f.service for f in firms} if firms is not None else None
    seen: dict[str, int] = {}
    for row, case in enumerate(waiting_list.iter_rows(named=True)):
        for column in ("case_id", "service", "surgeon", "duration_minutes", "length_of_stay_days"):
            if case[column] is None:
                problems.append((row, column, "is empty"))
        for column in ("earliest_day", "mandatory", "age_group", "sex"):
            if case[column] is None:
                problems.append((row, column, "is empty"))
        if case["case_id"] is not None:
            if case["case_id"] in seen:
                problems.append((row, "case_id", f"'{case['case_id']}' repeats row {seen[case['case_id']]}"))
            seen.setdefault(case["case_id"], row)
        if case["duration_minutes"] is not None and case["duration_minutes"] < 1:
            problems.append((row, "duration_minutes", f"must be >= 1, got {case['duration_minutes']}"))
        if case["length_of_stay_days"] is not None and case["length_of_stay_days"] < 0:
            problems.append((row, "length_of_stay_days", f"must be >= 0, got {case['length_of_stay_days']}"))
        earliest, due = case["earliest_day"], case["due_day"]
        if earliest is not None and not 0 <= earliest < days:
            problems.append((row, "earliest_day", f"{earliest} is outside the plan's days 0..{days - 1}"))
        if due is not None:
            if not 0 <= due < days:
                problems.append((row, "due_day", f"{due} is outside the plan's days 0..{days - 1}"))
            elif earliest is not None and due < earliest:
                problems.append((row, "due_day", f"{due} is before earliest_day {earliest}"))
        if case["mandatory"] and due is None:
            problems.append((row, "due_day", "a mandatory case needs a due day"))
        if case["age_group"] is not None and case["age_group"] not in AGE_GROUPS:
            problems.append(
                (row, "age_group", f"'{case['age_group']}' is not one of {', '.join(AGE_GROUPS)}")
            )
        if case["sex"] is not None and case["sex"] not in SEXES:
            problems.append((row, "sex", f"'{case['sex']}' is not one of {', '.join(SEXES)}"))
        if firm_service is not None and case["surgeon"] is not None:
            service = firm_service.get(case["surgeon"])
            if service is None:
                problems.append((row, "surgeon", f"unknown surgical firm '{case['surgeon']}'"))
            elif service != case["service"]:
                problems.append(
                    (
                        row,
                        "surgeon",
                        f"firm '{case['surgeon']}' belongs to '{service}', not '{case['service']}'",
                    )
                )
    if problems:
        raise WaitingListError(problems)


def draw_hours(duration: Duration, rng: np.random.Generator, size: int) -> np.ndarray:
    """Draws of a scenario duration distribution [hours]."""
    if isinstance(duration, FixedHours):
        return np.full(size, duration.hours)
    if isinstance(duration, ExponentialHours):
        return rng.exponential(duration.mean_hours, size)
    if isinstance(duration, GammaHours):
        return rng.gamma(duration.shape, duration.mean_hours / duration.shape, size)
    return duration.median_hours * np.exp(duration.sigma * rng.standard_normal(size))


def generate_waiting_list(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    holiday_days: Iterable[int] = (),
    overbooking: float = _LIST_OVERBOOKING,
    mandatory_share: float = _MANDATORY_SHARE,
) -> pl.DataFrame:
    """Draw a waiting list from the scenario's elective rates.

    Each surgical service gets ``elective_cases_per_week * days / 7 * overbooking`` cases (rounded), so that
    the list holds a little more than the plan can take and the optional cases compete for the slots. Cases
    are shared between the service's firms in proportion to their operating minutes. Durations come from
    ``surgery.duration`` (rounded to 5 minutes, never longer than the firm's longest session); a case is a
    day case with probability ``day_case_share``, otherwise its stay is the sum of the steps of an elective
    pathway drawn by probability, rounded up to whole days. Most cases are already waiting (earliest day 0);
    a third are released during the plan. A ``mandatory_share`` of cases are urgent, due 3-10 days after
    release (moved later to the firm's next session when needed; optional if there is none).

    Parameters
    ----------
    scenario
        The hospital.
    start
        Local date of day 0.
    days
        Days in the plan.
    seed
        Seed of the draws (same seed, same list).
    holiday_days
        Public holidays of the plan (no sessions).
    overbooking
        Cases listed per case the block time is meant for.
    mandatory_share
        Share of urgent cases with a due day.

    Returns
    -------
    polars.DataFrame
        With :data:`WAITING_LIST_SCHEMA`.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    firms = surgical_firms(scenario, start, days, holiday_days)
    rows: list[dict[str, object]] = []
    for service in scenario.hospital.services:
        surgery = service.surgery
        mine = [f for f in firms if f.service == service.id and f.total_minutes > 0]
        if surgery is None or not mine or surgery.elective_cases_per_week <= 0:
            continue
        count = round(surgery.elective_cases_per_week * days / 7 * overbooking)
        weights = np.array([f.total_minutes for f in mine], dtype=float)
        firm_index = rng.choice(len(mine), size=count, p=weights / weights.sum())
        duration_hours = draw_hours(surgery.duration, rng, count)
        day_case = rng.random(count) < surgery.day_case_share
        pathways = surgery.elective_pathways
        probabilities = np.array([p.probability for p in pathways]) if pathways else np.array([1.0])
        pathway_index = rng.choice(len(probabilities), size=count, p=probabilities / probabilities.sum())
        released_later = rng.random(count) < 1 / 3
        release = np.where(released_later, rng.integers(0, days, count), 0)
        urgent = rng.random(count) < mandatory_share
        due_gap = rng.integers(3, 11, count)
        ages = rng.choice(len(AGE_GROUPS), size=count, p=_AGE_SHARES)
        sexes = rng.integers(0, 2, count)
        for k in range(count):
            firm = mine[int(firm_index[k])]
            longest = max(firm.minutes_by_day)
            minutes = int(min(max(5 * round(duration_hours[k] * 12), 15), longest))
            stay_days = 0
            if not day_case[k] and pathways:
                steps = pathways[int(pathway_index[k])].steps
                hours = sum(float(draw_hours(step.length_of_stay, rng, 1)[0]) for step in steps)
                stay_days = max(math.ceil(hours / 24.0), 1)
            earliest = int(release[k])
            due: int | None = None
            if urgent[k]:
                due = min(earliest + int(due_gap[k]), days - 1)
                working = [d for d in range(earliest, days) if firm.minutes_by_day[d] >= minutes]
                if not working:
                    due = None
                elif due < working[0]:
                    due = working[0]
            rows.append(
                {
                    "case_id": f"{service.id}-{len(rows) + 1:04d}",
                    "service": service.id,
                    "surgeon": firm.id,
                    "duration_minutes": minutes,
                    "length_of_stay_days": stay_days,
                    "earliest_day": earliest,
                    "due_day": due,
                    "mandatory": due is not None,
                    "age_group": AGE_GROUPS[int(ages[k])],
                    "sex": SEXES[int(sexes[k])],
                }
            )
    return pl.DataFrame(rows, schema=WAITING_LIST_SCHEMA)


WAITING_LIST_CSV_COLUMNS: dict[str, str] = {
    "case_id": "required: unique id of the case",
    "service": "required: a surgical service of the scenario",
    "surgeon": "optional: a surgical firm '<service>@<theatre>'; empty: the service's firm with the most "
    "operating minutes in the plan",
    "duration_minutes": "required: theatre time including turnaround [minutes, whole number >= 1]",
    "length_of_stay_days": "required: expected stay after surgery [days, whole number]; 0 = day case",
    "earliest_day": "earliest day of the plan the case may be operated (0 = the first day), or "
    "earliest_date (YYYY-MM-DD); empty: day 0",
    "due_day": "last day (or due_date, YYYY-MM-DD); required when mandatory, else empty",
    "mandatory": "optional: true/false (yes/no, 1/0); empty: false",
    "age_group": "required: under_18, 18_to_64 or 65_and_over",
    "sex": "required: female or male",
}
"""Columns of a waiting list CSV file (:func:`read_waiting_list`), with what each holds.

Column names are matched case-insensitively; other columns are ignored. ``earliest_date`` and ``due_date``
(local dates) may stand for ``earliest_day`` and ``due_day``; a date before the plan's first day is day 0
for ``earliest_date`` (the case is already waiting) and an error for ``due_date``."""

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


def read_waiting_list(
    path: str | Path,
    scenario: Scenario,
    start: date,
    days: int,
    holiday_days: Iterable[int] = (),
) -> pl.DataFrame:
    """Read a real waiting list from a CSV file (:data:`WAITING_LIST_CSV_COLUMNS`).

    Parameters
    ----------
    path
        The CSV file (UTF-8, header line first).
    scenario
        The hospital (its surgical firms).
    start
        Local date of day 0 of the plan.
    days
        Days in the plan.
    holiday_days
        Public holidays of the plan (no sessions: they shape the firms).

    Returns
    -------
    polars.DataFrame
        With :data:`WAITING_LIST_SCHEMA`, checked by :func:`check_waiting_list`.

    Raises
    ------
    WaitingListError
        Naming the file and, for every problem, its line (the header is line 1) and column.
    FileNotFoundError
        When the file does not exist.
    """
    source = Path(path)
    name = source.name
    try:
        raw = pl.read_csv(source, infer_schema=False, truncate_ragged_lines=False)
    except FileNotFoundError:
        raise
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as error:
        raise WaitingListError(
            [(None, "file", f"is not a readable CSV file ({error})")], source=name
        ) from None
    columns = {column.strip().lower(): column for column in raw.columns}
    problems: list[tuple[int | None, str, str]] = []
    for required in ("case_id", "service", "duration_minutes", "length_of_stay_days", "age_group", "sex"):
        if required not in columns:
            problems.append((None, required, "column is missing"))
    if problems:
        raise WaitingListError(problems, source=name)
    firms = surgical_firms(scenario, start, days, holiday_days)
    busiest: dict[str, str] = {}
    for firm in sorted(firms, key=lambda f: (-f.total_minutes, f.id)):
        busiest.setdefault(firm.service, firm.id)

    def cell(row: Mapping[str, str | None], column: str) -> str:
        original = columns.get(column)
        value = row.get(original) if original is not None else None
        return (value or "").strip()

    def whole(line: int, column: str, text: str, minimum: int) -> int | None:
        try:
            value = int(text)
        except ValueError:
            problems.append((line, column, f"'{text}' is not a whole number"))
            return None
        if value < minimum:
            problems.append((line, column, f"must be >= {minimum}, got {value}"))
            return None
        return value

    def day_of(line: int, row: Mapping[str, str | None], stem: str, *, default: int | None) -> int | None:
        day_text, date_text = cell(row, f"{stem}_day"), cell(row, f"{stem}_date")
        if day_text and date_text:
            problems.append((line, f"{stem}_date", f"give {stem}_day or {stem}_date, not both"))
            return None
        if date_text:
            try:
                offset = (date.fromisoformat(date_text) - start).days
            except ValueError:
                problems.append((line, f"{stem}_date", f"'{date_text}' is not a date YYYY-MM-DD"))
                return None
            if offset < 0 and stem == "earliest":
                return 0
            return offset
        if day_text:
            try:
                return int(day_text)
            except ValueError:
                problems.append((line, f"{stem}_day", f"'{day_text}' is not a whole number"))
                return None
        return default

    rows = []
    for index, row in enumerate(raw.iter_rows(named=True)):
        line = index + 2
        service = cell(row, "service")
        surgeon = cell(row, "surgeon") or busiest.get(service)
        if not cell(row, "surgeon") and service and surgeon is None:
            problems.append((line, "service", f"'{service}' has no elective session in the plan"))
        mandatory_text = cell(row, "mandatory").lower()
        if mandatory_text not in _TRUE | _FALSE:
            problems.append((line, "mandatory", f"'{cell(row, 'mandatory')}' is not true or false"))
        rows.append(
            {
                "case_id": cell(row, "case_id") or None,
                "service": service or None,
                "surgeon": surgeon,
                "duration_minutes": whole(line, "duration_minutes", cell(row, "duration_minutes"), 1),
                "length_of_stay_days": whole(
                    line, "length_of_stay_days", cell(row, "length_of_stay_days"), 0
                ),
                "earliest_day": day_of(line, row, "earliest", default=0),
                "due_day": day_of(line, row, "due", default=None),
                "mandatory": mandatory_text in _TRUE,
                "age_group": cell(row, "age_group") or None,
                "sex": cell(row, "sex").lower() or None,
            }
        )
    if problems:
        raise WaitingListError(problems, source=name)
    frame = pl.DataFrame(rows, schema=WAITING_LIST_SCHEMA)
    try:
        check_waiting_list(frame, days, firms)
    except WaitingListError as error:
        renumbered = [
            (row + 2 if row is not None else None, column, why) for row, column, why in error.problems
        ]
        raise WaitingListError(renumbered, source=name) from None
    return frame
