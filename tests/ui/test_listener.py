"""The HL7 v2 MLLP listener: framing, ACKs, quarantine, idempotency, back-pressure, and a fault test.

The fault test runs the listener as a real process (``python -m ui.listener``), sends it 20,000 ADT
messages (5 % malformed, 5 % resent duplicates) over one pipelined connection, kills it with SIGKILL
three times mid-stream, restarts it, resends whatever was not acknowledged, and then checks the store:
every acknowledged message stored exactly once, every malformed one quarantined with its reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy import text

from ops.settings import SaltNotConfigured
from ops.store import AppendResult, Store, open_store
from patients.errors import HL7ParseError, UnsupportedMessageError
from patients.events import events_to_frame
from patients.hl7v2 import hl7_event_id, parse_hl7_message
from patients.identity import DEMO_SALT
from tests.ops.conftest import postgres_server, store, store_url  # noqa: F401  (fixtures)
from ui.listener import (
    AckCode,
    FeedCommitter,
    ListenerSettings,
    MLLPDecoder,
    MLLPFrame,
    MLLPListener,
    build_ack,
    error_location,
    escape_text,
    frame_message,
    read_header,
    reject_parse_error,
    use_full_sync,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SALT = "listener-test-salt"
START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

# -- a realistic ADT feed -----------------------------------------------------------------------------

UNITS = {"AMU": 30, "WARD7": 28, "WARD9": 24, "SURG1": 26, "ICU": 12, "CCU": 8}
SERVICES = ["MED", "GER", "SURG", "CARD", "ORTH"]
FAMILY_NAMES = ["O'BRIEN", "PATEL", "SMITH", "NGUYEN", "KOWALSKI", "OKAFOR", "MURPHY", "HUSSAIN"]
GIVEN_NAMES = ["MARGARET", "ASHA", "JOHN", "LINH", "PIOTR", "CHIDI", "SIOBHAN", "AMIR"]


def hl7_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S") + "+0000"


@dataclass
class Stay:
    mrn: str
    visit: str
    family: str
    given: str
    birth_date: str
    unit: str
    bed: str
    service: str
    admitted_at: datetime


def adt_message(
    control_id: str,
    trigger: str,
    stay: Stay,
    when: datetime,
    *,
    prior: tuple[str, str] | None = None,
    vitals: dict[str, str] | None = None,
    discharged_at: datetime | None = None,
) -> str:
    """One ADT message in the shape a patient administration system sends (PID full of identifiers)."""
    room, bed = stay.bed.split("-")
    pv1 = [""] * 46
    pv1[0:5] = ["PV1", "1", "I", f"{stay.unit}^{room}^{bed}^RGH", "E"]
    if prior is not None:
        prior_room, prior_bed = prior[1].split("-")
        pv1[6] = f"{prior[0]}^{prior_room}^{prior_bed}^RGH"
    pv1[7] = "C4411^ADEBAYO^TOLU^^^DR"
    pv1[10] = stay.service
    pv1[19] = f"{stay.visit}^^^RGH^VN"
    pv1[44] = hl7_time(stay.admitted_at)
    if discharged_at is not None:
        pv1[45] = hl7_time(discharged_at)
    segments = [
        f"MSH|^~\\&|PAS|RGH|TWIN|RGH|{hl7_time(when)}||ADT^{trigger}^ADT_A01|{control_id}|P|2.5|||AL|NE|GBR",
        f"EVN|{trigger}|{hl7_time(when)}|||U0231^PATEL^ASHA|{hl7_time(when)}",
        f"PID|1||{stay.mrn}^^^RGH^MR~94{stay.mrn}19^^^NHS^NH||{stay.family}^{stay.given}^^^MRS||"
        f"{stay.birth_date}|F|||14 PARK ROW^^LEEDS^^LS1 5HD^GBR||0113 496 0123^PRN^PH|||M||ACC{stay.mrn}",
        "PD1||||G82001^GREEN^ELEANOR",
        "|".join(pv1).rstrip("|"),
    ]
    for number, (code, value) in enumerate((vitals or {}).items(), start=1):
        segments.append(f"OBX|{number}|NM|{code}^^LN||{value}||||||F|||{hl7_time(when)}")
    return "\r".join(segments) + "\r"


# How a message is broken, the field the listener must name, and the answer it must give.
MALFORMATIONS: dict[str, tuple[str, AckCode]] = {
    "no_location": ("PV1-3", AckCode.ERROR),
    "bad_event_time": ("EVN-6", AckCode.ERROR),
    "no_mrn": ("PID-3", AckCode.ERROR),
    "no_visit_number": ("PV1-19", AckCode.ERROR),
    "bad_admission_type": ("PV1-4", AckCode.ERROR),
    "unsupported_type": ("MSH-9", AckCode.REJECT),
    "no_control_id": ("MSH-10", AckCode.REJECT),
    "not_hl7": ("MSH", AckCode.REJECT),
    "bad_version": ("MSH-12", AckCode.REJECT),
    "not_utf8": ("MSH-18", AckCode.REJECT),
}


def malform(message: str, how: str, control_id: str) -> bytes:
    """Break a valid A01 message in one of the :data:`MALFORMATIONS` ways."""
    segments = message.split("\r")
    pv1 = segments[4].split("|")
    if how == "no_location":
        pv1[3] = ""
    elif how == "bad_event_time":
        segments[1] = segments[1].rsplit("|", 1)[0] + "|2024-03-01T08:00"
    elif how == "no_mrn":
        pid = segments[2].split("|")
        pid[3] = ""
        segments[2] = "|".join(pid)
    elif how == "no_visit_number":
        pv1[19] = ""
        pid = segments[2].split("|")
        pid[18] = ""
        segments[2] = "|".join(pid)
    elif how == "bad_admission_type":
        pv1[4] = "Z"
    elif how == "unsupported_type":
        segments[0] = segments[0].replace("ADT^A01^ADT_A01", "ADT^A05^ADT_A05")
    elif how == "no_control_id":
        segments[0] = segments[0].replace(f"|{control_id}|", "||")
        # Keep the message distinct from other broken ones although its MSH-10 is gone.
        segments.insert(1, f"NTE|1||{control_id}")
    elif how == "not_hl7":
        return f"HELLO {control_id}: this is not an HL7 message".encode()
    elif how == "bad_version":
        segments[0] = segments[0].replace("|P|2.5|", "|P|3.0|")
    elif how == "not_utf8":
        return (
            "\r".join(segments)
            .encode("utf-8")
            .replace(b"O'BRIEN", b"O'BRI\xc9N", 1)
            .replace(b"PATEL^", b"PAT\xc9L^", 1)
        )
    segments[4] = "|".join(pv1)
    return "\r".join(segments).encode("utf-8")


@dataclass(frozen=True)
class FeedMessage:
    """One message of the test feed and the answer it must get."""

    control_id: str  # MSH-10 as the ACK must echo it ("" when the message has none)
    raw: bytes
    code: AckCode
    location: str | None = None  # the field a rejection must name
    original: int | None = None  # index of the message this one is a resent copy of

    @property
    def quarantine_text(self) -> str:
        return self.raw.decode("utf-8", errors="backslashreplace")


def make_feed(
    count: int,
    *,
    seed: int,
    malformed_share: float = 0.05,
    duplicate_share: float = 0.05,
    id_prefix: str = "RGH",
) -> list[FeedMessage]:
    """A feed of ``count`` ADT messages: admissions, transfers, updates and discharges of many stays.

    ``malformed_share`` of them are broken in the ways of :data:`MALFORMATIONS` (in turn), and
    ``duplicate_share`` are exact resends of an earlier message (same bytes, same MSH-10).
    """
    rng = random.Random(seed)
    feed: list[FeedMessage] = []
    inside: list[Stay] = []
    clock = START
    serial = 0
    malformations = list(MALFORMATIONS)
    broken = 0
    for _ in range(count):
        clock += timedelta(seconds=rng.randint(5, 90))
        if feed and rng.random() < duplicate_share:
            original = rng.randrange(len(feed))
            source = feed[original]
            feed.append(FeedMessage(source.control_id, source.raw, source.code, source.location, original))
            continue
        serial += 1
        control_id = f"{id_prefix}{serial:08d}"
        if rng.random() < malformed_share:
            stay = new_stay(rng, serial, clock)
            how = malformations[broken % len(malformations)]
            broken += 1
            location, code = MALFORMATIONS[how]
            raw = malform(adt_message(control_id, "A01", stay, clock), how, control_id)
            echoed = "" if how in {"no_control_id", "not_hl7"} else control_id
            feed.append(FeedMessage(echoed, raw, code, location))
            continue
        roll = rng.random()
        if not inside or (roll < 0.35 and len(inside) < 400):
            stay = new_stay(rng, serial, clock)
            inside.append(stay)
            message = adt_message(control_id, "A01", stay, clock)
        elif roll < 0.55:
            stay = rng.choice(inside)
            prior = (stay.unit, stay.bed)
            stay.unit = rng.choice(list(UNITS))
            stay.bed = f"{rng.randint(1, UNITS[stay.unit])}-{rng.choice('AB')}"
            message = adt_message(control_id, "A02", stay, clock, prior=prior)
        elif roll < 0.75:
            stay = rng.choice(inside)
            vitals = {"9279-1": str(rng.randint(12, 28)), "8867-4": str(rng.randint(55, 130))}
            message = adt_message(control_id, "A08", stay, clock, vitals=vitals)
        else:
            stay = inside.pop(rng.randrange(len(inside)))
            message = adt_message(control_id, "A03", stay, clock, discharged_at=clock)
        feed.append(FeedMessage(control_id, message.encode("utf-8"), AckCode.ACCEPT))
    return feed


def new_stay(rng: random.Random, serial: int, clock: datetime) -> Stay:
    unit = rng.choice(list(UNITS))
    return Stay(
        mrn=f"{100000 + serial}",
        visit=f"V{serial:08d}",
        family=rng.choice(FAMILY_NAMES),
        given=rng.choice(GIVEN_NAMES),
        birth_date=f"19{rng.randint(30, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
        unit=unit,
        bed=f"{rng.randint(1, UNITS[unit])}-{rng.choice('AB')}",
        service=rng.choice(SERVICES),
        admitted_at=clock,
    )


def mllp(raw: bytes) -> bytes:
    """Raw bytes in an MLLP frame (unlike :func:`frame_message`, any bytes, not only text)."""
    return b"\x0b" + raw + b"\x1c\r"


def valid_message(control_id: str = "MSG0001", unit: str = "AMU", mrn: str = "123456") -> bytes:
    stay = Stay(mrn, f"V-{control_id}", "DOE", "JANE", "19600101", unit, "12-B", "MED", START)
    return adt_message(control_id, "A01", stay, START).encode()


# -- reading ACKs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """The parts of an ACK the tests look at."""

    text: str
    msh: list[str]
    code: str
    control_id: str
    message: str
    error: list[str] | None

    @classmethod
    def parse(cls, payload: bytes) -> Ack:
        text = payload.decode()
        segments = [segment.split("|") for segment in text.rstrip("\r").split("\r")]
        assert segments[0][0] == "MSH" and segments[1][0] == "MSA", text
        msa = segments[1] + ["", "", ""]
        error = next((segment for segment in segments if segment[0] == "ERR"), None)
        return cls(text, segments[0], msa[1], msa[2], msa[3], error)


def split_acks(buffer: bytearray) -> list[Ack]:
    """Take the complete ACK frames off the front of ``buffer``."""
    acks = []
    while (end := buffer.find(b"\x1c\r")) >= 0:
        assert buffer[:1] == b"\x0b", bytes(buffer[:20])
        acks.append(Ack.parse(bytes(buffer[1:end])))
        del buffer[: end + 2]
    return acks


def exchange(address: tuple[str, int], payload: bytes, expected: int, timeout: float = 20) -> list[Ack]:
    """Send raw bytes on a new connection and read ``expected`` ACKs."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(payload)
        return read_acks(connection, expected)


def read_acks(connection: socket.socket, expected: int) -> list[Ack]:
    buffer = bytearray()
    acks: list[Ack] = []
    while len(acks) < expected:
        data = connection.recv(65536)
        if not data:
            break
        buffer += data
        acks.extend(split_acks(buffer))
    assert len(acks) == expected, f"got {len(acks)} of {expected} ACKs"
    return acks


# -- a listener in a thread of the test process -------------------------------------------------------


class RunningListener:
    """An :class:`MLLPListener` on a free port, its event loop in a background thread."""

    def __init__(self, listener_store: Store, **settings: Any) -> None:
        settings.setdefault("salt", SALT)
        settings.setdefault("parse_workers", 0)  # worker processes take a second to start
        self.listener = MLLPListener(listener_store, ListenerSettings(port=0, **settings))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.address: tuple[str, int] = ("", 0)

    def __enter__(self) -> RunningListener:
        self.thread.start()
        self.address = self.call(self.listener.start())
        return self

    def call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.listener.stop())

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class GatedStore(Store):
    """A store whose batch commits wait for a gate, and can be made slow or failing."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner.engine, inner.results_dir)
        self.gate = threading.Event()
        self.gate.set()
        self.delay_seconds = 0.0
        self.failure: Exception | None = None
        self.refuse_event_id: str | None = None
        self.batch_sizes: list[int] = []

    def append_feed_batch(self, new_events: Any, rejected: Any, **options: Any) -> AppendResult:
        self.gate.wait(30)
        time.sleep(self.delay_seconds)
        if self.failure is not None:
            raise self.failure
        events = list(new_events)
        if self.refuse_event_id in {event.event_id for event in events}:
            raise sqlalchemy_errors.IntegrityError("INSERT ...", {}, ValueError("refused"))
        self.batch_sizes.append(len(events) + len(rejected))
        return super().append_feed_batch(events, rejected, **options)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'var' / 'twin.db'}", results_dir=tmp_path / "results") as opened:
        yield opened


def stored_event_ids(opened: Store) -> list[str]:
    return opened.events_since(0)["event_id"].to_list()


def event_id(control_id: str, sender: str = "PAS") -> str:
    """The event id of a test message (sent by ``sender`` at RGH) with this MSH-10."""
    return hl7_event_id(sender, "RGH", control_id)


def from_sender(message: bytes, sender: str) -> bytes:
    """The message as another sending application (MSH-3) would send it."""
    return message.replace(b"MSH|^~\\&|PAS|", b"MSH|^~\\&|" + sender.encode() + b"|", 1)


# -- framing ------------------------------------------------------------------------------------------


def test_decoder_reassembles_frames_fed_byte_by_byte() -> None:
    decoder = MLLPDecoder(max_message_bytes=1000)
    stream = frame_message("MSH|first") + frame_message("MSH|second")
    frames = [frame for byte in stream for frame in decoder.feed(bytes([byte]))]
    assert frames == [MLLPFrame(b"MSH|first"), MLLPFrame(b"MSH|second")]
    assert decoder.buffered_bytes == 0 and not decoder.in_frame


def test_decoder_returns_several_frames_from_one_read_and_skips_garbage_between_them() -> None:
    decoder = MLLPDecoder(max_message_bytes=1000)
    frames = decoder.feed(
        b"\r\n"
        + frame_message("MSH|a")
        + b"junk\x1c\r"
        + frame_message("MSH|b")
        + b"\x00"
        + frame_message("MSH|c")
    )
    assert [frame.payload for frame in frames] == [b"MSH|a", b"MSH|b", b"MSH|c"]
    assert all(frame.problem is None for frame in frames)
    assert decoder.discarded_bytes == len(b"\r\n") + len(b"junk\x1c\r") + 1


def test_decoder_keeps_a_lone_file_separator_inside_a_message_and_an_end_block_split_across_reads() -> None:
    decoder = MLLPDecoder(max_message_bytes=1000)
    assert decoder.feed(b"\x0bMSH|a\x1cb\x1c") == []
    assert decoder.feed(b"\r") == [MLLPFrame(b"MSH|a\x1cb")]


def test_decoder_reports_a_frame_that_was_not_ended_before_the_next_one() -> None:
    decoder = MLLPDecoder(max_message_bytes=1000)
    frames = decoder.feed(b"\x0bMSH|lost" + frame_message("MSH|next"))
    assert frames[0].payload == b"MSH|lost" and "not ended" in (frames[0].problem or "")
    assert frames[1] == MLLPFrame(b"MSH|next")


def test_decoder_rejects_an_oversized_frame_with_a_bounded_buffer_and_resynchronises() -> None:
    decoder = MLLPDecoder(max_message_bytes=100)
    frames = decoder.feed(b"\x0b" + b"MSH|" + b"x" * 50)
    assert frames == []
    largest = 0
    for _ in range(1000):  # 1 MB of one message, 1 kB at a time
        frames += decoder.feed(b"y" * 1000)
        largest = max(largest, decoder.buffered_bytes)
    frames += decoder.feed(b"\x1c")
    frames += decoder.feed(b"\r" + frame_message("MSH|fine"))
    assert largest <= 1001  # never more than one read kept while skipping
    assert len(frames) == 2
    assert frames[0].payload.startswith(b"MSH|xxx") and len(frames[0].payload) == 100
    assert frames[0].problem == "the message is larger than the limit of 100 bytes"
    assert frames[1] == MLLPFrame(b"MSH|fine")


def test_decoder_rejects_a_frame_whose_end_arrives_past_the_limit() -> None:
    decoder = MLLPDecoder(max_message_bytes=10)
    frames = decoder.feed(frame_message("MSH|" + "z" * 20) + frame_message("MSH|ok"))
    assert [frame.problem is not None for frame in frames] == [True, False]
    assert len(frames[0].payload) == 10 and frames[1].payload == b"MSH|ok"


# -- header, ACK, classification ----------------------------------------------------------------------


def test_ack_swaps_applications_and_echoes_the_control_id() -> None:
    header = read_header(valid_message("MSG-42").decode())
    assert header is not None
    ack = Ack.parse(build_ack(header, now=START, control_id="ACK000001").encode())
    assert ack.msh[:12] == [
        "MSH", "^~\\&", "TWIN", "RGH", "PAS", "RGH", "20240301080000+0000", "", "ACK^A01^ACK", "ACK000001",
        "P", "2.5",
    ]  # fmt: skip
    assert (ack.code, ack.control_id, ack.error) == ("AA", "MSG-42", None)
    assert ack.text.endswith("\r")


def test_error_ack_names_the_field_and_escapes_the_reason() -> None:
    header = read_header(valid_message("MSG-43").decode())
    error = HL7ParseError("OBX[2]-5", "'12|5^x' is not a number", message_id="MSG-43")
    rejection = reject_parse_error(error)
    ack = Ack.parse(build_ack(header, rejection).encode())
    assert (ack.code, ack.control_id) == ("AE", "MSG-43")
    assert ack.message == "OBX[2]-5: '12\\F\\5\\S\\x' is not a number"
    assert ack.error is not None
    assert ack.error[2] == "OBX^2^5"
    assert ack.error[3] == "102^Data type error^HL70357"
    assert ack.error[4] == "E"
    assert ack.error[8] == ack.message


def test_ack_to_a_message_without_an_msh_has_our_name_and_no_control_id() -> None:
    rejection = reject_parse_error(HL7ParseError("MSH", "the message does not start with an MSH segment"))
    ack = Ack.parse(build_ack(None, rejection, application="TWIN_ADT", facility="RGH").encode())
    assert ack.msh[2:4] == ["TWIN_ADT", "RGH"] and ack.msh[8] == "ACK"
    assert (ack.code, ack.control_id) == ("AR", "")


def test_header_with_other_separators_is_answered_in_the_same_separators() -> None:
    message = "MSH#*~\\&#PAS#RGH#TWIN#RGH#20240301##ADT*A01#M1#P#2.5\rEVN#A01"
    header = read_header(message)
    assert header is not None and header.message_type == "ADT^A01" and header.control_id == "M1"
    ack = build_ack(header, now=START, control_id="X")
    assert ack.startswith("MSH#*~\\&#TWIN#RGH#PAS#RGH#20240301080000+0000##ACK*A01*ACK#X#P#2.5\rMSA#AA#M1\r")
    assert read_header("MSH|^^\\&|bad separators") is None
    assert read_header("PID|1") is None


@pytest.mark.parametrize(
    ("error", "code", "table_code"),
    [
        (UnsupportedMessageError("MSH-9", "message type ADT^A05 is not supported"), AckCode.REJECT, "200"),
        (HL7ParseError("MSH-12", "version '3.0' is not HL7 v2"), AckCode.REJECT, "203"),
        (HL7ParseError("MSH-10", "the message control id is missing"), AckCode.REJECT, "101"),
        (HL7ParseError("PV1-3", "ADT^A01 needs the assigned patient location"), AckCode.ERROR, "101"),
        (HL7ParseError("EVN-6", "'2024-03-01' is not an HL7 date/time"), AckCode.ERROR, "102"),
        (HL7ParseError("PID-3", "no patient identifier (medical record number)"), AckCode.ERROR, "101"),
        (HL7ParseError("PV1-4", "admission type 'Z' is not in HL7 table 0007"), AckCode.ERROR, "103"),
    ],
)
def test_parse_errors_are_answered_ae_for_content_and_ar_for_the_header_or_type(
    error: HL7ParseError, code: AckCode, table_code: str
) -> None:
    rejection = reject_parse_error(error)
    assert (rejection.code, rejection.error_code, rejection.location) == (code, table_code, error.location)


def test_error_location_and_escaping() -> None:
    assert error_location("MSH-10") == "MSH^1^10"
    assert error_location("store") == ""
    assert escape_text("a\\b&c~d\re\x1c") == "a\\E\\b\\T\\c\\R\\d e "


def test_feed_committer_answers_each_message_of_a_batch_in_order(sqlite_store: Store) -> None:
    committer = FeedCommitter(sqlite_store, salt=SALT)
    frames = [
        (MLLPFrame(valid_message("B1")), START),
        (MLLPFrame(b"garbage"), START),
        (MLLPFrame(valid_message("B1")), START),  # repeated within the batch: stored once
        (MLLPFrame(valid_message("B2")), START),
    ]
    outcome = committer.commit(frames)
    acks = [Ack.parse(ack[1:-2]) for ack in outcome.acks]
    assert [(ack.code, ack.control_id) for ack in acks] == [
        ("AA", "B1"),
        ("AR", ""),
        ("AA", "B1"),
        ("AA", "B2"),
    ]
    assert (outcome.counts.accepted, outcome.counts.rejected, outcome.counts.duplicates) == (3, 1, 1)
    assert stored_event_ids(sqlite_store) == [event_id("B1"), event_id("B2")]
    [kept] = sqlite_store.quarantined()
    assert (kept.raw, kept.source) == ("garbage", "hl7-mllp")
    assert kept.reason == "MSH: the message does not start with an MSH segment (answered AR)"


# -- the store's one-transaction batch ----------------------------------------------------------------


def test_append_feed_batch_commits_events_and_quarantine_together(store: Store) -> None:  # noqa: F811
    event = parse_hl7_message(valid_message("T1"), salt=SALT)
    result = store.append_feed_batch(
        [event], [("raw text", "PV1-3: why")], source="hl7-mllp", received_at=START
    )
    assert result == AppendResult(1, 0)
    assert stored_event_ids(store) == [event_id("T1")]
    [kept] = store.quarantined()
    assert (kept.raw, kept.reason, kept.source, kept.received_at) == (
        "raw text",
        "PV1-3: why",
        "hl7-mllp",
        START,
    )
    # Stored exactly as append_events stores it.
    assert store.read_events().to_dicts() == events_to_frame([event]).to_dicts()
    assert store.append_feed_batch([event, event], []) == AppendResult(0, 2)
    assert store.append_feed_batch([], []) == AppendResult(0, 0)
    bogus = dataclasses.replace(event, event_id="T3", kind="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bogus"):
        store.append_feed_batch([bogus], [("raw", "why")])
    assert len(store.quarantined()) == 1

    second = parse_hl7_message(valid_message("T2"), salt=SALT)
    with pytest.raises(sqlalchemy_errors.IntegrityError):
        store.append_feed_batch([second], [("raw", None)])  # type: ignore[list-item]  # reason is NOT NULL
    # The event was rolled back with the failed quarantine row.
    assert stored_event_ids(store) == [event_id("T1")]
    assert len(store.quarantined()) == 1


def test_full_sync_is_set_on_the_listeners_sqlite_connections(sqlite_store: Store) -> None:
    use_full_sync(sqlite_store)
    with sqlite_store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


# -- the listener, in this process --------------------------------------------------------------------


def test_aa_is_sent_only_once_the_event_is_committed(sqlite_store: Store, tmp_path: Path) -> None:
    slow = GatedStore(sqlite_store)
    slow.delay_seconds = 0.3  # an ACK sent before the commit would arrive while the event is missing
    with (
        RunningListener(slow) as running,
        open_store(slow.url, results_dir=tmp_path / "r") as reader,
        socket.create_connection(running.address, timeout=20) as connection,
    ):
        for number in range(3):
            connection.sendall(frame_message(valid_message(f"C{number}").decode()))
            [ack] = read_acks(connection, 1)
            assert (ack.code, ack.control_id) == ("AA", f"C{number}")
            assert event_id(f"C{number}") in stored_event_ids(reader)  # through another connection


def test_errors_are_quarantined_with_the_raw_text_before_the_ae_or_ar(
    store: Store,  # noqa: F811  (SQLite and PostgreSQL)
    caplog: pytest.LogCaptureFixture,
) -> None:
    opened = store
    feed = make_feed(400, seed=3, malformed_share=0.3, duplicate_share=0.0)
    broken = [message for message in feed if message.code is not AckCode.ACCEPT][: len(MALFORMATIONS)]
    assert {message.location for message in broken} == {location for location, _ in MALFORMATIONS.values()}
    caplog.set_level(logging.DEBUG)
    with RunningListener(opened, parse_workers=2) as running:
        acks = exchange(running.address, b"".join(mllp(m.raw) for m in broken), len(broken))
    rows = {row.raw: row for row in opened.quarantined(limit=None)}
    for message, ack in zip(broken, acks, strict=True):
        assert (ack.code, ack.control_id) == (message.code.value, message.control_id)
        assert ack.message.startswith(f"{message.location}: ")
        assert ack.error is not None and ack.error[4] == "E"
        row = rows[message.quarantine_text]
        assert row.reason.startswith(f"{message.location}: ") and row.reason.endswith(
            f"(answered {ack.code})"
        )
        assert row.source == "hl7-mllp"
    assert len(rows) == len(broken)
    assert opened.count_events() == 0
    # Logs carry control ids and message types, never patient data from PID or the raw text.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RGH0000" in logged
    for identifier in ("PARK ROW", "0113 496", "^MRS", "ACC1", *FAMILY_NAMES, *GIVEN_NAMES):
        assert identifier not in logged


def test_a_resent_message_is_acknowledged_and_stored_once(sqlite_store: Store) -> None:
    message = mllp(valid_message("DUP-1"))
    with RunningListener(sqlite_store) as running:
        first = exchange(running.address, message, 1)
        second = exchange(running.address, message + message, 2)  # resent on a new connection, twice
        counts = running.listener.counts
    assert [(ack.code, ack.control_id) for ack in first + second] == [("AA", "DUP-1")] * 3
    assert stored_event_ids(sqlite_store) == [event_id("DUP-1")]
    assert (counts.accepted, counts.duplicates) == (3, 2)


def test_two_senders_with_the_same_control_id_are_both_stored(sqlite_store: Store) -> None:
    pas = valid_message("SAME-1", unit="AMU", mrn="111111")
    epr = from_sender(valid_message("SAME-1", unit="WARD7", mrn="222222"), "EPR")
    assert epr != pas and b"|EPR|RGH|" in epr
    with RunningListener(sqlite_store) as running:
        acks = exchange(running.address, mllp(pas) + mllp(epr) + mllp(epr), 3)  # the second one resent
        counts = running.listener.counts
    assert [(ack.code, ack.control_id) for ack in acks] == [("AA", "SAME-1")] * 3
    assert stored_event_ids(sqlite_store) == [event_id("SAME-1"), event_id("SAME-1", sender="EPR")]
    assert sqlite_store.read_events()["unit"].to_list() == ["AMU", "WARD7"]
    assert (counts.duplicates, counts.reused_ids) == (1, 0)


def test_a_different_message_reusing_a_control_id_is_counted_and_logged(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    committer = FeedCommitter(sqlite_store, salt=SALT)
    first = committer.commit([(MLLPFrame(valid_message("REUSED-1", unit="AMU", mrn="111111")), START)])
    assert (first.counts.duplicates, first.counts.reused_ids) == (0, 0)
    caplog.set_level(logging.WARNING, logger="ui.listener")
    again = committer.commit(
        [
            (MLLPFrame(valid_message("REUSED-1", unit="AMU", mrn="111111")), START),  # resent: fine
            (MLLPFrame(valid_message("REUSED-1", unit="WARD7", mrn="333333")), START),  # a sender fault
            (MLLPFrame(valid_message("NEW-2")), START),
        ]
    )
    acks = [Ack.parse(ack[1:-2]) for ack in again.acks]
    assert [(ack.code, ack.control_id) for ack in acks] == [("AA", "REUSED-1")] * 2 + [("AA", "NEW-2")]
    assert (again.counts.accepted, again.counts.duplicates, again.counts.reused_ids) == (3, 2, 1)
    assert stored_event_ids(sqlite_store) == [event_id("REUSED-1"), event_id("NEW-2")]
    assert sqlite_store.read_events()["unit"].to_list()[0] == "AMU"  # the first one is kept
    [warning] = [record.getMessage() for record in caplog.records if "reused" in record.getMessage()]
    assert warning.startswith("message REUSED-1 (ADT^A01): its event id is stored already")
    for identifier in ("333333", "111111", "DOE", "JANE", "V-REUSED-1", "WARD7"):
        assert identifier not in warning


def test_a_failed_comparison_of_duplicates_does_not_fail_the_batch(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> list[object]:
        raise sqlalchemy_errors.OperationalError("SELECT", {}, OSError("gone"))

    monkeypatch.setattr(sqlite_store, "reused_event_ids", broken)
    committer = FeedCommitter(sqlite_store, salt=SALT)
    frames = [(MLLPFrame(valid_message("C-1")), START)] * 2
    outcome = committer.commit(frames)
    assert [Ack.parse(ack[1:-2]).code for ack in outcome.acks] == ["AA", "AA"]
    assert (outcome.counts.duplicates, outcome.counts.reused_ids) == (1, 0)
    assert "could not compare duplicates" in caplog.text


def test_pipelined_messages_are_group_committed_and_acknowledged_in_order(sqlite_store: Store) -> None:
    gated = GatedStore(sqlite_store)
    feed = make_feed(300, seed=5, malformed_share=0.1, duplicate_share=0.1)
    with RunningListener(gated, parse_workers=2) as running:
        acks = exchange(running.address, b"".join(mllp(m.raw) for m in feed), len(feed))
    assert [(ack.code, ack.control_id) for ack in acks] == [(m.code.value, m.control_id) for m in feed]
    assert len(gated.batch_sizes) < len(feed) / 3  # messages waiting for a commit went into one batch
    expected = {event_id(m.control_id) for m in feed if m.code is AckCode.ACCEPT}
    assert sorted(stored_event_ids(sqlite_store)) == sorted(expected)


def test_messages_from_several_connections_share_commits(sqlite_store: Store) -> None:
    gated = GatedStore(sqlite_store)
    gated.delay_seconds = 0.02
    senders = 6
    per_sender = 40
    results: dict[int, list[Ack]] = {}

    def send(number: int, address: tuple[str, int]) -> None:
        with socket.create_connection(address, timeout=30) as connection:
            acks = []
            for index in range(per_sender):  # one at a time: each waits for its ACK
                connection.sendall(mllp(valid_message(f"S{number}-{index}")))
                acks += read_acks(connection, 1)
            results[number] = acks

    with RunningListener(gated) as running:
        threads = [threading.Thread(target=send, args=(n, running.address)) for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    for number in range(senders):
        assert [ack.control_id for ack in results[number]] == [f"S{number}-{i}" for i in range(per_sender)]
        assert {ack.code for ack in results[number]} == {"AA"}
    assert sqlite_store.count_events() == senders * per_sender
    assert max(gated.batch_sizes) > 1 and len(gated.batch_sizes) < senders * per_sender * 0.6


def test_a_fast_sender_is_held_back_with_bounded_memory(sqlite_store: Store) -> None:
    gated = GatedStore(sqlite_store)
    gated.gate.clear()  # the store does not commit until the gate opens
    message_count = 1_500
    padding = b"NTE|1||" + b"n" * 10_000 + b"\r"  # 15 MB in all: more than the kernel's socket buffers
    frames = [mllp(valid_message(f"F{number}") + padding) for number in range(message_count)]
    with RunningListener(gated, max_in_flight=50) as running:
        connection = socket.create_connection(running.address, timeout=20)
        connection.setblocking(False)
        sent_bytes = 0
        payload = b"".join(frames)
        deadline = time.monotonic() + 10
        stalled_since = None
        while sent_bytes < len(payload) and time.monotonic() < deadline:
            try:
                sent_bytes += connection.send(payload[sent_bytes : sent_bytes + 65536])
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break  # the listener stopped reading: TCP pushes back
                time.sleep(0.01)
        listener = running.listener
        assert sent_bytes < len(payload), "the sender was never held back"
        assert listener.in_flight <= 50
        assert listener.counts.received <= 50  # nothing was committed yet
        assert listener.buffered_bytes <= 50 * len(frames[0])
        gated.gate.set()
        connection.setblocking(True)
        connection.settimeout(60)
        remaining = payload[sent_bytes:]
        sender = threading.Thread(target=connection.sendall, args=(remaining,))
        sender.start()
        acks = read_acks(connection, message_count)
        sender.join(30)
        connection.close()
    assert [ack.control_id for ack in acks] == [f"F{number}" for number in range(message_count)]
    assert sqlite_store.count_events() == message_count


def test_an_oversized_frame_is_rejected_quarantined_in_part_and_the_feed_goes_on(sqlite_store: Store) -> None:
    big = valid_message("BIG-1") + b"NTE|1||" + b"x" * 50_000 + b"\r"
    with RunningListener(sqlite_store, max_message_bytes=4096) as running:
        acks = exchange(running.address, mllp(big) + mllp(valid_message("AFTER-1")), 2)
    assert (acks[0].code, acks[0].control_id) == ("AR", "BIG-1")
    assert acks[0].message == "MLLP: the message is larger than the limit of 4096 bytes"
    assert (acks[1].code, acks[1].control_id) == ("AA", "AFTER-1")
    [kept] = sqlite_store.quarantined()
    assert kept.raw == big[:4096].decode() and kept.reason.startswith("MLLP: the message is larger")
    assert stored_event_ids(sqlite_store) == [event_id("AFTER-1")]


def test_a_store_outage_is_answered_ar_and_nothing_is_quarantined(sqlite_store: Store) -> None:
    failing = GatedStore(sqlite_store)
    failing.failure = sqlalchemy_errors.OperationalError("BEGIN", {}, OSError("disk I/O error"))
    with RunningListener(failing) as running:
        acks = exchange(running.address, mllp(valid_message("OUT-1")) + mllp(b"junk"), 2)
    assert [(ack.code, ack.control_id) for ack in acks] == [("AR", "OUT-1"), ("AR", "")]
    assert all(ack.error is not None and ack.error[3].startswith("207^") for ack in acks)
    assert "send it again later" in acks[0].message
    assert sqlite_store.count_events() == 0 and sqlite_store.quarantined() == []


def test_a_message_the_store_refuses_does_not_fail_its_neighbours(sqlite_store: Store) -> None:
    refusing = GatedStore(sqlite_store)
    refusing.refuse_event_id = event_id("BAD-2")
    payload = b"".join(mllp(valid_message(name)) for name in ("OK-1", "BAD-2", "OK-3"))
    with RunningListener(refusing) as running:
        acks = exchange(running.address, payload, 3)
    assert [(ack.code, ack.control_id) for ack in acks] == [("AA", "OK-1"), ("AE", "BAD-2"), ("AA", "OK-3")]
    assert sorted(stored_event_ids(sqlite_store)) == [event_id("OK-1"), event_id("OK-3")]
    [kept] = sqlite_store.quarantined()
    assert kept.raw == valid_message("BAD-2").decode() and kept.reason.startswith("store: the store refused")


def test_stop_commits_and_acknowledges_in_flight_messages_first(sqlite_store: Store) -> None:
    gated = GatedStore(sqlite_store)
    gated.gate.clear()
    running = RunningListener(gated).__enter__()
    try:
        connection = socket.create_connection(running.address, timeout=20)
        connection.sendall(b"".join(mllp(valid_message(f"G{n}")) for n in range(5)) + b"\x0bMSH|partial")
        deadline = time.monotonic() + 10
        while (
            running.listener.counts.received + running.listener.in_flight < 5 and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        stopping = asyncio.run_coroutine_threadsafe(running.listener.stop(), running.loop)
        time.sleep(0.2)
        assert not stopping.done()  # waiting for the commit in flight
        gated.gate.set()
        stopping.result(30)
        acks = read_acks(connection, 5)
        assert connection.recv(100) == b""  # then the connection is closed
        connection.close()
    finally:
        running.loop.call_soon_threadsafe(running.loop.stop)
        running.thread.join(10)
    assert [(ack.code, ack.control_id) for ack in acks] == [("AA", f"G{n}") for n in range(5)]
    assert sqlite_store.count_events() == 5
    with pytest.raises(OSError):
        socket.create_connection(running.address, timeout=2)


def test_connections_over_the_limit_are_closed(sqlite_store: Store) -> None:
    with RunningListener(sqlite_store, max_connections=1) as running:
        with socket.create_connection(running.address, timeout=10) as first:
            first.sendall(mllp(valid_message("L1")))
            read_acks(first, 1)
            with socket.create_connection(running.address, timeout=10) as second:
                assert second.recv(100) == b""
        deadline = time.monotonic() + 10
        while running.listener.connections and time.monotonic() < deadline:
            time.sleep(0.01)  # the first connection's close reaches the listener
        assert exchange(running.address, mllp(valid_message("L2")), 1)[0].code == "AA"


def test_the_listener_refuses_the_public_demo_salt(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSPITAL_TWIN_SALT", DEMO_SALT)
    monkeypatch.delenv("HOSPITAL_TWIN_DEMO", raising=False)
    with pytest.raises(SaltNotConfigured, match="demo salt"):
        MLLPListener(sqlite_store, ListenerSettings(port=0))
    monkeypatch.setenv("HOSPITAL_TWIN_SALT", "a-secret-salt")
    listener = MLLPListener(sqlite_store, ListenerSettings(port=0))
    assert listener.committer.reader.salt == b"a-secret-salt"


def test_a_parse_worker_that_dies_is_replaced_and_no_message_is_lost(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with RunningListener(sqlite_store, parse_workers=1) as running:
        workers = [child for child in multiprocessing.active_children() if "Process" in child.name]
        assert workers
        for worker in workers:
            os.kill(worker.pid or 0, signal.SIGKILL)
        for worker in workers:
            worker.join(10)
        batch = b"".join(mllp(valid_message(f"W{number}")) for number in range(20))
        acks = exchange(running.address, batch, 20)
        assert [(ack.code, ack.control_id) for ack in acks] == [("AA", f"W{number}") for number in range(20)]
        again = exchange(running.address, b"".join(mllp(valid_message(f"X{n}")) for n in range(20)), 20)
        assert {ack.code for ack in again} == {"AA"}
    assert sqlite_store.count_events() == 40
    assert "a parse worker died" in caplog.text


def test_listen_command_prints_its_address_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    program = (
        "import typer; from ui.commands.listen import listen; "
        "app = typer.Typer(); app.command()(listen); app()"
    )
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-c", program, "--port", "0", "--database", database, "--parse-workers", "0"]
    environment = {**os.environ, "HOSPITAL_TWIN_SALT": SALT, "COLUMNS": "200"}
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"Listening for HL7 v2 over MLLP on 127\.0\.0\.1:(\d+) ", first)
        assert match, first + (process.stderr.read() if process.stderr else "")
        acks = exchange(("127.0.0.1", int(match[1])), mllp(valid_message("CLI-1")) + mllp(b"junk"), 2)
        assert [ack.code for ack in acks] == ["AA", "AR"]
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    assert "Stopped: 2 messages, 1 AA (0 already stored), 0 AE, 1 AR, 1 quarantined." in output


# -- the fault test: a real listener process killed three times ---------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class FeedRun:
    """What the sender saw: per feed message, how often it was sent and the ACK codes it got."""

    sends: list[int]
    acks: list[list[str]]
    kills: int = 0
    starts: int = 0
    resent_after_kill: int = 0
    log: list[str] = field(default_factory=list)


class ListenerProcess:
    """``python -m ui.listener`` as a child process on a fixed port."""

    def __init__(self, database: str, port: int, log_path: Path) -> None:
        self.command = [
            sys.executable, "-m", "ui.listener", "--port", str(port), "--database", database,
            "--log-level", "WARNING",
        ]  # fmt: skip
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = {**os.environ, "HOSPITAL_TWIN_SALT": SALT}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=log
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


async def connect_when_ready(
    port: int, process: ListenerProcess
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert process.alive, "the listener exited: " + process.log_path.read_text()[-2000:]
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def send_feed(feed: list[FeedMessage], process: ListenerProcess, kill_after_acks: list[int]) -> FeedRun:
    """Send the whole feed, pipelined, resending what was not acknowledged whenever the listener dies."""
    frames = [mllp(message.raw) for message in feed]
    run = FeedRun([0] * len(feed), [[] for _ in feed])
    to_send: deque[int] = deque(range(len(feed)))
    kills = deque(kill_after_acks)
    acknowledged = 0
    window_size = 100
    while to_send:
        if not process.alive:
            process.start()
            run.starts += 1
        reader, writer = await connect_when_ready(process.port, process)
        outstanding: deque[int] = deque()
        window = asyncio.Semaphore(window_size)

        async def send(writer: asyncio.StreamWriter = writer, window: asyncio.Semaphore = window,
                       outstanding: deque[int] = outstanding) -> None:  # fmt: skip
            while to_send:
                await window.acquire()
                if not to_send:
                    break
                index = to_send.popleft()
                outstanding.append(index)
                run.sends[index] += 1
                writer.write(frames[index])
                await writer.drain()

        sender = asyncio.create_task(send())
        buffer = bytearray()
        try:
            while to_send or outstanding:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionResetError("the listener closed the connection")
                buffer += data
                for ack in split_acks(buffer):
                    index = outstanding.popleft()
                    assert ack.control_id == feed[index].control_id, (ack.text, index)
                    run.acks[index].append(ack.code)
                    window.release()
                    acknowledged += 1
                    if kills and acknowledged >= kills[0]:
                        kills.popleft()
                        process.kill()
                        run.kills += 1
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            with suppress(asyncio.CancelledError, ConnectionError, OSError):
                await sender
            writer.close()
        run.resent_after_kill += len(outstanding)
        to_send.extendleft(reversed(outstanding))
    return run


@pytest.mark.slow
def test_listener_killed_three_times_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    feed = make_feed(20_000, seed=2024)
    malformed = [m for m in feed if m.code is not AckCode.ACCEPT]
    duplicates = [m for m in feed if m.original is not None]
    assert 800 <= len(malformed) <= 1200 and 800 <= len(duplicates) <= 1200
    assert len({m.raw for m in feed if m.original is None}) == len(feed) - len(duplicates)

    database = f"sqlite:///{tmp_path / 'feed.db'}"
    process = ListenerProcess(database, free_port(), tmp_path / "listener.log")
    kill_after = sorted(random.Random(99).sample(range(1_500, 18_500), 3))
    started = time.monotonic()
    try:
        run = asyncio.run(send_feed(feed, process, kill_after))
        assert process.terminate() == 0, process.log_path.read_text()[-3000:]  # graceful stop on SIGTERM
    finally:
        if process.alive:
            process.kill()
    elapsed = time.monotonic() - started
    print(f"\nfault test: {len(feed)} messages in {elapsed:.1f} s, {run.kills} kills, {run.starts} starts, "
          f"{run.resent_after_kill} resent after a kill")  # fmt: skip

    assert run.kills == 3 and run.starts == 4
    assert run.resent_after_kill > 0  # the kills hit messages in flight
    # Every message was answered in the end, with the answer it deserved.
    for message, codes in zip(feed, run.acks, strict=True):
        assert codes and set(codes) == {message.code.value}, (message.control_id, codes)

    with open_store(database, results_dir=tmp_path / "results") as opened:
        stored = stored_event_ids(opened)
        quarantined = opened.quarantined(limit=None)
        sample = opened.read_events()
    # Every acknowledged message's event is stored exactly once; no malformed one is.
    accepted = {event_id(m.control_id) for m in feed if m.code is AckCode.ACCEPT}
    assert len(stored) == len(set(stored)) == len(accepted)
    assert set(stored) == accepted
    # Stored events are the messages' events.
    by_id = {row["event_id"]: row for row in sample.iter_rows(named=True)}
    for message in random.Random(1).sample([m for m in feed if m.code is AckCode.ACCEPT], 200):
        expected = parse_hl7_message(message.raw, salt=SALT)
        stored_row = by_id[event_id(message.control_id)]
        assert tuple(stored_row[name] for name in ("kind", "unit", "bed", "patient_key", "encounter_id")) == (
            expected.kind.value, expected.unit, expected.bed, expected.patient_key, expected.encounter_id
        )  # fmt: skip

    # Every malformed message is quarantined with its reason: once per time it was answered, and at
    # most once per time it was sent (a message resent after a kill may have been quarantined by the
    # killed listener before its AE/AR went out).
    rows = Counter(row.raw for row in quarantined)
    reasons: dict[str, set[str]] = {}
    for row in quarantined:
        reasons.setdefault(row.raw, set()).add(row.reason)
    groups: dict[str, tuple[FeedMessage, int, int]] = {}
    for message, sends, codes in zip(feed, run.sends, run.acks, strict=True):
        if message.code is AckCode.ACCEPT:
            continue
        _, sent, answered = groups.get(message.quarantine_text, (message, 0, 0))
        groups[message.quarantine_text] = (message, sent + sends, answered + len(codes))
    assert set(rows) == set(groups)  # nothing else quarantined
    extra_rows = 0
    for raw, (message, sent, answered) in groups.items():
        assert answered <= rows[raw] <= sent, (message.control_id, answered, rows[raw], sent)
        extra_rows += rows[raw] - answered
        for reason in reasons[raw]:
            assert reason.startswith(f"{message.location}: ") and reason.endswith(
                f"(answered {message.code})"
            )
    assert extra_rows <= run.resent_after_kill
    assert elapsed < 120
