"""The surgical admission plan: waiting list, mapping to IHTC-2024, plan frame, checker's verdict."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from scenarios import load_scenario, scenario_path
from scenarios.schema import Scenario, mean_duration_hours
from scheduler.ihtc import SolveStatus, evaluate
from scheduler.surgery import (
    AGE_GROUPS,
    BEDS_NEEDED_SCHEMA,
    NURSE_ROSTER_SCHEMA,
    OCCUPANTS_SCHEMA,
    SURGICAL_PLAN_SCHEMA,
    THEATRE_USE_SCHEMA,
    WAITING_LIST_SCHEMA,
    PlanWeights,
    SurgicalPlan,
    WaitingListError,
    beds_needed,
    build_surgical_instance,
    check_waiting_list,
    elective_beds_by_ward,
    expected_emergency_census,
    generate_waiting_list,
    nurse_roster_from_assignments,
    plan_surgery,
    read_waiting_list,
    surgical_firms,
    surgical_wards,
    theatre_use,
)
from scheduler.surgery.instance import DAY_CASE_AREA, SurgicalInstance

MONDAY = date(2024, 4, 15)
DAYS = 5


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def waiting(baseline: Scenario) -> pl.DataFrame:
    return generate_waiting_list(baseline, MONDAY, DAYS, seed=3)


@pytest.fixture(scope="module")
def surgical(baseline: Scenario, waiting: pl.DataFrame) -> SurgicalInstance:
    return build_surgical_instance(baseline, waiting, MONDAY, DAYS)


@pytest.fixture(scope="module")
def solved(surgical: SurgicalInstance) -> SurgicalPlan:
    return plan_surgery(surgical, time_limit_s=3, workers=1, seed=0)


# --- the hospital as the planner sees it -------------------------------------------------------------------


def test_firms_hold_exactly_each_services_block_time(baseline: Scenario) -> None:
    firms = surgical_firms(baseline, MONDAY, 7)
    for day in range(7):
        weekday = (MONDAY + timedelta(days=day)).weekday()
        for service in ("general_surgery", "orthopaedics"):
            block = sum(
                s.minutes
                for t in baseline.hospital.theatres
                if not t.emergency and (s := t.sessions.on(weekday)) is not None and s.service == service
            )
            assert sum(f.minutes_by_day[day] for f in firms if f.service == service) == block
    # weekend: no elective session in the baseline
    assert all(f.minutes_by_day[5] == 0 and f.minutes_by_day[6] == 0 for f in firms)


def test_holidays_close_every_firm(baseline: Scenario) -> None:
    firms = surgical_firms(baseline, MONDAY, DAYS, holiday_days={2})
    assert all(f.minutes_by_day[2] == 0 for f in firms)
    assert any(f.minutes_by_day[1] > 0 for f in firms)


def test_emergency_census_follows_littles_law(baseline: Scenario) -> None:
    hospital = baseline.hospital
    admitted = hospital.ed.attendances_per_day * sum(
        t.share * t.admit_probability for t in hospital.ed.triage
    )
    share = hospital.service("general_surgery").emergency_share / sum(
        s.emergency_share for s in hospital.services
    )
    # general surgery's pathways name SURG-A and SURG-B together on their ward step
    by_hand = 0.0
    for pathway in hospital.service("general_surgery").pathways:
        ward_step = pathway.steps[-1]
        by_hand += pathway.probability * mean_duration_hours(ward_step.length_of_stay) / 24 / 2
    assert expected_emergency_census(baseline, "SURG-A") == pytest.approx(admitted * share * by_hand)
    assert expected_emergency_census(baseline, "SURG-C") == 0.0
    beds = elective_beds_by_ward(baseline)
    assert set(beds) == set(surgical_wards(baseline)) == {"SURG-A", "SURG-B", "SURG-C"}
    assert beds["SURG-A"] == 28 - math.ceil(expected_emergency_census(baseline, "SURG-A"))


# --- the waiting list --------------------------------------------------------------------------------------


def test_generated_list_has_its_schema_and_is_repeatable(baseline: Scenario, waiting: pl.DataFrame) -> None:
    assert dict(waiting.schema) == WAITING_LIST_SCHEMA
    assert waiting.equals(generate_waiting_list(baseline, MONDAY, DAYS, seed=3))
    assert not waiting.equals(generate_waiting_list(baseline, MONDAY, DAYS, seed=4))
    check_waiting_list(waiting, DAYS, surgical_firms(baseline, MONDAY, DAYS))
    for service in ("general_surgery", "orthopaedics"):
        rate = baseline.hospital.service(service).surgery.elective_cases_per_week  # type: ignore[union-attr]
        assert waiting.filter(pl.col("service") == service).height == round(rate * DAYS / 7 * 1.15)


def test_day_case_share_agrees_with_the_scenario(baseline: Scenario) -> None:
    share = baseline.hospital.service("orthopaedics").surgery.day_case_share  # type: ignore[union-attr]
    cases = pl.concat(
        generate_waiting_list(baseline, MONDAY, 14, seed=s).filter(pl.col("service") == "orthopaedics")
        for s in range(8)
    )
    n = cases.height
    observed = (cases["length_of_stay_days"] == 0).mean()
    half_width = 3.3 * math.sqrt(share * (1 - share) / n)  # 99.9 % binomial interval
    assert abs(observed - share) < half_width


def test_mandatory_cases_can_be_operated_in_their_window(baseline: Scenario, waiting: pl.DataFrame) -> None:
    firms = {f.id: f for f in surgical_firms(baseline, MONDAY, DAYS)}
    for case in waiting.filter(pl.col("mandatory")).iter_rows(named=True):
        window = range(case["earliest_day"], case["due_day"] + 1)
        assert any(firms[case["surgeon"]].minutes_by_day[d] >= case["duration_minutes"] for d in window)


@pytest.mark.parametrize(
    ("change", "row", "column", "words"),
    [
        ({"sex": "unknown"}, 0, "sex", "is not one of"),
        ({"age_group": "teen"}, 1, "age_group", "is not one of"),
        ({"surgeon": "cardiology@TH1"}, 2, "surgeon", "unknown surgical firm"),
        ({"duration_minutes": 0}, 3, "duration_minutes", "must be >= 1"),
        ({"earliest_day": 99}, 4, "earliest_day", "outside the plan's days"),
    ],
)
def test_bad_waiting_list_names_row_and_column(
    baseline: Scenario, waiting: pl.DataFrame, change: dict[str, object], row: int, column: str, words: str
) -> None:
    broken = (
        waiting.with_row_index("i")
        .with_columns(
            *(
                pl.when(pl.col("i") == row).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
                for name, value in change.items()
            )
        )
        .drop("i")
    )
    with pytest.raises(WaitingListError) as caught:
        check_waiting_list(broken, DAYS, surgical_firms(baseline, MONDAY, DAYS))
    assert (row, column) in [(r, c) for r, c, _ in caught.value.problems]
    assert words in str(caught.value)


def test_missing_column_and_mandatory_without_due_day_are_rejected(waiting: pl.DataFrame) -> None:
    with pytest.raises(WaitingListError, match=r"sex: column is missing"):
        check_waiting_list(waiting.drop("sex"), DAYS)
    optional = waiting.filter(~pl.col("mandatory")).head(1).with_columns(pl.lit(True).alias("mandatory"))
    with pytest.raises(WaitingListError, match=r"row 0 \(due_day\): a mandatory case needs a due day"):
        check_waiting_list(optional, DAYS)


# --- the IHTC instance -------------------------------------------------------------------------------------


def test_instance_offers_the_elective_beds_and_keeps_day_cases_off_the_wards(
    baseline: Scenario, surgical: SurgicalInstance, waiting: pl.DataFrame
) -> None:
    instance = surgical.instance
    bays = [r for r in instance.rooms if not r.id.startswith(DAY_CASE_AREA)]
    assert sum(r.capacity_beds for r in bays) == sum(elective_beds_by_ward(baseline).values())
    assert all(r.capacity_beds <= 4 for r in bays)
    bay_ids = {r.id for r in bays}
    by_id = instance.patient_by_id
    for case in waiting.iter_rows(named=True):
        patient = by_id[case["case_id"]]
        compatible = {r.id for r in instance.rooms} - set(patient.incompatible_room_ids)
        if case["length_of_stay_days"] == 0:
            assert compatible == {f"{DAY_CASE_AREA}/{case['sex']}/{case['age_group']}"}
        else:
            assert compatible == bay_ids
            assert patient.length_of_stay_days == case["length_of_stay_days"]
        assert patient.mandatory == case["mandatory"]
        assert patient.surgery_due_day == (case["due_day"] if case["mandatory"] else None)


def test_nurses_follow_the_pools_establishment(baseline: Scenario, surgical: SurgicalInstance) -> None:
    beds = elective_beds_by_ward(baseline)
    pool = next(p for p in baseline.hospital.staff_pools if p.id == "surgery_nurses")
    share = sum(beds[u] for u in pool.units) / sum(baseline.hospital.unit(u).beds for u in pool.units)
    for shift_id, funded in pool.establishment.items():
        ward_nurses = [
            n
            for n in surgical.instance.nurses
            if n.id.startswith(f"surgery_nurses/{shift_id}/") and any(w.day == 0 for w in n.working_shifts)
        ]
        assert len(ward_nurses) == math.ceil(funded * share)


def test_roster_and_occupants_are_used(baseline: Scenario, waiting: pl.DataFrame) -> None:
    roster = pl.DataFrame(
        [
            {"nurse": f"n{j}", "day": d, "shift": s.id}
            for j in range(3)
            for d in range(DAYS)
            for s in baseline.hospital.shifts
        ],
        schema=NURSE_ROSTER_SCHEMA,
    )
    occupants = pl.DataFrame(
        [
            {"patient_id": f"in{k}", "ward": "SURG-A", "sex": "male", "age_group": None, "remaining_days": 3}
            for k in range(10)
        ],
        schema=OCCUPANTS_SCHEMA,
    )
    surgical = build_surgical_instance(baseline, waiting, MONDAY, DAYS, roster=roster, occupants=occupants)
    ward_nurses = [n for n in surgical.instance.nurses if not n.id.startswith(DAY_CASE_AREA)]
    assert sorted(n.id for n in ward_nurses) == ["n0", "n1", "n2"]
    surg_a_beds = elective_beds_by_ward(baseline)["SURG-A"]
    assert len(surgical.instance.occupants) == surg_a_beds
    assert len(surgical.overflow_occupants) == 10 - surg_a_beds
    assert all(
        o.room_id.startswith("SURG-A/") and o.age_group == AGE_GROUPS[1] for o in surgical.instance.occupants
    )


# --- the plan ----------------------------------------------------------------------------------------------


def test_plan_is_feasible_by_the_independent_checker(
    surgical: SurgicalInstance, solved: SurgicalPlan
) -> None:
    assert solved.status is SolveStatus.FEASIBLE
    assert evaluate(surgical.instance, solved.admission_plan) == solved.evaluation
    assert solved.evaluation.feasible
    assert dict(solved.cases.schema) == SURGICAL_PLAN_SCHEMA
    assert solved.cases.height == surgical.waiting_list.height
    assert solved.planned.height > 0.7 * solved.cases.height


def test_planned_cases_keep_the_hospitals_rules(surgical: SurgicalInstance, solved: SurgicalPlan) -> None:
    """Recomputed from the frame alone: windows, block time, own theatres, bay beds and single-sex bays."""
    planned = solved.planned
    firms = {f.id: f for f in surgical.firms}
    for case in planned.iter_rows(named=True):
        last = case["due_day"] if case["mandatory"] else DAYS - 1
        assert case["earliest_day"] <= case["day"] <= last
        assert case["theatre"] == firms[case["surgeon"]].theatre
        assert case["delay_days"] == case["day"] - case["earliest_day"]
        assert case["day_case"] == (case["ward"] == DAY_CASE_AREA)
    minutes = planned.group_by("surgeon", "day").agg(pl.col("duration_minutes").sum())
    for surgeon, day, used in minutes.iter_rows():
        assert used <= firms[surgeon].minutes_by_day[day]
    sex = dict(surgical.waiting_list.select("case_id", "sex").iter_rows())
    capacity = {r.id: r.capacity_beds for r in surgical.instance.rooms}
    for day in range(DAYS):
        present = planned.filter(
            (pl.col("day") <= day)
            & (pl.col("day") + pl.max_horizontal("length_of_stay_days", pl.lit(1)) > day)
        )
        for room, group in present.group_by("room"):
            assert group.height <= capacity[room[0]]
            assert len({sex[c] for c in group["case_id"]}) == 1
    # sequences number each list 1..n
    for _, group in planned.group_by("day", "theatre"):
        assert sorted(group["sequence"]) == list(range(1, group.height + 1))


def test_case_costs_add_up_to_the_checkers_terms(surgical: SurgicalInstance, solved: SurgicalPlan) -> None:
    terms = solved.cost_by_term
    assert int(solved.cases["delay_cost"].sum()) == terms["admission_delay_days"]
    assert int(solved.cases["unscheduled_cost"].sum()) == terms["unscheduled_optional"]
    assert terms["surgeon_transfers"] == 0


def test_beds_and_theatre_use_summaries(surgical: SurgicalInstance, solved: SurgicalPlan) -> None:
    beds = beds_needed(surgical, solved.cases)
    use = theatre_use(surgical, solved.cases)
    assert dict(beds.schema) == BEDS_NEEDED_SCHEMA
    assert dict(use.schema) == THEATRE_USE_SCHEMA
    assert (beds["elective_patients"] <= beds["elective_beds"]).all()
    assert int(use["cases"].sum()) == solved.planned.height
    assert (use["planned_minutes"] <= use["session_minutes"]).all()
    inpatients_day0 = solved.planned.filter((pl.col("day") == 0) & ~pl.col("day_case")).height
    assert int(beds.filter(pl.col("day") == 0)["elective_patients"].sum()) == inpatients_day0


def test_an_easy_list_is_planned_whole_without_delay(baseline: Scenario) -> None:
    firm = surgical_firms(baseline, MONDAY, 3)[0]
    easy = pl.DataFrame(
        [
            {
                "case_id": f"c{k}",
                "service": firm.service,
                "surgeon": firm.id,
                "duration_minutes": 60,
                "length_of_stay_days": 2,
                "earliest_day": 0,
                "due_day": None,
                "mandatory": False,
                "age_group": "18_to_64",
                "sex": "female",
            }
            for k in range(3)
        ],
        schema=WAITING_LIST_SCHEMA,
    )
    surgical = build_surgical_instance(baseline, easy, MONDAY, 3, weights=PlanWeights(delay_day=50))
    plan = plan_surgery(surgical, time_limit_s=1, workers=1)
    assert plan.evaluation.feasible
    assert plan.planned.height == 3
    assert (plan.planned["day"] == 0).all()
    assert np.all(plan.planned["theatre"].to_numpy() == firm.theatre)


def test_generated_durations_follow_the_scenarios_lognormal(baseline: Scenario) -> None:
    """Durations are draws of ``surgery.duration`` rounded to 5 minutes: compare two quantiles with theory."""
    duration = baseline.hospital.service("orthopaedics").surgery.duration  # type: ignore[union-attr]
    minutes = pl.concat(
        generate_waiting_list(baseline, MONDAY, 14, seed=s).filter(pl.col("service") == "orthopaedics")
        for s in range(10)
    )["duration_minutes"].to_numpy()
    median = duration.median_hours * 60  # type: ignore[union-attr]
    sigma = duration.sigma  # type: ignore[union-attr]
    for threshold, upper_edge in ((median - 5, median - 2.5), (median + 30, median + 32.5)):
        expected = stats.norm.cdf(math.log(upper_edge / median) / sigma)
        observed = float(np.mean(minutes <= threshold))
        assert abs(observed - expected) < 3.3 * math.sqrt(expected * (1 - expected) / minutes.size)


# -- a real waiting list from a file, nurses from a roster --------------------------------------------------


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waiting.csv"
    path.write_text(text)
    return path


def test_a_waiting_list_file_is_read_with_dates_defaults_and_the_busiest_firm(
    baseline: Scenario, tmp_path: Path
) -> None:
    firms = surgical_firms(baseline, MONDAY, DAYS)
    service = next(f.service for f in firms if f.total_minutes > 0)
    theirs = [f for f in firms if f.service == service]
    busiest = max(theirs, key=lambda f: (f.total_minutes, [-ord(c) for c in f.id])).id
    path = _csv(
        tmp_path,
        "Case_ID,service,surgeon,duration_minutes,length_of_stay_days,earliest_date,due_day,mandatory,"
        "age_group,sex,notes\n"
        f"A1,{service},{theirs[0].id},90,2,2024-04-01,3,yes,65_and_over,Female,ignored\n"
        f"A2,{service},,45,0,,,,18_to_64,male,\n",
    )
    cases = read_waiting_list(path, baseline, MONDAY, DAYS)
    assert dict(cases.schema) == WAITING_LIST_SCHEMA
    first, second = cases.to_dicts()
    assert (first["earliest_day"], first["due_day"], first["mandatory"], first["sex"]) == (
        0,
        3,
        True,
        "female",
    )
    assert second["surgeon"] == busiest and second["earliest_day"] == 0 and second["mandatory"] is False
    assert second["due_day"] is None
    build_surgical_instance(baseline, cases, MONDAY, DAYS)  # usable as it is


def test_a_bad_waiting_list_file_names_each_line_and_column(baseline: Scenario, tmp_path: Path) -> None:
    firm = next(f for f in surgical_firms(baseline, MONDAY, DAYS) if f.total_minutes > 0)
    header = (
        "case_id,service,surgeon,duration_minutes,length_of_stay_days,earliest_day,due_day,mandatory,"
        "age_group,sex\n"
    )
    path = _csv(
        tmp_path,
        header
        + f"B1,{firm.service},{firm.id},ninety,2,0,,no,18_to_64,female\n"
        + f"B2,{firm.service},{firm.id},60,1,0,,maybe,18_to_64,female\n"
        + f"B3,{firm.service},{firm.id},60,1,4,2,yes,teen,female\n",
    )
    with pytest.raises(WaitingListError) as raised:
        read_waiting_list(path, baseline, MONDAY, DAYS)
    message = str(raised.value)
    assert message.startswith("waiting list waiting.csv rejected:")
    assert "line 2 (duration_minutes): 'ninety' is not a whole number" in message
    assert "line 3 (mandatory): 'maybe' is not true or false" in message
    # Rules checked after reading are numbered by the file's lines too.
    fixed = path.read_text().replace("ninety", "90").replace("maybe", "no")
    path.write_text(fixed)
    with pytest.raises(WaitingListError) as again:
        read_waiting_list(path, baseline, MONDAY, DAYS)
    assert {(row, column) for row, column, _ in again.value.problems} == {(4, "due_day"), (4, "age_group")}
    assert "line 4 (due_day): 2 is before earliest_day 4" in str(again.value)
    missing = _csv(tmp_path, "case_id,service\nC1,x\n")
    with pytest.raises(WaitingListError, match=r"duration_minutes: column is missing"):
        read_waiting_list(missing, baseline, MONDAY, DAYS)


def test_rostered_nurses_on_the_surgical_wards_give_the_elective_bays_their_share(baseline: Scenario) -> None:
    beds = elective_beds_by_ward(baseline)
    ward = next(w for w, n in beds.items() if n > 0)
    share = beds[ward] / baseline.hospital.unit(ward).beds
    rows = [
        {"nurse_id": f"n{k:02d}", "day": MONDAY + timedelta(days=d), "shift": "early", "unit_id": ward}
        for k in range(10)
        for d in (0, 1)
    ]
    rows.append({"nurse_id": "m01", "day": MONDAY, "shift": "early", "unit_id": "MED-A"})
    rows.append({"nurse_id": "late", "day": MONDAY + timedelta(days=DAYS), "shift": "early", "unit_id": ward})
    roster, covered = nurse_roster_from_assignments(baseline, pl.DataFrame(rows), MONDAY, DAYS, beds)
    assert dict(roster.schema) == NURSE_ROSTER_SCHEMA
    assert covered == frozenset({0, 1})  # the row after the plan's days is left out
    per_day = roster.group_by("day").len().sort("day")
    assert per_day.get_column("len").to_list() == [math.ceil(10 * share - 1e-9)] * 2
    assert "m01" not in roster.get_column("nurse").to_list()  # a medical ward's nurse
    instance = build_surgical_instance(
        baseline, generate_waiting_list(baseline, MONDAY, DAYS, seed=3), MONDAY, DAYS, roster=roster
    )
    assert {n.id for n in instance.instance.nurses} >= set(roster.get_column("nurse").to_list())
