"""API bearer tokens, stored hashed: the secret is shown once when created and never kept.

A token is 32 random bytes (URL-safe text); the store keeps its SHA-256, which is enough for a secret of
that strength (a slow password hash protects guessable passwords, not random keys). Each token has a
name (who or what holds it), one role, and may be revoked.

Examples
--------
>>> secret, token = create_token(store, name="night-planner", role="planner")  # doctest: +SKIP
>>> find_token(store, secret).role  # doctest: +SKIP
'planner'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Index, Integer, String, Table, bindparam, insert, select, update

from ops.store.engine import write_transaction
from ops.store.schema import UtcDateTime, metadata
from ops.store.store import Store

ROLES: tuple[str, ...] = ("viewer", "planner", "executive", "admin", "feed")
"""Roles a token can have: see ``docs/reference/api.md`` for what each may do."""

TOKEN_BYTES = 32
"""Random bytes in a new token (256 bits)."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False, comment="Who or what holds the token"),
    Column("role", String, nullable=False),
    Column("token_hash", String, nullable=False, comment="SHA-256 of the secret, hexadecimal"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index(None, "token_hash", unique=True),
)
"""API bearer tokens (hashed)."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the store knows it (never the secret)."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


def token_hash(secret: str) -> str:
    """SHA-256 of a token's secret, hexadecimal."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(store: Store, *, name: str, role: str) -> tuple[str, ApiToken]:
    """Create a token; returns the secret (show it once, it is not stored) and the stored token.

    Parameters
    ----------
    store
        The store.
    name
        Who or what holds the token, e.g. ``"ward-dashboard"``.
    role
        One of :data:`ROLES`.

    Raises
    ------
    ValueError
        For an unknown role or an empty name.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name saying who holds it")
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    created_at = datetime.now(UTC)
    with write_transaction(store.engine) as connection:
        token_id = connection.execute(
            insert(api_tokens)
            .values(name=name.strip(), role=role, token_hash=token_hash(secret), created_at=created_at)
            .returning(api_tokens.c.id)
        ).scalar_one()
    return secret, ApiToken(int(token_id), name.strip(), role, created_at, None)


_ACTIVE_BY_HASH = select(api_tokens).where(
    api_tokens.c.token_hash == bindparam("digest"), api_tokens.c.revoked_at.is_(None)
)
"""The lookup of every request, built once (building the statement cost as much as running it)."""


def find_token(store: Store, secret: str) -> ApiToken | None:
    """The active token with this secret, or ``None`` (unknown or revoked)."""
    digest = token_hash(secret)
    with store.engine.connect() as connection:
        row = connection.execute(_ACTIVE_BY_HASH, {"digest": digest}).first()
    # The database looked the hash up by equality; compare again in constant time for good measure.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return ApiToken(row.id, row.name, row.role, row.created_at, row.revoked_at)


def list_tokens(store: Store, *, include_revoked: bool = False) -> list[ApiToken]:
    """Tokens, oldest first (revoked ones only when asked)."""
    query = select(api_tokens).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    with store.engine.connect() as connection:
        return [
            ApiToken(row.id, row.name, row.role, row.created_at, row.revoked_at)
            for row in connection.execute(query)
        ]


def revoke_token(store: Store, token_id: int) -> ApiToken:
    """Revoke a token by id (revoking twice keeps the first time).

    Raises
    ------
    KeyError
        When there is no token with this id.
    """
    with write_transaction(store.engine) as connection:
        connection.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise KeyError(f"no API token {token_id}")
    return ApiToken(row.id, row.name, row.role, row.created_at, row.revoked_at)
