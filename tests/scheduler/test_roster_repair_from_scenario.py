"""Repair of the hospital's roster after a sick call: the team rebuilt from the plan, the past fixed."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from scenarios import Scenario, load_scenario, scenario_path
from scheduler.roster import Roster, RosterInputError, check_roster
from scheduler.roster.from_scenario import (
    HospitalRoster,
    RosterSettings,
    repair_team_roster,
    roster_from_scenario,
)
from scheduler.staffing import STAFFING_DEMAND_SCHEMA

FIRST_DAY = date(2024, 4, 15)  # a Monday
DAYS = 14
FAST = RosterSettings(deterministic_seconds_per_nurse=0.1, max_deterministic_seconds=3.0, workers=2)


@pytest.fixture(scope="module")
def ward() -> Scenario:
    """One AMU team of 14 nurses."""
    baseline = load_scenario(scenario_path("baseline"))
    hospital = baseline.hospital
    amu = next(p for p in hospital.staff_pools if p.id == "amu_nurses")
    pools = (amu.model_copy(update={"headcount": 14, "units": ("AMU",)}),)
    return baseline.model_copy(update={"hospital": hospital.model_copy(update={"staff_pools": pools})})


@pytest.fixture(scope="module")
def demand(ward: Scenario) -> pl.DataFrame:
    rows = [
        {
            "unit_id": "AMU",
            "day": FIRST_DAY + timedelta(days=d),
            "shift": shift,
            "skill": "rn",
            "nurses": nurses,
            "minimum_nurses": 0,
            "quantile": 0.8,
            "census": 0.0,
            "workload": 0.0,
            "hours": 8,
            "basis": "forecast",
        }
        for d in range(DAYS)
        for shift, nurses in (("early", 3), ("late", 3), ("night", 2))
    ]
    return pl.DataFrame(rows, schema=STAFFING_DEMAND_SCHEMA)


@pytest.fixture(scope="module")
def published(ward: Scenario, demand: pl.DataFrame) -> HospitalRoster:
    return roster_from_scenario(ward, demand, first_day=FIRST_DAY, days=DAYS, settings=FAST)


def _rows(frame: pl.DataFrame) -> list[dict[str, object]]:
    return frame.to_dicts()


def _sick_nurse(published: HospitalRoster, day: int) -> str:
    """The first nurse (by id) who works on ``day`` and the day after."""
    worked = published.assignments_frame()
    on = {
        d: set(worked.filter(pl.col("day") == FIRST_DAY + timedelta(days=d)).get_column("nurse_id"))
        for d in (day, day + 1)
    }
    return sorted(on[day] & on[day + 1])[0]


def test_the_past_is_kept_the_absent_nurse_is_off_and_the_checker_agrees(
    ward: Scenario, demand: pl.DataFrame, published: HospitalRoster
) -> None:
    nurse = _sick_nurse(published, 5)
    repair = repair_team_roster(
        ward,
        demand,
        first_day=FIRST_DAY,
        days=DAYS,
        assignments=_rows(published.assignments_frame()),
        agency=_rows(published.agency_frame()),
        nurse_id=nurse,
        absent_days=[5, 6],
        from_day=5,
        settings=FAST,
    )
    repaired = repair.solution.roster
    assert repaired is not None
    before = {(a.nurse_id, a.day): a for a in repair.published.assignments}
    after = {(a.nurse_id, a.day): a for a in repaired.assignments}
    assert {k: v for k, v in before.items() if k[1] < 5} == {k: v for k, v in after.items() if k[1] < 5}
    assert [b for b in repair.published.agency if b.day < 5] == [b for b in repaired.agency if b.day < 5]
    assert (nurse, 5) not in after and (nurse, 6) not in after
    check = check_roster(repair.problem, repaired)
    assert check.feasible, check.violations[:3]
    # Every change is on or after day 5, and the list of changes is exactly the cells that differ.
    differing = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert {(c.nurse_id, c.day) for c in repair.changes} == differing
    assert all(day >= 5 for _, day in differing)
    # No worse than the obvious repair (her two shifts dropped, the gap left to the cover penalty): with a
    # change costing half a nurse short, the search fills gaps rather than leaving them.
    obvious = Roster(
        tuple(a for a in repair.published.assignments if not (a.nurse_id == nurse and a.day in (5, 6))),
        repair.published.agency,
    )
    obvious_check = check_roster(repair.problem, obvious)
    weight = FAST.under_cover_weight // 2
    assert repair.solution.objective is not None
    if obvious_check.feasible:
        assert repair.solution.objective <= obvious_check.objective + weight * 2


def test_the_change_weight_trades_changes_against_cover(
    ward: Scenario, demand: pl.DataFrame, published: HospitalRoster
) -> None:
    nurse = _sick_nurse(published, 8)
    common = {
        "first_day": FIRST_DAY,
        "days": DAYS,
        "assignments": _rows(published.assignments_frame()),
        "agency": _rows(published.agency_frame()),
        "nurse_id": nurse,
        "absent_days": [8, 9],
        "from_day": 8,
        "settings": FAST,
    }
    frozen = repair_team_roster(ward, demand, change_weight=100_000, **common)  # type: ignore[arg-type]
    assert frozen.solution.roster is not None
    # A change dearer than any nurse short: only the absent nurse's own shifts change.
    assert {c.nurse_id for c in frozen.changes} == {nurse}
    assert len(frozen.changes) == 2


def test_bad_requests_are_refused_with_the_field(
    ward: Scenario, demand: pl.DataFrame, published: HospitalRoster
) -> None:
    common = {
        "first_day": FIRST_DAY,
        "days": DAYS,
        "assignments": _rows(published.assignments_frame()),
        "settings": FAST,
    }
    with pytest.raises(RosterInputError, match="no nurse 'nobody'"):
        repair_team_roster(ward, demand, nurse_id="nobody", absent_days=[3], from_day=3, **common)  # type: ignore[arg-type]
    with pytest.raises(RosterInputError, match="absent days"):
        repair_team_roster(ward, demand, nurse_id="amu_nurses-001", absent_days=[2], from_day=3, **common)  # type: ignore[arg-type]
    with pytest.raises(RosterInputError, match="from_day"):
        repair_team_roster(
            ward,
            demand,
            nurse_id="amu_nurses-001",
            absent_days=[3],
            from_day=DAYS,
            **common,  # type: ignore[arg-type]
        )
