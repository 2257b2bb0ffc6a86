r"""Ingest HL7 v2 and FHIR files into the event store: events appended, bad messages quarantined.

:func:`ingest_files` reads files (or every file of a folder) left by an interface engine or a batch export:

* **HL7 v2** (``*.hl7``, ``*.er7``, ``*.mllp``, ``*.txt``): one or more ADT / ORU messages a file,
  segments separated by ``\r``, ``\n`` or ``\r\n``; a message starts at each ``MSH`` segment; MLLP
  framing bytes (``\x0b`` … ``\x1c\r``) are tolerated. Each message goes through
  :func:`patients.hl7v2.parse_hl7_message`.
* **FHIR R4B** (``*.json``: one Bundle or resource, or a JSON array of them; ``*.ndjson``: one a line).
  Each document goes through :func:`patients.fhir.parse_fhir`; a bundle is the unit that is accepted or
  quarantined, since its entries refer to each other.

A file's accepted events are appended in one transaction (:meth:`ops.store.Store.append_events`, which
skips an ``event_id`` already stored, so reading a file twice stores nothing twice); each message that
cannot be used is quarantined with its reason, naming the file, the message's position and its first
line (:meth:`ops.store.Store.quarantine_message`, source :data:`QUARANTINE_SOURCE`). One bad message never
stops the others, and what a file's commit stored stays stored whatever happens next.

An event id already stored for a *different* event (a sender that reused a message control id for
another message: the store keeps the first and skips the second) is logged as a warning naming the event id,
and counted (``reused_ids``); :meth:`ops.store.Store.reused_event_ids` finds them.

With ``processed_dir``, a file is moved there only after its events and quarantined messages are
committed, so that the next run does not read it again; a crash before the move is harmless (the events
are skipped as duplicates, the quarantined messages are recognised and not quarantined twice).

Files whose name starts with ``.`` or ends with ``.part`` or ``.tmp`` are left alone: a sender should write
a file under such a name and rename it when complete. Files of any other type are listed as skipped and
left where they are.

Examples
--------
>>> report = ingest_files(store, "var/inbox", processed_dir="var/inbox/processed")  # doctest: +SKIP
>>> report.accepted, report.duplicates, report.quarantined  # doctest: +SKIP
(1204, 0, 3)
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from ops.store import Store
from patients.errors import EventParseError
from patients.events import PatientEvent
from patients.fhir import parse_fhir
from patients.hl7v2 import parse_hl7_message

HL7_SUFFIXES: tuple[str, ...] = (".hl7", ".er7", ".mllp", ".txt")
"""File name endings read as HL7 v2 messages (case-insensitive)."""

FHIR_SUFFIXES: tuple[str, ...] = (".json", ".ndjson")
"""File name endings read as FHIR R4B JSON (``.ndjson``: one document a line)."""

IGNORED_SUFFIXES: tuple[str, ...] = (".part", ".tmp")
"""Files still being written: never read."""

QUARANTINE_SOURCE = "inbox"
"""``source`` of the messages quarantined by :func:`ingest_files`."""

logger = logging.getLogger(__name__)

_RECENT_QUARANTINE_ROWS = 1000  # newest quarantined messages compared with, so a re-run does not repeat them
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")
_MLLP_FRAMING = re.compile(r"[\x0b\x1c]")


class IngestError(RuntimeError):
    """Files could not be ingested at all (a missing folder, an unreadable file); the message names it."""


@dataclass(frozen=True)
class FileReport:
    """What :func:`ingest_files` did with one file.

    Attributes
    ----------
    path
        The file as found (before any move).
    kind
        ``"hl7"`` or ``"fhir"``.
    messages
        Messages (HL7) or documents (FHIR) read.
    accepted
        Events newly stored.
    duplicates
        Events already in the store (or repeated in the file).
    quarantined
        Messages or documents quarantined.
    moved_to
        Where the file was moved (None when it was not moved).
    reused_ids
        Of the duplicates, events whose id was stored for a different event (a sender reused a message
        control id): not stored.
    """

    path: Path
    kind: str
    messages: int
    accepted: int
    duplicates: int
    quarantined: int
    moved_to: Path | None = None
    reused_ids: int = 0


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest_files` did.

    Attributes
    ----------
    files
        One report per file read, in the order read.
    skipped
        Files left alone: not HL7 v2 or FHIR by their name.
    """

    files: tuple[FileReport, ...] = ()
    skipped: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def accepted(self) -> int:
        """Events newly stored."""
        return sum(f.accepted for f in self.files)

    @property
    def duplicates(self) -> int:
        """Events already stored (skipped)."""
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> int:
        """Messages or documents quarantined."""
        return sum(f.quarantined for f in self.files)

    @property
    def reused_ids(self) -> int:
        """Events not stored because their id was stored for a different event (a reused control id)."""
        return sum(f.reused_ids for f in self.files)

    @property
    def messages(self) -> int:
        """Messages or documents read."""
        return sum(f.messages for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        """The counts and file names, JSON-ready (for a plan payload or an audit entry)."""
        return {
            "files": len(self.files),
            "messages": self.messages,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "reused_ids": self.reused_ids,
            "skipped": [str(path) for path in self.skipped],
            "by_file": [
                {
                    "file": f.path.name,
                    "kind": f.kind,
                    "messages": f.messages,
                    "accepted": f.accepted,
                    "duplicates": f.duplicates,
                    "quarantined": f.quarantined,
                    "reused_ids": f.reused_ids,
                }
                for f in self.files
            ],
        }


@dataclass(frozen=True)
class _Message:
    """One message of a file: its text, and where it is (for the quarantine's reason)."""

    text: str
    where: str


def ingest_files(
    store: Store,
    paths_or_folder: str | Path | Iterable[str | Path],
    *,
    salt: str | bytes | None = None,
    local_timezone: tzinfo = UTC,
    unit_codes: Mapping[str, str] | None = None,
    service_codes: Mapping[str, str] | None = None,
    processed_dir: str | Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    """Append the events of HL7 v2 and FHIR files to the store, quarantining the messages it cannot use.

    Parameters
    ----------
    store
        The event store.
    paths_or_folder
        A folder (every file directly in it, by name) or files.
    salt
        Pseudonymisation salt, passed as given to the parsers (``None``: as
        :func:`patients.identity.resolve_salt` decides).
    local_timezone
        Zone of HL7 timestamps without a UTC offset (the hospital's).
    unit_codes, service_codes
        Optional translations of the feed's codes to the scenario's ids (see the parsers).
    processed_dir
        Move each file here once its events are committed (created when needed; a file of the same name
        already there is kept, the new one gets a numbered name).
    progress
        Called with (files done, files in all, file name) before each file.

    Returns
    -------
    IngestReport
        Counts per file: messages read, events accepted and duplicated, messages quarantined.

    Raises
    ------
    IngestError
        When the folder or a file does not exist or cannot be read (files before it are ingested).
    """
    files, skipped = _files(paths_or_folder)
    target = Path(processed_dir) if processed_dir is not None else None
    already = _recently_quarantined(store)
    reports = []
    for done, path in enumerate(files):
        if progress is not None:
            progress(done, len(files), path.name)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise IngestError(f"{path}: cannot be read ({error.strerror or error})") from None
        kind = "hl7" if path.suffix.lower() in HL7_SUFFIXES else "fhir"
        if kind == "hl7":
            events, rejected, messages = _read_hl7(
                path.name, data, salt, local_timezone, unit_codes, service_codes
            )
        else:
            events, rejected, messages = _read_fhir(path, data, salt, unit_codes, service_codes)
        inserted, duplicates, failed = _append(store, events)
        reused = store.reused_event_ids(events) if duplicates else []
        for event in reused:
            logger.warning(
                "%s: event %s is already stored for a different message; not stored again "
                "(the sender reused its message control id)",
                path.name,
                event.event_id,
            )
        rejected += failed
        for raw, reason in rejected:
            if (raw, reason) not in already:
                store.quarantine_message(raw, reason, source=QUARANTINE_SOURCE)
                already.add((raw, reason))
        moved = _move(path, target) if target is not None else None
        reports.append(
            FileReport(path, kind, messages, inserted, duplicates, len(rejected), moved, len(reused))
        )
    if progress is not None:
        progress(len(files), len(files), "")
    return IngestReport(tuple(reports), tuple(skipped))


def _files(paths_or_folder: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """The files to read (sorted by name within a folder) and the ones skipped by their type."""
    if isinstance(paths_or_folder, str | Path):
        given = Path(paths_or_folder)
        if not given.exists():
            raise IngestError(f"{given}: no such folder or file")
        candidates = sorted(p for p in given.iterdir() if p.is_file()) if given.is_dir() else [given]
    else:
        candidates = [Path(p) for p in paths_or_folder]
        for path in candidates:
            if not path.is_file():
                raise IngestError(f"{path}: no such file")
    files, skipped = [], []
    for path in candidates:
        name = path.name.lower()
        if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
            continue
        if name.endswith(HL7_SUFFIXES + FHIR_SUFFIXES):
            files.append(path)
        else:
            skipped.append(path)
    return files, skipped


def split_hl7_messages(text: str) -> list[tuple[int, str]]:
    r"""The HL7 v2 messages of a file's text, each with the number of its first line (from 1).

    Segments are separated by ``\r``, ``\n`` or ``\r\n`` (a "line" is a segment); MLLP framing bytes
    (``\x0b``, ``\x1c``) are dropped; a message starts at each ``MSH`` segment. Non-blank lines before the
    first ``MSH`` come back as one "message" of their own (it will not parse, and is quarantined as such).

    Examples
    --------
    >>> split_hl7_messages("\x0bMSH|1\rEVN|A01\x1c\r\x0bMSH|2\rEVN|A03\x1c\r")
    [(1, 'MSH|1\rEVN|A01'), (3, 'MSH|2\rEVN|A03')]
    """
    messages: list[tuple[int, list[str]]] = []
    for number, line in enumerate(_SEGMENT_BREAK.split(_MLLP_FRAMING.sub("", text)), start=1):
        if not line.strip():
            continue
        if line.startswith("MSH") or not messages:
            messages.append((number, [line]))
        else:
            messages[-1][1].append(line)
    return [(number, "\r".join(lines)) for number, lines in messages]


def _read_hl7(
    name: str,
    data: bytes,
    salt: str | bytes | None,
    local_timezone: tzinfo,
    unit_codes: Mapping[str, str] | None,
    service_codes: Mapping[str, str] | None,
) -> tuple[list[PatientEvent], list[tuple[str, str]], int]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raw = data.decode("utf-8", errors="replace")
        return [], [(raw, f"{name}: not UTF-8 text (byte {error.start})")], 1
    events: list[PatientEvent] = []
    rejected: list[tuple[str, str]] = []
    split = split_hl7_messages(text)
    for index, (line, message) in enumerate(split, start=1):
        where = f"{name}, message {index} (line {line})"
        if not message.startswith("MSH"):
            rejected.append((message, f"{where}: text before the first MSH segment"))
            continue
        try:
            events.append(
                parse_hl7_message(
                    message,
                    salt=salt,
                    local_timezone=local_timezone,
                    unit_codes=unit_codes,
                    service_codes=service_codes,
                )
            )
        except EventParseError as error:
            rejected.append((message, f"{where}: {error}"))
        except Exception as error:  # a message must never stop the others; its reason says what went wrong
            rejected.append((message, f"{where}: {type(error).__name__}: {error}"))
    return events, rejected, len(split)


def _read_fhir(
    path: Path,
    data: bytes,
    salt: str | bytes | None,
    unit_codes: Mapping[str, str] | None,
    service_codes: Mapping[str, str] | None,
) -> tuple[list[PatientEvent], list[tuple[str, str]], int]:
    name = path.name
    text = data.decode("utf-8", errors="replace")
    documents: list[tuple[str, str]] = []  # (where, JSON text)
    rejected: list[tuple[str, str]] = []
    if path.suffix.lower() == ".ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                documents.append((f"{name}, line {number}", line))
    else:
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as error:
            return [], [(text, f"{name}: not JSON ({error.msg} at line {error.lineno})")], 1
        if isinstance(decoded, list):
            documents = [
                (f"{name}, document {i} (of the array)", json.dumps(item))
                for i, item in enumerate(decoded, 1)
            ]
        else:
            documents = [(name, text)]
    events: list[PatientEvent] = []
    for where, document in documents:
        try:
            events.extend(parse_fhir(document, salt=salt, unit_codes=unit_codes, service_codes=service_codes))
        except json.JSONDecodeError as error:
            rejected.append((document, f"{where}: not JSON ({error.msg})"))
        except EventParseError as error:
            rejected.append((document, f"{where}: {error}"))
        except Exception as error:  # a document must never stop the others
            rejected.append((document, f"{where}: {type(error).__name__}: {error}"))
    return events, rejected, len(documents)


def _append(store: Store, events: list[PatientEvent]) -> tuple[int, int, list[tuple[str, str]]]:
    """Append a file's events in one transaction; when the store refuses the batch, one by one."""
    if not events:
        return 0, 0, []
    try:
        inserted, duplicates = store.append_events(events)
        return inserted, duplicates, []
    except ValueError:
        pass  # one event the store refuses (it says which): keep the others, quarantine that one
    inserted = duplicates = 0
    failed: list[tuple[str, str]] = []
    for event in events:
        try:
            added, repeated = store.append_events([event])
        except ValueError as error:
            failed.append((_event_text(event), f"event {event.event_id}: refused by the store: {error}"))
            continue
        inserted += added
        duplicates += repeated
    return inserted, duplicates, failed


def _event_text(event: PatientEvent) -> str:
    return json.dumps(
        {
            "event_id": event.event_id,
            "source": event.source,
            "kind": str(event.kind),
            "occurred_at": event.occurred_at.isoformat(),
            "unit": event.unit,
        }
    )


def _recently_quarantined(store: Store) -> set[tuple[str, str]]:
    return {
        (message.raw, message.reason)
        for message in store.quarantined(limit=_RECENT_QUARANTINE_ROWS)
        if message.source == QUARANTINE_SOURCE
    }


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` (renamed ``<stem>.<n><suffix>`` when the name is taken)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    number = 1
    while target.exists():
        target = folder / f"{path.stem}.{number}{path.suffix}"
        number += 1
    os.replace(path, target)
    return target
