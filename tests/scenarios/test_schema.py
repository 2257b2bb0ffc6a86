"""The shipped scenarios load, stay frozen, and their overrides apply on the right days."""

from __future__ import annotations

import pydantic
import pytest

from scenarios import Scenario, load_scenario, scenario_path, shipped_scenarios
from scenarios.timeline import arrivals_factor, beds_on, nurses_on_duty, theatre_session_on


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(scenario_path("baseline"))


def test_every_shipped_scenario_is_valid() -> None:
    names = {path.stem for path in shipped_scenarios()}
    assert {"baseline", "winter_surge", "ward_closure", "extra_icu_beds", "theatre_block_change"} <= names
    for path in shipped_scenarios():
        scenario = load_scenario(path)
        assert scenario.name


def test_baseline_is_a_general_hospital_of_about_500_beds(baseline: Scenario) -> None:
    hospital = baseline.hospital
    assert 450 <= hospital.total_beds <= 550
    kinds = {unit.kind.value for unit in hospital.units}
    assert {"ed", "ward", "icu", "step_down", "pacu"} <= kinds
    assert len(hospital.theatres) >= 6
    # shifts tile the day exactly
    assert sum(shift.duration_minutes for shift in hospital.shifts) == 24 * 60


def test_scenarios_are_frozen(baseline: Scenario) -> None:
    with pytest.raises(pydantic.ValidationError):
        baseline.hospital.units[0].beds = 3  # type: ignore[misc]


def test_digest_is_stable_and_sensitive(baseline: Scenario) -> None:
    again = load_scenario(scenario_path("baseline"))
    assert again.digest() == baseline.digest()
    assert load_scenario(scenario_path("ward_closure")).digest() != baseline.digest()


def test_ward_closure_closes_beds_only_in_its_period(baseline: Scenario) -> None:
    closure = load_scenario(scenario_path("ward_closure"))
    assert beds_on(closure, "MED-C", 6) == 30
    assert beds_on(closure, "MED-C", 7) == 0
    assert beds_on(closure, "MED-C", 20) == 0
    assert beds_on(closure, "MED-C", 21) == 30
    assert beds_on(baseline, "MED-C", 10) == 30


def test_winter_surge_scales_arrivals_in_its_period() -> None:
    surge = load_scenario(scenario_path("winter_surge"))
    assert arrivals_factor(surge, "ed", 2) == 1.0
    assert arrivals_factor(surge, "ed", 3) == pytest.approx(1.15)
    assert arrivals_factor(surge, "respiratory", 10) == pytest.approx(1.4)
    assert arrivals_factor(surge, "cardiology", 10) == 1.0
    assert arrivals_factor(surge, "ed", 24) == 1.0


def test_extra_icu_beds_and_nurses(baseline: Scenario) -> None:
    extra = load_scenario(scenario_path("extra_icu_beds"))
    assert beds_on(extra, "ICU", 0) == beds_on(baseline, "ICU", 0) + 4
    for shift in ("early", "late", "night"):
        assert nurses_on_duty(extra, "critical_care_nurses", shift, 5) == (
            nurses_on_duty(baseline, "critical_care_nurses", shift, 5) + 4
        )


def test_theatre_block_change(baseline: Scenario) -> None:
    change = load_scenario(scenario_path("theatre_block_change"))
    monday, friday = 0, 4
    before = theatre_session_on(baseline, "TH3", day=0, weekday=monday)
    after = theatre_session_on(change, "TH3", day=0, weekday=monday)
    assert before is not None and before.service == "general_surgery"
    assert after is not None and after.service == "orthopaedics"
    assert (after.start, after.end) == (before.start, before.end)
    assert theatre_session_on(change, "TH7", day=4, weekday=friday) is None
    assert theatre_session_on(baseline, "TH7", day=4, weekday=friday) is not None
