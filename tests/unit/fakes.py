"""A scripted dbt Cloud for unit tests: an httpx.MockTransport handler, a fake clock, builders.

Tests may import httpx; the package itself may not (only dbt_runs/_http.py does).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dbt_runs import AsyncRunsClient

TOKEN = "dbtc_secret-token-never-shown"
BASE = "https://dbt.test/api/v2"
EPOCH = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock, a wall clock and a sleep that only advance when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Timeline(FakeClock):
    """A fake clock for many tasks at once: time moves only once every task is waiting, to the
    earliest sleeper's wake-up, as an autojumping test clock does.

    `FakeClock` moves as soon as anyone sleeps, which is right for one sleeper and wrong for
    several: a task sleeping while a request is in flight would move time under it.

    Args:
        drives: A clock with `now()` and `set(when)` (an emulator's `ManualClock`) to move
            instead of its own.
    """

    #: Loop turns to let every runnable task run before time moves: a scripted request,
    #: its answer and what waits on it take a handful.
    SETTLE = 100

    def __init__(self, drives: Any = None) -> None:
        super().__init__()
        self._drives = drives
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asleep: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self._drives.now() if self._drives is not None else self.now  # type: ignore[no-any-return]

    def _move_to(self, when: float) -> None:
        if self._drives is not None:
            self._drives.set(max(self._drives.now(), when))
        else:
            self.now = max(self.now, when)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self() + seconds, next(self._order), woken))
        if self._ticker is None:
            self._asleep = asyncio.Event()
            self._ticker = loop.create_task(self._tick())
        assert self._asleep is not None
        self._asleep.set()
        await woken

    async def _tick(self) -> None:
        assert self._asleep is not None
        while True:
            await self._asleep.wait()
            for _ in range(self.SETTLE):
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # a sleep that was cancelled
            if not self._sleepers:
                self._asleep.clear()
                continue
            self._move_to(self._sleepers[0][0])
            now = self()
            while self._sleepers and self._sleepers[0][0] <= now:
                woken = heapq.heappop(self._sleepers)[2]
                if not woken.done():
                    woken.set_result(None)

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


def run_json(run_id: int = 1, status: int = 1, **overrides: Any) -> dict[str, Any]:
    """A run object shaped like dbt's (a trimmed real payload)."""
    humanized = {
        1: "Queued",
        2: "Starting",
        3: "Running",
        10: "Success",
        20: "Error",
        30: "Cancelled",
    }.get(status, "Unknown")
    data: dict[str, Any] = {
        "id": run_id,
        "trigger_id": run_id + 1000,
        "account_id": 1,
        "environment_id": 3,
        "project_id": 2,
        "job_definition_id": 1,
        "job_id": 1,
        "status": status,
        "dbt_version": "versionless",
        "git_branch": None,
        "git_sha": None,
        "status_message": None,
        "artifacts_saved": status == 10,
        "blocked_by": [],
        "created_at": "2026-01-01 12:00:00.000000+00:00",
        "updated_at": "2026-01-01 12:00:00.000000+00:00",
        "started_at": None,
        "finished_at": None,
        "trigger": None,
        "job": None,
        "environment": None,
        "run_steps": [],
        "status_humanized": humanized,
        "in_progress": status in (1, 2, 3),
        "is_complete": status in (10, 20, 30),
        "is_success": status == 10,
        "is_error": status == 20,
        "is_cancelled": status == 30,
        "duration": "00:00:05",
        "queued_duration": "00:00:01",
        "run_duration": "00:00:04",
        "href": f"https://dbt.test/deploy/1/projects/2/runs/{run_id}/",
    }
    data.update(overrides)
    return data


def envelope(data: Any, code: int = 200, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": {
            "code": code,
            "is_success": code < 400,
            "user_message": "Success!",
            "developer_message": "",
        },
        "data": data,
    }
    if extra:
        body["extra"] = extra
    return body


def page_json(runs: list[dict[str, Any]], *, total: int, offset: int, limit: int) -> dict[str, Any]:
    return envelope(
        runs,
        filters={"limit": limit, "offset": offset, "state": "all", "account_id": 1},
        order_by="id",
        pagination={"count": len(runs), "total_count": total},
    )


def error_json(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {
        "status": {
            "code": code,
            "is_success": False,
            "user_message": message,
            "developer_message": None,
        },
        "data": data,
    }


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


class Script:
    """Answers requests from a queue of responses (or callables), recording every request."""

    def __init__(self, *responses: httpx.Response | Exception | Handler) -> None:
        self.queue = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.queue.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item

    def extend(self, items: Iterable[httpx.Response | Exception | Handler]) -> None:
        self.queue.extend(items)


def make_client(handler: Handler, clock: FakeClock | None = None, **kwargs: Any) -> AsyncRunsClient:
    clock = clock or FakeClock()
    options: dict[str, Any] = {
        "token": TOKEN,
        "base_url": BASE,
        "account_id": 1,
        "clock": clock,
        "sleep": clock.sleep,
        "wall_clock": clock.wall,
        **kwargs,
    }
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = AsyncRunsClient(http_client=http_client, **options)
    # The test closes what it opened: a client never closes an httpx client passed to it.
    OPENED.append(http_client)
    return client


OPENED: list[httpx.AsyncClient] = []
"""The httpx clients `make_client` created, for fixtures to close."""


async def close_opened() -> None:
    """Close the httpx clients `make_client` created so far."""
    while OPENED:
        await OPENED.pop().aclose()
