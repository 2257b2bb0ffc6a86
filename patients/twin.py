"""Patient twins: the live state of every stay, kept up to date one event at a time.

A :class:`TwinRegistry` holds one :class:`PatientTwin` per stay (``encounter_id``). Build it by replaying
stored events (:meth:`TwinRegistry.from_events` sorts them by time), then feed it new events with
:meth:`TwinRegistry.apply` as they arrive; nothing is ever rebuilt in full.

What each event does to a stay
------------------------------
- ``register`` (A04) opens an ED / outpatient stay; ``admit`` (A01) opens an inpatient stay, or turns a
  registered stay into an admission (``admitted_at`` is then the admission time).
- ``transfer`` (A02) moves the patient; ``update`` (A08) changes service or admission type and, if it
  names another location, moves the patient too (the sender is correcting us).
- ``discharge`` (A03) closes the stay.
- ``cancel_admit`` (A11) removes the admission: the stay is ``cancelled`` and leaves the census; if the
  patient had been registered before being admitted, only the admission is undone and they are back
  where they were registered.
- ``cancel_transfer`` (A12) undoes the most recent transfer: the patient is back where they were before
  it. When the message names a location that differs, the message wins (the sender knows best).
- ``cancel_discharge`` (A13) reinstates the patient where they were at discharge (or where the message
  says).
- Vital signs (``observation`` events, or vitals carried by an ``update``) are gathered into sets by
  observation time; when a set holds all seven NEWS2 parameters it is scored, and the newest scored set
  gives the twin's ``news2_score`` and ``acuity_band``.

Duplicates and events out of order
----------------------------------
An ``event_id`` seen before is ignored (the first copy wins), so a replayed feed is harmless.

Each twin keeps its own timeline of ADT events in (``occurred_at``, kind, ``event_id``) order. An event
later than everything the twin has seen (the usual case) is applied directly in O(1). A late event (its
time is earlier than one already applied to that stay) is slotted into the stay's timeline and that one
stay is re-derived from its own timeline, O(events of the stay), a handful; no other twin is touched. So
the state of a stay never depends on the order in which its events arrived: a transfer delivered after
the discharge that followed it, an A12 that arrives before the A02 it cancels, or an A01 that arrives
after its A11 all end where in-order delivery would. Events for the same instant are ordered register,
admit, update, transfer, cancel_transfer, discharge, cancel_discharge, cancel_admit, so a cancellation
stamped with the same time as what it cancels comes after it. Vital signs are order-free already: a set
older than the twin's latest score is ignored.

Events about a stay that is not open (e.g. only an A08, or an observation before the admission) are kept
on a twin with status ``unknown``: it is not in the census, but its vitals and timeline are ready when
the admission arrives. A transfer or discharge for a stay whose admission never arrived opens it as
``admitted`` with an unknown admission time (``admitted_at`` is null).
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import polars as pl

from patients.events import AdmissionType, EventKind, PatientEvent, frame_to_events
from patients.news2 import SPO2_SCALE_KEY, VITAL_SIGN_KEYS, AcuityBand, VitalSigns, news2_score

_logger = logging.getLogger(__name__)


class StayStatus(StrEnum):
    """Where a stay is in its life."""

    UNKNOWN = "unknown"  # only stray events so far (e.g. an A08 or vitals before the admission)
    REGISTERED = "registered"  # in the ED or as an outpatient, not admitted
    ADMITTED = "admitted"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"  # the admission was cancelled (A11): it never happened


INSIDE_STATUSES = frozenset({StayStatus.REGISTERED, StayStatus.ADMITTED})
"""Statuses of a patient who is inside the hospital and counts in the census."""


class ApplyOutcome(StrEnum):
    """What :meth:`TwinRegistry.apply` did with an event."""

    APPLIED = "applied"  # in time order: the stay stepped forward
    REPLAYED = "replayed"  # late: slotted into the stay's timeline and the stay re-derived
    DUPLICATE = "duplicate"  # event_id seen before: ignored


_SAME_TIME_ORDER: dict[EventKind, int] = {
    EventKind.REGISTER: 0,
    EventKind.ADMIT: 1,
    EventKind.UPDATE: 2,
    EventKind.OBSERVATION: 3,
    EventKind.TRANSFER: 4,
    EventKind.CANCEL_TRANSFER: 5,
    EventKind.DISCHARGE: 6,
    EventKind.CANCEL_DISCHARGE: 7,
    EventKind.CANCEL_ADMIT: 8,
}

_KEPT_VITAL_SETS = 8  # incomplete sets kept per stay while waiting for their missing parameters

_TimelineKey = tuple[datetime, int, str]


def event_order(event: PatientEvent) -> _TimelineKey:
    """Sort key that replays events as they happened: time, then kind (admit before transfer...), then id.

    Parameters
    ----------
    event
        Any patient event.

    Returns
    -------
    tuple
        ``(occurred_at, kind rank, event_id)``.
    """
    return (event.occurred_at, _SAME_TIME_ORDER[event.kind], event.event_id)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the patient was from a given time.

    Attributes
    ----------
    unit, bed
        Location (``None`` when not known).
    since
        When the patient got there [UTC].
    by_transfer
        Whether a transfer put the patient there (only those are undone by a cancelled transfer).
    """

    unit: str | None
    bed: str | None
    since: datetime
    by_transfer: bool


@dataclass(slots=True, eq=False)
class PatientTwin:
    """The live state of one stay. Read it; only the :class:`TwinRegistry` changes it.

    Attributes
    ----------
    encounter_id
        Pseudonymous stay key.
    patient_key
        Pseudonymous patient key.
    status
        Where the stay is in its life.
    unit, bed
        Current location (at discharge, for a discharged stay).
    unit_since
        When the patient got to the current location [UTC].
    service
        Specialty responsible for the stay.
    admission_type
        Emergency or elective, when known.
    arrived_at
        Start of the stay: registration or admission [UTC]; ``None`` if never seen.
    admitted_at
        Inpatient admission time [UTC]; ``None`` for a registered stay or an unseen admission.
    discharged_at
        Discharge time [UTC], for a discharged stay.
    news2_score, acuity_band, news2_observed_at
        The newest complete NEWS2 score, its clinical-risk band and when its vitals were taken.
    spo2_scale
        SpO2 scale used for scoring (2 once an event carries ``spo2_scale: 2``).
    """

    encounter_id: str
    patient_key: str
    status: StayStatus = StayStatus.UNKNOWN
    unit: str | None = None
    bed: str | None = None
    unit_since: datetime | None = None
    service: str | None = None
    admission_type: AdmissionType | None = None
    arrived_at: datetime | None = None
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None
    news2_score: int | None = None
    acuity_band: AcuityBand | None = None
    news2_observed_at: datetime | None = None
    spo2_scale: int = 1
    placements: list[Placement] = field(default_factory=list, repr=False)
    timeline: list[tuple[_TimelineKey, PatientEvent]] = field(default_factory=list, repr=False)
    _status_before_discharge: StayStatus | None = field(default=None, repr=False)
    _placements_before_admission: int | None = field(default=None, repr=False)
    _vital_sets: dict[datetime, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def inside(self) -> bool:
        """Whether the patient is inside the hospital (registered or admitted)."""
        return self.status in INSIDE_STATUSES

    def length_of_stay_hours(self, now: datetime) -> float | None:
        """Elapsed length of stay at ``now`` [hours].

        Counted from ``admitted_at`` for an admitted stay and from ``arrived_at`` for a registered one,
        up to ``now`` or the discharge, whichever is earlier; never negative.

        Parameters
        ----------
        now
            Time of the reading [UTC, timezone-aware].

        Returns
        -------
        float or None
            ``None`` when the start of the stay is not known.
        """
        _require_aware(now)
        start = self.admitted_at or self.arrived_at
        if start is None:
            return None
        end = now
        if self.status is StayStatus.DISCHARGED and self.discharged_at is not None:
            end = min(now, self.discharged_at)
        return max(0.0, (end - start).total_seconds() / 3600)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")


# --------------------------------------------------------------------------------------------------
# One stay's ADT timeline folded into its state
# --------------------------------------------------------------------------------------------------


def _reset_stay(twin: PatientTwin) -> None:
    twin.status = StayStatus.UNKNOWN
    twin.unit = twin.bed = twin.unit_since = None
    twin.service = None
    twin.admission_type = None
    twin.arrived_at = twin.admitted_at = twin.discharged_at = None
    twin.placements = []
    twin._status_before_discharge = None
    twin._placements_before_admission = None


def _place(
    twin: PatientTwin, unit: str | None, bed: str | None, since: datetime, *, by_transfer: bool
) -> None:
    twin.placements.append(Placement(unit, bed, since, by_transfer))
    twin.unit, twin.bed, twin.unit_since = unit, bed, since


def _restore_last_placement(twin: PatientTwin) -> None:
    last = twin.placements[-1] if twin.placements else None
    twin.unit = last.unit if last else None
    twin.bed = last.bed if last else None
    twin.unit_since = last.since if last else None


def _moves(twin: PatientTwin, event: PatientEvent) -> bool:
    """Whether the event names a location other than the current one."""
    if event.unit is None:
        return False
    return event.unit != twin.unit or (event.bed is not None and event.bed != twin.bed)


def _take_details(twin: PatientTwin, event: PatientEvent) -> None:
    if event.service is not None:
        twin.service = event.service
    if event.admission_type is not None:
        twin.admission_type = event.admission_type


def _open_stay(twin: PatientTwin, event: PatientEvent, status: StayStatus, *, start_known: bool) -> None:
    _reset_stay(twin)
    twin.status = status
    if start_known:
        twin.arrived_at = event.occurred_at
        twin.admitted_at = event.occurred_at if status is StayStatus.ADMITTED else None
    _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=False)
    _take_details(twin, event)


def _on_register_or_admit(twin: PatientTwin, event: PatientEvent) -> None:
    opening = StayStatus.ADMITTED if event.kind is EventKind.ADMIT else StayStatus.REGISTERED
    if twin.status in (StayStatus.UNKNOWN, StayStatus.CANCELLED):
        _open_stay(twin, event, opening, start_known=True)
        return
    if twin.status not in INSIDE_STATUSES:
        return  # a discharged stay is only reopened by a cancelled discharge
    if opening is StayStatus.ADMITTED and twin.status is StayStatus.REGISTERED:
        twin.status = StayStatus.ADMITTED
        twin.admitted_at = event.occurred_at
        twin._placements_before_admission = len(twin.placements)
    if _moves(twin, event):
        _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=False)
    _take_details(twin, event)


def _on_transfer(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status is StayStatus.UNKNOWN:
        _open_stay(twin, event, StayStatus.ADMITTED, start_known=False)
    elif twin.status in INSIDE_STATUSES:
        if _moves(twin, event):
            _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=True)
        _take_details(twin, event)


def _on_update(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status in INSIDE_STATUSES:
        if _moves(twin, event):
            _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=False)
        _take_details(twin, event)


def _on_discharge(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status is StayStatus.UNKNOWN:
        _open_stay(twin, event, StayStatus.ADMITTED, start_known=False)
    if twin.status in INSIDE_STATUSES:
        twin._status_before_discharge = twin.status
        twin.status = StayStatus.DISCHARGED
        twin.discharged_at = event.occurred_at
        _take_details(twin, event)


def _on_cancel_admit(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status is StayStatus.ADMITTED and twin._placements_before_admission is not None:
        # Registered first (A04, then A01): only the admission is cancelled.
        del twin.placements[max(1, twin._placements_before_admission) :]
        twin.status = StayStatus.REGISTERED
        twin.admitted_at = None
        twin._placements_before_admission = None
        _restore_last_placement(twin)
    else:
        twin.status = StayStatus.CANCELLED


def _on_cancel_transfer(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status not in INSIDE_STATUSES:
        return
    transfers = [number for number, place in enumerate(twin.placements) if place.by_transfer]
    if transfers:
        del twin.placements[transfers[-1] :]
        _restore_last_placement(twin)
    if _moves(twin, event):
        _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=False)


def _on_cancel_discharge(twin: PatientTwin, event: PatientEvent) -> None:
    if twin.status is not StayStatus.DISCHARGED:
        return
    twin.status = twin._status_before_discharge or StayStatus.ADMITTED
    twin.discharged_at = None
    if _moves(twin, event):
        _place(twin, event.unit, event.bed, event.occurred_at, by_transfer=False)


_ADT_HANDLERS: dict[EventKind, Callable[[PatientTwin, PatientEvent], None]] = {
    EventKind.REGISTER: _on_register_or_admit,
    EventKind.ADMIT: _on_register_or_admit,
    EventKind.TRANSFER: _on_transfer,
    EventKind.UPDATE: _on_update,
    EventKind.DISCHARGE: _on_discharge,
    EventKind.CANCEL_ADMIT: _on_cancel_admit,
    EventKind.CANCEL_TRANSFER: _on_cancel_transfer,
    EventKind.CANCEL_DISCHARGE: _on_cancel_discharge,
}
"""What each ADT event does to a stay, applied in timeline order: the one place where ADT semantics live."""


def _step(twin: PatientTwin, event: PatientEvent) -> None:
    _ADT_HANDLERS[event.kind](twin, event)


def _refold(twin: PatientTwin) -> None:
    _reset_stay(twin)
    for _, event in twin.timeline:
        _step(twin, event)


# --------------------------------------------------------------------------------------------------
# Vital signs and NEWS2
# --------------------------------------------------------------------------------------------------


def _observed_at(event: PatientEvent) -> datetime:
    text = event.payload.get("observed_at")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return event.occurred_at
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return event.occurred_at


def _observe(twin: PatientTwin, event: PatientEvent) -> None:
    payload = event.payload
    if payload.get(SPO2_SCALE_KEY) in (1, 2):
        twin.spo2_scale = int(payload[SPO2_SCALE_KEY])
    vitals = {key: payload[key] for key in VITAL_SIGN_KEYS if payload.get(key) is not None}
    if not vitals:
        return
    observed_at = _observed_at(event)
    if twin.news2_observed_at is not None and observed_at < twin.news2_observed_at:
        return  # older than the newest score: it cannot change the twin
    vital_set = twin._vital_sets.setdefault(observed_at, {})
    vital_set.update(vitals)
    if all(key in vital_set for key in VITAL_SIGN_KEYS):
        try:
            score = news2_score(VitalSigns.from_payload(vital_set, spo2_scale=twin.spo2_scale))
        except ValueError as problem:
            _logger.warning("event %s: vital signs not scored: %s", event.event_id, problem)
            del twin._vital_sets[observed_at]
            return
        twin.news2_score = score.total
        twin.acuity_band = score.band
        twin.news2_observed_at = observed_at
        # Keep the scored set itself so that a correction with the same time re-scores it.
        for moment in [moment for moment in twin._vital_sets if moment < observed_at]:
            del twin._vital_sets[moment]
    while len(twin._vital_sets) > _KEPT_VITAL_SETS:
        del twin._vital_sets[min(twin._vital_sets)]


# --------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------

TWIN_SCHEMA: dict[str, pl.DataType] = {
    "encounter_id": pl.String(),
    "patient_key": pl.String(),
    "status": pl.String(),
    "unit": pl.String(),
    "bed": pl.String(),
    "unit_since": pl.Datetime("us", "UTC"),
    "service": pl.String(),
    "admission_type": pl.String(),
    "arrived_at": pl.Datetime("us", "UTC"),
    "admitted_at": pl.Datetime("us", "UTC"),
    "discharged_at": pl.Datetime("us", "UTC"),
    "length_of_stay_hours": pl.Float64(),
    "news2_score": pl.Int64(),
    "acuity_band": pl.String(),
    "news2_observed_at": pl.Datetime("us", "UTC"),
}
"""Schema of a twins frame (one row per stay, see :meth:`TwinRegistry.to_frame`).

``length_of_stay_hours`` is the elapsed stay at the frame's ``now`` (see
:meth:`PatientTwin.length_of_stay_hours`); ``status`` and ``acuity_band`` hold the enum values.
"""


class TwinRegistry:
    """All patient twins, updated one event at a time.

    Examples
    --------
    >>> registry = TwinRegistry.from_events(stored_events)  # doctest: +SKIP
    >>> registry.apply(new_event)  # doctest: +SKIP
    <ApplyOutcome.APPLIED: 'applied'>
    >>> registry.to_frame(now)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._twins: dict[str, PatientTwin] = {}
        self._seen_event_ids: set[str] = set()
        self._census: Counter[str | None] = Counter()

    @classmethod
    def from_events(cls, events: Iterable[PatientEvent]) -> TwinRegistry:
        """Build the registry by replaying events in the order they happened (:func:`event_order`).

        Parameters
        ----------
        events
            Events in any order, e.g. read back from the event store.

        Returns
        -------
        TwinRegistry
            Ready for :meth:`apply`.
        """
        registry = cls()
        for event in sorted(events, key=event_order):
            registry.apply(event)
        return registry

    @classmethod
    def from_frame(cls, events: pl.DataFrame) -> TwinRegistry:
        """Build the registry from an events frame with :data:`patients.events.EVENT_SCHEMA`."""
        return cls.from_events(frame_to_events(events))

    def apply(self, event: PatientEvent) -> ApplyOutcome:
        """Bring the twin of the event's stay up to date with one event.

        Parameters
        ----------
        event
            Any patient event, in or out of time order.

        Returns
        -------
        ApplyOutcome
            ``applied`` (in order, O(1)), ``replayed`` (late: its stay was re-derived from its own
            timeline) or ``duplicate`` (``event_id`` seen before; nothing changed).
        """
        if event.event_id in self._seen_event_ids:
            return ApplyOutcome.DUPLICATE
        self._seen_event_ids.add(event.event_id)
        twin = self._twins.get(event.encounter_id)
        if twin is None:
            twin = PatientTwin(encounter_id=event.encounter_id, patient_key=event.patient_key)
            self._twins[event.encounter_id] = twin
        was_inside, was_unit = twin.inside, twin.unit

        outcome = ApplyOutcome.APPLIED
        if event.kind is not EventKind.OBSERVATION:
            key = event_order(event)
            if not twin.timeline or key > twin.timeline[-1][0]:
                twin.timeline.append((key, event))
                _step(twin, event)
            else:
                bisect.insort(twin.timeline, (key, event), key=lambda item: item[0])
                _refold(twin)
                outcome = ApplyOutcome.REPLAYED
        _observe(twin, event)

        if was_inside:
            self._census[was_unit] -= 1
            if self._census[was_unit] == 0:
                del self._census[was_unit]
        if twin.inside:
            self._census[twin.unit] += 1
        return outcome

    def get(self, encounter_id: str) -> PatientTwin | None:
        """The twin of a stay, in any status, or ``None`` if no event about it was seen."""
        return self._twins.get(encounter_id)

    def twins(self) -> list[PatientTwin]:
        """Every twin, in any status."""
        return list(self._twins.values())

    def inside(self) -> list[PatientTwin]:
        """Twins of patients inside the hospital (registered or admitted)."""
        return [twin for twin in self._twins.values() if twin.inside]

    def census(self) -> int:
        """Number of patients inside the hospital."""
        return sum(self._census.values())

    def census_by_unit(self) -> dict[str | None, int]:
        """Patients inside by current unit (``None`` for a stay whose location is not known)."""
        return dict(self._census)

    def to_frame(self, now: datetime, *, include_closed: bool = False) -> pl.DataFrame:
        """The twins as a frame with :data:`TWIN_SCHEMA`, one row per stay, ordered by unit, bed, stay.

        Parameters
        ----------
        now
            Time at which ``length_of_stay_hours`` is read [UTC, timezone-aware].
        include_closed
            Also list discharged and cancelled stays (default: only patients inside).

        Returns
        -------
        polars.DataFrame
            Stays with status ``unknown`` are never listed.
        """
        _require_aware(now)
        shown = [
            twin
            for twin in self._twins.values()
            if twin.inside
            or (include_closed and twin.status in (StayStatus.DISCHARGED, StayStatus.CANCELLED))
        ]
        shown.sort(key=lambda twin: (twin.unit or "", twin.bed or "", twin.encounter_id))
        rows = {
            "encounter_id": [twin.encounter_id for twin in shown],
            "patient_key": [twin.patient_key for twin in shown],
            "status": [twin.status.value for twin in shown],
            "unit": [twin.unit for twin in shown],
            "bed": [twin.bed for twin in shown],
            "unit_since": [twin.unit_since for twin in shown],
            "service": [twin.service for twin in shown],
            "admission_type": [twin.admission_type.value if twin.admission_type else None for twin in shown],
            "arrived_at": [twin.arrived_at for twin in shown],
            "admitted_at": [twin.admitted_at for twin in shown],
            "discharged_at": [twin.discharged_at for twin in shown],
            "length_of_stay_hours": [twin.length_of_stay_hours(now) for twin in shown],
            "news2_score": [twin.news2_score for twin in shown],
            "acuity_band": [twin.acuity_band.value if twin.acuity_band else None for twin in shown],
            "news2_observed_at": [twin.news2_observed_at for twin in shown],
        }
        return pl.DataFrame(rows, schema=TWIN_SCHEMA)
