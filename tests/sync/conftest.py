"""Fixtures for the sync client's tests: an emulator served over loopback, and `RunsClient`s
bound to it whose sleeps advance the emulator's manual clock (waits end at once)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dbt_runs import RunsClient
from dbt_runs.testing import Emulator, EmulatorServer, ManualClock

TOKEN = "dbtc_sync_client_test_token_0123456789"


class Arrivals:
    """ASGI middleware counting requests as they arrive (the emulator records them as it
    answers), and the client ports they came from: one per TCP connection."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self.ports: set[int] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
            if scope.get("client"):
                self.ports.add(scope["client"][1])
        await self.app(scope, receive, send)


def loop_threads() -> set[threading.Thread]:
    """The sync clients' event loop threads alive now."""
    return {t for t in threading.enumerate() if t.name.startswith("dbt-runs-loop-")}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def every_client_closes_cleanly() -> Iterator[None]:
    """No loop thread outlives its test, and asyncio reports nothing left behind (a task
    destroyed while pending, an exception never retrieved, a generator closed mid-run)."""
    before = loop_threads()
    errors = _Records()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(errors)
    try:
        yield
        left = loop_threads() - before
        for thread in left:  # a client collected at the end of a test may still be closing
            thread.join(timeout=5)
        assert not [t.name for t in left if t.is_alive()]
    finally:
        asyncio_logger.removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(runs=250, token=TOKEN)


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with emulator.serve_in_thread() as served:
        yield served


def manual_time(clock: ManualClock) -> dict[str, Any]:
    """Client arguments that make its sleeps advance `clock` instead of waiting."""
    return {
        "clock": clock.now,
        "sleep": clock.sleep,
        "wall_clock": lambda: datetime.fromtimestamp(clock.now(), UTC),
    }


@pytest.fixture
def make_client(emulator: Emulator, server: EmulatorServer) -> Iterator[Callable[..., RunsClient]]:
    """Build `RunsClient`s bound to the served emulator; each is closed after the test."""
    made: list[RunsClient] = []

    def build(**kwargs: Any) -> RunsClient:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("base_url", server.base_url)
        kwargs.setdefault("account_id", emulator.account_id)
        if isinstance(emulator.clock, ManualClock):
            for key, value in manual_time(emulator.clock).items():
                kwargs.setdefault(key, value)
        client = RunsClient(**kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., RunsClient]) -> RunsClient:
    return make_client()
