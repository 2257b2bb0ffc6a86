"""Kept read answers: sent from memory while recent, refreshed behind the requests, never kept when failed,
forgotten after a write through the service."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from ops.store import Store
from scenarios import scenario_path
from tests.ui import test_api_support as support
from tests.ui.test_api_support import bearer
from ui.api import create_app
from ui.api.answers import Answers
from ui.api.errors import NotFound
from ui.api.settings import ApiSettings

api_store = support.api_store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting(values: list[bytes]) -> tuple[Callable[[], bytes], list[int]]:
    """A build giving ``values`` one after the other, and how many times it ran."""
    calls = [0]

    def build() -> bytes:
        calls[0] += 1
        return values[min(calls[0], len(values)) - 1]

    return build, calls


def test_a_recent_answer_is_sent_from_memory_and_an_old_one_is_refreshed_behind_the_request() -> None:
    async def scenario() -> None:
        clock = Clock()
        answers = Answers(1.0, max_stale_seconds=30.0, clock=clock)
        build, calls = counting([b"first", b"second"])

        assert await answers.body("k", build) == b"first"
        clock.now += 0.5
        assert await answers.body("k", build) == b"first" and calls[0] == 1  # recent: no build
        clock.now += 1.0
        assert await answers.body("k", build) == b"first"  # old: sent at once, refresh started
        await asyncio.sleep(0.05)
        while answers._builds:  # the refresh runs in the thread pool
            await asyncio.sleep(0.01)
        assert calls[0] == 2
        assert await answers.body("k", build) == b"second"
        clock.now += 31.0
        assert await answers.body("k", build) == b"second" and calls[0] == 3  # too old: built again

    asyncio.run(scenario())


def test_requests_arriving_together_share_one_build() -> None:
    async def scenario() -> None:
        answers = Answers(1.0)
        release = threading.Event()
        calls = [0]

        def slow() -> bytes:
            calls[0] += 1
            release.wait(5)
            return b"answer"

        waiting = [asyncio.ensure_future(answers.body("k", slow)) for _ in range(10)]
        await asyncio.sleep(0.1)
        release.set()
        assert await asyncio.gather(*waiting) == [b"answer"] * 10
        assert calls[0] == 1

    asyncio.run(scenario())


def test_a_failed_build_reaches_the_request_and_a_failed_refresh_drops_the_old_answer() -> None:
    async def scenario() -> None:
        clock = Clock()
        answers = Answers(1.0, clock=clock)
        outcomes: list[bytes | Exception] = [b"plan v1", NotFound("no plan"), NotFound("no plan")]

        def build() -> bytes:
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        assert await answers.body("plan", build) == b"plan v1"
        clock.now += 2.0
        assert await answers.body("plan", build) == b"plan v1"  # the refresh fails behind it
        while answers._builds:
            await asyncio.sleep(0.01)
        with pytest.raises(NotFound):  # the old answer is not sent any more
            await answers.body("plan", build)
        assert outcomes == []

    asyncio.run(scenario())


def test_forget_drops_kept_answers_and_a_build_started_before_it_is_not_kept() -> None:
    async def scenario() -> None:
        answers = Answers(60.0)
        release = threading.Event()

        def before_the_write() -> bytes:
            release.wait(5)
            return b"old"

        running = asyncio.ensure_future(answers.body("k", before_the_write))
        await asyncio.sleep(0.05)
        answers.forget()  # a write lands while the build runs
        after = asyncio.ensure_future(answers.body("k", lambda: b"new"))  # does not join the old build
        release.set()
        assert await running == b"old"  # the request that asked before the write gets it
        assert await after == b"new"
        assert await answers.body("k", lambda: b"newer") == b"new"  # the new build is the one kept

    asyncio.run(scenario())


def test_with_no_cache_time_every_request_builds() -> None:
    async def scenario() -> None:
        answers = Answers(0.0)
        build, calls = counting([b"a", b"b", b"c"])
        assert [await answers.body("k", build) for _ in range(3)] == [b"a", b"b", b"c"]
        assert calls[0] == 3

    asyncio.run(scenario())


def test_the_least_recently_used_answer_goes_first_when_full() -> None:
    async def scenario() -> None:
        answers = Answers(60.0, max_entries=2)
        for key in ("a", "b"):
            await answers.body(key, lambda key=key: key.encode())
        await answers.body("a", lambda: b"rebuilt")  # "a" used again: "b" is now the oldest
        await answers.body("c", lambda: b"c")
        assert await answers.body("a", lambda: b"rebuilt") == b"a"
        assert await answers.body("b", lambda: b"b again") == b"b again"

    asyncio.run(scenario())


@pytest.fixture
def kept_client(api_store: Store) -> Iterator[tuple[TestClient, str]]:
    """The service with the default answer cache, and a planner's token."""
    from ops.store.tokens import create_token

    secret, _ = create_token(api_store, name="planner", role="planner")
    with TestClient(create_app(ApiSettings(), store=api_store)) as client:
        yield client, secret


def test_a_client_reads_its_own_writes_through_the_kept_answers(kept_client: tuple[TestClient, str]) -> None:
    client, secret = kept_client
    assert client.get("/scenarios", headers=bearer(secret)).json() == []
    text = scenario_path("winter_surge").read_text()
    saved = client.post("/scenarios", json={"name": "surge", "toml_text": text}, headers=bearer(secret))
    assert saved.status_code == 201, saved.text
    names = [row["name"] for row in client.get("/scenarios", headers=bearer(secret)).json()]
    assert names == ["surge"]


def test_a_refused_write_keeps_the_answers(kept_client: tuple[TestClient, str], api_store: Store) -> None:
    client, secret = kept_client
    assert client.get("/scenarios", headers=bearer(secret)).json() == []
    api_store.save_scenario("elsewhere", scenario_path("winter_surge").read_text())  # another process
    refused = client.post("/scenarios", json={"name": "bad", "toml_text": "x = ["}, headers=bearer(secret))
    assert refused.status_code == 422
    assert client.get("/scenarios", headers=bearer(secret)).json() == []  # still the kept answer
