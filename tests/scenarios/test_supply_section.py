"""The optional [supply] section: valid in the baseline, optional elsewhere, bad input named by key path."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from scenarios import ScenarioError, load_scenario, scenario_path

BASELINE: dict[str, Any] = tomllib.loads(scenario_path("baseline").read_text())


def _load(tmp_path: Path, document: dict[str, Any]) -> Any:
    file = tmp_path / "supply.toml"
    file.write_bytes(tomli_w.dumps(document).encode())
    return load_scenario(file)


def test_baseline_supply_section_links_items_to_surgical_services() -> None:
    supply = load_scenario(scenario_path("baseline")).hospital.supply
    assert supply is not None
    assert 0.5 < supply.service_level < 1
    item_ids = {item.id for item in supply.items}
    for bill in supply.bills_of_materials:
        assert set(bill.items) <= item_ids
    assert {b.service for b in supply.bills_of_materials} == {"general_surgery", "orthopaedics"}


def test_a_file_without_supply_stays_valid(tmp_path: Path) -> None:
    document = copy.deepcopy(BASELINE)
    del document["supply"]
    assert _load(tmp_path, document).hospital.supply is None


def test_shortage_cost_defaults_to_ten_times_the_price(tmp_path: Path) -> None:
    document = copy.deepcopy(BASELINE)
    item = document["supply"]["items"][0]
    item.pop("shortage_cost", None)
    loaded = _load(tmp_path, document).hospital.supply.items[0]
    assert loaded.shortage_cost_per_unit == pytest.approx(10 * item["unit_cost"])


def _bad_item_in_bill(doc: dict[str, Any]) -> None:
    doc["supply"]["bills_of_materials"][0]["items"]["titanium_widget"] = 1


def _unknown_service(doc: dict[str, Any]) -> None:
    doc["supply"]["bills_of_materials"][0]["service"] = "dermatology"


def _service_without_surgery(doc: dict[str, Any]) -> None:
    doc["supply"]["bills_of_materials"][0]["service"] = "cardiology"


def _duplicate_item(doc: dict[str, Any]) -> None:
    doc["supply"]["items"].append(copy.deepcopy(doc["supply"]["items"][0]))


def _duplicate_bill(doc: dict[str, Any]) -> None:
    doc["supply"]["bills_of_materials"].append(copy.deepcopy(doc["supply"]["bills_of_materials"][0]))


def _negative_lead_time(doc: dict[str, Any]) -> None:
    doc["supply"]["items"][1]["lead_time_days"] = -2


def _zero_pack(doc: dict[str, Any]) -> None:
    doc["supply"]["items"][2]["pack_size"] = 0


def _service_level_of_one(doc: dict[str, Any]) -> None:
    doc["supply"]["service_level"] = 1.0


def _misspelt_key(doc: dict[str, Any]) -> None:
    doc["supply"]["items"][0]["unit_price"] = doc["supply"]["items"][0].pop("unit_cost")


def _zero_quantity(doc: dict[str, Any]) -> None:
    doc["supply"]["bills_of_materials"][1]["items"]["bone_cement"] = 0


@pytest.mark.parametrize(
    ("mutation", "path", "words"),
    [
        (_bad_item_in_bill, "supply.bills_of_materials[0].items.titanium_widget", "unknown item"),
        (_unknown_service, "supply.bills_of_materials[0].service", "unknown service 'dermatology'"),
        (_service_without_surgery, "supply.bills_of_materials[0].service", "no surgery section"),
        (_duplicate_item, "supply.items[9].id", "duplicate id"),
        (_duplicate_bill, "supply.bills_of_materials[2].service", "already has a bill"),
        (_negative_lead_time, "supply.items[1].lead_time_days", "greater than or equal to 0"),
        (_zero_pack, "supply.items[2].pack_size", "greater than or equal to 1"),
        (_service_level_of_one, "supply.service_level", "less than 1"),
        (_misspelt_key, "supply.items[0].unit_price", "unknown key"),
        (_zero_quantity, "supply.bills_of_materials[1].items.bone_cement", "greater than 0"),
    ],
)
def test_bad_supply_section_names_the_key(tmp_path: Path, mutation: Any, path: str, words: str) -> None:
    document = copy.deepcopy(BASELINE)
    mutation(document)
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, document)
    matching = [p for p in caught.value.problems if p.path == path]
    assert matching, f"no problem at {path}; got {[str(p) for p in caught.value.problems]}"
    assert any(words in p.reason for p in matching), [p.reason for p in matching]
