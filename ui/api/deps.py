"""Dependencies of the routes, as ``Annotated`` aliases: the store, the job runner, settings, the caller.

A route states who may call it by the type of its ``caller`` parameter, e.g. ``caller: Reader``; the
dependency answers 401 (no valid token) or 403 (wrong role) and leaves an audit entry for each refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ops.jobs import JobRunner
from ops.store import Store
from ops.store.tokens import find_token, token_hash
from ui.api.answers import Answers
from ui.api.audit import record
from ui.api.auth import (
    FEED_ROLES,
    JOB_SUBMIT_ROLES,
    PATIENT_ROLES,
    PLAN_PUBLISH_ROLES,
    READ_ROLES,
    SCENARIO_WRITE_ROLES,
    Caller,
)
from ui.api.settings import ApiSettings

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `hospital-twin token create --role ROLE --name NAME`.",
)


async def get_store(request: Request) -> Store:
    """The store the service was started with."""
    store: Store = request.app.state.store
    return store


async def get_runner(request: Request) -> JobRunner:
    """The job runner of the service."""
    runner: JobRunner = request.app.state.jobs
    return runner


async def get_settings(request: Request) -> ApiSettings:
    """The service's settings."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_salt(request: Request) -> bytes:
    """The pseudonymisation salt of this service (:func:`ops.settings.ingest_salt`, resolved at start)."""
    salt: bytes = request.app.state.salt
    return salt


async def get_answers(request: Request) -> Answers:
    """The read answers kept by the service (:mod:`ui.api.answers`)."""
    answers: Answers = request.app.state.answers
    return answers


StoreDep = Annotated[Store, Depends(get_store)]
AnswersDep = Annotated[Answers, Depends(get_answers)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
SaltDep = Annotated[bytes, Depends(get_salt)]


def _action(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return f"{request.method} {path}"


class TokenCache:
    """Callers of tokens checked in the last :attr:`seconds`, so that a busy client is not looked up again.

    Looking the token up in the store was a quarter of the cost of a read answered from memory.
    Only accepted tokens are kept: an unknown token is looked up every time, so a token created a moment
    ago works at once. A revoked one is refused at most :attr:`seconds` late (``hospital-twin token
    revoke`` runs in another process, which cannot reach this memory). Thread-safe; bounded.
    """

    def __init__(
        self, seconds: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._callers: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def caller(self, store: Store, secret: str) -> Caller | None:
        """The caller holding ``secret``, or ``None`` when it is unknown or revoked."""
        digest = token_hash(secret)
        now = self.clock()
        with self._lock:
            kept = self._callers.get(digest)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        token = find_token(store, secret)
        with self._lock:
            if token is None:
                self._callers.pop(digest, None)
                return None
            if len(self._callers) >= self.max_entries:
                self._callers.clear()
            caller = Caller(token.name, token.role)
            self._callers[digest] = (now, caller)
        return caller


async def authenticate(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The caller of a bearer token; 401 when the token is missing, unknown or revoked.

    The lookup (:class:`TokenCache`, else one indexed read: a fraction of a millisecond, WAL readers never
    wait for writers) is done on the event loop: a thread hop would cost more than the read.
    """
    tokens: TokenCache = request.app.state.tokens
    caller = tokens.caller(store, credentials.credentials) if credentials is not None else None
    if caller is None:
        details = {"reason": "no valid bearer token"}
        await run_in_threadpool(record, store, "anonymous", _action(request), "denied", details)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is needed (hospital-twin token create)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


AnyCaller = Annotated[Caller, Depends(authenticate)]


def deny(store: Store, request: Request, caller: Caller, why: str) -> HTTPException:
    """Audit a refusal and make the 403 answer to raise."""
    record(store, caller, _action(request), "denied", {"reason": why})
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=why)


def allow(roles: frozenset[str]) -> Callable[[Request, Store, Caller], Awaitable[Caller]]:
    """A dependency letting only ``roles`` through (403 and an audit entry for the others)."""

    async def only_these_roles(request: Request, store: StoreDep, caller: AnyCaller) -> Caller:
        if caller.role not in roles:
            why = f"role {caller.role!r} may not use this route"
            raise await run_in_threadpool(deny, store, request, caller, why)
        return caller

    return only_these_roles


Reader = Annotated[Caller, Depends(allow(READ_ROLES))]
PatientReader = Annotated[Caller, Depends(allow(PATIENT_ROLES))]
ScenarioWriter = Annotated[Caller, Depends(allow(SCENARIO_WRITE_ROLES))]
Feed = Annotated[Caller, Depends(allow(FEED_ROLES))]
JobSubmitter = Annotated[Caller, Depends(allow(JOB_SUBMIT_ROLES))]
Publisher = Annotated[Caller, Depends(allow(PLAN_PUBLISH_ROLES))]
