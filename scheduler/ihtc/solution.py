"""Admission plan of an IHTC-2024 instance: reader and writer of the competition's solution JSON.

A plan says, for every admitted patient, the admission (and surgery) day, the room for the whole stay and the
operating theater; and, for every nurse shift, the rooms the nurse covers. The JSON layout is::

    {"patients": [{"id": "p00", "admission_day": 4, "room": "r3", "operating_theater": "t0"},
                  {"id": "p01", "admission_day": "none"}],
     "nurses": [{"id": "n00", "assignments": [{"day": 0, "shift": "early", "rooms": ["r1", "r4"]}]}]}
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.ihtc.instance import Instance

__all__ = [
    "UNSCHEDULED",
    "AdmissionPlan",
    "NurseShiftAssignment",
    "PatientAdmission",
    "SolutionError",
    "check_plan_references",
    "load_solution",
    "parse_solution",
    "plan_to_json",
    "write_solution",
]

UNSCHEDULED = "none"
"""Value of ``admission_day`` for a patient who is not admitted."""


class SolutionError(ValueError):
    """A solution file or plan that cannot be read or does not fit its instance.

    Parameters
    ----------
    json_path
        Path of the offending value, for example ``$.patients[3].room``.
    message
        What is wrong with it.
    source
        File name (or another label) of the solution, when known.
    """

    def __init__(self, json_path: str, message: str, source: str | None = None) -> None:
        self.json_path = json_path
        self.message = message
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{json_path}: {message}")


@dataclass(frozen=True)
class PatientAdmission:
    """An admitted patient: admission day (= surgery day), room for the whole stay, operating theater."""

    patient_id: str
    admission_day: int
    room_id: str
    operating_theater_id: str

    def __post_init__(self) -> None:
        if self.admission_day < 0:
            raise SolutionError("admission_day", f"must be >= 0, got {self.admission_day}")


@dataclass(frozen=True)
class NurseShiftAssignment:
    """The rooms one nurse covers in one shift (``day``, ``shift`` name)."""

    nurse_id: str
    day: int
    shift: str
    room_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.day < 0:
            raise SolutionError("day", f"must be >= 0, got {self.day}")


@dataclass(frozen=True)
class AdmissionPlan:
    """A full plan: admissions and nurse-to-room assignments, in file order.

    Patients that are neither in ``admissions`` nor in ``unscheduled_patient_ids`` are not admitted either;
    listing them as unscheduled only mirrors the file. A patient may appear once.
    """

    admissions: tuple[PatientAdmission, ...]
    nurse_assignments: tuple[NurseShiftAssignment, ...]
    unscheduled_patient_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for patient_id in [admission.patient_id for admission in self.admissions] + list(
            self.unscheduled_patient_ids
        ):
            if patient_id in seen:
                raise SolutionError("$.patients", f"patient {patient_id!r} is listed twice")
            seen.add(patient_id)

    @property
    def admission_by_patient(self) -> dict[str, PatientAdmission]:
        """Admissions by patient id."""
        return {admission.patient_id: admission for admission in self.admissions}


def check_plan_references(instance: Instance, plan: AdmissionPlan) -> None:
    """Reject a plan that names something the instance does not have (as the official validator does).

    Parameters
    ----------
    instance
        The instance the plan is for.
    plan
        The plan to check.

    Raises
    ------
    SolutionError
        For an unknown patient, room, operating theater, nurse or shift name, or an admission day outside
        ``0..days-1``. Nurse shifts outside the roster are *not* rejected here; the checker counts them.
    """
    patients = instance.patient_by_id
    rooms = instance.room_by_id
    theaters = instance.operating_theater_by_id
    nurses = instance.nurse_by_id
    for admission in plan.admissions:
        json_path = f"$.patients[id={admission.patient_id!r}]"
        if admission.patient_id not in patients:
            raise SolutionError(f"{json_path}.id", f"unknown patient {admission.patient_id!r}")
        if admission.admission_day >= instance.days:
            raise SolutionError(
                f"{json_path}.admission_day",
                f"day {admission.admission_day} is outside the horizon 0..{instance.days - 1}",
            )
        if admission.room_id not in rooms:
            raise SolutionError(f"{json_path}.room", f"unknown room {admission.room_id!r}")
        if admission.operating_theater_id not in theaters:
            raise SolutionError(
                f"{json_path}.operating_theater",
                f"unknown operating theater {admission.operating_theater_id!r}",
            )
    for patient_id in plan.unscheduled_patient_ids:
        if patient_id not in patients:
            raise SolutionError(f"$.patients[id={patient_id!r}].id", f"unknown patient {patient_id!r}")
    for assignment in plan.nurse_assignments:
        if assignment.nurse_id not in nurses:
            raise SolutionError(
                f"$.nurses[id={assignment.nurse_id!r}].id", f"unknown nurse {assignment.nurse_id!r}"
            )
        where = f"day={assignment.day}, shift={assignment.shift!r}"
        json_path = f"$.nurses[id={assignment.nurse_id!r}].assignments[{where}]"
        if assignment.day >= instance.days:
            raise SolutionError(
                f"{json_path}.day", f"day {assignment.day} is outside the horizon 0..{instance.days - 1}"
            )
        if assignment.shift not in instance.shift_types:
            raise SolutionError(f"{json_path}.shift", f"unknown shift {assignment.shift!r}")
        for position, room_id in enumerate(assignment.room_ids):
            if room_id not in rooms:
                raise SolutionError(f"{json_path}.rooms[{position}]", f"unknown room {room_id!r}")


# --- reading ------------------------------------------------------------------------------------------------
def _expect(condition: bool, json_path: str, message: str, source: str | None) -> None:
    if not condition:
        raise SolutionError(json_path, message, source)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_solution(data: Any, source: str | None = None) -> AdmissionPlan:
    """Build an :class:`AdmissionPlan` from the decoded JSON of a solution file.

    Unknown top-level keys (the reference files carry a ``costs`` note) are ignored.

    Parameters
    ----------
    data
        The decoded JSON document.
    source
        File name quoted in error messages.

    Returns
    -------
    AdmissionPlan
        The plan, in file order.

    Raises
    ------
    SolutionError
        When a value has the wrong type or a patient is listed twice; the message names the JSON path.
    """
    _expect(isinstance(data, dict), "$", "expected an object", source)
    admissions: list[PatientAdmission] = []
    unscheduled: list[str] = []
    seen: set[str] = set()
    patients = data.get("patients", [])
    _expect(isinstance(patients, list), "$.patients", "expected an array", source)
    for index, item in enumerate(patients):
        json_path = f"$.patients[{index}]"
        _expect(isinstance(item, dict), json_path, "expected an object", source)
        patient_id = item.get("id")
        _expect(
            isinstance(patient_id, str), f"{json_path}.id", f"expected a string, got {patient_id!r}", source
        )
        _expect(patient_id not in seen, f"{json_path}.id", f"patient {patient_id!r} is listed twice", source)
        seen.add(patient_id)
        day = item.get("admission_day")
        if day == UNSCHEDULED:
            unscheduled.append(patient_id)
            continue
        _expect(
            _is_int(day) and day >= 0,
            f"{json_path}.admission_day",
            f'expected a day number or "none", got {day!r}',
            source,
        )
        for key in ("room", "operating_theater"):
            _expect(
                isinstance(item.get(key), str),
                f"{json_path}.{key}",
                f"expected a string, got {item.get(key)!r}",
                source,
            )
        admissions.append(PatientAdmission(patient_id, day, item["room"], item["operating_theater"]))
    nurse_assignments: list[NurseShiftAssignment] = []
    nurses = data.get("nurses", [])
    _expect(isinstance(nurses, list), "$.nurses", "expected an array", source)
    for index, item in enumerate(nurses):
        json_path = f"$.nurses[{index}]"
        _expect(isinstance(item, dict), json_path, "expected an object", source)
        nurse_id = item.get("id")
        _expect(isinstance(nurse_id, str), f"{json_path}.id", f"expected a string, got {nurse_id!r}", source)
        assignments = item.get("assignments", [])
        _expect(isinstance(assignments, list), f"{json_path}.assignments", "expected an array", source)
        for position, assignment in enumerate(assignments):
            shift_path = f"{json_path}.assignments[{position}]"
            _expect(isinstance(assignment, dict), shift_path, "expected an object", source)
            day, shift, rooms = assignment.get("day"), assignment.get("shift"), assignment.get("rooms", [])
            _expect(
                _is_int(day) and day >= 0, f"{shift_path}.day", f"expected a day number, got {day!r}", source
            )
            _expect(
                isinstance(shift, str), f"{shift_path}.shift", f"expected a string, got {shift!r}", source
            )
            _expect(
                isinstance(rooms, list) and all(isinstance(room, str) for room in rooms),
                f"{shift_path}.rooms",
                "expected an array of room ids",
                source,
            )
            nurse_assignments.append(NurseShiftAssignment(nurse_id, day, shift, tuple(rooms)))
    return AdmissionPlan(tuple(admissions), tuple(nurse_assignments), tuple(unscheduled))


def load_solution(path: str | Path) -> AdmissionPlan:
    """Read a solution JSON file.

    Parameters
    ----------
    path
        Path of the solution file.

    Returns
    -------
    AdmissionPlan
        The plan, in file order.

    Raises
    ------
    SolutionError
        When the file is not valid JSON or breaks the format.
    """
    file_path = Path(path)
    try:
        data = json.loads(file_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SolutionError("$", f"not valid JSON: {error}", file_path.name) from error
    return parse_solution(data, source=file_path.name)


# --- writing ------------------------------------------------------------------------------------------------
def plan_to_json(plan: AdmissionPlan, instance: Instance | None = None) -> dict[str, Any]:
    """Turn a plan into the competition's JSON document.

    Parameters
    ----------
    plan
        The plan to write.
    instance
        When given, every patient of the instance is listed in instance order (those not admitted with
        ``"admission_day": "none"``), and nurses follow instance order with their shifts in time order.

    Returns
    -------
    dict
        A JSON-serialisable document.
    """
    admission_by_patient = plan.admission_by_patient
    if instance is None:
        patient_ids: Iterable[str] = [a.patient_id for a in plan.admissions] + list(
            plan.unscheduled_patient_ids
        )
    else:
        patient_ids = [patient.id for patient in instance.patients]
    patients_json: list[dict[str, Any]] = []
    for patient_id in patient_ids:
        admission = admission_by_patient.get(patient_id)
        if admission is None:
            patients_json.append({"id": patient_id, "admission_day": UNSCHEDULED})
        else:
            patients_json.append(
                {
                    "id": patient_id,
                    "admission_day": admission.admission_day,
                    "room": admission.room_id,
                    "operating_theater": admission.operating_theater_id,
                }
            )
    assignments_by_nurse: dict[str, list[NurseShiftAssignment]] = {}
    if instance is not None:
        for nurse in instance.nurses:
            assignments_by_nurse[nurse.id] = []
    for assignment in plan.nurse_assignments:
        assignments_by_nurse.setdefault(assignment.nurse_id, []).append(assignment)
    shift_order = {name: k for k, name in enumerate(instance.shift_types)} if instance is not None else None
    nurses_json: list[dict[str, Any]] = []
    for nurse_id, assignments in assignments_by_nurse.items():
        if shift_order is not None:
            assignments = sorted(
                assignments, key=lambda a: (a.day, shift_order.get(a.shift, len(shift_order)))
            )
        nurses_json.append(
            {
                "id": nurse_id,
                "assignments": [
                    {"day": a.day, "shift": a.shift, "rooms": list(a.room_ids)} for a in assignments
                ],
            }
        )
    return {"patients": patients_json, "nurses": nurses_json}


def write_solution(plan: AdmissionPlan, path: str | Path, instance: Instance | None = None) -> Path:
    """Write a plan as a solution JSON file, atomically (a reader sees the old file or the new one).

    Parameters
    ----------
    plan
        The plan to write.
    path
        Destination file; its folder must exist.
    instance
        When given, patients and nurses are listed in instance order (see :func:`plan_to_json`).

    Returns
    -------
    Path
        The path written.
    """
    destination = Path(path)
    document = json.dumps(plan_to_json(plan, instance), indent=1)
    # a unique neighbour file, created with the usual permissions, then renamed over the destination
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as handle:
            handle.write(document)
            handle.write("\n")
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination
