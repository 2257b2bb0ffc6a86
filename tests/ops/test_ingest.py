"""Ingesting HL7 v2 and FHIR files: events appended once, bad messages quarantined with where they are."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import ingest as ingest_module
from ops.ingest import QUARANTINE_SOURCE, IngestError, ingest_files, split_hl7_messages
from ops.store import Store, open_store
from patients.hl7v2 import parse_hl7_message
from tests.conftest import PROJECT_ROOT

MESSAGES = PROJECT_ROOT / "tests" / "patients" / "messages"
SALT = "ingest-test-salt"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}", results_dir=tmp_path / "results") as opened:
        yield opened


def _message(name: str) -> str:
    return (MESSAGES / name).read_text().strip()


def _hl7_file(folder: Path, name: str = "adt.hl7", *, framed: bool = True, broken: bool = True) -> Path:
    """Three good ADT messages (MLLP-framed, \\n between segments) and, with ``broken``, one without PV1-3."""
    texts = [
        _message("adt_a01_admit.hl7"),
        _message("adt_a02_transfer.hl7"),
        _message("adt_a03_discharge.hl7"),
    ]
    if broken:
        bad = _message("adt_a01_admit.hl7").replace("MSG-A01-0001", "MSG-BAD-0001")
        bad = "\n".join(
            line if not line.startswith("PV1") else "PV1|1|I||E|||C4411^ADEBAYO^TOLU^^^DR|||MED"
            for line in bad.splitlines()
        )
        texts.insert(1, bad)
    body = "".join(f"\x0b{t}\x1c\r" for t in texts) if framed else "\n".join(texts)
    path = folder / name
    path.write_text(body)
    return path


def test_hl7_file_events_are_stored_and_a_bad_message_is_quarantined_with_where_it_is(
    store: Store, tmp_path: Path
) -> None:
    path = _hl7_file(tmp_path)
    report = ingest_files(store, [path], salt=SALT)
    (file_report,) = report.files
    assert (file_report.kind, file_report.messages) == ("hl7", 4)
    assert (report.accepted, report.duplicates, report.quarantined) == (3, 0, 1)
    events = store.read_events()
    assert sorted(events.get_column("event_id").to_list()) == [
        "hl7:PAS^RGH:MSG-A01-0001",  # sending application ^ facility : MSH-10
        "hl7:PAS^RGH:MSG-A02-0002",
        "hl7:PAS^RGH:MSG-A03-0003",
    ]
    (bad,) = store.quarantined()
    assert bad.source == QUARANTINE_SOURCE
    # The second message of the file, whose MSH is the file's 7th segment (line), with the field at fault.
    assert bad.reason.startswith("adt.hl7, message 2 (line 7): PV1-3")
    assert "MSG-BAD-0001" in bad.raw
    assert path.exists()  # no processed_dir: the file stays


def test_reading_a_file_again_stores_nothing_twice(store: Store, tmp_path: Path) -> None:
    path = _hl7_file(tmp_path, framed=False)
    first = ingest_files(store, [path], salt=SALT)
    again = ingest_files(store, [path], salt=SALT)
    assert (first.accepted, first.quarantined) == (3, 1)
    assert (again.accepted, again.duplicates) == (0, 3)
    assert store.count_events() == 3
    assert len(store.quarantined()) == 1  # the same bad message is not quarantined twice


def test_two_senders_with_the_same_control_id_are_both_stored(store: Store, tmp_path: Path) -> None:
    admission = _message("adt_a01_admit.hl7")
    # The same MSH-10 from another system (MSH-3) and from another facility (MSH-4) behind the engine.
    other_system = admission.replace("MSH|^~\\&|PAS|RGH|", "MSH|^~\\&|EPR|RGH|", 1)
    other_site = admission.replace("MSH|^~\\&|PAS|RGH|", "MSH|^~\\&|PAS|SJH|", 1)
    path = tmp_path / "three.hl7"
    path.write_text("\n".join([admission, other_system, other_site]))
    first = ingest_files(store, [path], salt=SALT)
    again = ingest_files(store, [path], salt=SALT)  # every message resent: nothing new
    assert (first.accepted, first.duplicates, first.reused_ids) == (3, 0, 0)
    assert (again.accepted, again.duplicates, again.reused_ids) == (0, 3, 0)
    assert sorted(store.read_events()["event_id"].to_list()) == [
        "hl7:EPR^RGH:MSG-A01-0001",
        "hl7:PAS^RGH:MSG-A01-0001",
        "hl7:PAS^SJH:MSG-A01-0001",
    ]


def test_a_different_message_reusing_a_control_id_is_counted_and_logged(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    admission = _message("adt_a01_admit.hl7")
    (tmp_path / "first.hl7").write_text(admission)
    ingest_files(store, [tmp_path / "first.hl7"], salt=SALT)
    # The same sender and MSH-10 for another patient's admission: a sender fault.
    other = admission.replace("100234^^^RGH^MR", "100999^^^RGH^MR").replace("|AMU^12^B^", "|WARD7^3^A^")
    assert other != admission
    (tmp_path / "second.hl7").write_text(admission + "\n" + other)
    caplog.set_level(logging.WARNING, logger="ops.ingest")
    report = ingest_files(store, [tmp_path / "second.hl7"], salt=SALT)
    assert (report.accepted, report.duplicates, report.reused_ids) == (0, 2, 1)
    assert report.as_dict()["reused_ids"] == 1 and report.as_dict()["by_file"][0]["reused_ids"] == 1
    assert store.read_events()["unit"].to_list() == ["AMU"]  # the first event is kept
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("second.hl7: event hl7:PAS^RGH:MSG-A01-0001 is already stored for a different")
    assert "100999" not in warning and "WARD7" not in warning


def test_reused_event_ids_compares_with_the_stored_events(store: Store) -> None:
    admission = parse_hl7_message(_message("adt_a01_admit.hl7").replace("\n", "\r"), salt=SALT)
    store.append_events([admission])
    moved = dataclasses.replace(admission, unit="WARD7")
    vitals = dataclasses.replace(admission, payload={**admission.payload, "spo2": 91})
    new = dataclasses.replace(admission, event_id="hl7:PAS^RGH:OTHER")
    assert store.reused_event_ids([admission, moved, vitals, new]) == [moved, vitals]
    assert store.reused_event_ids([]) == []


def test_fhir_bundles_arrays_and_ndjson_with_a_bad_bundle(store: Store, tmp_path: Path) -> None:
    bundle = json.loads((MESSAGES / "fhir_admission_bundle.json").read_text())
    encounter = json.loads((MESSAGES / "fhir_transfer_encounter.json").read_text())
    broken = json.loads(json.dumps(bundle))
    broken["id"] = "broken"
    for entry in broken["entry"]:
        if entry["resource"]["resourceType"] == "Encounter":
            entry["resource"]["status"] = "not-a-status"
    (tmp_path / "one.json").write_text(json.dumps(bundle))
    (tmp_path / "many.json").write_text(json.dumps([encounter, broken]))
    (tmp_path / "lines.ndjson").write_text(json.dumps(encounter) + "\n\n" + "{not json\n")
    report = ingest_files(store, tmp_path, salt=SALT)
    by_name = {f.path.name: f for f in report.files}
    assert set(by_name) == {"one.json", "many.json", "lines.ndjson"}
    assert by_name["one.json"].accepted > 0 and by_name["one.json"].quarantined == 0
    assert (by_name["many.json"].messages, by_name["many.json"].quarantined) == (2, 1)
    assert (by_name["lines.ndjson"].messages, by_name["lines.ndjson"].quarantined) == (2, 1)
    # The encounter appears in two files: stored once, counted once as a duplicate.
    assert by_name["lines.ndjson"].accepted + by_name["lines.ndjson"].duplicates == 1
    assert store.count_events() == report.accepted
    reasons = sorted(m.reason for m in store.quarantined())
    assert any(r.startswith("many.json, document 2 (of the array): Bundle.entry[") for r in reasons)
    assert any(r.startswith("lines.ndjson, line 3: ") and "not valid JSON" in r for r in reasons)


def test_a_folder_is_read_by_name_and_files_are_moved_once_committed(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _hl7_file(inbox, "b.hl7", broken=False)
    shutil.copy(MESSAGES / "oru_r01_vitals.hl7", inbox / "a.hl7")
    (inbox / "notes.pdf").write_bytes(b"%PDF")
    (inbox / "c.hl7.part").write_text("still being written")
    (inbox / ".hidden.hl7").write_text("MSH|")
    processed = inbox / "processed"
    (processed).mkdir()
    (processed / "b.hl7").write_text("an older file of the same name")
    seen: list[str] = []
    report = ingest_files(
        store, inbox, salt=SALT, processed_dir=processed, progress=lambda done, total, name: seen.append(name)
    )
    assert [f.path.name for f in report.files] == ["a.hl7", "b.hl7"]
    assert seen == ["a.hl7", "b.hl7", ""]
    assert [p.name for p in report.skipped] == ["notes.pdf"]
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.hl7", "c.hl7.part", "notes.pdf", "processed"]
    assert sorted(p.name for p in processed.iterdir()) == ["a.hl7", "b.1.hl7", "b.hl7"]
    assert report.files[1].moved_to == processed / "b.1.hl7"
    assert (processed / "b.hl7").read_text() == "an older file of the same name"
    assert report.accepted == 4 and store.count_events() == 4


def test_a_crash_before_the_move_loses_nothing_and_the_rerun_finishes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _hl7_file(inbox)

    def crash(path: Path, folder: Path) -> Path:
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(ingest_module, "_move", crash)
        with pytest.raises(OSError, match="disk full"):
            ingest_files(store, inbox, salt=SALT, processed_dir=inbox / "processed")
    assert store.count_events() == 3  # committed before the crash
    rerun = ingest_files(store, inbox, salt=SALT, processed_dir=inbox / "processed")
    assert (rerun.accepted, rerun.duplicates, rerun.quarantined) == (0, 3, 1)
    assert store.count_events() == 3 and len(store.quarantined()) == 1
    assert not (inbox / "adt.hl7").exists() and (inbox / "processed" / "adt.hl7").exists()


def test_a_file_that_is_not_utf8_or_not_hl7_is_quarantined_whole(store: Store, tmp_path: Path) -> None:
    latin = tmp_path / "latin.hl7"
    latin.write_bytes(b"MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301||ADT^A01|X1|P|2.5\rPID|1||\xe9")
    prose = tmp_path / "prose.txt"
    prose.write_text("Dear colleague,\nplease find attached ...\n")
    report = ingest_files(store, [latin, prose], salt=SALT)
    assert report.accepted == 0 and report.quarantined == 2
    reasons = sorted(m.reason for m in store.quarantined())
    assert reasons[0].startswith("latin.hl7: not UTF-8 text")
    assert reasons[1] == "prose.txt, message 1 (line 1): text before the first MSH segment"


def test_a_missing_folder_is_an_error_that_names_it(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="nowhere: no such folder or file"):
        ingest_files(store, tmp_path / "nowhere")


def test_messages_split_at_each_msh_whatever_the_separators() -> None:
    text = "MSH|1\r\nEVN|A01\r\n\r\nMSH|2\nEVN|A03\rPID|x"
    assert split_hl7_messages(text) == [(1, "MSH|1\rEVN|A01"), (4, "MSH|2\rEVN|A03\rPID|x")]
