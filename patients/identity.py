"""Pseudonymous keys for patients and stays: salted HMAC-SHA256 of the hospital's identifiers.

A :class:`~patients.events.PatientEvent` never carries a direct identifier (name, MRN, date of birth,
address). The medical record number becomes ``patient_key`` and the visit number becomes ``encounter_id``,
both keyed hashes that can only be recomputed by someone holding the salt.

The salt comes from, in order: the ``salt`` argument, the environment variable ``HOSPITAL_TWIN_SALT``, or
:data:`DEMO_SALT`. The demo salt is public (it is written here), so keys made with it are *not*
pseudonymous; it exists so that tests and examples run with no setup, and a warning is logged the first
time it is used. A surface that ingests real identifiers (the API's ``POST /fhir``, the HL7 v2 listener,
the nightly inbox) never relies on this fallback: it asks :func:`ops.settings.ingest_salt` for the salt
(``HOSPITAL_TWIN_SALT``, ``HOSPITAL_TWIN_SALT_FILE``, or a random salt kept beside an embedded store) and
passes it explicitly; that function refuses the demo salt outside demo mode. Production deployments set
``HOSPITAL_TWIN_SALT`` (or ``HOSPITAL_TWIN_SALT_FILE``) to a long random secret and keep it stable: a
different salt gives different keys, so the same patient would no longer match across days.

Examples
--------
>>> key = patient_key("123456", salt="a-long-random-secret")
>>> len(key)
32
>>> key == patient_key(" 123456 ", salt="a-long-random-secret")
True
>>> key == encounter_key("123456", salt="a-long-random-secret")
False
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

SALT_ENVIRONMENT_VARIABLE = "HOSPITAL_TWIN_SALT"
"""Name of the environment variable holding the pseudonymisation salt."""

DEMO_SALT = "hospital-twin-DEMO-salt-not-secret"
"""Salt used when none is configured. Public, so only for tests, examples and demo mode."""

KEY_LENGTH = 32
"""Length of a key [hexadecimal characters] (128 bits of the HMAC-SHA256 digest)."""

_logger = logging.getLogger(__name__)
_warned_about_demo_salt = False


def resolve_salt(salt: str | bytes | None = None) -> bytes:
    """Return the salt to use: the argument, else ``HOSPITAL_TWIN_SALT``, else :data:`DEMO_SALT`.

    Parameters
    ----------
    salt
        An explicit salt; wins over the environment.

    Returns
    -------
    bytes
        The salt as UTF-8 bytes.

    Raises
    ------
    ValueError
        If the explicit salt is empty.
    """
    global _warned_about_demo_salt
    if salt is None:
        salt = os.environ.get(SALT_ENVIRONMENT_VARIABLE) or None
    if salt is None:
        if not _warned_about_demo_salt:
            _logger.warning(
                "%s is not set: using the public demo salt, so patient keys are not pseudonymous",
                SALT_ENVIRONMENT_VARIABLE,
            )
            _warned_about_demo_salt = True
        salt = DEMO_SALT
    salt_bytes = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
    if not salt_bytes:
        raise ValueError("the pseudonymisation salt must not be empty")
    return salt_bytes


def _keyed_hash(namespace: str, identifier: str, salt: str | bytes | None) -> str:
    value = identifier.strip().upper()
    if not value:
        raise ValueError(f"cannot pseudonymise an empty {namespace} identifier")
    # The namespace keeps an MRN and a visit number with the same digits from colliding.
    digest = hmac.new(resolve_salt(salt), f"{namespace}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:KEY_LENGTH]


def patient_key(medical_record_number: str, *, salt: str | bytes | None = None) -> str:
    """Pseudonymous key of a patient from their medical record number (MRN).

    The MRN is compared without surrounding spaces and case-insensitively, so ``"ab123"`` and
    ``" AB123"`` give the same key. HL7 v2 (PID-3) and FHIR (``Patient.identifier`` of type ``MR``)
    feeds therefore agree on the key of the same patient.

    Parameters
    ----------
    medical_record_number
        The hospital's MRN.
    salt
        Explicit salt; see :func:`resolve_salt`.

    Returns
    -------
    str
        :data:`KEY_LENGTH` lowercase hexadecimal characters.
    """
    return _keyed_hash("mrn", medical_record_number, salt)


def encounter_key(visit_number: str, *, salt: str | bytes | None = None) -> str:
    """Pseudonymous key of a stay from its visit number (PV1-19, or FHIR ``Encounter`` visit number / id).

    Parameters
    ----------
    visit_number
        The stay's visit number.
    salt
        Explicit salt; see :func:`resolve_salt`.

    Returns
    -------
    str
        :data:`KEY_LENGTH` lowercase hexadecimal characters.
    """
    return _keyed_hash("encounter", visit_number, salt)


def resource_key(resource_type: str, resource_id: str, *, salt: str | bytes | None = None) -> str:
    """Pseudonymous key of any other source record (e.g. a FHIR ``Observation`` id) used in event ids.

    Parameters
    ----------
    resource_type
        The kind of record, e.g. ``"Observation"``; part of the hash namespace.
    resource_id
        Its id at the source.
    salt
        Explicit salt; see :func:`resolve_salt`.

    Returns
    -------
    str
        :data:`KEY_LENGTH` lowercase hexadecimal characters.
    """
    return _keyed_hash(f"resource:{resource_type}", resource_id, salt)
