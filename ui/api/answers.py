"""Answers of the read routes, kept encoded for a moment and refreshed behind the requests.

Under load the same few answers are asked for many times a second (every view and dashboard polls the
census, the alerts and the plan in force). Building each one again costs milliseconds of database reads
and encoding, all under the one interpreter lock the event loop needs too; at 200 requests/s that queued
requests behind each other. So a read route asks :class:`Answers` for its encoded JSON:

- an answer younger than :attr:`Answers.seconds` is sent from memory, on the event loop, with no thread
  hop and no database read;
- an older one (up to :attr:`Answers.max_stale_seconds`) is still sent at once, while one refresh runs in
  the thread pool for everyone; the next requests get the new answer;
- without one, the request waits for a build, shared with every request asking the same at that moment.

An answer is therefore at most ``seconds`` plus one build old (the bodies say ``as_of`` where it
matters). A write through this service (any non-GET answered below 400) forgets every kept answer, so a
client reads its own writes; writes by other processes (the listener, the nightly job, the CLI) show
within ``seconds``. A failed build is never kept: the request gets the error, and a failed refresh drops
the old answer so the next request sees the error too. With ``seconds=0`` every request builds its own
answer (the tests use this to see each write at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

_logger = logging.getLogger(__name__)

JSON = "application/json"


def encode(answer: BaseModel | Sequence[BaseModel]) -> bytes:
    """The JSON of a response model, or of a list of them, as FastAPI would send it."""
    if isinstance(answer, BaseModel):
        return answer.model_dump_json().encode()
    return b"[" + b",".join(item.model_dump_json().encode() for item in answer) + b"]"


@dataclass(frozen=True)
class _Kept:
    built_at: float
    body: bytes


class Answers:
    """Encoded answers by key (what the answer depends on: route and parameters), bounded in number.

    Used from the event loop only (the builds run in the thread pool), so it needs no lock.

    Parameters
    ----------
    seconds
        How long an answer is sent without a refresh [seconds]; 0 builds every answer.
    max_stale_seconds
        An answer older than this is not sent any more: the request waits for a build [seconds].
    max_entries
        Answers kept at most; the least recently used goes first.
    clock
        Monotonic time [seconds] (tests pass their own).
    """

    def __init__(
        self,
        seconds: float,
        *,
        max_stale_seconds: float = 60.0,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_stale_seconds = max(max_stale_seconds, seconds)
        self.max_entries = max_entries
        self.clock = clock
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._builds: dict[Hashable, asyncio.Future[bytes]] = {}
        self._generation = 0  # moves on at every forget(): a build started before it is not kept
        self.builds = 0
        """Answers built so far (for tests and the benchmark)."""

    async def response(self, key: Hashable, build: Callable[[], bytes]) -> Response:
        """A JSON response with the answer under ``key``; ``build`` makes it (in the thread pool).

        Raises whatever ``build`` raises (e.g. :class:`~ui.api.errors.NotFound`), for the service's
        exception handlers to answer.
        """
        return Response(await self.body(key, build), media_type=JSON)

    async def body(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        """The encoded answer under ``key`` (see the module's description of when it is built)."""
        kept = self._kept.get(key)
        if kept is not None:
            age = self.clock() - kept.built_at
            if age < self.seconds:
                self._kept.move_to_end(key)
                return kept.body
            if age < self.max_stale_seconds and self.seconds > 0:
                self._kept.move_to_end(key)
                if key not in self._builds:
                    refresh = self._start(key, build)
                    refresh.add_done_callback(_quiet)
                return kept.body
        running = self._builds.get(key)
        if running is None:
            running = self._start(key, build)
        return await asyncio.shield(running)

    def forget(self) -> None:
        """Drop every kept answer (after a write through this service).

        Builds under way still finish for the requests already waiting on them, but a request arriving
        after this starts its own: a build begun before the write could miss it.
        """
        self._kept.clear()
        self._builds.clear()
        self._generation += 1

    def _start(self, key: Hashable, build: Callable[[], bytes]) -> asyncio.Future[bytes]:
        started, generation = self.clock(), self._generation
        future = asyncio.ensure_future(run_in_threadpool(build))
        self._builds[key] = future
        self.builds += 1

        def finished(done: asyncio.Future[bytes]) -> None:
            if self._builds.get(key) is done:
                del self._builds[key]
            if done.cancelled() or done.exception() is not None:
                self._kept.pop(key, None)
                return
            if self.seconds > 0 and generation == self._generation:
                self._kept[key] = _Kept(started, done.result())
                self._kept.move_to_end(key)
                while len(self._kept) > self.max_entries:
                    self._kept.popitem(last=False)

        future.add_done_callback(finished)
        return future


def _quiet(done: asyncio.Future[bytes]) -> None:
    """Retrieve a background refresh's error (the next request builds again and reports it)."""
    if not done.cancelled() and done.exception() is not None:
        _logger.info("a kept answer could not be refreshed: %s", type(done.exception()).__name__)


class ForgetAfterWrites:
    """ASGI middleware: every write answered below 400 makes :class:`Answers` forget what it kept.

    The write has been committed when its answer starts, so the next read builds from the new state.
    """

    def __init__(self, app: Any, answers: Answers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on, watching the status of a write's answer."""
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.answers.forget()
            await send(message)

        await self.app(scope, receive, watch)
