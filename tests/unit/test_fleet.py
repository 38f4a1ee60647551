"""Many waits at once: shared polls (`RunWatcher`), `wait_for_runs` and `as_completed`.

A fake dbt (`Fleet`) answers `GET runs/{id}/` and `GET runs/?pk__in=[...]` from a table of
when each run finishes, read on the fake clock, and records what it was asked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    RateBudget,
    RateLimitError,
    RetryPolicy,
    Run,
    RunFailedError,
    RunStatus,
    WaitTimeoutError,
)
from dbt_runs._converter import structure

from .fakes import Timeline, envelope, error_json, page_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]
FakeClock = Timeline


@pytest.fixture
async def clock() -> AsyncIterator[Timeline]:
    """Many waits sleep at once here: time moves only once every task is waiting."""
    timeline = Timeline()
    yield timeline
    await timeline.aclose()


class Fleet:
    """A fake dbt: each run is Running until its finish time, then has its final status."""

    def __init__(self, clock: FakeClock, finish: dict[int, float], *, status: int = 10) -> None:
        self.clock = clock
        self.finish = finish
        self.final = dict.fromkeys(finish, status)
        #: Runs not visible until then: 404 alone, left out of lists.
        self.hidden_until: dict[int, float] = {}
        self.requests: list[httpx.Request] = []
        self.fail_lists = 0  # answer this many list requests 500
        self.throttle: tuple[int, str] | None = None  # (times, Retry-After): answer 429

    def hidden(self, run_id: int) -> bool:
        return self.clock.now < self.hidden_until.get(run_id, float("-inf"))

    def status(self, run_id: int) -> int:
        return self.final[run_id] if self.clock.now >= self.finish[run_id] else 3

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.throttle is not None and self.throttle[0] > 0:
            self.throttle = (self.throttle[0] - 1, self.throttle[1])
            headers = {"retry-after": self.throttle[1]}
            return respond(error_json(429, "Too many requests."), 429, headers)
        parts = request.url.path.rstrip("/").split("/")
        if request.method == "POST" and parts[-1] == "cancel":
            run_id = int(parts[-2])
            self.final[run_id], self.finish[run_id] = 30, self.clock.now
            return respond(envelope(run_json(run_id, 30)))
        if parts[-1] == "runs":
            if self.fail_lists > 0:
                self.fail_lists -= 1
                return respond(b"<html>500</html>", 500)
            ids = json.loads(request.url.params["pk__in"])
            listed = [
                run_json(i, self.status(i)) for i in ids if i in self.finish and not self.hidden(i)
            ]
            limit = int(request.url.params["limit"])
            return respond(page_json(listed, total=len(listed), offset=0, limit=limit))
        run_id = int(parts[-1])
        if run_id not in self.finish or self.hidden(run_id):
            return respond(error_json(404, "The requested resource was not found."), 404)
        return respond(envelope(run_json(run_id, self.status(run_id))))

    @property
    def lists(self) -> list[list[int]]:
        """The ids of each list request, in order."""
        return [
            json.loads(r.url.params["pk__in"])
            for r in self.requests
            if r.url.path.endswith("/runs/")
        ]

    @property
    def gets(self) -> list[int]:
        """The run of each single-run GET, in order."""
        return [
            int(r.url.path.rstrip("/").split("/")[-1])
            for r in self.requests
            if r.method == "GET" and not r.url.path.endswith("/runs/")
        ]


def held(run_id: int, status: int = 1) -> Run:
    return structure(run_json(run_id, status), Run)


async def test_concurrent_waits_share_one_request_per_poll(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 20, 8: 30, 9: 40})
    client = client_for(fleet)

    runs = await asyncio.gather(*(client.wait_for_run(i, poll_interval=10) for i in (7, 8, 9)))

    assert [run.id for run in runs] == [7, 8, 9]
    assert all(run.status is RunStatus.SUCCESS for run in runs)
    # One list a poll for the runs still going; the last one alone is read as ever.
    assert fleet.lists == [[7, 8, 9], [7, 8, 9], [7, 8, 9], [8, 9]]
    assert fleet.gets == [9]
    assert clock.sleeps == [10, 10, 10, 10]
    assert fleet.requests[0].url.params["limit"] == "3"


async def test_a_thousand_waits_cost_ten_requests_a_poll(
    client_for: ClientFor, clock: FakeClock
) -> None:
    ids = range(1001, 2001)
    fleet = Fleet(clock, dict.fromkeys(ids, 50.0))
    client = client_for(fleet)

    runs = await client.wait_for_runs(ids, poll_interval=10)

    assert [run.id for run in runs] == list(ids)
    # Polls at 0, 10, ... 50: six, each of ten lists of 100 runs; nothing else.
    assert len(fleet.requests) == 60
    assert fleet.gets == []
    assert all(len(chunk) == 100 for chunk in fleet.lists)
    assert sorted(i for chunk in fleet.lists[:10] for i in chunk) == list(ids)


async def test_a_wait_alone_sends_what_it_always_did(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 15})
    client = client_for(fleet)
    await client.wait_for_run(7, poll_interval=5)
    assert fleet.gets == [7, 7, 7, 7]
    assert fleet.lists == []
    assert clock.sleeps == [5, 5, 5]


async def test_a_wait_due_soon_is_taken_along(client_for: ClientFor, clock: FakeClock) -> None:
    fleet = Fleet(clock, {7: 100, 8: 21})
    client = client_for(fleet)
    polled: dict[int, list[float]] = {7: [], 8: []}

    def on_poll(run: Run) -> None:
        polled[run.id].append(clock.now)

    slow = client.wait_for_run(held(7), poll_interval=10, on_poll=on_poll, timeout=12)
    fast = client.wait_for_run(8, poll_interval=7, on_poll=on_poll)
    outcomes = await asyncio.gather(slow, fast, return_exceptions=True)

    assert isinstance(outcomes[0], WaitTimeoutError)
    # Run 7's second poll was due at 10: it went along with run 8's at 7 (half an interval
    # early at most), in the same request. Its last look at its deadline (12) was not taken
    # early; run 8's poll due at 14 went along with it.
    assert polled[7] == [0, 7, 12]
    assert polled[8] == [0, 7, 12, 19, 26]
    assert fleet.lists == [[7, 8], [7, 8]]
    assert fleet.gets == [8, 8, 8]


async def test_a_run_left_out_of_the_listing_is_asked_for_alone(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 20, 8: 20})
    fleet.hidden_until[8] = 5  # just triggered: not visible yet
    client = client_for(fleet)

    runs = await client.wait_for_runs([7, 8], poll_interval=10, not_found_grace=30)

    assert [run.id for run in runs] == [7, 8]
    # Run 8 was missing from the first list: its own GET got dbt's 404, within the grace.
    assert [sorted(chunk) for chunk in fleet.lists] == [[7, 8], [7, 8], [7, 8]]
    assert fleet.gets == [8]


async def test_a_404_past_the_grace_period_ends_that_wait_only(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 20})
    client = client_for(fleet)
    outcome = await client.wait_for_runs(
        [7, 404], poll_interval=10, not_found_grace=15, return_exceptions=True
    )
    assert isinstance(outcome[0], Run)
    assert isinstance(outcome[1], NotFoundError)


async def test_a_failed_list_request_reaches_every_wait_it_served(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 20, 8: 20})
    fleet.fail_lists = 1
    client = client_for(fleet, retry=RetryPolicy.disabled())
    outcome = await client.wait_for_runs([7, 8], return_exceptions=True)
    assert [type(item) for item in outcome] == [InternalServerError, InternalServerError]


async def test_waits_that_need_more_than_a_list_gives_poll_alone(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 10, 9: 10})
    client = client_for(fleet)
    await asyncio.gather(
        client.wait_for_run(7, poll_interval=10, include_related=["run_steps"]),
        client.wait_for_run(8, poll_interval=10, on_log=lambda lines: None),
        client.wait_for_run(9, poll_interval=10, include_related=["trigger"]),
    )
    assert fleet.lists == []
    assert sorted(fleet.gets) == [7, 7, 8, 8, 9, 9]
    related = {r.url.params.get("include_related") for r in fleet.requests}
    assert related == {"run_steps", "trigger"}


async def test_waits_with_different_related_objects_are_listed_apart(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 5, 8: 5, 9: 5, 10: 5})
    client = client_for(fleet)
    await asyncio.gather(
        client.wait_for_runs([7, 8], poll_interval=10, include_related=["trigger"]),
        client.wait_for_runs([9, 10], poll_interval=10),
    )
    asked = sorted(
        (r.url.params.get("include_related", ""), r.url.params["pk__in"]) for r in fleet.requests
    )
    assert asked == [("", "[9,10]"), ("", "[9,10]"), ("trigger", "[7,8]"), ("trigger", "[7,8]")]


async def test_sharing_off_polls_each_run_alone(client_for: ClientFor, clock: FakeClock) -> None:
    fleet = Fleet(clock, {7: 10, 8: 10})
    client = client_for(fleet)
    client._share_waits = False
    await client.wait_for_runs([7, 8], poll_interval=10)
    assert fleet.lists == []
    assert sorted(fleet.gets) == [7, 7, 8, 8]


async def test_wait_for_runs_keeps_the_order_given_and_each_run_once(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 30, 8: 10, 9: 20})
    client = client_for(fleet)
    runs = await client.wait_for_runs(iter([9, held(7), 8, 9]), poll_interval=10)
    assert [run.id for run in runs] == [9, 7, 8, 9]
    assert runs[0] is runs[3]
    assert all(len(chunk) == len(set(chunk)) for chunk in fleet.lists)
    assert fleet.lists[0] == [9, 8]  # run 7, held and running, is first asked for at 10


async def test_wait_for_runs_raises_every_error_together_after_every_wait(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 50, 9: 20})
    fleet.final[7] = fleet.final[9] = 20
    client = client_for(fleet)
    with pytest.raises(ExceptionGroup) as info:
        await client.wait_for_runs([7, 8, 9], poll_interval=10)
    assert str(info.value).startswith("2 of 3 waits ended without a successful run")
    assert [e.run.id for e in info.value.exceptions if isinstance(e, RunFailedError)] == [7, 9]
    assert clock.now == 50  # run 8's wait went on to its end


async def test_wait_for_runs_with_return_exceptions_never_raises_for_a_run(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 1000})
    fleet.final[7] = 20
    client = client_for(fleet)
    outcome = await client.wait_for_runs(
        [7, 8], poll_interval=10, timeout=30, return_exceptions=True
    )
    assert isinstance(outcome[0], RunFailedError)
    assert isinstance(outcome[1], WaitTimeoutError)
    failed = await client.wait_for_runs([7], raise_on_failure=False)
    assert failed[0].status is RunStatus.ERROR


async def test_nothing_to_wait_for(client_for: ClientFor, clock: FakeClock) -> None:
    fleet = Fleet(clock, {})
    client = client_for(fleet)
    assert await client.wait_for_runs([]) == []
    assert [run async for run in client.as_completed([])] == []
    assert fleet.requests == []


@pytest.mark.parametrize(
    ("runs", "needle"),
    [
        ("123", "runs must be a list"),
        (7, "runs must be a list"),
        ([7, 0], "run_id"),
        ([7, True], "run_id"),
        ([7, "8"], "run_id"),
    ],
)
async def test_bad_runs_are_refused_before_anything_is_sent(
    client_for: ClientFor, clock: FakeClock, runs: Any, needle: str
) -> None:
    fleet = Fleet(clock, {7: 0})
    client = client_for(fleet)
    with pytest.raises(InvalidArgumentError, match=needle):
        await client.wait_for_runs(runs)
    with pytest.raises(InvalidArgumentError, match=needle):
        client.as_completed(runs)
    with pytest.raises(InvalidArgumentError, match="poll_interval"):
        client.as_completed([7], poll_interval=0)
    assert fleet.requests == []


async def test_as_completed_yields_each_run_as_it_finishes(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 30, 8: 10, 9: 20})
    client = client_for(fleet)
    seen = [run async for run in client.as_completed([7, 8, 9], poll_interval=10)]
    assert [run.id for run in seen] == [8, 9, 7]
    assert all(run.status is RunStatus.SUCCESS for run in seen)


async def test_as_completed_raises_a_failure_and_stops_the_other_waits(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 1000, 9: 1000})
    fleet.final[7] = 20
    client = client_for(fleet)
    with pytest.raises(RunFailedError):
        async for _ in client.as_completed([7, 8, 9], poll_interval=10, cancel_on_abort=True):
            pass
    # The waits left were stopped, and with cancel_on_abort their runs cancelled in dbt.
    cancels = sorted(r.url.path for r in fleet.requests if r.method == "POST")
    assert cancels == ["/api/v2/accounts/1/runs/8/cancel/", "/api/v2/accounts/1/runs/9/cancel/"]


async def test_as_completed_with_return_exceptions_goes_on(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 20})
    fleet.final[7] = 20
    client = client_for(fleet)
    outcome = [
        item async for item in client.as_completed([7, 8], poll_interval=10, return_exceptions=True)
    ]
    assert isinstance(outcome[0], RunFailedError)
    assert isinstance(outcome[1], Run)
    assert outcome[1].id == 8


async def test_leaving_as_completed_early_stops_the_waits_left(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 10, 8: 1000})
    client = client_for(fleet)
    completed = client.as_completed([7, 8], poll_interval=10, cancel_on_abort=True)
    async for run in completed:
        assert run.id == 7
        break
    await completed.aclose()  # type: ignore[attr-defined]
    requests = len(fleet.requests)
    assert [r.url.path for r in fleet.requests if r.method == "POST"] == [
        "/api/v2/accounts/1/runs/8/cancel/"
    ]
    await asyncio.sleep(0)
    assert len(fleet.requests) == requests  # no poll after the loop was left


async def test_cancelling_wait_for_runs_cancels_every_wait(clock: FakeClock) -> None:
    from .fakes import close_opened, make_client

    fleet = Fleet(clock, {7: 1000, 8: 1000})
    polled = asyncio.Event()

    async def sleep_until_cancelled(seconds: float) -> None:
        polled.set()
        await asyncio.Event().wait()

    client = make_client(fleet, clock, sleep=sleep_until_cancelled)
    try:
        task = asyncio.ensure_future(client.wait_for_runs([7, 8], cancel_on_abort=True))
        await polled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancels = sorted(r.url.path for r in fleet.requests if r.method == "POST")
        assert cancels == [
            "/api/v2/accounts/1/runs/7/cancel/",
            "/api/v2/accounts/1/runs/8/cancel/",
        ]
        # The watcher's task ends with its last wait: nothing is left running.
        await asyncio.sleep(0)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not [t for t in others if "_watch" in repr(t.get_coro())]
    finally:
        await close_opened()


async def test_polls_come_further_apart_as_the_budget_fills(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 1.0, **dict.fromkeys(range(100, 108), 0.0)})
    client = client_for(fleet, rate_limit=RateBudget(requests=10, per=60))
    for run_id in range(100, 108):
        await client.get_run(run_id)
    await client.wait_for_run(7, poll_interval=10)
    # Nine of ten requests in the window: five times the interval.
    assert clock.sleeps == [pytest.approx(50)]


async def test_a_wait_outlives_dbts_cooldown(client_for: ClientFor, clock: FakeClock) -> None:
    fleet = Fleet(clock, {7: 100})
    fleet.throttle = (1, "120")  # longer than max_retry_after: get_run raises at once
    client = client_for(fleet)
    run = await client.wait_for_run(7, poll_interval=10)
    assert run.status is RunStatus.SUCCESS
    assert clock.sleeps[0] == 120
    assert fleet.gets == [7, 7]


async def test_a_cooldown_past_the_deadline_raises(client_for: ClientFor, clock: FakeClock) -> None:
    fleet = Fleet(clock, {7: 100})
    fleet.throttle = (1, "300")
    client = client_for(fleet)
    with pytest.raises(RateLimitError):
        await client.wait_for_run(7, poll_interval=10, timeout=200)


async def test_a_cooldown_holds_back_every_wait_of_the_account(
    client_for: ClientFor, clock: FakeClock
) -> None:
    fleet = Fleet(clock, {7: 100, 8: 100})
    fleet.throttle = (1, "120")
    client = client_for(fleet)
    runs = await client.wait_for_runs([7, 8], poll_interval=10)
    assert [run.id for run in runs] == [7, 8]
    # The first list got the 429; the next went out when the cooldown ended, then every 10 s.
    assert len(fleet.requests) == 1 + 1
    assert clock.now == 120


def test_a_client_waits_in_one_event_loop_then_in_another() -> None:
    from .fakes import FakeClock as PlainClock
    from .fakes import close_opened, make_client

    clock = PlainClock()
    fleet = Fleet(clock, {7: 1000, 8: 20, 9: 20})  # type: ignore[arg-type]
    client = make_client(fleet, clock)

    left: list[asyncio.Future[Run]] = []

    async def abandon() -> None:
        # A wait left running when its loop ends: `asyncio.run` cancels it.
        left.append(asyncio.ensure_future(client.wait_for_run(7, poll_interval=10)))
        await asyncio.sleep(0)

    asyncio.run(abandon())
    assert left[0].cancelled()
    runs = asyncio.run(client.wait_for_runs([8, 9], poll_interval=10))
    assert [run.id for run in runs] == [8, 9]
    asyncio.run(close_opened())
