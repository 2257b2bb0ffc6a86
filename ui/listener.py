r"""The HL7 v2 ADT feed: an asyncio MLLP listener that stores events, then acknowledges them.

An interface engine opens a TCP connection and sends MLLP frames (``0x0B`` message ``0x1C 0x0D``);
every message gets one ACK, in the order the messages arrived on that connection:

====  ==============================================================================================
MSA   meaning
====  ==============================================================================================
AA    the message's event is committed to the store (or was already there: a message resent from the
      same sender with the same MSH-10 is acknowledged again and not applied twice).
AE    the message was read but its content is wrong (a missing or invalid field outside MSH, e.g.
      ``PV1-3``); it is in the quarantine table with the reason. Fix it and send it again.
AR    the message was refused whole: unsupported message type or version (``MSH-9``, ``MSH-12``),
      an unusable MSH, bytes that are not valid text, a frame larger than the limit or not ended;
      it is in the quarantine table with the reason. Also sent when the store could not commit the
      message (MSA-3 ``store: ...``, ERR-3 ``207``): then nothing was kept; send it again later.
====  ==============================================================================================

MSA-3 and ERR-8 carry the reason in words, ERR-2 the segment and field (``PV1^1^3``), ERR-3 the HL7
table 0357 code. Every AA, AE and AR (but the ``store:`` one) is sent only after the transaction that
stored the event or quarantined the message has committed; on SQLite the listener's commits are
``synchronous = FULL``, so an acknowledged message survives a power cut, not only a crash.

Group commit: messages that arrive while a commit is in flight, on any connection (and pipelined
frames on one connection), are committed together in one transaction; their ACKs then go out in
order. Store calls run on one thread, so the event loop keeps reading and writing sockets; parsing,
the largest cost, runs in ``parse_workers`` processes while the previous batch is committed. The
workers are spawned, not forked: a script that starts :class:`MLLPListener` itself needs the usual
``if __name__ == "__main__":`` guard.

Memory is bounded: a frame is at most ``max_message_bytes`` (the rest of a larger frame is skipped,
never buffered); a connection has at most ``max_in_flight`` messages read but not yet acknowledged,
and all connections together at most ``max_buffered_bytes`` of messages waiting for a commit. When a
limit is reached the listener stops reading that socket, and TCP flow control slows the sender.

The event id of a message is ``hl7:<MSH-3>^<MSH-4>:<MSH-10>`` (:func:`patients.hl7v2.hl7_event_id`):
two systems that use the same control id do not overwrite each other. A message whose event id is
stored already, but for a different event (the sender reused a control id for another message), is
answered AA like any duplicate and not applied; it is logged as a warning and counted
(:attr:`ListenerCounts.reused_ids`), so that the interface team can find it.

Logs name a message by its control id (MSH-10) and type (MSH-9) only, never by patient data: no PID
field, no raw text, no value from the message.

Run it with ``hospital-twin listen`` or ``python -m ui.listener``.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import exc as sqlalchemy_errors

from ops.settings import SaltNotConfigured, ingest_salt
from ops.store import Store, open_store
from ops.store.engine import sqlite_file
from patients.errors import HL7ParseError, UnsupportedMessageError
from patients.events import PatientEvent
from patients.hl7v2 import parse_hl7_message
from patients.identity import resolve_salt

logger = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
"""MLLP start of a frame (vertical tab)."""

END_BLOCK = b"\x1c\r"
"""MLLP end of a frame (file separator, carriage return)."""

DEFAULT_PORT = 2575
"""The port IANA assigns to HL7 over MLLP."""

DEFAULT_MAX_MESSAGE_BYTES = 1_048_576
"""Largest message accepted by default [bytes]."""

QUARANTINE_SOURCE = "hl7-mllp"
"""``source`` of the messages this listener quarantines."""

READ_BYTES = 65_536
"""Largest read from a socket at a time [bytes]."""

PARENT_CHECK_SECONDS = 0.5
"""How often a parse worker checks that the listener that started it is still running [s]."""

POOL_MIN_BATCH = 4
"""Smallest batch of messages sent to the parse worker processes; smaller ones are parsed in-process."""

STANDARD_ENCODING_CHARACTERS = "^~\\&"
"""Component, repetition, escape and subcomponent separators (MSH-2) of the ACKs we write by default."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_LOCATION = re.compile(
    r"^(?P<segment>[A-Z][A-Z0-9]{2})(?:\[(?P<occurrence>\d+)\])?(?:-(?P<field>\d+)(?:\.(?P<component>\d+))?)?$"
)
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")


# -- framing ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MLLPFrame:
    """One message taken out of an MLLP stream.

    Attributes
    ----------
    payload
        The bytes between the start block and the end block (only the first ``max_message_bytes``
        of an oversized frame).
    problem
        Why the frame cannot be used (too large, not ended), or ``None`` for a complete frame.
    """

    payload: bytes
    problem: str | None = None


class MLLPDecoder:
    r"""Split a byte stream into MLLP frames, with a bounded buffer.

    Bytes outside frames (before a start block) are counted and dropped. A frame longer than
    ``max_message_bytes`` is given back as a problem frame holding its first ``max_message_bytes``
    bytes, and the rest of it is skipped without being kept. A start block inside a frame means the
    frame before it was never ended: it is given back as a problem frame and the new frame begins.

    Parameters
    ----------
    max_message_bytes
        Largest payload accepted [bytes].

    Examples
    --------
    >>> decoder = MLLPDecoder(max_message_bytes=100)
    >>> decoder.feed(b"noise\x0bMSH|first\x1c\r\x0bMSH|sec")
    [MLLPFrame(payload=b'MSH|first', problem=None)]
    >>> decoder.feed(b"ond\x1c\r")
    [MLLPFrame(payload=b'MSH|second', problem=None)]
    >>> decoder.discarded_bytes
    5
    """

    def __init__(self, max_message_bytes: int) -> None:
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be at least 1, not {max_message_bytes}")
        self.max_message_bytes = max_message_bytes
        self.discarded_bytes = 0
        self._buffer = bytearray()
        self._in_frame = False
        self._skipping = False  # inside an oversized frame, already reported
        self._scanned = 0  # bytes of the current frame already searched for its end

    @property
    def buffered_bytes(self) -> int:
        """Bytes held, waiting for the rest of their frame."""
        return len(self._buffer)

    @property
    def in_frame(self) -> bool:
        """True when a frame has started and not yet ended."""
        return self._in_frame

    def feed(self, data: bytes) -> list[MLLPFrame]:
        """Take the next bytes of the stream; returns the frames they complete, in order."""
        self._buffer += data
        frames: list[MLLPFrame] = []
        buffer = self._buffer
        while buffer:
            if not self._in_frame:
                start = buffer.find(START_BLOCK)
                if start < 0:
                    self.discarded_bytes += len(buffer)
                    buffer.clear()
                    break
                self.discarded_bytes += start
                del buffer[: start + 1]
                self._in_frame, self._skipping, self._scanned = True, False, 0
                continue
            end = buffer.find(END_BLOCK, max(self._scanned - 1, 0))
            restart = buffer.find(START_BLOCK, self._scanned)
            if restart >= 0 and (end < 0 or restart < end):
                # A new frame starts before this one ended.
                if not self._skipping:
                    frames.append(
                        MLLPFrame(
                            bytes(buffer[: min(restart, self.max_message_bytes)]),
                            "the frame was not ended with 0x1C 0x0D before the next frame began (0x0B)",
                        )
                    )
                del buffer[:restart]
                self._in_frame = False
                continue
            if end >= 0:
                if not self._skipping:
                    if end > self.max_message_bytes:
                        frames.append(self._oversized(buffer))
                    else:
                        frames.append(MLLPFrame(bytes(buffer[:end])))
                del buffer[: end + len(END_BLOCK)]
                self._in_frame = False
                continue
            # No end yet: keep what may still be part of the message, never more than the limit.
            if not self._skipping and len(buffer) > self.max_message_bytes:
                frames.append(self._oversized(buffer))
                self._skipping = True
            if self._skipping:
                keep = 1 if buffer.endswith(END_BLOCK[:1]) else 0  # the end block may be split
                self._scanned = keep
                del buffer[: len(buffer) - keep]
            else:
                self._scanned = len(buffer)
            break
        return frames

    def _oversized(self, buffer: bytearray) -> MLLPFrame:
        return MLLPFrame(
            bytes(buffer[: self.max_message_bytes]),
            f"the message is larger than the limit of {self.max_message_bytes} bytes",
        )


def frame_message(message: str, encoding: str = "utf-8") -> bytes:
    r"""Wrap a message in MLLP framing (``0x0B`` ... ``0x1C 0x0D``).

    Examples
    --------
    >>> frame_message("MSH|^~\\&|A")
    b'\x0bMSH|^~\\&|A\x1c\r'
    """
    return START_BLOCK + message.encode(encoding, errors="replace") + END_BLOCK


# -- reading the header and writing the ACK -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The MSH fields an ACK needs, read without parsing the rest of the message.

    Field values are kept as sent (still escaped with the sender's encoding characters).

    Attributes
    ----------
    field_separator, encoding_characters
        MSH-1 and MSH-2.
    sending_application, sending_facility, receiving_application, receiving_facility
        MSH-3 to MSH-6.
    message_code, trigger_event
        MSH-9.1 and MSH-9.2, e.g. ``ADT`` and ``A01``.
    control_id
        MSH-10, the sender's id of the message.
    processing_id, version
        MSH-11 and MSH-12.
    """

    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str
    trigger_event: str
    control_id: str
    processing_id: str
    version: str

    @property
    def message_type(self) -> str:
        """``MSH-9.1^MSH-9.2``, e.g. ``ADT^A01`` (for logs: it carries no patient data)."""
        return f"{self.message_code}^{self.trigger_event}" if self.trigger_event else self.message_code


def read_header(message: str) -> MessageHeader | None:
    r"""Read the MSH segment of a message, or ``None`` when there is no usable one.

    Parameters
    ----------
    message
        The message text (segments separated by ``\r``, ``\n`` or ``\r\n``).

    Examples
    --------
    >>> header = read_header("MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301||ADT^A01^ADT_A01|MSG1|P|2.5\rEVN|A01")
    >>> header.sending_application, header.message_type, header.control_id
    ('PAS', 'ADT^A01', 'MSG1')
    """
    first = _SEGMENT_BREAK.split(message.lstrip("\x0b\x1c\r\n\t "), maxsplit=1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return None
    separator = first[3]
    fields = first.split(separator)
    encoding = fields[1]
    special = separator + encoding
    if (
        len(encoding) not in (4, 5)
        or len(set(special)) != len(special)
        or any(character.isalnum() or character.isspace() for character in special)
    ):
        return None

    def msh(number: int) -> str:
        # fields[0] is "MSH" and MSH-1 is the separator itself, so MSH-n is fields[n - 1].
        return _CONTROL_CHARACTERS.sub("", fields[number - 1]) if number - 1 < len(fields) else ""

    message_type = msh(9).split(encoding[0])
    return MessageHeader(
        field_separator=separator,
        encoding_characters=encoding,
        sending_application=msh(3),
        sending_facility=msh(4),
        receiving_application=msh(5),
        receiving_facility=msh(6),
        message_code=message_type[0],
        trigger_event=message_type[1] if len(message_type) > 1 else "",
        control_id=msh(10)[:199],
        processing_id=msh(11),
        version=msh(12),
    )


class AckCode(StrEnum):
    """MSA-1, the acknowledgement code (HL7 table 0008, original mode)."""

    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is answered AE or AR.

    Attributes
    ----------
    code
        ``AE`` or ``AR``.
    location
        Where the fault is, e.g. ``PV1-3`` or ``MSH-9``; ``MLLP`` for a framing fault, ``store`` when
        the store failed.
    reason
        What is wrong, in plain words (goes to MSA-3, ERR-8 and the quarantine table).
    error_code, error_text
        HL7 table 0357 code and its name (ERR-3), e.g. ``101`` "Required field missing".
    quarantined
        Whether the message is in the quarantine table (every rejection but a store failure).
    """

    code: AckCode
    location: str
    reason: str
    error_code: str
    error_text: str
    quarantined: bool = True

    @property
    def text(self) -> str:
        """``location: reason``."""
        return f"{self.location}: {self.reason}"


def reject_parse_error(error: HL7ParseError) -> Rejection:
    """Decide the answer to a message :func:`patients.hl7v2.parse_hl7_message` could not use.

    AR (rejected whole) for an unsupported message type or trigger event and for any fault in the
    MSH segment (the message cannot be identified or routed); AE (content error) for every other
    field, which the sender can correct and resend.

    Parameters
    ----------
    error
        The parser's error; its ``location`` names the segment and field.

    Returns
    -------
    Rejection
        With the HL7 table 0357 code: 200 unsupported message type, 203 unsupported version,
        101 required field missing, 103 table value not found, 102 data type error otherwise.
    """
    location, reason = error.location, error.reason
    if isinstance(error, UnsupportedMessageError):
        return Rejection(AckCode.REJECT, location, reason, "200", "Unsupported message type")
    if location == "MSH-12" and "missing" not in reason:
        return Rejection(AckCode.REJECT, location, reason, "203", "Unsupported version id")
    lowered = reason.lower()
    if any(word in lowered for word in ("missing", " needs ", " has no ")) or lowered.startswith("no "):
        error_code, error_text = "101", "Required field missing"
    elif "not known" in lowered or "table" in lowered:
        error_code, error_text = "103", "Table value not found"
    else:
        error_code, error_text = "102", "Data type error"
    code = AckCode.REJECT if location.startswith("MSH") else AckCode.ERROR
    return Rejection(code, location, reason, error_code, error_text)


def error_location(location: str) -> str:
    """ERR-2 (an ERL: segment ^ occurrence ^ field ^ repetition ^ component) for a location like ``PV1-3.1``.

    Returns ``""`` for a location that is not a segment or field (``MLLP``, ``store``).

    Examples
    --------
    >>> error_location("PV1-3.1"), error_location("OBX[2]-5"), error_location("PID"), error_location("MLLP")
    ('PV1^1^3^1^1', 'OBX^2^5', 'PID^1', '')
    """
    match = _LOCATION.match(location)
    if match is None:
        return ""
    parts = [match["segment"], match["occurrence"] or "1"]
    if match["field"]:
        parts.append(match["field"])
        if match["component"]:
            parts.extend(["1", match["component"]])
    return "^".join(parts)


def escape_text(text: str, field_separator: str = "|", encoding_characters: str = "^~\\&") -> str:
    r"""Escape text for an HL7 field (``\F\``, ``\S\``, ``\R\``, ``\E\``, ``\T\``).

    Control characters (segment breaks, MLLP framing bytes) become spaces.

    Examples
    --------
    >>> escape_text("'a|b^c' is not a number")
    "'a\\F\\b\\S\\c' is not a number"
    """
    component, repetition, escape, subcomponent = (encoding_characters[i] for i in range(4))
    text = _CONTROL_CHARACTERS.sub(" ", text)
    replacements = {
        escape: f"{escape}E{escape}",
        field_separator: f"{escape}F{escape}",
        component: f"{escape}S{escape}",
        repetition: f"{escape}R{escape}",
        subcomponent: f"{escape}T{escape}",
    }
    return "".join(replacements.get(character, character) for character in text)


def build_ack(
    header: MessageHeader | None,
    rejection: Rejection | None = None,
    *,
    application: str = "HOSPITAL_TWIN",
    facility: str = "",
    now: datetime | None = None,
    control_id: str | None = None,
) -> str:
    r"""The HL7 v2.5 ACK of a message: MSH, MSA and, for AE/AR, ERR; segments end with ``\r``.

    The ACK's MSH swaps the message's sending and receiving application and facility, keeps its
    separators, processing id and version, and is typed ``ACK^<trigger>^ACK``. MSA-2 is the message's
    MSH-10 (empty when it could not be read).

    Parameters
    ----------
    header
        The message's MSH, or ``None`` when it has no usable one.
    rejection
        ``None`` for AA; else why it is AE or AR.
    application, facility
        Our name, used as sender when the message names no receiving application or facility.
    now
        Time of the ACK (MSH-7); now by default.
    control_id
        MSH-10 of the ACK itself; a fresh unique id by default.

    Returns
    -------
    str
        The ACK, not yet framed (see :func:`frame_message`).

    Examples
    --------
    >>> header = read_header("MSH|^~\\&|PAS|RGH|TWIN|RGH|20240301||ADT^A01^ADT_A01|MSG1|P|2.5")
    >>> ack = build_ack(header, now=datetime(2024, 3, 1, tzinfo=UTC), control_id="ACK1")
    >>> ack.split("\r")[:2]
    ['MSH|^~\\&|TWIN|RGH|PAS|RGH|20240301000000+0000||ACK^A01^ACK|ACK1|P|2.5', 'MSA|AA|MSG1']
    """
    if header is not None:
        separator, encoding = header.field_separator, header.encoding_characters[:4]
    else:
        separator, encoding = "|", STANDARD_ENCODING_CHARACTERS
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    trigger = header.trigger_event if header is not None else ""
    message_type = encoding[0].join(["ACK", trigger, "ACK"]) if trigger else "ACK"
    msh = [
        "MSH",
        encoding,
        (header.receiving_application if header else "") or escape_text(application, separator, encoding),
        (header.receiving_facility if header else "") or escape_text(facility, separator, encoding),
        header.sending_application if header else "",
        header.sending_facility if header else "",
        moment.strftime("%Y%m%d%H%M%S") + "+0000",
        "",
        message_type,
        control_id or uuid.uuid4().hex[:20].upper(),
        (header.processing_id if header else "") or "P",
        (header.version if header else "") or "2.5",
    ]
    original_id = header.control_id if header is not None else ""
    segments = [separator.join(msh)]  # "MSH" + MSH-1 (the separator itself) + MSH-2 + ...
    if rejection is None:
        segments.append(separator.join(["MSA", AckCode.ACCEPT.value, original_id]))
    else:
        text = escape_text(rejection.text, separator, encoding)[:250]
        segments.append(separator.join(["MSA", rejection.code.value, original_id, text]))
        code = encoding[0].join([rejection.error_code, rejection.error_text, "HL70357"])
        location = error_location(rejection.location).replace("^", encoding[0])
        segments.append(separator.join(["ERR", "", location, code, "E", "", "", "", text]))
    return "\r".join(segments) + "\r"


# -- committing messages ------------------------------------------------------------------------------


@dataclass(slots=True)
class ListenerCounts:
    """What the listener has done since it started.

    Attributes
    ----------
    connections
        Connections accepted.
    received
        Messages (frames) read.
    accepted, errors, rejected
        Messages answered AA, AE and AR.
    duplicates
        Messages answered AA whose event was already stored (resent, or a repeated event id).
    reused_ids
        Of the duplicates, messages whose event id was stored for a different event: the sender reused
        a control id for another message, which was therefore not applied (each is logged).
    quarantined
        Messages put in the quarantine table.
    batches
        Commits (each holding one or more messages).
    """

    connections: int = 0
    received: int = 0
    accepted: int = 0
    errors: int = 0
    rejected: int = 0
    duplicates: int = 0
    reused_ids: int = 0
    quarantined: int = 0
    batches: int = 0

    def add(self, other: ListenerCounts) -> None:
        """Add another count to this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The answer to a batch of messages: one framed ACK per message, in order, and the counts."""

    acks: list[bytes]
    counts: ListenerCounts


@dataclass(frozen=True, slots=True)
class ExaminedMessage:
    """A message read and parsed, not yet stored.

    Attributes
    ----------
    header
        Its MSH, or ``None`` when it has no usable one.
    event
        Its event, when it is valid.
    rejection
        Why it is answered AE or AR, when it is not.
    raw
        The text that goes to the quarantine table.
    """

    header: MessageHeader | None
    event: PatientEvent | None
    rejection: Rejection | None
    raw: str


@dataclass(frozen=True, slots=True)
class MessageReader:
    """Decode, read the header of, and parse MLLP frames: no I/O, so it can run in worker processes.

    Parameters
    ----------
    salt
        Pseudonymisation salt, resolved (see :func:`patients.identity.resolve_salt`).
    local_timezone, unit_codes, service_codes
        Passed to :func:`patients.hl7v2.parse_hl7_message`.
    encoding
        Character set of the messages (``utf-8`` unless the interface engine says otherwise).
    """

    salt: bytes
    local_timezone: tzinfo = UTC
    unit_codes: Mapping[str, str] | None = None
    service_codes: Mapping[str, str] | None = None
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        codecs.lookup(self.encoding)  # an unknown encoding fails here, not at the first message
        # Plain dicts travel to worker processes (a mapping proxy, for one, cannot be pickled).
        for name in ("unit_codes", "service_codes"):
            codes = getattr(self, name)
            if codes is not None:
                object.__setattr__(self, name, dict(codes))

    def examine_all(self, frames: Sequence[MLLPFrame]) -> list[ExaminedMessage]:
        """:meth:`examine` each frame, in order."""
        return [self.examine(frame) for frame in frames]

    def examine(self, frame: MLLPFrame) -> ExaminedMessage:
        """Read one frame: its event, or why it is rejected. Never raises."""
        if frame.problem is not None:
            # Decoded leniently: an oversized frame is cut at a byte count, maybe inside a character.
            text = frame.payload.decode(self.encoding, errors="backslashreplace")
            rejection = Rejection(AckCode.REJECT, "MLLP", frame.problem, "102", "Data type error")
            return ExaminedMessage(read_header(text), None, rejection, _storable(text))
        try:
            text = frame.payload.decode(self.encoding)
        except UnicodeDecodeError as problem:
            text = frame.payload.decode(self.encoding, errors="backslashreplace")
            rejection = Rejection(
                AckCode.REJECT,
                "MSH-18",
                f"the message is not valid {self.encoding} text "
                f"(byte 0x{frame.payload[problem.start]:02X} at offset {problem.start})",
                "102",
                "Data type error",
            )
            return ExaminedMessage(read_header(text), None, rejection, _storable(text))
        header = read_header(text)
        try:
            event = parse_hl7_message(
                text,
                salt=self.salt,
                local_timezone=self.local_timezone,
                unit_codes=self.unit_codes,
                service_codes=self.service_codes,
            )
        except HL7ParseError as error:
            return ExaminedMessage(header, None, reject_parse_error(error), _storable(text))
        except Exception as error:  # a parser fault must not stop the feed; the message is kept
            rejection = Rejection(
                AckCode.REJECT,
                "MSH",
                f"the message could not be read ({type(error).__name__})",
                "207",
                "Application internal error",
            )
            return ExaminedMessage(header, None, rejection, _storable(text))
        return ExaminedMessage(header, event, None, _storable(text))


# The database is unreachable or busy: retrying message by message would only wait longer.
_STORE_UNAVAILABLE = (
    sqlalchemy_errors.OperationalError,
    sqlalchemy_errors.InterfaceError,
    sqlalchemy_errors.TimeoutError,
    OSError,
)


class FeedCommitter:
    """Commit examined messages (events and quarantined messages) and build their ACKs.

    Blocking: the listener calls :meth:`record` on its store thread. One transaction per batch
    (group commit); if the store refuses that transaction because of one message's data, the
    messages are committed one by one so that the others are not refused with it.

    Parameters
    ----------
    store
        Where events and quarantined messages go.
    salt, local_timezone, unit_codes, service_codes, encoding
        How messages are read (see :class:`MessageReader`).
    application, facility
        Our name in ACKs to messages that name no receiving application or facility.
    """

    def __init__(
        self,
        store: Store,
        *,
        salt: str | bytes | None = None,
        local_timezone: tzinfo = UTC,
        unit_codes: Mapping[str, str] | None = None,
        service_codes: Mapping[str, str] | None = None,
        encoding: str = "utf-8",
        application: str = "HOSPITAL_TWIN",
        facility: str = "",
    ) -> None:
        self.store = store
        self.reader = MessageReader(resolve_salt(salt), local_timezone, unit_codes, service_codes, encoding)
        self._application = application
        self._facility = facility

    def commit(self, batch: Sequence[tuple[MLLPFrame, datetime]]) -> BatchOutcome:
        """Read a batch of received frames, store it in one transaction and answer each.

        Parameters
        ----------
        batch
            ``(frame, received_at)`` pairs in the order they arrived.

        Returns
        -------
        BatchOutcome
            A framed ACK per frame, in the same order; every AA, AE and AR (but the ``store:`` AR
            of a store failure) describes a committed transaction.
        """
        examined = self.reader.examine_all([frame for frame, _ in batch])
        return self.record(examined, batch[0][1] if batch else datetime.now(UTC))

    def record(self, examined: Sequence[ExaminedMessage], received_at: datetime) -> BatchOutcome:
        """Store examined messages in one transaction and answer each (see :meth:`commit`).

        Parameters
        ----------
        examined
            From :meth:`MessageReader.examine`, in the order the messages arrived.
        received_at
            When the batch arrived [UTC], recorded with quarantined messages.
        """
        counts = ListenerCounts(received=len(examined), batches=1)
        store_failures = self._write(examined, received_at, counts)
        acks: list[bytes] = []
        for item, failure in zip(examined, store_failures, strict=True):
            rejection = failure or item.rejection
            if rejection is None:
                counts.accepted += 1
            else:
                if rejection.code is AckCode.ERROR:
                    counts.errors += 1
                else:
                    counts.rejected += 1
                logger.warning(
                    "message %s (%s) answered %s: fault at %s%s",
                    _loggable(item.header.control_id if item.header else ""),
                    _loggable(item.header.message_type if item.header else ""),
                    rejection.code.value,
                    rejection.location,
                    "" if rejection.quarantined else " (not stored; the sender may resend it)",
                )
            ack = build_ack(item.header, rejection, application=self._application, facility=self._facility)
            acks.append(frame_message(ack, self.reader.encoding))
        return BatchOutcome(acks, counts)

    def _write(
        self, examined: Sequence[ExaminedMessage], received_at: datetime, counts: ListenerCounts
    ) -> list[Rejection | None]:
        """Commit the batch; returns, per message, the rejection caused by a store failure (or None)."""
        try:
            self._store_items(examined, received_at, counts)
            return [None] * len(examined)
        except _STORE_UNAVAILABLE as error:
            logger.error(
                "store unavailable (%s): %d message(s) answered AR", _error_name(error), len(examined)
            )
            return [_store_failure(error)] * len(examined)
        except Exception as error:
            if len(examined) == 1:
                return [self._write_refused(examined[0], received_at, counts, error)]
            logger.warning(
                "store refused a batch of %d messages (%s); committing them one by one",
                len(examined),
                _error_name(error),
            )
        return [self._write([item], received_at, counts)[0] for item in examined]

    def _write_refused(
        self, item: ExaminedMessage, received_at: datetime, counts: ListenerCounts, error: Exception
    ) -> Rejection:
        """One message the store refused: quarantine it with why, if the store takes that."""
        rejection = Rejection(
            AckCode.ERROR,
            "store",
            f"the store refused the message's data ({_error_name(error)})",
            "207",
            "Application internal error",
        )
        if item.rejection is None:
            try:
                self._store_items(
                    [ExaminedMessage(item.header, None, rejection, item.raw)], received_at, counts
                )
                return rejection
            except Exception as second:
                error = second
        return _store_failure(error)

    def _store_items(
        self, items: Sequence[ExaminedMessage], received_at: datetime, counts: ListenerCounts
    ) -> None:
        events = [item.event for item in items if item.event is not None]
        rejected = [
            (item.raw, f"{item.rejection.text} (answered {item.rejection.code.value})")
            for item in items
            if item.rejection is not None
        ]
        result = self.store.append_feed_batch(
            events, rejected, source=QUARANTINE_SOURCE, received_at=received_at
        )
        counts.duplicates += result.duplicates
        counts.quarantined += len(rejected)
        if result.duplicates:
            self._report_reused_ids(items, counts)

    def _report_reused_ids(self, items: Sequence[ExaminedMessage], counts: ListenerCounts) -> None:
        """Warn about duplicates whose stored event differs: a sender reused a control id.

        Runs after the commit, only for batches with duplicates. The messages are answered AA all the
        same (the store keeps the first event of an id), so a failure here only costs the warning.
        """
        events = [item.event for item in items if item.event is not None]
        try:
            reused = {id(event) for event in self.store.reused_event_ids(events)}
        except Exception as error:
            logger.warning("could not compare duplicates with the stored events (%s)", _error_name(error))
            return
        for item in items:
            if item.event is None or id(item.event) not in reused:
                continue
            counts.reused_ids += 1
            logger.warning(
                "message %s (%s): its event id is stored already for a different message; answered AA "
                "but not applied (the sender reused its message control id)",
                _loggable(item.header.control_id if item.header else ""),
                _loggable(item.header.message_type if item.header else ""),
            )


def _store_failure(error: BaseException) -> Rejection:
    return Rejection(
        AckCode.REJECT,
        "store",
        f"the message could not be stored ({_error_name(error)}); nothing was kept, send it again later",
        "207",
        "Application internal error",
        quarantined=False,
    )


def _error_name(error: BaseException) -> str:
    """The class of an error, never its text (store errors can quote the values they were given)."""
    original = getattr(error, "orig", None)
    name = type(error).__name__
    return f"{name}: {type(original).__name__}" if original is not None else name


def _storable(text: str) -> str:
    """The raw text as the quarantine table can keep it (PostgreSQL text cannot hold NUL)."""
    return text.replace("\x00", "\\x00")


def _loggable(value: str) -> str:
    return _CONTROL_CHARACTERS.sub("?", value)[:64] or "-"


_worker_reader: MessageReader | None = None


def _start_parse_worker(reader: MessageReader, listener_pid: int) -> None:
    """Set up a parse worker process: its reader, and an exit when the listener is gone.

    Ctrl+C is for the listener, which stops the workers itself. A listener killed hard (SIGKILL)
    cannot, so each worker watches for the loss of its parent and exits.
    """
    global _worker_reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_reader = reader

    def watch_parent() -> None:
        while os.getppid() == listener_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch_parent, name="mllp-parent-watch", daemon=True).start()


def _examine_in_worker(frames: list[MLLPFrame]) -> list[ExaminedMessage]:
    assert _worker_reader is not None
    return _worker_reader.examine_all(frames)


def use_full_sync(store: Store) -> None:
    """Make every commit of ``store`` reach the disk before it returns (SQLite ``synchronous = FULL``).

    The store's default (``NORMAL``, WAL mode) survives a crash of the process but may lose the last
    commits on a power cut; an acknowledged message must survive both. No effect on PostgreSQL,
    whose commits are durable unless the server is configured otherwise.
    """
    if store.dialect != "sqlite" or sqlite_file(store.engine.url) is None:
        return

    @sqlalchemy_event.listens_for(store.engine, "connect")
    def _full_sync(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    store.engine.dispose()  # pooled connections were opened with the default; reopen them


# -- the listener -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    """How the listener runs.

    Attributes
    ----------
    host, port
        Address to listen on (``127.0.0.1``: this machine only; port 0: any free port).
    max_message_bytes
        Largest message accepted [bytes]; a larger frame is answered AR and skipped.
    max_in_flight
        Messages one connection may have read but not yet acknowledged; reading stops there.
    max_buffered_bytes
        Bytes of messages, all connections together, read but not yet committed; reading stops there.
    max_batch
        Most messages committed in one transaction.
    max_connections
        Connections served at once; more are closed at once.
    salt
        Pseudonymisation salt; by default :func:`ops.settings.ingest_salt` (``HOSPITAL_TWIN_SALT``,
        ``HOSPITAL_TWIN_SALT_FILE``, or the salt file beside an embedded store; never the public demo
        salt outside demo mode).
    local_timezone, unit_codes, service_codes, encoding, application, facility
        See :class:`FeedCommitter`.
    parse_workers
        Processes that parse messages while this one reads sockets and commits (``0``: parse on a
        thread of this process). The parser is the listener's largest cost, and processes sidestep
        the interpreter lock.
    full_sync
        Commit with SQLite ``synchronous = FULL`` (see :func:`use_full_sync`).
    stop_timeout_seconds
        On stop, how long to wait for in-flight messages to be committed and acknowledged [s].
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_in_flight: int = 256
    max_buffered_bytes: int = 64 * 1_048_576
    max_batch: int = 500
    max_connections: int = 64
    salt: str | bytes | None = None
    local_timezone: tzinfo = UTC
    unit_codes: Mapping[str, str] | None = None
    service_codes: Mapping[str, str] | None = None
    encoding: str = "utf-8"
    application: str = "HOSPITAL_TWIN"
    facility: str = ""
    parse_workers: int = 2
    full_sync: bool = True
    stop_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")
        for name in (
            "max_message_bytes",
            "max_in_flight",
            "max_buffered_bytes",
            "max_batch",
            "max_connections",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.parse_workers < 0:
            raise ValueError(f"parse_workers must be 0 or more, not {self.parse_workers}")
        if self.stop_timeout_seconds <= 0:
            raise ValueError(f"stop_timeout_seconds must be positive, not {self.stop_timeout_seconds}")


class _ByteBudget:
    """Bytes that may be held at once; a holder over budget waits (one holder may always proceed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, size: int) -> None:
        while self.used and self.used + size > self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
        self.used += size

    def release(self, size: int) -> None:
        self.used -= size
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class _Connection:
    """One sender's connection: its socket, its ACKs waiting to be written, its in-flight limit."""

    def __init__(
        self, number: int, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int
    ) -> None:
        self.number = number
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self.slots = asyncio.Semaphore(limit)
        self.acks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.broken = False
        self.read_task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def finish(self) -> None:
        self.in_flight -= 1
        self.slots.release()
        if self.in_flight == 0:
            self.idle.set()


@dataclass(slots=True)
class _Received:
    connection: _Connection
    frame: MLLPFrame
    received_at: datetime
    size: int


@dataclass(slots=True)
class _State:
    connections: set[_Connection] = field(default_factory=set)
    handlers: set[asyncio.Task[Any]] = field(default_factory=set)
    numbered: int = 0


class MLLPListener:
    """The asyncio MLLP server: frames in, events committed, ACKs out.

    Parameters
    ----------
    store
        Open store; the listener does not close it.
    settings
        Address, limits and parsing options.

    Examples
    --------
    >>> async def main(store):  # doctest: +SKIP
    ...     listener = MLLPListener(store, ListenerSettings(port=0))
    ...     host, port = await listener.start()
    ...     await listener.wait_stop_requested()  # e.g. listener.request_stop() from a signal
    ...     await listener.stop()
    """

    def __init__(self, store: Store, settings: ListenerSettings | None = None) -> None:
        self.settings = settings or ListenerSettings()
        # Real identifiers arrive here: never the public demo salt unless in demo mode.
        salt = self.settings.salt if self.settings.salt is not None else ingest_salt(store)
        self.committer = FeedCommitter(
            store,
            salt=salt,
            local_timezone=self.settings.local_timezone,
            unit_codes=self.settings.unit_codes,
            service_codes=self.settings.service_codes,
            encoding=self.settings.encoding,
            application=self.settings.application,
            facility=self.settings.facility,
        )
        self.counts = ListenerCounts()
        self._state = _State()
        self._server: asyncio.Server | None = None
        self._queue: asyncio.Queue[_Received] | None = None
        self._budget = _ByteBudget(self.settings.max_buffered_bytes)
        self._parsed: asyncio.Queue[tuple[list[_Received], list[ExaminedMessage]]] | None = None
        self._store_thread: ThreadPoolExecutor | None = None
        self._parse_thread: ThreadPoolExecutor | None = None
        self._parse_pool: ProcessPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_requested: asyncio.Event | None = None
        self._stopping = False
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the listener is bound to (after :meth:`start`)."""
        if self._address is None:
            raise RuntimeError("the listener has not been started")
        return self._address

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._state.connections)

    @property
    def in_flight(self) -> int:
        """Messages read, on all connections, and not yet acknowledged."""
        return sum(connection.in_flight for connection in self._state.connections)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of messages read and not yet committed."""
        return self._budget.used

    async def start(self) -> tuple[str, int]:
        """Bind the socket and start serving; returns the address bound."""
        if self.settings.full_sync:
            use_full_sync(self.committer.store)
        self._queue = asyncio.Queue()
        # Parsed batches wait here while a commit is in flight; the next commit takes them all.
        self._parsed = asyncio.Queue()
        self._stop_requested = asyncio.Event()
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp-store")
        self._parse_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp-parse")
        if self.settings.parse_workers:
            # Started before the socket is bound, and spawned (not forked): a worker must never
            # hold the listening socket, or a listener killed hard would leave it open.
            self._parse_pool = await self._start_parse_pool()
        self._tasks = [
            asyncio.create_task(self._parse_loop(), name="mllp-parse"),
            asyncio.create_task(self._commit_loop(), name="mllp-commit"),
        ]
        self._server = await asyncio.start_server(
            self._serve_connection, self.settings.host, self.settings.port, limit=READ_BYTES
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self._address = (str(host), int(port))
        logger.info("listening for HL7 v2 over MLLP on %s:%d", host, port)
        return self._address

    def request_stop(self) -> None:
        """Ask :meth:`wait_stop_requested` to return (safe to call from a signal handler)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def wait_stop_requested(self) -> None:
        """Wait until :meth:`request_stop` is called."""
        if self._stop_requested is None:
            raise RuntimeError("the listener has not been started")
        await self._stop_requested.wait()

    async def stop(self) -> None:
        """Stop gracefully: no new connections or messages; commit and acknowledge what was read; close.

        A frame only partly received is dropped (its sender gets no ACK and sends it again).
        """
        if self._stopping or self._server is None:
            return
        self._stopping = True
        self._server.close()
        for connection in list(self._state.connections):
            if connection.read_task is not None:
                connection.read_task.cancel()
        handlers = set(self._state.handlers)
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=self.settings.stop_timeout_seconds)
            if late:
                logger.warning("%d connection(s) did not finish in time; closing them", len(late))
                for connection in list(self._state.connections):
                    connection.writer.transport.abort()
                await asyncio.wait(late, timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        loop = asyncio.get_running_loop()
        for executor in (self._parse_pool, self._parse_thread, self._store_thread):
            if executor is not None:
                await loop.run_in_executor(None, executor.shutdown, True)
        await self._server.wait_closed()
        logger.info(
            "stopped: %d message(s) received, %d AA (%d duplicates, %d of them reusing another message's "
            "event id), %d AE, %d AR, %d quarantined",
            self.counts.received,
            self.counts.accepted,
            self.counts.duplicates,
            self.counts.reused_ids,
            self.counts.errors,
            self.counts.rejected,
            self.counts.quarantined,
        )

    # -- connections ----------------------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        if self._stopping or len(self._state.connections) >= self.settings.max_connections:
            logger.warning(
                "connection from %s refused: %s", peer, "stopping" if self._stopping else "too many"
            )
            writer.close()
            return
        self._state.numbered += 1
        connection = _Connection(self._state.numbered, peer, reader, writer, self.settings.max_in_flight)
        handler = asyncio.current_task()
        assert handler is not None
        self._state.connections.add(connection)
        self._state.handlers.add(handler)
        self.counts.connections += 1
        logger.info("connection %d from %s", connection.number, peer)
        ack_writer = asyncio.create_task(self._write_acks(connection))
        connection.read_task = asyncio.create_task(self._read_frames(connection))
        try:
            await asyncio.wait([connection.read_task])
            if not connection.read_task.cancelled():
                error = connection.read_task.exception()
                if isinstance(error, ConnectionError | OSError):
                    logger.info("connection %d: %s", connection.number, type(error).__name__)
                elif error is not None:
                    logger.error("connection %d failed: %s", connection.number, type(error).__name__)
            # Every message read is committed and acknowledged before the connection is closed.
            await connection.idle.wait()
        finally:
            connection.acks.put_nowait(None)
            await asyncio.wait([ack_writer])
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self._state.connections.discard(connection)
            self._state.handlers.discard(handler)
            logger.info("connection %d closed", connection.number)

    async def _read_frames(self, connection: _Connection) -> None:
        decoder = MLLPDecoder(self.settings.max_message_bytes)
        while True:
            data = await connection.reader.read(READ_BYTES)
            if not data:
                if decoder.in_frame:
                    logger.info(
                        "connection %d ended inside a frame; it was not acknowledged", connection.number
                    )
                break
            for frame in decoder.feed(data):
                await self._admit(connection, frame)
        if decoder.discarded_bytes:
            logger.info(
                "connection %d: %d byte(s) outside frames skipped", connection.number, decoder.discarded_bytes
            )

    async def _admit(self, connection: _Connection, frame: MLLPFrame) -> None:
        """Hand a frame to the commit loop, waiting while its connection or the listener is full."""
        assert self._queue is not None
        size = len(frame.payload)
        await connection.slots.acquire()
        try:
            await self._budget.acquire(size)
        except BaseException:
            connection.slots.release()
            raise
        self._queue.put_nowait(_Received(connection, frame, datetime.now(UTC), size))
        connection.begin()

    async def _write_acks(self, connection: _Connection) -> None:
        while True:
            waiting = [await connection.acks.get()]
            while not connection.acks.empty():
                waiting.append(connection.acks.get_nowait())
            acks = [ack for ack in waiting if ack is not None]
            if acks and not connection.broken:
                try:
                    if connection.writer.is_closing():
                        raise ConnectionResetError("the connection is closed")
                    connection.writer.write(b"".join(acks))
                    await connection.writer.drain()
                except (ConnectionError, OSError) as error:
                    connection.broken = True
                    logger.info(
                        "connection %d lost (%s): %d ACK(s) not delivered; the sender will resend",
                        connection.number,
                        type(error).__name__,
                        len(acks),
                    )
            for _ in acks:
                connection.finish()
            if len(acks) != len(waiting):
                return

    # -- group commit ---------------------------------------------------------------------------------

    async def _start_parse_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self.settings.parse_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_parse_worker,
            initargs=(self.committer.reader, os.getpid()),
        )
        loop = asyncio.get_running_loop()
        # Start every worker now, not at the first message.
        await asyncio.gather(
            *(loop.run_in_executor(pool, _examine_in_worker, []) for _ in range(self.settings.parse_workers))
        )
        return pool

    async def _parse_loop(self) -> None:
        """Take whatever messages are waiting (one batch), parse them, hand them to the commit loop."""
        assert self._queue is not None and self._parsed is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.settings.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            examined = await self._examine([received.frame for received in batch])
            await self._parsed.put((batch, examined))

    async def _examine(self, frames: list[MLLPFrame]) -> list[ExaminedMessage]:
        loop = asyncio.get_running_loop()
        reader = self.committer.reader
        # A few messages are parsed here at once: a trip to a worker process would add more delay
        # than it saves. Under load, batches grow and go to the workers, in parallel.
        if self._parse_pool is not None and len(frames) >= POOL_MIN_BATCH:
            workers = self.settings.parse_workers
            size = max(-(-len(frames) // workers), POOL_MIN_BATCH)
            chunks = [frames[start : start + size] for start in range(0, len(frames), size)]
            try:
                parts = await asyncio.gather(
                    *(loop.run_in_executor(self._parse_pool, _examine_in_worker, chunk) for chunk in chunks)
                )
                return [item for part in parts for item in part]
            except BrokenProcessPool:
                logger.error("a parse worker died; parsing in this process while the workers restart")
                broken, self._parse_pool = self._parse_pool, None
                broken.shutdown(wait=False)
                self._parse_pool = await self._start_parse_pool()
        return await loop.run_in_executor(self._parse_thread, reader.examine_all, frames)

    async def _commit_loop(self) -> None:
        """Commit parsed batches one transaction each, then queue every message's ACK."""
        assert self._parsed is not None and self._store_thread is not None
        loop = asyncio.get_running_loop()
        while True:
            batch, examined = await self._parsed.get()
            while len(batch) < self.settings.max_batch and not self._parsed.empty():
                more, more_examined = self._parsed.get_nowait()
                batch, examined = batch + more, examined + more_examined
            try:
                outcome = await loop.run_in_executor(
                    self._store_thread, self.committer.record, examined, batch[0].received_at
                )
            except Exception as error:  # commit answers store faults itself; this is a bug
                logger.error("commit of %d message(s) failed: %s", len(batch), type(error).__name__)
                failure = _store_failure(error)
                outcome = BatchOutcome(
                    [frame_message(build_ack(None, failure), self.settings.encoding) for _ in batch],
                    ListenerCounts(received=len(batch), rejected=len(batch)),
                )
            self.counts.add(outcome.counts)
            logger.debug("committed a batch of %d message(s)", len(batch))
            for received, ack in zip(batch, outcome.acks, strict=True):
                self._budget.release(received.size)
                received.connection.acks.put_nowait(ack)


async def run_listener(
    store: Store,
    settings: ListenerSettings | None = None,
    *,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
) -> ListenerCounts:
    """Serve until SIGTERM or SIGINT, then stop gracefully.

    Parameters
    ----------
    store
        Open store (left open).
    settings
        Address, limits and parsing options.
    on_ready
        Called with ``(host, port)`` once the socket is bound.

    Returns
    -------
    ListenerCounts
        What the listener did.
    """
    listener = MLLPListener(store, settings)
    address = await listener.start()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            loop.add_signal_handler(signal_number, listener.request_stop)
            handled.append(signal_number)
    try:
        if on_ready is not None:
            on_ready(address)
        await listener.wait_stop_requested()
        logger.info("stop requested: finishing in-flight messages")
    finally:
        for signal_number in handled:
            loop.remove_signal_handler(signal_number)
        await listener.stop()
    return listener.counts


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m ui.listener``: the listener without the rest of the command line.

    Parameters
    ----------
    argv
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status (0 after a graceful stop).
    """
    parser = argparse.ArgumentParser(prog="python -m ui.listener", description="HL7 v2 MLLP listener.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--database", default=None, help="store URL (DATABASE_URL, else var/hospital_twin.db)"
    )
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)
    parser.add_argument("--parse-workers", type=int, default=2, help="parser processes (0: a thread)")
    parser.add_argument("--log-level", default="INFO")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ListenerSettings(
        host=arguments.host,
        port=arguments.port,
        max_message_bytes=arguments.max_message_bytes,
        parse_workers=arguments.parse_workers,
    )
    with open_store(arguments.database) as store:
        try:
            asyncio.run(run_listener(store, settings))
        except SaltNotConfigured as problem:
            logger.error("%s", problem)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
