"""Live twins from the store: only open stays replayed, same answer as a full replay; census by unit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ops.live import CENSUS_NOW_SCHEMA, census_now, load_twins, open_encounter_ids
from ops.store import Store, open_store
from patients.events import EventKind, PatientEvent
from patients.synthetic import generate_history
from patients.synthetic.history import History
from patients.twin import TwinRegistry
from scenarios import Scenario, load_scenario, scenario_path


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(scenario_path("baseline"))


@pytest.fixture(scope="module")
def history(scenario: Scenario) -> History:
    return generate_history(scenario, date(2024, 3, 4), 6, seed=8)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, history: History) -> Store:
    folder: Path = tmp_path_factory.mktemp("live")
    opened = open_store(f"sqlite:///{folder / 'live.db'}")
    opened.append_events(history.events)
    return opened


@pytest.mark.parametrize("hours_in", [5, 61, 140])
def test_load_twins_matches_a_full_replay(store: Store, history: History, hours_in: int) -> None:
    now = history.starts_at + timedelta(hours=hours_in, minutes=13)
    loaded = load_twins(store, now)
    replayed = TwinRegistry.from_frame(history.events.filter(pl.col("occurred_at") <= now))
    assert loaded.census_by_unit() == replayed.census_by_unit()
    assert loaded.census() > 100
    assert (
        loaded.to_frame(now)
        .drop("news2_observed_at", "news2_score", "acuity_band")
        .equals(replayed.to_frame(now).drop("news2_observed_at", "news2_score", "acuity_band"))
    )
    # far fewer stays than the whole log
    assert len(open_encounter_ids(store, now)) < history.events["encounter_id"].n_unique() / 4


def _event(event_id: str, kind: EventKind, at: datetime, unit: str, **extra: object) -> PatientEvent:
    return PatientEvent(
        event_id=event_id,
        source="hl7",
        kind=kind,
        occurred_at=at,
        patient_key="p-live",
        encounter_id=f"e-{event_id.split('-')[0]}",
        unit=unit,
        **extra,  # type: ignore[arg-type]
    )


def test_cancellations_reopen_and_close_stays(tmp_path: Path) -> None:
    t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    with open_store(f"sqlite:///{tmp_path / 'cancel.db'}") as store:
        store.append_events(
            [
                # A: admitted, discharged, discharge cancelled (A13) -> still inside
                _event("a-1", EventKind.ADMIT, t0, "MED-A", service="medicine"),
                _event("a-2", EventKind.DISCHARGE, t0 + timedelta(hours=5), "MED-A"),
                _event("a-3", EventKind.CANCEL_DISCHARGE, t0 + timedelta(hours=6), "MED-A"),
                # B: admitted then discharged -> gone
                _event("b-1", EventKind.ADMIT, t0, "MED-B", service="medicine"),
                _event("b-2", EventKind.DISCHARGE, t0 + timedelta(hours=2), "MED-B"),
                # C: registered in the ED, admitted, admission cancelled (A11) -> back in the ED
                _event("c-1", EventKind.REGISTER, t0, "ED"),
                _event("c-2", EventKind.ADMIT, t0 + timedelta(hours=1), "ED", service="medicine"),
                _event("c-3", EventKind.CANCEL_ADMIT, t0 + timedelta(hours=2), "ED"),
                # D: admitted and boarding in the ED
                _event("d-1", EventKind.REGISTER, t0, "ED"),
                _event("d-2", EventKind.ADMIT, t0 + timedelta(hours=1), "ED", service="medicine"),
                # E: discharged and cancelled at the same instant (A13 ranks after A03)
                _event("e-1", EventKind.ADMIT, t0, "ICU", service="medicine"),
                _event("e-2", EventKind.DISCHARGE, t0 + timedelta(hours=3), "ICU"),
                _event("e-3", EventKind.CANCEL_DISCHARGE, t0 + timedelta(hours=3), "ICU"),
            ]
        )
        now = t0 + timedelta(hours=7)
        assert open_encounter_ids(store, now) == ["e-a", "e-c", "e-d", "e-e"]
        twins = load_twins(store, now)
        assert twins.census_by_unit() == {"MED-A": 1, "ED": 2, "ICU": 1}
        # before the cancellation, A was out
        assert "e-a" not in open_encounter_ids(store, t0 + timedelta(hours=5, minutes=30))

        scenario = load_scenario(scenario_path("baseline"))
        census = census_now(scenario, twins, now)
        assert dict(census.schema) == CENSUS_NOW_SCHEMA
        rows = {row["unit_id"]: row for row in census.iter_rows(named=True)}
        assert rows["ED"]["census"] == 2 and rows["ED"]["boarding"] == 1
        assert rows["MED-A"]["free_beds"] == rows["MED-A"]["beds"] - 1
        assert census.height == len(scenario.hospital.units)
        assert census["census"].sum() == 4


def test_census_now_counts_high_acuity_and_unknown_units(scenario: Scenario) -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    registry = TwinRegistry()
    registry.apply(_event("x-1", EventKind.ADMIT, now - timedelta(hours=3), "ICU", service="medicine"))
    registry.apply(_event("y-1", EventKind.ADMIT, now - timedelta(hours=3), "NOWHERE", service="medicine"))
    frame = registry.to_frame(now).with_columns(pl.lit("high").alias("acuity_band"))
    census = census_now(scenario, frame, now)
    rows = {row["unit_id"]: row for row in census.iter_rows(named=True)}
    assert rows["ICU"]["high_acuity"] == 1
    assert rows["NOWHERE"]["beds"] is None and rows["NOWHERE"]["census"] == 1
    with pytest.raises(ValueError, match="timezone"):
        census_now(scenario, registry, now.replace(tzinfo=None))
