"""The hospital and scenario schema: the shared vocabulary of every part of the product.

A :class:`Hospital` describes the physical and staffed hospital: units and beds, shifts, nurse ratios,
staff pools and contracts, theatres and their sessions, services with their arrivals, routes through the
units and lengths of stay, the emergency department, and costs. A :class:`Scenario` is a hospital plus
dated :data:`Override` s (a surge, a ward closure, extra beds, a theatre block change).

Every model is frozen and forbids unknown keys. Cross-field rules live in model validators; they report
each problem as ``@key.path: reason`` so that the loader can name the exact key at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"'{value}' is not a 24-hour clock time HH:MM (e.g. '07:30')")
    return value


def _check_ident(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(
            f"'{value}' is not a valid id: start with a letter, then letters, digits, '_' or '-'"
        )
    return value


ClockTime = Annotated[str, AfterValidator(_check_clock)]
"""A time of day as ``HH:MM`` (24-hour clock)."""

Ident = Annotated[str, AfterValidator(_check_ident)]
"""An id used to refer to a unit, shift, skill, service, theatre or staff pool."""

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]


def minutes_of_day(clock: str) -> int:
    """Minutes after midnight of an ``HH:MM`` time."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class ScenarioRuleError(ValueError):
    """One or more cross-field rule violations, each as ``(key path, reason)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"@{path}: {reason}" for path, reason in problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------------------------------
# Length-of-stay and duration distributions
# --------------------------------------------------------------------------------------------------


class LognormalHours(_Frozen):
    """Lognormal duration given by its median [hours] and log-scale standard deviation."""

    distribution: Literal["lognormal"]
    median_hours: PositiveFloat
    sigma: Annotated[float, Field(gt=0, le=3)]

    def mean_hours(self) -> float:
        """Mean of the distribution [hours]."""
        import math

        return self.median_hours * math.exp(self.sigma**2 / 2)


class ExponentialHours(_Frozen):
    """Exponential duration given by its mean [hours] (memoryless; used by validation scenarios)."""

    distribution: Literal["exponential"]
    mean_hours: PositiveFloat


class GammaHours(_Frozen):
    """Gamma duration given by its mean [hours] and shape."""

    distribution: Literal["gamma"]
    mean_hours: PositiveFloat
    shape: PositiveFloat


class FixedHours(_Frozen):
    """Deterministic duration [hours] (used by verification tests)."""

    distribution: Literal["fixed"]
    hours: PositiveFloat

    def mean_hours(self) -> float:
        """Mean of the distribution [hours]."""
        return self.hours


Duration = Annotated[
    LognormalHours | ExponentialHours | GammaHours | FixedHours, Field(discriminator="distribution")
]
"""A duration distribution in hours, chosen by its ``distribution`` key."""


def mean_duration_hours(duration: Duration) -> float:
    """Mean of any :data:`Duration` [hours]."""
    if isinstance(duration, LognormalHours | FixedHours):
        return duration.mean_hours()
    return duration.mean_hours


# --------------------------------------------------------------------------------------------------
# Hospital building blocks
# --------------------------------------------------------------------------------------------------


class UnitKind(StrEnum):
    """What a unit is for."""

    ED = "ed"
    WARD = "ward"
    ICU = "icu"
    STEP_DOWN = "step_down"
    PACU = "pacu"
    ASSESSMENT = "assessment"


class Shift(_Frozen):
    """A nursing shift; the shifts of a day must cover all 24 hours without overlapping."""

    id: Ident
    name: str = ""
    start: ClockTime
    end: ClockTime

    @property
    def duration_minutes(self) -> int:
        """Length of the shift [minutes]; a shift ending at or before its start crosses midnight."""
        length = (minutes_of_day(self.end) - minutes_of_day(self.start)) % MINUTES_PER_DAY
        return length or MINUTES_PER_DAY

    def minutes_covered(self) -> list[int]:
        """Minutes of the day (0–1439) this shift covers."""
        start = minutes_of_day(self.start)
        return [(start + k) % MINUTES_PER_DAY for k in range(self.duration_minutes)]


class Skill(_Frozen):
    """A nursing skill or grade that cover requirements can ask for."""

    id: Ident
    name: str = ""


class Unit(_Frozen):
    """A place where patients stay, with its beds and nurse-to-patient ratios."""

    id: Ident
    name: str = ""
    kind: UnitKind
    beds: Annotated[int, Field(ge=0, description="Staffed beds (trolleys/bays for the ED) [count]")]
    skill: Ident = Field(description="Skill nurses need to work on this unit")
    patients_per_nurse: dict[str, PositiveFloat] = Field(
        description="Nurse-to-patient ratio per shift id: patients one nurse can look after"
    )
    services: tuple[Ident, ...] = Field(default=(), description="Services whose patients this unit takes")


class Contract(_Frozen):
    """Working-time rules for a group of staff (the roster's hard constraints)."""

    id: Ident
    name: str = ""
    min_minutes_per_week: Annotated[int, Field(ge=0)] = 0
    max_minutes_per_week: Annotated[int, Field(gt=0, le=7 * MINUTES_PER_DAY)]
    max_consecutive_shifts: Annotated[int, Field(ge=1, le=14)] = 5
    min_consecutive_shifts: Annotated[int, Field(ge=1, le=7)] = 1
    min_consecutive_days_off: Annotated[int, Field(ge=1, le=7)] = 1
    max_weekends_per_4_weeks: Annotated[int, Field(ge=0, le=4)] = 2
    complete_weekends: bool = True
    max_shifts_per_week: dict[str, Annotated[int, Field(ge=0, le=7)]] = Field(
        default_factory=dict, description="Cap per shift id, e.g. {night = 4}"
    )

    @model_validator(mode="after")
    def _minutes_ordered(self) -> Contract:
        if self.min_minutes_per_week > self.max_minutes_per_week:
            raise ScenarioRuleError([("min_minutes_per_week", "is larger than max_minutes_per_week")])
        if self.min_consecutive_shifts > self.max_consecutive_shifts:
            raise ScenarioRuleError([("min_consecutive_shifts", "is larger than max_consecutive_shifts")])
        return self


class StaffPool(_Frozen):
    """A group of nurses with the same skills, contract and home units."""

    id: Ident
    name: str = ""
    skills: Annotated[tuple[Ident, ...], Field(min_length=1)]
    contract: Ident
    headcount: Annotated[int, Field(ge=0, description="Nurses employed [count]")]
    units: Annotated[tuple[Ident, ...], Field(min_length=1, description="Units these nurses work on")]
    establishment: dict[str, Annotated[int, Field(ge=0)]] = Field(
        description="Funded nurses on duty per shift id each day across the pool's units [count]"
    )


class TheatreSession(_Frozen):
    """Operating hours of a theatre on one weekday, allocated to a service (a block) or left open."""

    start: ClockTime
    end: ClockTime
    service: Ident | None = Field(default=None, description="Block owner; none = emergency / unallocated")

    @property
    def minutes(self) -> int:
        """Session length [minutes]."""
        return minutes_of_day(self.end) - minutes_of_day(self.start)

    @model_validator(mode="after")
    def _ends_after_start(self) -> TheatreSession:
        if minutes_of_day(self.end) <= minutes_of_day(self.start):
            raise ScenarioRuleError([("end", f"session end {self.end} is not after its start {self.start}")])
        return self


class WeeklySessions(_Frozen):
    """Sessions per weekday; a missing day means the theatre is closed."""

    mon: TheatreSession | None = None
    tue: TheatreSession | None = None
    wed: TheatreSession | None = None
    thu: TheatreSession | None = None
    fri: TheatreSession | None = None
    sat: TheatreSession | None = None
    sun: TheatreSession | None = None

    def on(self, weekday: int) -> TheatreSession | None:
        """Session on a weekday, Monday = 0."""
        session: TheatreSession | None = getattr(self, WEEKDAYS[weekday])
        return session


class Theatre(_Frozen):
    """An operating theatre."""

    id: Ident
    name: str = ""
    emergency: bool = Field(default=False, description="Kept for emergency (non-elective) cases")
    sessions: WeeklySessions = WeeklySessions()


class PathwayStep(_Frozen):
    """One stay on a patient's route: which units can take them, how sick they are, for how long."""

    units: Annotated[tuple[Ident, ...], Field(min_length=1)]
    acuity: Literal["low", "low_medium", "medium", "high"] = "low"
    length_of_stay: Duration


class Pathway(_Frozen):
    """A route through the hospital taken by a share of a service's admissions."""

    name: str = ""
    probability: Annotated[float, Field(gt=0, le=1)]
    steps: Annotated[tuple[PathwayStep, ...], Field(min_length=1)]


class Surgery(_Frozen):
    """Operating work of a surgical service."""

    elective_cases_per_week: NonNegativeFloat = 0.0
    emergency_cases_per_day: NonNegativeFloat = 0.0
    duration: Duration = Field(description="Knife-to-skin to close plus turnaround")
    recovery: Duration = Field(description="Time in PACU after the operation")
    day_case_share: Probability = 0.0
    elective_pathways: tuple[Pathway, ...] = ()


class Service(_Frozen):
    """A specialty: its emergency share, routes through the units and surgery, if any."""

    id: Ident
    name: str = ""
    emergency_share: NonNegativeFloat = Field(
        description="Relative share of emergency admissions from the ED that this service takes"
    )
    pathways: tuple[Pathway, ...] = Field(default=(), description="Routes for emergency admissions")
    surgery: Surgery | None = None


class TriageCategory(_Frozen):
    """A Manchester-style triage category of ED attendances."""

    category: Annotated[int, Field(ge=1, le=5)]
    share: Probability
    admit_probability: Probability
    treatment: Duration = Field(description="Time from first assessment to decision [hours]")


class EmergencyDepartment(_Frozen):
    """How people arrive at and move through the ED."""

    unit: Ident
    attendances_per_day: PositiveFloat
    hourly_profile: Annotated[tuple[NonNegativeFloat, ...], Field(min_length=24, max_length=24)]
    weekday_profile: Annotated[tuple[NonNegativeFloat, ...], Field(min_length=7, max_length=7)]
    triage: Annotated[tuple[TriageCategory, ...], Field(min_length=1)]
    target_minutes: Annotated[int, Field(gt=0)] = 240
    diversion_boarding_threshold: Annotated[int, Field(ge=1)] = Field(
        description="Patients waiting in the ED for a bed at which ambulances are diverted"
    )


class Seasonality(_Frozen):
    """Yearly and holiday patterns of demand."""

    winter_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.08
    winter_peak_day_of_year: Annotated[int, Field(ge=1, le=366)] = 15
    holiday_ed_factor: PositiveFloat = 0.9
    holidays_country: str = "GB"
    holidays_subdivision: str | None = "ENG"


class Staffing(_Frozen):
    """How census turns into nursing demand and rules shared by every roster."""

    acuity_weights: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {"low": 1.0, "low_medium": 1.2, "medium": 1.5, "high": 2.0},
        description="Nursing workload of a patient by acuity band, relative to a low-acuity patient",
    )
    demand_quantile: Annotated[float, Field(gt=0, lt=1)] = 0.8
    forbidden_successions: tuple[tuple[Ident, Ident], ...] = ()
    min_rest_hours: Annotated[float, Field(ge=0, le=24)] = 11.0


class Costs(_Frozen):
    """Unit costs for KPIs and optimisation."""

    currency: str = "GBP"
    agency_nurse_hour: NonNegativeFloat
    overtime_hour: NonNegativeFloat
    cancelled_operation: NonNegativeFloat
    diversion_hour: NonNegativeFloat
    bed_day: NonNegativeFloat = 0.0


class Policies(_Frozen):
    """What the hospital does under pressure."""

    nurse_shortage: Literal["agency", "close_beds"] = "agency"
    discharge_hourly_profile: Annotated[tuple[NonNegativeFloat, ...], Field(min_length=24, max_length=24)] = (
        Field(description="Relative weight of discharges by hour of day")
    )


# --------------------------------------------------------------------------------------------------
# Supplies: consumables used by operations
# --------------------------------------------------------------------------------------------------


class SupplyItem(_Frozen):
    """A consumable kept in stock (theatre packs, implants, dressings, ...)."""

    id: Ident
    name: str = ""
    unit_cost: NonNegativeFloat = Field(description="Purchase price of one unit [currency]")
    holding_cost_per_day: NonNegativeFloat = Field(
        description="Cost of keeping one unit in stock for a day (capital, space, expiry) [currency/day]"
    )
    lead_time_days: Annotated[int, Field(ge=0, le=90, description="Days from order to delivery [days]")]
    pack_size: Annotated[int, Field(ge=1, description="Units per pack; orders are whole packs [units]")] = 1
    shortage_cost: NonNegativeFloat | None = Field(
        default=None,
        description="Cost of a unit missing when needed (emergency purchase, delay) [currency]; "
        "by default ten times the unit cost",
    )
    max_stock: Annotated[int | None, Field(ge=1, description="Storage space for this item [units]")] = None

    @property
    def shortage_cost_per_unit(self) -> float:
        """Cost of a unit missing when needed [currency]."""
        return self.shortage_cost if self.shortage_cost is not None else 10.0 * self.unit_cost


class BillOfMaterials(_Frozen):
    """Units of each item used by one operation of a service."""

    service: Ident
    items: dict[str, PositiveFloat] = Field(description="Units used per case, by item id [units/case]")


class Supply(_Frozen):
    """Consumables, what each operation uses, and the stock policy."""

    service_level: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        default=0.95, description="Wanted probability of not running out in a day (cycle service level)"
    )
    order_cost: NonNegativeFloat = Field(
        default=0.0, description="Cost of placing one order of one item (handling, delivery) [currency]"
    )
    items: tuple[SupplyItem, ...] = ()
    bills_of_materials: tuple[BillOfMaterials, ...] = ()

    @model_validator(mode="after")
    def _check_items(self) -> Supply:
        problems = _duplicates("items", [item.id for item in self.items])
        item_ids = {item.id for item in self.items}
        first_bill: dict[str, int] = {}
        for i, bill in enumerate(self.bills_of_materials):
            if bill.service in first_bill:
                problems.append(
                    (
                        f"bills_of_materials[{i}].service",
                        f"service '{bill.service}' already has a bill "
                        f"(bills_of_materials[{first_bill[bill.service]}])",
                    )
                )
            first_bill.setdefault(bill.service, i)
        for i, bill in enumerate(self.bills_of_materials):
            for item_id in bill.items:
                if item_id not in item_ids:
                    problems.append(
                        (
                            f"bills_of_materials[{i}].items.{item_id}",
                            f"unknown item '{item_id}' (declared: {_ls(item_ids)})",
                        )
                    )
        if problems:
            raise ScenarioRuleError(problems)
        return self


# --------------------------------------------------------------------------------------------------
# The hospital
# --------------------------------------------------------------------------------------------------


class Hospital(_Frozen):
    """A whole hospital: the base of every scenario."""

    name: str
    timezone: str = "Europe/London"
    shifts: Annotated[tuple[Shift, ...], Field(min_length=1)]
    skills: Annotated[tuple[Skill, ...], Field(min_length=1)]
    units: Annotated[tuple[Unit, ...], Field(min_length=1)]
    contracts: Annotated[tuple[Contract, ...], Field(min_length=1)]
    staff_pools: tuple[StaffPool, ...] = ()
    theatres: tuple[Theatre, ...] = ()
    services: Annotated[tuple[Service, ...], Field(min_length=1)]
    ed: EmergencyDepartment
    seasonality: Seasonality = Seasonality()
    staffing: Staffing = Staffing()
    costs: Costs
    policies: Policies
    supply: Supply | None = Field(default=None, description="Consumables linked to the case mix (optional)")

    # ---- look-ups -------------------------------------------------------------------------------
    def unit(self, unit_id: str) -> Unit:
        """The unit with this id."""
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    def service(self, service_id: str) -> Service:
        """The service with this id."""
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    @property
    def total_beds(self) -> int:
        """Beds across inpatient units (the ED's trolleys and PACU bays excluded)."""
        return sum(u.beds for u in self.units if u.kind not in (UnitKind.ED, UnitKind.PACU))

    # ---- cross-field rules ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _check_references(self) -> Hospital:
        problems: list[tuple[str, str]] = []
        problems += _duplicates("shifts", [s.id for s in self.shifts])
        problems += _duplicates("skills", [s.id for s in self.skills])
        problems += _duplicates("units", [u.id for u in self.units])
        problems += _duplicates("contracts", [c.id for c in self.contracts])
        problems += _duplicates("staff_pools", [p.id for p in self.staff_pools])
        problems += _duplicates("theatres", [t.id for t in self.theatres])
        problems += _duplicates("services", [s.id for s in self.services])
        problems += _shift_coverage(self.shifts)

        shift_ids = {s.id for s in self.shifts}
        skill_ids = {s.id for s in self.skills}
        unit_ids = {u.id for u in self.units}
        contract_ids = {c.id for c in self.contracts}
        service_ids = {s.id for s in self.services}

        for i, unit in enumerate(self.units):
            where = f"units[{i}]"
            if unit.skill not in skill_ids:
                problems.append(
                    (f"{where}.skill", f"unknown skill '{unit.skill}' (declared: {_ls(skill_ids)})")
                )
            problems += _per_shift_table(f"{where}.patients_per_nurse", unit.patients_per_nurse, shift_ids)
            for j, service_id in enumerate(unit.services):
                if service_id not in service_ids:
                    problems.append((f"{where}.services[{j}]", f"unknown service '{service_id}'"))

        for i, contract in enumerate(self.contracts):
            for shift_id in contract.max_shifts_per_week:
                if shift_id not in shift_ids:
                    problems.append(
                        (f"contracts[{i}].max_shifts_per_week.{shift_id}", f"unknown shift '{shift_id}'")
                    )

        for i, pool in enumerate(self.staff_pools):
            where = f"staff_pools[{i}]"
            if pool.contract not in contract_ids:
                problems.append((f"{where}.contract", f"unknown contract '{pool.contract}'"))
            for j, skill_id in enumerate(pool.skills):
                if skill_id not in skill_ids:
                    problems.append((f"{where}.skills[{j}]", f"unknown skill '{skill_id}'"))
            for j, unit_id in enumerate(pool.units):
                if unit_id not in unit_ids:
                    problems.append((f"{where}.units[{j}]", f"unknown unit '{unit_id}'"))
            problems += _per_shift_table(f"{where}.establishment", pool.establishment, shift_ids)
            for shift_id, on_duty in pool.establishment.items():
                if on_duty > pool.headcount:
                    problems.append(
                        (
                            f"{where}.establishment.{shift_id}",
                            f"{on_duty} nurses on duty exceeds the pool's headcount {pool.headcount}",
                        )
                    )

        for i, theatre in enumerate(self.theatres):
            for day in WEEKDAYS:
                session = getattr(theatre.sessions, day)
                if session is not None and session.service is not None and session.service not in service_ids:
                    problems.append(
                        (f"theatres[{i}].sessions.{day}.service", f"unknown service '{session.service}'")
                    )

        for i, service in enumerate(self.services):
            where = f"services[{i}]"
            problems += _check_pathways(f"{where}.pathways", service.pathways, unit_ids)
            if service.surgery is not None:
                problems += _check_pathways(
                    f"{where}.surgery.elective_pathways", service.surgery.elective_pathways, unit_ids
                )
                if service.surgery.elective_cases_per_week > 0 and not any(
                    (s := theatre.sessions.on(d)) is not None and s.service == service.id
                    for theatre in self.theatres
                    for d in range(7)
                ):
                    problems.append(
                        (
                            f"{where}.surgery.elective_cases_per_week",
                            f"service '{service.id}' has elective cases but no theatre session is "
                            "allocated to it",
                        )
                    )
            if service.emergency_share > 0 and not service.pathways:
                problems.append((f"{where}.pathways", "a service with emergency_share > 0 needs a pathway"))
        if sum(s.emergency_share for s in self.services) <= 0:
            problems.append(("services", "at least one service needs emergency_share > 0"))

        if self.ed.unit not in unit_ids:
            problems.append(("ed.unit", f"unknown unit '{self.ed.unit}'"))
        elif self.unit(self.ed.unit).kind != UnitKind.ED:
            problems.append(("ed.unit", f"unit '{self.ed.unit}' is not of kind 'ed'"))
        share = sum(t.share for t in self.ed.triage)
        if abs(share - 1.0) > 1e-6:
            problems.append(("ed.triage", f"triage shares add up to {share:g}, not 1"))
        problems += _duplicates("ed.triage", [str(t.category) for t in self.ed.triage])
        if sum(self.ed.hourly_profile) <= 0:
            problems.append(("ed.hourly_profile", "all weights are zero"))
        if sum(self.ed.weekday_profile) <= 0:
            problems.append(("ed.weekday_profile", "all weights are zero"))
        if sum(self.policies.discharge_hourly_profile) <= 0:
            problems.append(("policies.discharge_hourly_profile", "all weights are zero"))
        if self.supply is not None:
            for i, bill in enumerate(self.supply.bills_of_materials):
                if bill.service not in service_ids:
                    problems.append(
                        (f"supply.bills_of_materials[{i}].service", f"unknown service '{bill.service}'")
                    )
                elif self.service(bill.service).surgery is None:
                    problems.append(
                        (
                            f"supply.bills_of_materials[{i}].service",
                            f"service '{bill.service}' has no surgery section: it does no operations",
                        )
                    )

        for k, (before, after) in enumerate(self.staffing.forbidden_successions):
            for part, shift_id in (("0", before), ("1", after)):
                if shift_id not in shift_ids:
                    problems.append(
                        (f"staffing.forbidden_successions[{k}][{part}]", f"unknown shift '{shift_id}'")
                    )
        for band in self.staffing.acuity_weights:
            if band not in ("low", "low_medium", "medium", "high"):
                problems.append(
                    (f"staffing.acuity_weights.{band}", "unknown acuity band (low, low_medium, medium, high)")
                )
        if problems:
            raise ScenarioRuleError(problems)
        return self


def _ls(ids: set[str]) -> str:
    return ", ".join(sorted(ids))


def _duplicates(where: str, ids: list[str]) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, ident in enumerate(ids):
        if ident in seen:
            problems.append((f"{where}[{i}].id", f"duplicate id '{ident}' (first at {where}[{seen[ident]}])"))
        else:
            seen[ident] = i
    return problems


def _per_shift_table(where: str, table: Mapping[str, object], shift_ids: set[str]) -> list[tuple[str, str]]:
    problems = [
        (f"{where}.{key}", f"unknown shift '{key}' (declared: {_ls(shift_ids)})")
        for key in table
        if key not in shift_ids
    ]
    missing = sorted(shift_ids - set(table))
    if missing:
        problems.append((where, f"no value for shift(s) {', '.join(missing)}"))
    return problems


def _fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _shift_coverage(shifts: tuple[Shift, ...]) -> list[tuple[str, str]]:
    """Shifts must tile the day: no minute covered twice, none left uncovered."""
    owner: list[int | None] = [None] * MINUTES_PER_DAY
    problems: list[tuple[str, str]] = []
    reported: set[tuple[int, int]] = set()
    for i, shift in enumerate(shifts):
        for minute in shift.minutes_covered():
            other = owner[minute]
            if other is not None and other != i:
                if (other, i) not in reported:
                    reported.add((other, i))
                    problems.append(
                        (
                            f"shifts[{i}]",
                            f"shift '{shift.id}' ({shift.start}–{shift.end}) overlaps shift "
                            f"'{shifts[other].id}' ({shifts[other].start}–{shifts[other].end}) "
                            f"from {_fmt_minute(minute)}",
                        )
                    )
            else:
                owner[minute] = i
    gaps: list[tuple[int, int]] = []
    minute = 0
    while minute < MINUTES_PER_DAY:
        if owner[minute] is None:
            start = minute
            while minute < MINUTES_PER_DAY and owner[minute] is None:
                minute += 1
            gaps.append((start, minute))
        minute += 1
    if gaps:
        text = ", ".join(f"{_fmt_minute(a)}–{_fmt_minute(b % MINUTES_PER_DAY)}" for a, b in gaps)
        problems.append(("shifts", f"the shift pattern leaves hours uncovered: {text}"))
    return problems


def _check_pathways(where: str, pathways: tuple[Pathway, ...], unit_ids: set[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for p, pathway in enumerate(pathways):
        for s, step in enumerate(pathway.steps):
            for u, unit_id in enumerate(step.units):
                if unit_id not in unit_ids:
                    problems.append((f"{where}[{p}].steps[{s}].units[{u}]", f"unknown unit '{unit_id}'"))
    if pathways:
        total = sum(p.probability for p in pathways)
        if abs(total - 1.0) > 1e-6:
            problems.append((where, f"pathway probabilities add up to {total:g}, not 1"))
    return problems


# --------------------------------------------------------------------------------------------------
# Scenario overrides
# --------------------------------------------------------------------------------------------------


class _Dated(_Frozen):
    from_day: Annotated[int, Field(ge=0, description="First day it applies, day 0 = the run's start")] = 0
    to_day: Annotated[int | None, Field(gt=0, description="First day it no longer applies (exclusive)")] = (
        None
    )

    def active_on(self, day: int) -> bool:
        """Whether the override applies on a day of the run."""
        return day >= self.from_day and (self.to_day is None or day < self.to_day)

    @model_validator(mode="after")
    def _period_ordered(self) -> _Dated:
        if self.to_day is not None and self.to_day <= self.from_day:
            raise ScenarioRuleError(
                [("to_day", f"to_day {self.to_day} is not after from_day {self.from_day}")]
            )
        return self


class BedsOverride(_Dated):
    """Open (positive) or close (negative) beds in a unit for a period."""

    kind: Literal["beds"]
    unit: Ident
    change: int = Field(description="Beds added (positive) or closed (negative) [count]")


class ArrivalsOverride(_Dated):
    """Scale arrivals for a period: the ED's attendances or one service's emergency/elective demand."""

    kind: Literal["arrivals"]
    service: Ident | Literal["ed"] = Field(description="A service id, or 'ed' for all ED attendances")
    factor: Annotated[float, Field(ge=0, le=10)]


class NursesOverride(_Dated):
    """Add (positive) or remove (negative) nurses on duty from a staff pool's shift."""

    kind: Literal["nurses"]
    staff_pool: Ident
    shift: Ident
    change: int


class TheatreBlockOverride(_Dated):
    """Re-allocate (or close, with ``close = true``) a theatre's session on a weekday."""

    kind: Literal["theatre_block"]
    theatre: Ident
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    service: Ident | None = None
    close: bool = False
    start: ClockTime | None = None
    end: ClockTime | None = None


Override = Annotated[
    BedsOverride | ArrivalsOverride | NursesOverride | TheatreBlockOverride, Field(discriminator="kind")
]
"""A dated change to the base hospital, chosen by its ``kind`` key."""

OVERRIDE_KINDS: tuple[str, ...] = ("beds", "arrivals", "nurses", "theatre_block")


class Scenario(_Frozen):
    """A hospital plus the dated changes of a what-if."""

    name: str
    description: str = ""
    horizon_days: Annotated[int, Field(ge=1, le=366)] = 28
    hospital: Hospital
    overrides: tuple[Override, ...] = ()

    def digest(self) -> str:
        """A stable hash of the scenario's content (cache key, version identity)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @model_validator(mode="after")
    def _check_overrides(self) -> Scenario:
        hospital = self.hospital
        unit_ids = {u.id for u in hospital.units}
        service_ids = {s.id for s in hospital.services}
        shift_ids = {s.id for s in hospital.shifts}
        pools = {p.id: p for p in hospital.staff_pools}
        theatres = {t.id: t for t in hospital.theatres}
        problems: list[tuple[str, str]] = []
        for i, override in enumerate(self.overrides):
            where = f"overrides[{i}]"
            if isinstance(override, BedsOverride):
                if override.unit not in unit_ids:
                    problems.append(
                        (f"{where}.unit", f"unknown unit '{override.unit}' (declared: {_ls(unit_ids)})")
                    )
                elif hospital.unit(override.unit).beds + override.change < 0:
                    problems.append(
                        (
                            f"{where}.change",
                            f"closing {-override.change} beds leaves unit '{override.unit}' with fewer "
                            f"than zero (it has {hospital.unit(override.unit).beds})",
                        )
                    )
            elif isinstance(override, ArrivalsOverride):
                if override.service != "ed" and override.service not in service_ids:
                    problems.append((f"{where}.service", f"unknown service '{override.service}'"))
            elif isinstance(override, NursesOverride):
                if override.staff_pool not in pools:
                    problems.append((f"{where}.staff_pool", f"unknown staff pool '{override.staff_pool}'"))
                if override.shift not in shift_ids:
                    problems.append((f"{where}.shift", f"unknown shift '{override.shift}'"))
            else:
                if override.theatre not in theatres:
                    problems.append((f"{where}.theatre", f"unknown theatre '{override.theatre}'"))
                if override.service is not None and override.service not in service_ids:
                    problems.append((f"{where}.service", f"unknown service '{override.service}'"))
                if override.close and override.service is not None:
                    problems.append((f"{where}.close", "a closed session cannot also name a service"))
            if override.from_day >= self.horizon_days:
                problems.append(
                    (
                        f"{where}.from_day",
                        f"day {override.from_day} is beyond the horizon of {self.horizon_days} days",
                    )
                )
        if problems:
            raise ScenarioRuleError(problems)
        return self
