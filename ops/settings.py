"""Settings shared by every surface that takes in real patient identifiers: the pseudonymisation salt.

The API's ``POST /fhir``, the HL7 v2 listener and the nightly inbox turn medical record numbers and visit
numbers into salted keys (:mod:`patients.identity`). Keys made with the public demo salt can be recomputed
by anyone, so those surfaces call :func:`ingest_salt` and refuse to start without a secret one:

1. ``HOSPITAL_TWIN_SALT``: the salt itself;
2. else ``HOSPITAL_TWIN_SALT_FILE``: a file holding it (e.g. a mounted secret);
3. else, for an embedded SQLite store, the file ``salt`` beside the database (``var/salt``), created once
   with a random salt (mode 600) and read from then on, so the keys stay stable across restarts;
4. else (PostgreSQL, an in-memory database): :class:`SaltNotConfigured`, with what to set.

The public demo salt (:data:`patients.identity.DEMO_SALT`) is accepted only in demo mode
(``HOSPITAL_TWIN_DEMO=1``, or ``demo=True``). The synthetic history generator uses its own salt for its
synthetic identifiers and needs none of this.

Examples
--------
>>> from ops.store import open_store
>>> with open_store("sqlite:///var/hospital_twin.db") as store:  # doctest: +SKIP
...     salt = ingest_salt(store)  # var/salt, created on first use
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from sqlalchemy import make_url

from ops.store import Store
from ops.store.engine import sqlite_file
from patients.identity import DEMO_SALT, SALT_ENVIRONMENT_VARIABLE

SALT_FILE_ENVIRONMENT_VARIABLE = "HOSPITAL_TWIN_SALT_FILE"
"""Environment variable naming a file that holds the salt."""

DEMO_MODE_ENVIRONMENT_VARIABLE = "HOSPITAL_TWIN_DEMO"
"""Set to ``1`` (or ``true``/``yes``) to allow the public demo salt."""

STORE_SALT_FILE_NAME = "salt"
"""Name of the salt file created beside an embedded SQLite store."""

SALT_BYTES = 32
"""Random bytes of a salt created here (written as 64 hexadecimal characters)."""

_logger = logging.getLogger(__name__)


class SaltNotConfigured(RuntimeError):
    """No secret salt is configured (or only the public demo salt is); the message says what to set."""


def demo_mode() -> bool:
    """True when ``HOSPITAL_TWIN_DEMO`` allows the public demo salt."""
    return os.environ.get(DEMO_MODE_ENVIRONMENT_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


def store_salt_file(store: Store) -> Path | None:
    """Where the salt of an embedded SQLite store lives (``None`` for PostgreSQL or an in-memory store)."""
    database = sqlite_file(make_url(store.url))
    return None if database is None else database.parent / STORE_SALT_FILE_NAME


def ingest_salt(store: Store, *, demo: bool | None = None) -> bytes:
    """The pseudonymisation salt for a surface that ingests real identifiers into ``store``.

    Parameters
    ----------
    store
        The store the keys are written to; an embedded SQLite store keeps its salt in a file beside it.
    demo
        Allow the public demo salt; default :func:`demo_mode` (``HOSPITAL_TWIN_DEMO``).

    Returns
    -------
    bytes
        The salt (never the public demo salt unless in demo mode).

    Raises
    ------
    SaltNotConfigured
        When no secret salt can be found or made: PostgreSQL (or an in-memory store) without
        ``HOSPITAL_TWIN_SALT`` / ``HOSPITAL_TWIN_SALT_FILE``, an empty or unreadable salt file, or the
        demo salt outside demo mode. The message never contains a salt.
    """
    allow_demo = demo_mode() if demo is None else demo
    salt = _configured_salt()
    if salt is None:
        path = store_salt_file(store)
        if path is None:
            if allow_demo:
                _logger.warning("no salt configured: demo mode, using the public demo salt")
                return DEMO_SALT.encode("utf-8")
            raise SaltNotConfigured(
                f"no pseudonymisation salt for the {store.dialect} store: set {SALT_ENVIRONMENT_VARIABLE} "
                f"(a long random secret) or {SALT_FILE_ENVIRONMENT_VARIABLE} (a file holding one), the same "
                "for the API, the listener and the nightly plan"
            )
        salt = _salt_beside_store(path)
    if salt == DEMO_SALT.encode("utf-8") and not allow_demo:
        raise SaltNotConfigured(
            "the configured salt is the public demo salt, so patient keys could be recomputed by anyone: "
            f"set {SALT_ENVIRONMENT_VARIABLE} to a secret, or {DEMO_MODE_ENVIRONMENT_VARIABLE}=1 for a demo"
        )
    return salt


def _configured_salt() -> bytes | None:
    """``HOSPITAL_TWIN_SALT``, else the content of ``HOSPITAL_TWIN_SALT_FILE``, else ``None``."""
    value = os.environ.get(SALT_ENVIRONMENT_VARIABLE, "")
    if value.strip():
        return value.encode("utf-8")
    file_name = os.environ.get(SALT_FILE_ENVIRONMENT_VARIABLE, "").strip()
    if not file_name:
        return None
    return _read_salt_file(Path(file_name), SALT_FILE_ENVIRONMENT_VARIABLE)


def _read_salt_file(path: Path, named_by: str) -> bytes:
    try:
        salt = path.read_bytes().strip()
    except OSError as error:
        raise SaltNotConfigured(
            f"the salt file {path} ({named_by}) cannot be read: {error.strerror or type(error).__name__}"
        ) from None
    if not salt:
        raise SaltNotConfigured(f"the salt file {path} ({named_by}) is empty")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _logger.warning(
            "the salt file %s can be read by other users (mode %o): chmod 600 it", path, mode & 0o777
        )
    return salt


def _salt_beside_store(path: Path) -> bytes:
    """The salt in ``path``, created with a random salt (mode 600) when absent.

    Creation is atomic: the salt is written to a private temporary file, then linked to ``path``; when two
    processes start at once, one link wins and both read the winner's salt.
    """
    if path.exists():
        return _read_salt_file(path, "beside the store")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=".salt.", dir=path.parent)  # created with mode 600
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(SALT_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(staging, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            _logger.info("created a random pseudonymisation salt in %s (keep it with the store)", path)
    finally:
        os.unlink(staging)
    return _read_salt_file(path, "beside the store")
