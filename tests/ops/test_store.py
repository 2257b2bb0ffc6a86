"""The store on SQLite and PostgreSQL: the event log, plans, scenarios, runs, audit, quarantine, frames.

Every test here takes the ``store`` fixture (tests/ops/conftest.py), so it runs once per backend.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError

from ops.store import STORED_EVENT_SCHEMA, Store
from ops.store.event_log import SMALL_APPEND_ROWS
from ops.store.schema import plans
from patients.events import (
    EVENT_SCHEMA,
    AdmissionType,
    EventKind,
    PatientEvent,
    events_to_frame,
    frame_to_events,
)

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def make_events(count: int, *, first: int = 0) -> list[PatientEvent]:
    """Admissions, observations and discharges with deterministic ids ``ev-<n>``."""
    kinds = [EventKind.ADMIT, EventKind.OBSERVATION, EventKind.TRANSFER, EventKind.DISCHARGE]
    made = []
    for number in range(first, first + count):
        kind = kinds[number % len(kinds)]
        made.append(
            PatientEvent(
                event_id=f"ev-{number}",
                source="synthetic",
                kind=kind,
                occurred_at=START + timedelta(minutes=7 * number, microseconds=number),
                patient_key=f"patient-{number // 4}",
                encounter_id=f"stay-{number // 4}",
                unit="ward-a" if number % 3 else None,
                bed=f"bed-{number % 20}" if number % 2 else None,
                service="medicine",
                admission_type=AdmissionType.EMERGENCY if kind is EventKind.ADMIT else None,
                payload={"respiration_rate": 18, "spo2": 96} if kind is EventKind.OBSERVATION else {},
            )
        )
    return made


def fail_on(store: Store, sql_start: str, *, after: int = 0) -> None:
    """Make the store's database raise when a statement starting with ``sql_start`` runs (after N passes)."""
    seen = {"count": 0}

    @event.listens_for(store.engine, "before_cursor_execute")
    def _fail(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(sql_start.upper()):
            seen["count"] += 1
            if seen["count"] > after:
                raise RuntimeError(f"simulated failure at {statement[:40]!r}")


# -- events ---------------------------------------------------------------------------------------------


def test_appending_the_same_events_twice_stores_them_once(store: Store) -> None:
    batch = make_events(50)

    assert store.append_events(batch) == (50, 0)
    assert store.append_events(batch) == (0, 50)
    assert store.count_events() == 50


def test_overlapping_batches_and_repeats_within_a_batch_are_counted_as_duplicates(store: Store) -> None:
    store.append_events(make_events(30))
    overlapping = make_events(20, first=20)  # ev-20..ev-39: ten old, ten new
    repeated = [*overlapping, *overlapping[:5]]  # and five of them twice in the same batch

    inserted, duplicates = store.append_events(events_to_frame(repeated))

    assert (inserted, duplicates) == (10, 15)
    assert store.count_events() == 40
    assert store.read_events()["event_id"].n_unique() == 40


def test_events_read_back_equal_the_events_appended(store: Store) -> None:
    appended = make_events(40)
    store.append_events(appended)

    frame = store.read_events()

    assert frame.schema == pl.Schema(EVENT_SCHEMA)
    assert frame.equals(events_to_frame(appended))
    assert frame_to_events(frame) == appended


def test_events_since_returns_later_events_in_arrival_order(store: Store) -> None:
    store.append_events(make_events(10, first=100))
    first_read = store.events_since(0)
    store.append_events(make_events(10, first=0))  # later arrivals that happened earlier in time

    later = store.events_since(int(first_read["seq"].max()))  # type: ignore[arg-type]

    assert first_read.schema == pl.Schema(STORED_EVENT_SCHEMA)
    assert later["event_id"].to_list() == [f"ev-{n}" for n in range(10)]
    everything = store.events_since(0)
    assert everything["seq"].is_sorted() and everything["seq"].n_unique() == 20
    assert everything["event_id"].to_list() == [f"ev-{n}" for n in [*range(100, 110), *range(10)]]
    assert store.events_since(0, limit=3)["event_id"].to_list() == ["ev-100", "ev-101", "ev-102"]
    assert store.last_seq() == everything["seq"].max()
    assert store.events_since(store.last_seq()).height == 0


def test_a_replayed_events_since_frame_is_harmless(store: Store) -> None:
    store.append_events(make_events(12))

    assert store.append_events(store.events_since(0)) == (0, 12)  # the seq column is ignored


def test_read_events_filters_by_time_stay_and_kind(store: Store) -> None:
    appended = make_events(40)
    store.append_events(appended)
    start, end = appended[10].occurred_at, appended[20].occurred_at

    in_window = store.read_events(start=start, end=end)
    of_stay = store.read_events(encounter_ids=["stay-2", "stay-5"])
    discharges = store.read_events(kinds=[EventKind.DISCHARGE])

    assert in_window["event_id"].to_list() == [f"ev-{n}" for n in range(10, 20)]
    assert set(of_stay["encounter_id"]) == {"stay-2", "stay-5"} and of_stay.height == 8
    assert set(discharges["kind"]) == {"discharge"} and discharges.height == 10


def test_times_in_other_zones_are_stored_as_the_same_instant_in_utc(store: Store) -> None:
    frame = events_to_frame(make_events(3)).with_columns(
        pl.col("occurred_at").dt.convert_time_zone("Europe/Paris")
    )

    store.append_events(frame)

    stored = store.read_events()["occurred_at"].to_list()
    assert stored == [event.occurred_at for event in make_events(3)]
    assert all(moment.utcoffset() == timedelta(0) for moment in stored)


def test_empty_strings_and_missing_values_stay_apart(store: Store) -> None:
    frame = events_to_frame(make_events(2)).with_columns(
        pl.Series("bed", ["", None]), pl.Series("payload", ['{"note": "a,\\"quoted\\"\\nline"}', None])
    )

    store.append_events(frame)

    stored = store.read_events()
    assert stored["bed"].to_list() == ["", None]
    assert stored["payload"].to_list() == ['{"note": "a,\\"quoted\\"\\nline"}', "{}"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda frame: frame.drop("encounter_id"), "lacks columns"),
        (
            lambda frame: frame.with_columns(pl.col("occurred_at").dt.replace_time_zone(None)),
            "timezone-aware",
        ),
        (lambda frame: frame.with_columns(pl.lit("teleport").alias("kind")), "unknown kind"),
        (
            lambda frame: frame.with_columns(pl.lit("urgent").alias("admission_type")),
            "unknown admission_type",
        ),
        (lambda frame: frame.with_columns(pl.lit("").alias("event_id")), "without event_id"),
        (
            lambda frame: frame.with_columns(pl.lit(None, pl.String).alias("patient_key")),
            "without patient_key",
        ),
    ],
)
def test_malformed_events_are_refused_and_nothing_is_stored(store: Store, change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.append_events(change(events_to_frame(make_events(5))))
    assert store.count_events() == 0


def test_an_append_that_fails_halfway_stores_nothing(store: Store) -> None:
    # SQLite inserts batch by batch: let the first batch through. PostgreSQL copies every batch to a
    # staging table first, then inserts once: fail that insert.
    fail_on(store, "INSERT INTO events", after=1 if store.dialect == "sqlite" else 0)

    with pytest.raises(RuntimeError, match="simulated failure"):
        store.append_events(make_events(30), batch_rows=10)

    assert store.count_events() == 0


def test_appending_nothing_does_nothing(store: Store) -> None:
    assert store.append_events([]) == (0, 0)
    assert store.events_since(0).schema == pl.Schema(STORED_EVENT_SCHEMA)


# -- plans ----------------------------------------------------------------------------------------------


def test_each_saved_plan_is_a_new_version_and_the_newest_published_one_is_in_force(store: Store) -> None:
    first = store.save_plan("roster", {"nurses": 10}, created_by="nightly-plan")
    second = store.save_plan("roster", {"nurses": 12}, created_by="nightly-plan")
    store.save_plan("admissions", {"cases": 4})

    in_force = store.latest_plan("roster")

    assert (first.version, second.version) == (1, 2)
    assert in_force is not None and in_force.version == 2 and in_force.payload == {"nurses": 12}
    assert [plan.status for plan in store.plan_versions("roster")] == ["superseded", "published"]
    assert store.latest_plan("admissions") is not None
    assert store.latest_plan("supplies") is None


def test_a_draft_plan_is_not_in_force_until_published(store: Store) -> None:
    store.save_plan("roster", {"nurses": 10})
    draft = store.save_plan("roster", {"nurses": 11}, status="draft")

    assert store.latest_plan("roster").payload == {"nurses": 10}  # type: ignore[union-attr]
    assert store.latest_plan("roster", status="draft") == draft

    published = store.publish_plan("roster", draft.version)

    assert published.status == "published"
    assert store.latest_plan("roster").version == draft.version  # type: ignore[union-attr]
    assert [plan.status for plan in store.plan_versions("roster")] == ["superseded", "published"]
    with pytest.raises(KeyError):
        store.publish_plan("roster", 99)


def test_a_plan_save_that_fails_halfway_leaves_the_old_plan_in_force(store: Store) -> None:
    store.save_plan("roster", {"nurses": 10})
    seen_by_reader_mid_save: list[Any] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _crash_after_superseding(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PLANS"):
            # The old plan has just been marked superseded in the writer's transaction; another
            # connection must still see it in force.
            reader = threading.Thread(
                target=lambda: seen_by_reader_mid_save.append(store.latest_plan("roster"))
            )
            reader.start()
            reader.join(timeout=30)
            raise RuntimeError("simulated crash while saving the plan")

    with pytest.raises(RuntimeError, match="simulated crash"):
        store.save_plan("roster", {"nurses": 99})
    event.remove(store.engine, "before_cursor_execute", _crash_after_superseding)

    in_force = store.latest_plan("roster")
    assert in_force is not None and in_force.version == 1 and in_force.payload == {"nurses": 10}
    assert len(seen_by_reader_mid_save) == 1 and seen_by_reader_mid_save[0] == in_force
    assert [plan.version for plan in store.plan_versions("roster")] == [1]
    assert store.save_plan("roster", {"nurses": 11}).version == 2  # and the store carries on


def test_the_database_refuses_two_published_plans_of_one_kind(store: Store) -> None:
    store.save_plan("roster", {"nurses": 10})
    rogue = {"kind": "roster", "version": 7, "status": "published", "created_at": START, "payload": "{}"}

    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(insert(plans).values(**rogue))


def test_plan_payload_dates_become_iso_text(store: Store) -> None:
    plan = store.save_plan("roster", {"day": START.date(), "published_at": START})

    assert plan.payload == {"day": "2025-01-06", "published_at": "2025-01-06T08:00:00+00:00"}
    assert store.latest_plan("roster") == plan


# -- scenarios ------------------------------------------------------------------------------------------

BASELINE = '[scenario]\nname = "Baseline"\n'
SURGE = '[scenario]\nname = "Winter surge"\nbase = "baseline.toml"\n'


def test_every_scenario_save_is_a_new_version(store: Store) -> None:
    store.save_scenario("baseline", BASELINE, created_by="planner")
    store.save_scenario("baseline", BASELINE + "# more beds\n")
    store.save_scenario("baseline", BASELINE)  # the same text again is still a new version
    store.save_scenario("winter-surge", SURGE)

    versions = store.scenario_versions("baseline")

    assert [version.version for version in versions] == [1, 2, 3]
    assert versions[0].digest == versions[2].digest != versions[1].digest
    assert len(versions[0].digest) == 64 and versions[0].created_by == "planner"
    assert store.scenario_version("baseline").version == 3
    assert store.scenario_version("baseline", 2).toml_text.endswith("# more beds\n")
    assert store.scenario_names() == ["baseline", "winter-surge"]
    assert store.scenario_versions("unknown") == []
    with pytest.raises(KeyError):
        store.scenario_version("baseline", 4)


def test_a_scenario_that_is_not_toml_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="not valid TOML"):
        store.save_scenario("broken", "[scenario\nname = ")
    assert store.scenario_versions("broken") == []


# -- scenario runs, audit, quarantine -------------------------------------------------------------------


def test_a_scenario_run_is_recorded_from_start_to_finish(store: Store) -> None:
    run_id = store.start_scenario_run("baseline", "ab12", seed=2**62, replications=30, scenario_version=1)

    running = store.scenario_run(run_id)
    finished = store.finish_scenario_run(
        run_id, "finished", result_name="runs/1/kpis", details={"occupancy": 0.91}
    )

    assert running.status == "running" and running.finished_at is None and running.seed == 2**62
    assert finished.status == "finished" and finished.result_name == "runs/1/kpis"
    assert finished.finished_at is not None and finished.finished_at >= finished.started_at
    assert finished.details == {"occupancy": 0.91}
    with pytest.raises(KeyError):
        store.finish_scenario_run(run_id + 1, "failed")
    with pytest.raises(ValueError):
        store.start_scenario_run("baseline", "ab12", seed=2**64, replications=1)


def test_audit_entries_say_who_did_what_when_and_how_it_ended(store: Store) -> None:
    store.write_audit(
        "nightly-plan", "publish_plan", "ok", {"kind": "roster", "version": 3}, recorded_at=START
    )
    store.write_audit("planner@hospital", "run_whatif", "failed", recorded_at=START + timedelta(minutes=5))
    store.write_audit(
        "nightly-plan", "ingest", "ok", {"events": 1200}, recorded_at=START + timedelta(hours=1)
    )

    entries = store.audit_entries()

    assert [entry.action for entry in entries] == ["ingest", "run_whatif", "publish_plan"]
    assert entries[2].details == {"kind": "roster", "version": 3} and entries[2].recorded_at == START
    assert (
        entries[1].actor == "planner@hospital" and entries[1].outcome == "failed" and entries[1].details == {}
    )
    assert [entry.action for entry in store.audit_entries(actor="nightly-plan")] == ["ingest", "publish_plan"]
    assert len(store.audit_entries(since=START + timedelta(minutes=1))) == 2
    assert store.write_audit("api", "read_plan", "ok") > 0
    assert store.audit_entries(limit=1)[0].recorded_at > START + timedelta(hours=1)


def test_quarantined_messages_are_kept_verbatim(store: Store) -> None:
    raw = "MSH|^~\\&|PAS|HOSP|||20250106||ADT^A99|MSG1|P|2.5\rPID|||\r"

    store.quarantine_message(raw, "unknown trigger event A99", source="hl7", received_at=START)

    [kept] = store.quarantined()
    assert (kept.raw, kept.reason, kept.source, kept.received_at) == (
        raw,
        "unknown trigger event A99",
        "hl7",
        START,
    )


# -- forecasts and twin snapshots -----------------------------------------------------------------------


def census_forecast(mean: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit": ["ward-a", "ward-b"],
            "t": [START, START + timedelta(days=1)],
            "mean": [mean, mean + 1],
            "p05": [mean - 3, mean - 2],
            "p50": [mean, mean + 1],
            "p95": [mean + 3, mean + 4],
        }
    )


def test_the_latest_forecast_as_of_a_time_comes_back_with_its_schema(store: Store) -> None:
    store.save_forecast("census", START, census_forecast(20.0), details={"model": "naive"})
    store.save_forecast("census", START + timedelta(days=1), census_forecast(22.0))
    store.save_forecast("arrivals", START + timedelta(days=2), census_forecast(5.0))

    newest = store.latest_forecast("census")
    back_then = store.latest_forecast("census", as_of=START + timedelta(hours=12))

    assert newest is not None and newest.as_of == START + timedelta(days=1)
    assert newest.frame.equals(census_forecast(22.0)) and newest.frame.schema == census_forecast(0.0).schema
    assert back_then is not None and back_then.frame.equals(census_forecast(20.0))
    assert back_then.details == {"model": "naive"}
    assert store.latest_forecast("census", as_of=START - timedelta(days=1)) is None


def test_twin_snapshots_are_kept_by_time(store: Store) -> None:
    twins = pl.DataFrame({"encounter_id": ["stay-1"], "unit": ["ward-a"], "elapsed_hours": [30.5]})
    store.save_twin_snapshot(START, twins)
    store.save_twin_snapshot(
        START + timedelta(hours=1), twins.with_columns(pl.lit(31.5).alias("elapsed_hours"))
    )

    assert store.latest_twin_snapshot().frame["elapsed_hours"].to_list() == [31.5]  # type: ignore[union-attr]
    assert store.latest_twin_snapshot(as_of=START).frame.equals(twins)  # type: ignore[union-attr]


def test_a_large_append_in_batches_is_idempotent_and_ordered(store: Store) -> None:
    # Over SMALL_APPEND_ROWS, so PostgreSQL takes the COPY route; several batches on both backends.
    count = SMALL_APPEND_ROWS + 500
    awkward_text = '{"note": "a, \\"quoted\\"\\nline \\u00e9 é \\\\."}'
    history = events_to_frame(make_events(count)).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit("")).otherwise(pl.col("bed")).alias("bed"),
        pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(pl.lit(awkward_text))
        .otherwise(pl.col("payload"))
        .alias("payload"),
    )
    store.append_events(history[:700], batch_rows=300)

    inserted, duplicates = store.append_events(history, batch_rows=400)

    assert (inserted, duplicates) == (count - 700, 700)
    stored = store.events_since(0)
    assert stored["seq"].is_sorted() and stored.height == count
    assert stored.drop("seq").equals(history)


def test_a_reader_polling_events_since_during_concurrent_appends_sees_every_event_once(store: Store) -> None:
    writers, appends_per_writer, events_per_append = 4, 15, 5
    done = threading.Event()
    seen: list[str] = []

    def write(writer: int) -> None:
        for append in range(appends_per_writer):
            first = (writer * appends_per_writer + append) * events_per_append
            store.append_events(make_events(events_per_append, first=first))

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()  # read once more after the writers are done
            batch = store.events_since(cursor)
            if batch.height:
                seen.extend(batch["event_id"].to_list())
                cursor = int(batch["seq"].max())  # type: ignore[arg-type]
            if finished:
                return

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()

    assert len(seen) == len(set(seen)) == writers * appends_per_writer * events_per_append
