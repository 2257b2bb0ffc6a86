"""Typed errors raised when a feed message cannot be turned into :class:`~patients.events.PatientEvent` s.

Every error names *where* the message is wrong, in the notation of its standard, so that an interface
analyst can find the fault without reading our code:

- HL7 v2: segment and field, e.g. ``PV1-3`` or ``MSH-10``; a repeated segment carries its position,
  e.g. ``OBX[2]-5``; a component is appended with a dot, e.g. ``PV1-3.1``.
- FHIR: the element path from the outermost resource, e.g. ``Bundle.entry[2].resource.status``.

The listener (``ui``) can answer a sender with a negative acknowledgement that quotes ``location`` and
``reason`` directly.
"""

from __future__ import annotations


class EventParseError(ValueError):
    """A feed message that cannot be turned into patient events.

    Parameters
    ----------
    location
        Where the fault is: an HL7 v2 segment-field (``PV1-3``) or a FHIR element path
        (``Bundle.entry[2].resource.status``).
    reason
        What is wrong, in plain words.
    message_id
        The sender's id of the message (MSH-10, or the FHIR resource id) when it could be read.

    Attributes
    ----------
    location, reason, message_id
        As given.
    """

    id_in_text = True
    """Whether the text of the error ends with the message id (an HL7 control id is not about a patient)."""

    def __init__(self, location: str, reason: str, *, message_id: str | None = None) -> None:
        self.location = location
        self.reason = reason
        self.message_id = message_id
        suffix = f" (message {message_id})" if message_id and self.id_in_text else ""
        super().__init__(f"{location}: {reason}{suffix}")


class HL7ParseError(EventParseError):
    """An HL7 v2 message that is malformed or misses a field the event needs."""


class UnsupportedMessageError(HL7ParseError):
    """A well-formed HL7 v2 message of a type or trigger event we do not turn into events (e.g. ADT^A05).

    A listener would typically acknowledge it with ``AR`` (rejected) rather than ``AE`` (error).
    """


class FHIRParseError(EventParseError):
    """A FHIR R4B resource or bundle that is invalid or misses an element the event needs.

    Its text never carries the resource id (``message_id`` still does): a sender may use visit numbers as
    ids, and error texts end up in logs.
    """

    id_in_text = False
