"""Every rejection of a bad scenario file names the file, the key path and the reason."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from scenarios import ScenarioError, load_scenario, scenario_path

BASELINE: dict[str, Any] = tomllib.loads(scenario_path("baseline").read_text())

Mutation = Callable[[dict[str, Any]], None]


def _unit(doc: dict[str, Any], unit_id: str) -> dict[str, Any]:
    return next(u for u in doc["units"] if u["id"] == unit_id)


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path; list indices as integers (``units.2.beds``)."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return mutate


def _add_override(**override: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        doc.setdefault("overrides", []).append(override)

    return mutate


def _rename_key(path: str, new_name: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[new_name] = node.pop(last)

    return mutate


def _duplicate_unit(doc: dict[str, Any]) -> None:
    doc["units"].append(copy.deepcopy(doc["units"][2]))


# (case id, mutation, expected key path, words the reason must contain)
CASES: list[tuple[str, Mutation, str, str]] = [
    ("unknown top-level key", _set("bedz", 10), "bedz", "unknown key"),
    (
        "misspelt nested key",
        _rename_key("ed.attendances_per_day", "attendence_per_day"),
        "ed.attendence_per_day",
        "unknown key",
    ),
    ("wrong type", _set("units.0.beds", "sixty"), "units[0].beds", "valid integer"),
    ("negative beds", _set("units.3.beds", -4), "units[3].beds", "greater than or equal to 0"),
    (
        "nurse ratio of zero",
        _set("units.2.patients_per_nurse.night", 0),
        "units[2].patients_per_nurse.night",
        "greater than 0",
    ),
    (
        "ratio missing a shift",
        _delete("units.4.patients_per_nurse.late"),
        "units[4].patients_per_nurse",
        "no value for shift(s) late",
    ),
    (
        "ratio for an unknown shift",
        _set("units.4.patients_per_nurse.twilight", 5),
        "units[4].patients_per_nurse.twilight",
        "unknown shift 'twilight'",
    ),
    ("overlapping shifts", _set("shifts.0.end", "16:00"), "shifts[1]", "overlaps shift 'early'"),
    ("hours uncovered", _set("shifts.2.start", "23:30"), "shifts", "uncovered: 23:00–23:30"),
    ("clock time out of range", _set("shifts.1.start", "25:00"), "shifts[1].start", "HH:MM"),
    (
        "override names a missing unit",
        _add_override(kind="beds", unit="MED-Z", change=-3),
        "overrides[0].unit",
        "unknown unit 'MED-Z'",
    ),
    ("override of an unknown kind", _add_override(kind="teleport"), "overrides[0].kind", "teleport"),
    (
        "override period backwards",
        _add_override(kind="arrivals", service="ed", factor=1.2, from_day=5, to_day=2),
        "overrides[0].to_day",
        "not after from_day 5",
    ),
    (
        "override names a missing service",
        _add_override(kind="arrivals", service="dermatology", factor=2.0),
        "overrides[0].service",
        "unknown service 'dermatology'",
    ),
    (
        "override names a missing shift",
        _add_override(kind="nurses", staff_pool="medicine_nurses", shift="twilight", change=-1),
        "overrides[0].shift",
        "unknown shift 'twilight'",
    ),
    (
        "override closes more beds than exist",
        _add_override(kind="beds", unit="ICU", change=-20),
        "overrides[0].change",
        "fewer than zero",
    ),
    (
        "override with a misspelt key",
        _add_override(kind="beds", unit="ICU", chnage=2),
        "overrides[0].chnage",
        "unknown key",
    ),
    ("duplicate unit id", _duplicate_unit, "units[20].id", "duplicate id 'MED-A'"),
    (
        "pathway through a missing unit",
        _set("services.2.pathways.0.steps.0.units", ["CCU"]),
        "services[2].pathways[0].steps[0].units[0]",
        "unknown unit 'CCU'",
    ),
    (
        "pathway probabilities not adding to one",
        _set("services.3.pathways.0.probability", 0.5),
        "services[3].pathways",
        "add up to 0.5",
    ),
    (
        "unknown distribution",
        _set("services.3.pathways.0.steps.0.length_of_stay.distribution", "weibull"),
        "services[3].pathways[0].steps[0].length_of_stay.distribution",
        "weibull",
    ),
    ("triage shares not adding to one", _set("ed.triage.0.share", 0.2), "ed.triage", "not 1"),
    ("ED pointing at a ward", _set("ed.unit", "MED-A"), "ed.unit", "not of kind 'ed'"),
    (
        "hourly profile of the wrong length",
        _set("ed.hourly_profile", [1.0] * 23),
        "ed.hourly_profile",
        "at least 24",
    ),
    ("missing required table", _delete("costs"), "costs", "required key is missing"),
    (
        "theatre session ending before it starts",
        _set("theatres.0.sessions.mon.end", "07:00"),
        "theatres[0].sessions.mon.end",
        "not after its start",
    ),
    (
        "theatre on an unknown weekday",
        _set("theatres.0.sessions.funday", {"start": "08:00", "end": "12:00"}),
        "theatres[0].sessions.funday",
        "unknown key",
    ),
    (
        "elective work without any session",
        _set("theatres", []),
        "services[5].surgery.elective_cases_per_week",
        "no theatre session",
    ),
    (
        "establishment above headcount",
        _set("staff_pools.0.headcount", 5),
        "staff_pools[0].establishment.early",
        "exceeds the pool's headcount 5",
    ),
    (
        "contract minimum above maximum",
        _set("contracts.0.min_minutes_per_week", 3000),
        "contracts[0].min_minutes_per_week",
        "larger than max_minutes_per_week",
    ),
    (
        "staff pool on an unknown contract",
        _set("staff_pools.1.contract", "zero_hours"),
        "staff_pools[1].contract",
        "unknown contract 'zero_hours'",
    ),
    (
        "forbidden succession with an unknown shift",
        _set("staffing.forbidden_successions", [["night", "dawn"]]),
        "staffing.forbidden_successions[0][1]",
        "unknown shift 'dawn'",
    ),
    (
        "probability above one",
        _set("ed.triage.1.admit_probability", 1.5),
        "ed.triage[1].admit_probability",
        "less than or equal to 1",
    ),
    (
        "scenario header missing its name",
        _delete("scenario.name"),
        "scenario.name",
        "required key is missing",
    ),
]


@pytest.mark.parametrize(("mutation", "path", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_scenario_names_file_path_and_reason(
    tmp_path: Path, mutation: Mutation, path: str, reason: str
) -> None:
    document = copy.deepcopy(BASELINE)
    mutation(document)
    file = tmp_path / "bad.toml"
    file.write_bytes(tomli_w.dumps(document).encode())

    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)

    problems = caught.value.problems
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}; got {[str(p) for p in problems]}"
    assert any(reason in p.reason for p in matching), [p.reason for p in matching]
    assert all(p.file == str(file) for p in problems)
    assert f"{file}: {path}: " in str(caught.value)


def test_at_least_fifteen_kinds_of_bad_input_are_covered() -> None:
    assert len(CASES) >= 15


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = scenario_path("baseline").read_text().splitlines()
    broken_line = next(i for i, line in enumerate(text) if line.startswith("beds = 60"))
    text[broken_line] = "beds = = 60"
    file = tmp_path / "broken.toml"
    file.write_text("\n".join(text))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)

    message = str(caught.value)
    assert str(file) in message
    assert f"line {broken_line + 1}" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nowhere\.toml: file not found"):
        load_scenario(tmp_path / "nowhere.toml")


def test_whatif_on_a_missing_base_names_the_base(tmp_path: Path) -> None:
    file = tmp_path / "whatif.toml"
    file.write_text('[scenario]\nname = "x"\nbase = "no_such_base.toml"\n')
    with pytest.raises(ScenarioError, match=r"no_such_base\.toml: file not found"):
        load_scenario(file)


def test_whatif_may_not_redefine_the_hospital(tmp_path: Path) -> None:
    file = tmp_path / "whatif.toml"
    base = scenario_path("baseline")
    file.write_text(f'[scenario]\nname = "x"\nbase = "{base}"\n\n[[units]]\nid = "X"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    assert caught.value.problems[0].path == "units"
    assert "may only hold [scenario] and [[overrides]]" in caught.value.problems[0].reason


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    document = copy.deepcopy(BASELINE)
    document["units"][0]["beds"] = -1
    document["units"][5]["patients_per_nurse"]["early"] = 0
    document["bedz"] = 1
    file = tmp_path / "many.toml"
    file.write_bytes(tomli_w.dumps(document).encode())
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    paths = {p.path for p in caught.value.problems}
    assert {"units[0].beds", "units[5].patients_per_nurse.early", "bedz"} <= paths
