"""Typed reader of IHTC-2024 instance files (surgical admission, room and nurse planning).

An instance describes one planning horizon of a surgical ward: the patients waiting for surgery, the patients
already in a bed (occupants), the surgeons, operating theaters, rooms and nurses. Every record becomes a
frozen dataclass that checks itself when built; the reader names the JSON path at fault, for example
``test01.json: $.patients[3].surgeon_id: unknown surgeon 's9'``.

The format is stated in ``../shared/data/ihtc2024/PROBLEM.md`` (section 3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "FieldError",
    "Instance",
    "InstanceError",
    "Nurse",
    "Occupant",
    "OperatingTheater",
    "Room",
    "Surgeon",
    "SurgicalPatient",
    "Weights",
    "WorkingShift",
    "load_instance",
    "parse_instance",
]

WEIGHT_KEYS: dict[str, str] = {
    # JSON key -> field name (the competition spells "eccessive")
    "room_mixed_age": "room_mixed_age",
    "room_nurse_skill": "room_nurse_skill",
    "continuity_of_care": "continuity_of_care",
    "nurse_eccessive_workload": "nurse_excessive_workload",
    "open_operating_theater": "open_operating_theater",
    "surgeon_transfer": "surgeon_transfer",
    "patient_delay": "patient_delay",
    "unscheduled_optional": "unscheduled_optional",
}


class InstanceError(ValueError):
    """An instance file or value that breaks the format; the message names the JSON path at fault.

    Parameters
    ----------
    json_path
        Path of the offending value, for example ``$.patients[3].surgeon_id``.
    message
        What is wrong with it.
    source
        File name (or another label) of the instance, when known.
    """

    def __init__(self, json_path: str, message: str, source: str | None = None) -> None:
        self.json_path = json_path
        self.message = message
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{json_path}: {message}")


class FieldError(ValueError):
    """A field of a record that fails its own check (wrapped into :class:`InstanceError` by the reader).

    Parameters
    ----------
    field_name
        Name of the field, as spelled in the JSON file.
    message
        What is wrong with it.
    """

    def __init__(self, field_name: str, message: str) -> None:
        self.field_name = field_name
        self.message = message
        super().__init__(f"{field_name}: {message}")


def _require_non_negative(field_name: str, value: int) -> None:
    if value < 0:
        raise FieldError(field_name, f"must be >= 0, got {value}")


def _require_non_negative_entries(field_name: str, values: Sequence[int]) -> None:
    for position, value in enumerate(values):
        if value < 0:
            raise FieldError(f"{field_name}[{position}]", f"must be >= 0, got {value}")


@dataclass(frozen=True)
class Weights:
    """Weight of each soft cost term in the objective (all >= 0).

    The JSON key ``nurse_eccessive_workload`` (sic) is read into ``nurse_excessive_workload``.
    """

    room_mixed_age: int
    room_nurse_skill: int
    continuity_of_care: int
    nurse_excessive_workload: int
    open_operating_theater: int
    surgeon_transfer: int
    patient_delay: int
    unscheduled_optional: int

    def __post_init__(self) -> None:
        for json_key, field_name in WEIGHT_KEYS.items():
            _require_non_negative(json_key, getattr(self, field_name))


@dataclass(frozen=True)
class Occupant:
    """A patient already in a bed on day 0, in a fixed room (not a decision).

    ``workload_produced`` and ``skill_level_required`` hold one entry per shift of the stay, counted from the
    first shift of day 0.
    """

    id: str
    gender: str
    age_group: str
    length_of_stay_days: int
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]
    room_id: str

    def __post_init__(self) -> None:
        if self.length_of_stay_days < 1:
            raise FieldError("length_of_stay", f"must be >= 1, got {self.length_of_stay_days}")
        _require_non_negative_entries("workload_produced", self.workload_produced)
        _require_non_negative_entries("skill_level_required", self.skill_level_required)


@dataclass(frozen=True)
class SurgicalPatient:
    """A patient waiting for elective surgery; surgery happens on the admission day.

    ``surgery_due_day`` is given only for mandatory patients (who must be admitted by then); optional patients
    may be admitted up to the last day of the horizon or left out at a cost.
    """

    id: str
    mandatory: bool
    gender: str
    age_group: str
    length_of_stay_days: int
    surgery_release_day: int
    surgery_due_day: int | None
    surgery_duration_minutes: int
    surgeon_id: str
    incompatible_room_ids: tuple[str, ...]
    workload_produced: tuple[int, ...]
    skill_level_required: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.length_of_stay_days < 1:
            raise FieldError("length_of_stay", f"must be >= 1, got {self.length_of_stay_days}")
        _require_non_negative("surgery_release_day", self.surgery_release_day)
        if self.mandatory and self.surgery_due_day is None:
            raise FieldError("surgery_due_day", "is required for a mandatory patient")
        if self.surgery_due_day is not None and self.surgery_due_day < self.surgery_release_day:
            raise FieldError(
                "surgery_due_day",
                f"{self.surgery_due_day} is before surgery_release_day {self.surgery_release_day}",
            )
        if self.surgery_duration_minutes < 1:
            raise FieldError("surgery_duration", f"must be >= 1, got {self.surgery_duration_minutes}")
        if len(set(self.incompatible_room_ids)) != len(self.incompatible_room_ids):
            raise FieldError("incompatible_room_ids", "lists a room twice")
        _require_non_negative_entries("workload_produced", self.workload_produced)
        _require_non_negative_entries("skill_level_required", self.skill_level_required)


@dataclass(frozen=True)
class Surgeon:
    """A surgeon with the minutes they may operate on each day (0 = absent)."""

    id: str
    max_surgery_minutes: tuple[int, ...]

    def __post_init__(self) -> None:
        _require_non_negative_entries("max_surgery_time", self.max_surgery_minutes)


@dataclass(frozen=True)
class OperatingTheater:
    """An operating theater with the minutes it is open on each day (0 = closed)."""

    id: str
    availability_minutes: tuple[int, ...]

    def __post_init__(self) -> None:
        _require_non_negative_entries("availability", self.availability_minutes)


@dataclass(frozen=True)
class Room:
    """A ward room with a constant number of beds."""

    id: str
    capacity_beds: int

    def __post_init__(self) -> None:
        if self.capacity_beds < 1:
            raise FieldError("capacity", f"must be >= 1, got {self.capacity_beds}")


@dataclass(frozen=True)
class WorkingShift:
    """One rostered shift of a nurse and the workload she can absorb in it."""

    day: int
    shift: str
    max_load: int

    def __post_init__(self) -> None:
        _require_non_negative("day", self.day)
        _require_non_negative("max_load", self.max_load)


@dataclass(frozen=True)
class Nurse:
    """A nurse with her skill level and the shifts she is rostered on (she works only those)."""

    id: str
    skill_level: int
    working_shifts: tuple[WorkingShift, ...]

    def __post_init__(self) -> None:
        _require_non_negative("skill_level", self.skill_level)
        seen: set[tuple[int, str]] = set()
        for position, working_shift in enumerate(self.working_shifts):
            key = (working_shift.day, working_shift.shift)
            if key in seen:
                raise FieldError(
                    f"working_shifts[{position}]",
                    f"day {working_shift.day} shift {working_shift.shift!r} is listed twice",
                )
            seen.add(key)


@dataclass(frozen=True)
class Instance:
    """One IHTC-2024 instance: horizon, weights, people and resources, validated on construction.

    Parameters
    ----------
    name
        Label of the instance (the file stem when read from a file).
    days
        Number of days D in the horizon; days are numbered 0..D-1.
    skill_levels
        Number of skill levels L; skill values are 0..L-1.
    shift_types
        Ordered shift names of a day (early, late, night).
    age_groups
        Ordered age group names, youngest first; the position is the age value used in the age-mix cost.
    weights
        Weight of each soft cost term.
    occupants, patients, surgeons, operating_theaters, rooms, nurses
        The records of the instance, in file order.
    """

    name: str
    days: int
    skill_levels: int
    shift_types: tuple[str, ...]
    age_groups: tuple[str, ...]
    weights: Weights
    occupants: tuple[Occupant, ...]
    patients: tuple[SurgicalPatient, ...]
    surgeons: tuple[Surgeon, ...]
    operating_theaters: tuple[OperatingTheater, ...]
    rooms: tuple[Room, ...]
    nurses: tuple[Nurse, ...]

    def __post_init__(self) -> None:
        if self.days < 1:
            raise InstanceError("$.days", f"must be >= 1, got {self.days}")
        if self.skill_levels < 1:
            raise InstanceError("$.skill_levels", f"must be >= 1, got {self.skill_levels}")
        if not self.shift_types:
            raise InstanceError("$.shift_types", "must not be empty")
        if not self.age_groups:
            raise InstanceError("$.age_groups", "must not be empty")
        _require_unique("$.shift_types", self.shift_types)
        _require_unique("$.age_groups", self.age_groups)
        for section, records in (
            ("occupants", self.occupants),
            ("patients", self.patients),
            ("surgeons", self.surgeons),
            ("operating_theaters", self.operating_theaters),
            ("rooms", self.rooms),
            ("nurses", self.nurses),
        ):
            _require_unique_ids(section, [record.id for record in records])
        _require_unique_ids(
            "patients", [p.id for p in self.patients], [o.id for o in self.occupants], other="occupants"
        )
        self._check_occupants()
        self._check_patients()
        for index, surgeon in enumerate(self.surgeons):
            self._check_day_vector(f"$.surgeons[{index}].max_surgery_time", surgeon.max_surgery_minutes)
        for index, theater in enumerate(self.operating_theaters):
            self._check_day_vector(
                f"$.operating_theaters[{index}].availability", theater.availability_minutes
            )
        self._check_nurses()

    # --- checks -----------------------------------------------------------------------------------------
    def _check_day_vector(self, json_path: str, values: tuple[int, ...]) -> None:
        if len(values) != self.days:
            raise InstanceError(json_path, f"has {len(values)} entries, expected one per day ({self.days})")

    def _check_stay_vectors(
        self, json_path: str, length_of_stay_days: int, workload: tuple[int, ...], skill: tuple[int, ...]
    ) -> None:
        expected = len(self.shift_types) * length_of_stay_days
        for key, values in (("workload_produced", workload), ("skill_level_required", skill)):
            if len(values) != expected:
                raise InstanceError(
                    f"{json_path}.{key}",
                    f"has {len(values)} entries, expected {expected} "
                    f"({len(self.shift_types)} shifts x {length_of_stay_days} days)",
                )
        for position, level in enumerate(skill):
            if level >= self.skill_levels:
                raise InstanceError(
                    f"{json_path}.skill_level_required[{position}]",
                    f"skill level {level} is not below skill_levels ({self.skill_levels})",
                )

    def _check_occupants(self) -> None:
        room_ids = {room.id for room in self.rooms}
        for index, occupant in enumerate(self.occupants):
            json_path = f"$.occupants[{index}]"
            if occupant.age_group not in self.age_groups:
                raise InstanceError(f"{json_path}.age_group", f"unknown age group {occupant.age_group!r}")
            if occupant.room_id not in room_ids:
                raise InstanceError(f"{json_path}.room_id", f"unknown room {occupant.room_id!r}")
            self._check_stay_vectors(
                json_path,
                occupant.length_of_stay_days,
                occupant.workload_produced,
                occupant.skill_level_required,
            )

    def _check_patients(self) -> None:
        room_ids = {room.id for room in self.rooms}
        surgeon_ids = {surgeon.id for surgeon in self.surgeons}
        for index, patient in enumerate(self.patients):
            json_path = f"$.patients[{index}]"
            if patient.age_group not in self.age_groups:
                raise InstanceError(f"{json_path}.age_group", f"unknown age group {patient.age_group!r}")
            if patient.surgeon_id not in surgeon_ids:
                raise InstanceError(f"{json_path}.surgeon_id", f"unknown surgeon {patient.surgeon_id!r}")
            if patient.surgery_release_day >= self.days:
                raise InstanceError(
                    f"{json_path}.surgery_release_day",
                    f"day {patient.surgery_release_day} is outside the horizon 0..{self.days - 1}",
                )
            if patient.surgery_due_day is not None and patient.surgery_due_day >= self.days:
                raise InstanceError(
                    f"{json_path}.surgery_due_day",
                    f"day {patient.surgery_due_day} is outside the horizon 0..{self.days - 1}",
                )
            for position, room_id in enumerate(patient.incompatible_room_ids):
                if room_id not in room_ids:
                    raise InstanceError(
                        f"{json_path}.incompatible_room_ids[{position}]", f"unknown room {room_id!r}"
                    )
            self._check_stay_vectors(
                json_path,
                patient.length_of_stay_days,
                patient.workload_produced,
                patient.skill_level_required,
            )

    def _check_nurses(self) -> None:
        for index, nurse in enumerate(self.nurses):
            json_path = f"$.nurses[{index}]"
            if nurse.skill_level >= self.skill_levels:
                raise InstanceError(
                    f"{json_path}.skill_level",
                    f"skill level {nurse.skill_level} is not below skill_levels ({self.skill_levels})",
                )
            for position, working_shift in enumerate(nurse.working_shifts):
                shift_path = f"{json_path}.working_shifts[{position}]"
                if working_shift.day >= self.days:
                    raise InstanceError(
                        f"{shift_path}.day",
                        f"day {working_shift.day} is outside the horizon 0..{self.days - 1}",
                    )
                if working_shift.shift not in self.shift_types:
                    raise InstanceError(f"{shift_path}.shift", f"unknown shift {working_shift.shift!r}")

    # --- look-ups ---------------------------------------------------------------------------------------
    @property
    def shifts_per_day(self) -> int:
        """Number of shifts K in a day."""
        return len(self.shift_types)

    @cached_property
    def patient_by_id(self) -> Mapping[str, SurgicalPatient]:
        """Surgical patients by id."""
        return {patient.id: patient for patient in self.patients}

    @cached_property
    def room_by_id(self) -> Mapping[str, Room]:
        """Rooms by id."""
        return {room.id: room for room in self.rooms}

    @cached_property
    def nurse_by_id(self) -> Mapping[str, Nurse]:
        """Nurses by id."""
        return {nurse.id: nurse for nurse in self.nurses}

    @cached_property
    def surgeon_by_id(self) -> Mapping[str, Surgeon]:
        """Surgeons by id."""
        return {surgeon.id: surgeon for surgeon in self.surgeons}

    @cached_property
    def operating_theater_by_id(self) -> Mapping[str, OperatingTheater]:
        """Operating theaters by id."""
        return {theater.id: theater for theater in self.operating_theaters}


def _require_unique(json_path: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for position, value in enumerate(values):
        if value in seen:
            raise InstanceError(f"{json_path}[{position}]", f"{value!r} is listed twice")
        seen.add(value)


def _require_unique_ids(
    section: str, ids: Sequence[str], other_ids: Sequence[str] = (), other: str | None = None
) -> None:
    seen: set[str] = set(other_ids)
    for position, record_id in enumerate(ids):
        if record_id in seen:
            where = f" (also used in {other})" if other and record_id in other_ids else ""
            raise InstanceError(f"$.{section}[{position}].id", f"id {record_id!r} is used twice{where}")
        seen.add(record_id)


# --- reading JSON ------------------------------------------------------------------------------------------
class _JsonReader:
    """Typed access to JSON values that raises :class:`InstanceError` naming the path at fault."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, json_path: str, message: str) -> InstanceError:
        return InstanceError(json_path, message, self.source)

    def object(self, value: Any, json_path: str, keys: Sequence[str], optional: Sequence[str] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(json_path, f"expected an object, got {type(value).__name__}")
        for key in keys:
            if key not in value:
                raise self.fail(f"{json_path}.{key}", "is missing")
        allowed = set(keys) | set(optional)
        for key in value:
            if key not in allowed:
                raise self.fail(f"{json_path}.{key}", f"unknown key (expected one of {sorted(allowed)})")
        return value

    def integer(self, value: Any, json_path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(json_path, f"expected an integer, got {value!r}")
        return value

    def text(self, value: Any, json_path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(json_path, f"expected a string, got {value!r}")
        return value

    def boolean(self, value: Any, json_path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(json_path, f"expected true or false, got {value!r}")
        return value

    def array(self, value: Any, json_path: str) -> list:
        if not isinstance(value, list):
            raise self.fail(json_path, f"expected an array, got {type(value).__name__}")
        return value

    def integers(self, value: Any, json_path: str) -> tuple[int, ...]:
        return tuple(
            self.integer(item, f"{json_path}[{position}]")
            for position, item in enumerate(self.array(value, json_path))
        )

    def texts(self, value: Any, json_path: str) -> tuple[str, ...]:
        return tuple(
            self.text(item, f"{json_path}[{position}]")
            for position, item in enumerate(self.array(value, json_path))
        )

    def build(self, json_path: str, factory: Any, **values: Any) -> Any:
        """Build a record, turning its own field check into an error naming the JSON path."""
        try:
            return factory(**values)
        except FieldError as error:
            raise self.fail(f"{json_path}.{error.field_name}", error.message) from error


def _read_weights(reader: _JsonReader, value: Any) -> Weights:
    raw = reader.object(value, "$.weights", list(WEIGHT_KEYS))
    values = {
        field_name: reader.integer(raw[key], f"$.weights.{key}") for key, field_name in WEIGHT_KEYS.items()
    }
    return reader.build("$.weights", Weights, **values)


def _read_occupant(reader: _JsonReader, value: Any, json_path: str) -> Occupant:
    keys = [
        "id",
        "gender",
        "age_group",
        "length_of_stay",
        "workload_produced",
        "skill_level_required",
        "room_id",
    ]
    raw = reader.object(value, json_path, keys)
    return reader.build(
        json_path,
        Occupant,
        id=reader.text(raw["id"], f"{json_path}.id"),
        gender=reader.text(raw["gender"], f"{json_path}.gender"),
        age_group=reader.text(raw["age_group"], f"{json_path}.age_group"),
        length_of_stay_days=reader.integer(raw["length_of_stay"], f"{json_path}.length_of_stay"),
        workload_produced=reader.integers(raw["workload_produced"], f"{json_path}.workload_produced"),
        skill_level_required=reader.integers(
            raw["skill_level_required"], f"{json_path}.skill_level_required"
        ),
        room_id=reader.text(raw["room_id"], f"{json_path}.room_id"),
    )


def _read_patient(reader: _JsonReader, value: Any, json_path: str) -> SurgicalPatient:
    keys = [
        "id",
        "mandatory",
        "gender",
        "age_group",
        "length_of_stay",
        "surgery_release_day",
        "surgery_duration",
        "surgeon_id",
        "workload_produced",
        "skill_level_required",
    ]
    raw = reader.object(value, json_path, keys, optional=["surgery_due_day", "incompatible_room_ids"])
    due_day = raw.get("surgery_due_day")
    incompatible = raw.get("incompatible_room_ids")
    return reader.build(
        json_path,
        SurgicalPatient,
        id=reader.text(raw["id"], f"{json_path}.id"),
        mandatory=reader.boolean(raw["mandatory"], f"{json_path}.mandatory"),
        gender=reader.text(raw["gender"], f"{json_path}.gender"),
        age_group=reader.text(raw["age_group"], f"{json_path}.age_group"),
        length_of_stay_days=reader.integer(raw["length_of_stay"], f"{json_path}.length_of_stay"),
        surgery_release_day=reader.integer(raw["surgery_release_day"], f"{json_path}.surgery_release_day"),
        surgery_due_day=None if due_day is None else reader.integer(due_day, f"{json_path}.surgery_due_day"),
        surgery_duration_minutes=reader.integer(raw["surgery_duration"], f"{json_path}.surgery_duration"),
        surgeon_id=reader.text(raw["surgeon_id"], f"{json_path}.surgeon_id"),
        incompatible_room_ids=(
            () if incompatible is None else reader.texts(incompatible, f"{json_path}.incompatible_room_ids")
        ),
        workload_produced=reader.integers(raw["workload_produced"], f"{json_path}.workload_produced"),
        skill_level_required=reader.integers(
            raw["skill_level_required"], f"{json_path}.skill_level_required"
        ),
    )


def _read_nurse(reader: _JsonReader, value: Any, json_path: str) -> Nurse:
    raw = reader.object(value, json_path, ["id", "skill_level", "working_shifts"])
    working_shifts = []
    for position, item in enumerate(reader.array(raw["working_shifts"], f"{json_path}.working_shifts")):
        shift_path = f"{json_path}.working_shifts[{position}]"
        shift_raw = reader.object(item, shift_path, ["day", "shift", "max_load"])
        working_shifts.append(
            reader.build(
                shift_path,
                WorkingShift,
                day=reader.integer(shift_raw["day"], f"{shift_path}.day"),
                shift=reader.text(shift_raw["shift"], f"{shift_path}.shift"),
                max_load=reader.integer(shift_raw["max_load"], f"{shift_path}.max_load"),
            )
        )
    return reader.build(
        json_path,
        Nurse,
        id=reader.text(raw["id"], f"{json_path}.id"),
        skill_level=reader.integer(raw["skill_level"], f"{json_path}.skill_level"),
        working_shifts=tuple(working_shifts),
    )


def parse_instance(data: Any, name: str = "instance", source: str | None = None) -> Instance:
    """Build an :class:`Instance` from the decoded JSON of an instance file.

    Parameters
    ----------
    data
        The decoded JSON document (a dict).
    name
        Label stored on the instance.
    source
        File name quoted in error messages.

    Returns
    -------
    Instance
        The validated instance.

    Raises
    ------
    InstanceError
        When a key is missing or unknown, a value has the wrong type or range, or an id refers to nothing;
        the message names the JSON path at fault.
    """
    reader = _JsonReader(source)
    top_keys = [
        "days",
        "skill_levels",
        "shift_types",
        "age_groups",
        "weights",
        "occupants",
        "patients",
        "surgeons",
        "operating_theaters",
        "rooms",
        "nurses",
    ]
    raw = reader.object(data, "$", top_keys)
    occupants = tuple(
        _read_occupant(reader, item, f"$.occupants[{i}]")
        for i, item in enumerate(reader.array(raw["occupants"], "$.occupants"))
    )
    patients = tuple(
        _read_patient(reader, item, f"$.patients[{i}]")
        for i, item in enumerate(reader.array(raw["patients"], "$.patients"))
    )
    surgeons = []
    for i, item in enumerate(reader.array(raw["surgeons"], "$.surgeons")):
        json_path = f"$.surgeons[{i}]"
        surgeon_raw = reader.object(item, json_path, ["id", "max_surgery_time"])
        surgeons.append(
            reader.build(
                json_path,
                Surgeon,
                id=reader.text(surgeon_raw["id"], f"{json_path}.id"),
                max_surgery_minutes=reader.integers(
                    surgeon_raw["max_surgery_time"], f"{json_path}.max_surgery_time"
                ),
            )
        )
    theaters = []
    for i, item in enumerate(reader.array(raw["operating_theaters"], "$.operating_theaters")):
        json_path = f"$.operating_theaters[{i}]"
        theater_raw = reader.object(item, json_path, ["id", "availability"])
        theaters.append(
            reader.build(
                json_path,
                OperatingTheater,
                id=reader.text(theater_raw["id"], f"{json_path}.id"),
                availability_minutes=reader.integers(
                    theater_raw["availability"], f"{json_path}.availability"
                ),
            )
        )
    rooms = []
    for i, item in enumerate(reader.array(raw["rooms"], "$.rooms")):
        json_path = f"$.rooms[{i}]"
        room_raw = reader.object(item, json_path, ["id", "capacity"])
        rooms.append(
            reader.build(
                json_path,
                Room,
                id=reader.text(room_raw["id"], f"{json_path}.id"),
                capacity_beds=reader.integer(room_raw["capacity"], f"{json_path}.capacity"),
            )
        )
    nurses = tuple(
        _read_nurse(reader, item, f"$.nurses[{i}]")
        for i, item in enumerate(reader.array(raw["nurses"], "$.nurses"))
    )
    try:
        return Instance(
            name=name,
            days=reader.integer(raw["days"], "$.days"),
            skill_levels=reader.integer(raw["skill_levels"], "$.skill_levels"),
            shift_types=reader.texts(raw["shift_types"], "$.shift_types"),
            age_groups=reader.texts(raw["age_groups"], "$.age_groups"),
            weights=_read_weights(reader, raw["weights"]),
            occupants=occupants,
            patients=patients,
            surgeons=tuple(surgeons),
            operating_theaters=tuple(theaters),
            rooms=tuple(rooms),
            nurses=nurses,
        )
    except InstanceError as error:
        if error.source is None and source is not None:
            raise InstanceError(error.json_path, error.message, source) from error
        raise


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance JSON file.

    Parameters
    ----------
    path
        Path of the instance file, for example ``../shared/data/ihtc2024/instances/test01.json``.

    Returns
    -------
    Instance
        The validated instance, named after the file stem.

    Raises
    ------
    InstanceError
        When the file is not valid JSON or breaks the format (the message names file and JSON path).

    Examples
    --------
    >>> instance = load_instance("../shared/data/ihtc2024/instances/test01.json")  # doctest: +SKIP
    >>> instance.days, len(instance.patients)  # doctest: +SKIP
    (21, 42)
    """
    file_path = Path(path)
    try:
        data = json.loads(file_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InstanceError("$", f"not valid JSON: {error}", file_path.name) from error
    return parse_instance(data, name=file_path.stem, source=file_path.name)
