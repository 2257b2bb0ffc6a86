"""The hospital now: patient twins loaded from the store, and the census by unit.

:func:`load_twins` replays only the events of stays that may still be open at ``now``: stays whose latest
ADT event up to ``now`` is a discharge, with nothing after it that could reopen them (an A13 cancelled
discharge, an A11 cancelled admission, a later transfer...), are left out in SQL before any row is read,
and vital signs older than :data:`VITAL_SIGNS_LOOKBACK_HOURS` are not replayed.
Everything else is handed to :class:`~patients.twin.TwinRegistry`, which alone decides what a stay's
events mean; leaving out a closed stay changes nothing in the census, so the anti-join only saves time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import case, func, literal_column, select

from ops.store import Store
from ops.store.schema import events
from patients.events import EventKind
from patients.twin import TwinRegistry
from scenarios import Scenario
from scenarios.schema import UnitKind

_ADT_KINDS = tuple(kind.value for kind in EventKind if kind is not EventKind.OBSERVATION)
_REOPENING_KINDS = (EventKind.CANCEL_DISCHARGE.value, EventKind.CANCEL_ADMIT.value)
_ENCOUNTERS_PER_QUERY = 900  # under SQLite's oldest limit on bound parameters per statement

VITAL_SIGNS_LOOKBACK_HOURS = 72
"""Observation events older than this before ``now`` are not replayed [hours].

Only the newest complete vital-sign set gives a twin its NEWS2 band, and wards observe every patient at
least twice a day; an ``update`` (A08) carrying vitals is replayed whatever its age.
"""

CENSUS_NOW_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),  # scenario unit id (a unit the scenario does not know is listed after them)
    "kind": pl.String(),  # UnitKind value; null for a unit the scenario does not know
    "beds": pl.Int32(),  # staffed beds in the scenario; null for an unknown unit
    "census": pl.Int32(),  # patients inside the unit now (registered or admitted)
    "free_beds": pl.Int32(),  # beds - census (negative when over capacity); null for an unknown unit
    "high_acuity": pl.Int32(),  # of the census, patients whose newest NEWS2 band is high
    "boarding": pl.Int32(),  # ED only: admitted patients still in the ED (0 elsewhere)
}
"""One row per unit: the census now, as :func:`census_now` gives it."""


def open_encounter_ids(store: Store, now: datetime) -> list[str]:
    """Stays with an ADT event at or before ``now`` that are not plainly closed by then.

    A stay is plainly closed when it has a discharge at or before ``now`` and no ADT event after that
    discharge (up to ``now``) and no cancellation (A11, A13) at the same time or after it.

    Parameters
    ----------
    store
        The event store.
    now
        Time of the reading [UTC, timezone-aware].

    Returns
    -------
    list of str
        Encounter ids, sorted.
    """
    _require_aware(now)
    # The ADT events are read from the partial covering index ``ix_events_adt_by_encounter`` (stay, time,
    # kind), already grouped by stay: the vital signs, most of the table, are never touched. The planner
    # sees that the index applies only when the condition names its constant, so it is a literal here.
    kind, moment, encounter = events.c.kind, events.c.occurred_at, events.c.encounter_id
    not_vital_signs = kind != literal_column(f"'{EventKind.OBSERVATION.value}'")
    last_discharge = func.max(case((kind == EventKind.DISCHARGE.value, moment)))
    last_reopening = func.max(case((kind.in_(_REOPENING_KINDS), moment)))
    last_other = func.max(case((kind != EventKind.DISCHARGE.value, moment)))
    query = (
        select(encounter)
        .select_from(events)
        .where(not_vital_signs, moment <= now)
        .group_by(encounter)
        .having(last_discharge.is_(None) | (last_reopening >= last_discharge) | (last_other > last_discharge))
    )
    with store.engine.connect() as connection:
        return sorted(str(row[0]) for row in connection.execute(query))


def latest_event_time(store: Store) -> datetime | None:
    """When the newest event in the store occurred [UTC], or ``None`` for an empty store.

    Examples
    --------
    >>> latest_event_time(store)  # doctest: +SKIP
    datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    with store.engine.connect() as connection:
        value = connection.execute(select(func.max(events.c.occurred_at))).scalar()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands some drivers' timestamps back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_twins(store: Store, now: datetime) -> TwinRegistry:
    """The patient twins at ``now``, replaying only the events of stays that may still be open.

    Parameters
    ----------
    store
        The event store.
    now
        Time of the reading [UTC, timezone-aware]; events after it are ignored.

    Returns
    -------
    TwinRegistry
        Ready for :meth:`~patients.twin.TwinRegistry.apply` with newer events. It holds the open stays
        (and a few closed ones the SQL filter could not rule out); discharged stays are not in it.

    Examples
    --------
    >>> registry = load_twins(store, datetime.now(UTC))  # doctest: +SKIP
    >>> registry.census_by_unit()  # doctest: +SKIP
    """
    encounter_ids = open_encounter_ids(store, now)
    after_now = now + timedelta(microseconds=1)  # read_events' end is exclusive
    recent = now - timedelta(hours=VITAL_SIGNS_LOOKBACK_HOURS)
    frames: list[pl.DataFrame] = []
    for first in range(0, len(encounter_ids), _ENCOUNTERS_PER_QUERY):
        chunk = encounter_ids[first : first + _ENCOUNTERS_PER_QUERY]
        frames.append(store.read_events(end=after_now, encounter_ids=chunk, kinds=_ADT_KINDS))
        frames.append(
            store.read_events(
                start=recent, end=after_now, encounter_ids=chunk, kinds=[EventKind.OBSERVATION.value]
            )
        )
    if not frames:
        return TwinRegistry()
    return TwinRegistry.from_frame(pl.concat(frames))


def census_now(scenario: Scenario, twins: TwinRegistry | pl.DataFrame, now: datetime) -> pl.DataFrame:
    """The census by unit now, with free beds, high-acuity patients and ED boarding.

    Parameters
    ----------
    scenario
        The hospital (its units, in declared order, with their beds).
    twins
        A registry, or a twins frame with :data:`patients.twin.TWIN_SCHEMA` (only patients inside count).
    now
        Time of the reading [UTC, timezone-aware].

    Returns
    -------
    polars.DataFrame
        :data:`CENSUS_NOW_SCHEMA`, one row per scenario unit (zero census included), then any unit the
        twins are in that the scenario does not declare (``kind`` and ``beds`` null).
    """
    _require_aware(now)
    frame = twins.to_frame(now) if isinstance(twins, TwinRegistry) else twins
    inside = frame.filter(pl.col("status").is_in(["registered", "admitted"]) & pl.col("unit").is_not_null())
    ed_unit = scenario.hospital.ed.unit
    counts = inside.group_by("unit").agg(
        pl.len().alias("census"),
        (pl.col("acuity_band") == "high").sum().alias("high_acuity"),
        ((pl.col("status") == "admitted") & (pl.col("unit") == ed_unit)).sum().alias("boarding"),
    )
    by_unit = {row["unit"]: row for row in counts.to_dicts()}
    rows: list[dict[str, object]] = []
    for unit in scenario.hospital.units:
        row = by_unit.pop(unit.id, {"census": 0, "high_acuity": 0, "boarding": 0})
        census = int(row["census"])
        rows.append(
            {
                "unit_id": unit.id,
                "kind": UnitKind(unit.kind).value,
                "beds": unit.beds,
                "census": census,
                "free_beds": unit.beds - census,
                "high_acuity": int(row["high_acuity"]),
                "boarding": int(row["boarding"]) if unit.kind is UnitKind.ED else 0,
            }
        )
    for unit_id in sorted(by_unit):
        row = by_unit[unit_id]
        rows.append(
            {
                "unit_id": unit_id,
                "kind": None,
                "beds": None,
                "census": int(row["census"]),
                "free_beds": None,
                "high_acuity": int(row["high_acuity"]),
                "boarding": 0,
            }
        )
    return pl.DataFrame(rows, schema=CENSUS_NOW_SCHEMA)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
