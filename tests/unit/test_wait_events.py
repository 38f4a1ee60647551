"""wait_for_run(events=...): a webhook event ends the wait; a slow safety poll stays.

The fake dbt is `test_fleet.Fleet` (each run Running until its finish time); events are
published on the fake clock by `publish_at`, as a receiver in this process would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    InvalidArgumentError,
    NotFoundError,
    RunFailedError,
    RunStatus,
    WaitTimeoutError,
)
from dbt_runs.webhooks import (
    DEFAULT_SAFETY_POLL,
    RUN_COMPLETED,
    RUN_ERRORED,
    RUN_STARTED,
    EventHub,
    RunEvent,
)

from .fakes import Timeline, envelope, respond, run_json
from .test_fleet import Fleet

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]

_ids = itertools.count(1)


def event(run_id: int, event_type: str = RUN_COMPLETED) -> RunEvent:
    return RunEvent(
        event_type=event_type, event_id=f"wev_{next(_ids)}", account_id=1, job_id=1, run_id=run_id
    )


@pytest.fixture
async def clock() -> AsyncIterator[Timeline]:
    timeline = Timeline()
    yield timeline
    await timeline.aclose()


def publish_at(
    clock: Timeline, hub: EventHub, when: float, *events: RunEvent
) -> asyncio.Task[None]:
    async def later() -> None:
        await clock.sleep(when - clock.now)
        for one in events:
            hub.publish(one)

    return asyncio.ensure_future(later())


async def test_an_event_ends_the_wait_at_once_with_one_read(
    client_for: ClientFor, clock: Timeline
) -> None:
    fleet = Fleet(clock, {7: 30})
    hub = EventHub()
    publish_at(clock, hub, 31, event(7, RUN_STARTED), event(8), event(7))
    polls: list[float] = []

    run = await client_for(fleet).wait_for_run(
        7, events=hub, on_poll=lambda run: polls.append(clock.now)
    )

    assert run.status is RunStatus.SUCCESS
    assert clock.now == 31  # noticed when the event came, not at the next poll
    assert fleet.gets == [7, 7]  # the first poll, then the one read after the event
    assert polls == [0, 31]
    assert hub.subscription_count == 0


# (finished at, final status, events published (at, type), arguments) -> ended at, reads
ENDINGS = {
    "a lost event: the safety poll (120 s) finds the run": (
        200,
        10,
        [],
        {},
        2 * DEFAULT_SAFETY_POLL,
        3,
    ),
    "a chosen poll_interval is the safety poll": (25, 10, [], {"poll_interval": 10}, 30, 4),
    "errored does not end a wait that needs artifacts": (
        30,
        20,
        [(30, RUN_ERRORED), (45, RUN_COMPLETED)],
        {},
        45,
        2,
    ),
    "errored ends a wait that does not need artifacts": (
        30,
        20,
        [(30, RUN_ERRORED), (45, RUN_COMPLETED)],
        {"needs_artifacts": False},
        30,
        2,
    ),
    "an event the API does not show yet is checked again after 10 s, not 120": (
        40,
        10,
        [(35, RUN_COMPLETED)],
        {},
        45,
        3,
    ),
}


@pytest.mark.parametrize(
    ("finish", "status", "published", "kwargs", "ended", "reads"),
    list(ENDINGS.values()),
    ids=list(ENDINGS),
)
async def test_when_a_wait_on_events_ends(
    client_for: ClientFor,
    clock: Timeline,
    finish: float,
    status: int,
    published: list[tuple[float, str]],
    kwargs: dict[str, object],
    ended: float,
    reads: int,
) -> None:
    fleet = Fleet(clock, {7: finish}, status=status)
    hub = EventHub()
    for when, event_type in published:
        publish_at(clock, hub, when, event(7, event_type))

    run = await client_for(fleet).wait_for_run(7, events=hub, raise_on_failure=False, **kwargs)

    assert run.status == status
    assert clock.now == ended
    assert fleet.gets == [7] * reads
    assert hub.subscription_count == 0


async def test_an_event_that_comes_during_the_first_poll_is_not_lost(
    client_for: ClientFor, clock: Timeline
) -> None:
    hub = EventHub()
    answers = iter([3, 10])

    def dbt(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 3:
            hub.publish(event(7))  # the run ends while its first poll is answered
        return respond(envelope(run_json(7, status)))

    run = await client_for(dbt).wait_for_run(7, events=hub)

    assert run.status is RunStatus.SUCCESS
    assert clock.now == 0


async def test_an_event_before_the_wait_began_is_replayed(
    client_for: ClientFor, clock: Timeline
) -> None:
    hub = EventHub()
    hub.publish(event(7))  # came between the trigger and the wait
    fleet = Fleet(clock, {7: 0})
    from .test_fleet import held

    run = await client_for(fleet).wait_for_run(held(7, 3), events=hub)

    assert run.status is RunStatus.SUCCESS
    assert clock.now == 0
    assert fleet.gets == [7]  # the run held counted as the first poll


async def test_timeouts_and_cancel_on_timeout_keep_their_meaning(
    client_for: ClientFor, clock: Timeline
) -> None:
    fleet = Fleet(clock, {7: 1000})
    hub = EventHub()

    with pytest.raises(WaitTimeoutError) as info:
        await client_for(fleet).wait_for_run(7, events=hub, timeout=50, cancel_on_timeout=True)

    assert clock.now == 50  # a last look at the deadline
    assert info.value.cancelled
    assert fleet.gets == [7, 7]
    assert hub.subscription_count == 0


async def test_the_subscription_ends_with_the_wait_however_it_ends(
    client_for: ClientFor, clock: Timeline
) -> None:
    hub = EventHub()
    fleet = Fleet(clock, {7: 10}, status=20)
    with pytest.raises(RunFailedError):
        await client_for(fleet).wait_for_run(7, events=hub, poll_interval=10)
    assert hub.subscription_count == 0

    with pytest.raises(NotFoundError):
        await client_for(Fleet(clock, {})).wait_for_run(99, events=hub, not_found_grace=0)
    assert hub.subscription_count == 0

    def boom(run: object) -> None:
        raise RuntimeError("a callback failed")

    with pytest.raises(RuntimeError, match="callback"):
        await client_for(Fleet(clock, {7: 1e9})).wait_for_run(7, events=hub, on_poll=boom)
    assert hub.subscription_count == 0


async def test_cancel_on_abort_cancels_the_run(clock: Timeline) -> None:
    from .fakes import close_opened, make_client

    fleet = Fleet(clock, {7: 1e9})
    hub = EventHub()
    client = make_client(fleet, clock)
    try:
        polled = asyncio.Event()
        task = asyncio.ensure_future(
            client.wait_for_run(7, events=hub, cancel_on_abort=True, on_poll=lambda _: polled.set())
        )
        await polled.wait()
        await asyncio.sleep(0)  # into the pause, racing the poll against the events
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [r.url.path for r in fleet.requests if r.method == "POST"] == [
            "/api/v2/accounts/1/runs/7/cancel/"
        ]
        assert hub.subscription_count == 0
    finally:
        await close_opened()


async def test_many_waits_on_events_share_their_reads(
    client_for: ClientFor, clock: Timeline
) -> None:
    fleet = Fleet(clock, dict.fromkeys(range(1, 201), 20.0))
    hub = EventHub()
    publish_at(clock, hub, 21, *(event(i) for i in range(1, 201)))

    runs = await client_for(fleet).wait_for_runs(range(1, 201), events=hub)

    assert len(runs) == 200
    assert clock.now == 21
    # The first polls, then the reads after the events: 100 runs a request each time.
    assert len(fleet.lists) == 4
    assert hub.subscription_count == 0


async def test_as_completed_takes_events_too(client_for: ClientFor, clock: Timeline) -> None:
    fleet = Fleet(clock, {7: 30, 8: 10})
    hub = EventHub()
    publish_at(clock, hub, 11, event(8))
    publish_at(clock, hub, 31, event(7))

    waits = client_for(fleet).as_completed([7, 8], events=hub)
    order = [(run.id, clock.now) async for run in waits]

    assert order == [(8, 11), (7, 31)]


async def test_events_must_be_a_hub(client_for: ClientFor) -> None:
    client = client_for(Fleet(Timeline(), {}))
    with pytest.raises(InvalidArgumentError, match="EventHub"):
        await client.wait_for_run(7, events=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="needs_artifacts"):
        await client.wait_for_run(7, events=EventHub(), needs_artifacts=1)  # type: ignore[arg-type]
