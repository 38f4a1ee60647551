"""EventHub: verified events fanned out to the waiters of one process, from any thread."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from dbt_runs.webhooks import RUN_COMPLETED, RUN_ERRORED, RUN_STARTED, EventHub, RunEvent

pytestmark = pytest.mark.anyio

_ids = itertools.count(1)


def event(run_id: int, event_type: str = RUN_COMPLETED) -> RunEvent:
    return RunEvent(
        event_type=event_type,
        event_id=f"wev_{next(_ids)}",
        account_id=1,
        job_id=1,
        run_id=run_id,
    )


async def test_a_subscription_gets_its_runs_events_in_order() -> None:
    hub = EventHub()
    with hub.subscribe(7) as events:
        started, completed = event(7, RUN_STARTED), event(7)
        assert hub.publish(started) == 1
        assert hub.publish(event(8)) == 0  # another run's
        assert hub.publish(completed) == 1
        assert await events.next() is started
        assert await events.next() is completed
        assert events.get_nowait() is None
    assert hub.subscription_count == 0


async def test_event_types_filter_and_every_run_subscriptions_see_all() -> None:
    hub = EventHub()
    completed_only = hub.subscribe(7, event_types={RUN_COMPLETED})
    everything = hub.subscribe()
    errored, completed, other = event(7, RUN_ERRORED), event(7), event(9, RUN_STARTED)
    for one in (errored, completed, other):
        hub.publish(one)
    assert await completed_only.next() is completed
    assert completed_only.get_nowait() is None
    assert [await everything.next() for _ in range(3)] == [errored, completed, other]
    with pytest.raises(ValueError, match="non-empty"):
        hub.subscribe(7, event_types=set())
    with pytest.raises(ValueError, match="non-empty"):
        hub.subscribe(7, event_types=RUN_COMPLETED)  # a string, not a collection of them


async def test_many_waiters_on_one_run_each_get_the_event() -> None:
    hub = EventHub()
    subscriptions = [hub.subscribe(7) for _ in range(50)]
    readers = [asyncio.ensure_future(s.next()) for s in subscriptions]
    await asyncio.sleep(0)
    completed = event(7)
    assert hub.publish(completed) == 50
    assert await asyncio.gather(*readers) == [completed] * 50


async def test_a_late_subscriber_gets_the_events_the_hub_remembers() -> None:
    hub = EventHub(remember_runs=2)
    for run_id in (1, 2, 3):
        hub.publish(event(run_id, RUN_STARTED))
    completed = event(3)
    hub.publish(completed)
    with hub.subscribe(3, event_types={RUN_COMPLETED}) as events:
        assert events.get_nowait() is completed  # published before the subscription
    with hub.subscribe(1) as events:
        assert events.get_nowait() is None  # run 1 was forgotten: only 2 runs are kept
    with EventHub(remember_runs=0).subscribe(3) as events:
        assert events.get_nowait() is None
    assert hub.subscribe().get_nowait() is None  # an every-run subscription replays nothing


async def test_next_within_returns_none_after_the_interval() -> None:
    hub = EventHub()
    with hub.subscribe(7) as events:
        assert await events.next_within(0.01) is None
        assert await events.next_within(0) is None
        completed = event(7)
        hub.publish(completed)
        assert await events.next_within(5) is completed


async def test_next_within_ends_with_the_waiting_loops_own_sleep() -> None:
    hub = EventHub()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    with hub.subscribe(7) as events:
        # A fake clock's sleep returns at once: the pause ends without waiting for real.
        assert await events.next_within(120.0, sleep=fake_sleep) is None
        assert slept == [120.0]

        async def never(seconds: float) -> None:
            await asyncio.Event().wait()

        reading = asyncio.ensure_future(events.next_within(120.0, sleep=never))
        await asyncio.sleep(0)
        completed = event(7)
        hub.publish(completed)
        assert await asyncio.wait_for(reading, 5) is completed


async def test_a_pause_that_ends_first_leaves_the_event_queued() -> None:
    hub = EventHub()

    async def publish_then_return(seconds: float) -> None:
        hub.publish(event(7))  # arrives while the pause ends: it must not be lost

    with hub.subscribe(7) as events:
        first = await events.next_within(1.0, sleep=publish_then_return)
        assert first is not None or events.get_nowait() is not None


async def test_a_waiter_in_this_loop_is_woken_from_another_thread() -> None:
    hub = EventHub()
    completed = event(7)
    with hub.subscribe(7) as events:
        reading = asyncio.ensure_future(events.next())
        await asyncio.sleep(0)
        publisher = threading.Thread(target=hub.publish, args=(completed,))
        publisher.start()
        assert await asyncio.wait_for(reading, 5) is completed
        publisher.join()


def test_a_waiter_in_another_threads_loop_is_woken() -> None:
    # A RunsClient waits in its own loop's thread while the receiver serves in another.
    hub = EventHub()
    subscription = hub.subscribe(7)
    got: list[RunEvent] = []
    waiting = threading.Event()

    async def wait() -> None:
        reading = asyncio.ensure_future(subscription.next())
        await asyncio.sleep(0)
        waiting.set()
        got.append(await asyncio.wait_for(reading, 5))

    thread = threading.Thread(target=asyncio.run, args=(wait(),))
    thread.start()
    assert waiting.wait(5)
    completed = event(7)

    async def receiver() -> None:
        hub.publish(completed)

    asyncio.run(receiver())
    thread.join(5)
    assert got == [completed]


async def test_closing_ends_a_wait_and_an_iteration() -> None:
    hub = EventHub()
    events = hub.subscribe(7)
    reading = asyncio.ensure_future(events.next())
    await asyncio.sleep(0)
    events.close()
    with pytest.raises(RuntimeError, match="closed"):
        await reading
    events.close()  # idempotent
    assert events.closed
    assert hub.publish(event(7)) == 0

    iterated = hub.subscribe(8)
    hub.publish(first := event(8))
    seen: list[RunEvent] = []

    async def iterate() -> None:
        async for one in iterated:
            seen.append(one)

    task = asyncio.ensure_future(iterate())
    await asyncio.sleep(0)
    iterated.close()
    await asyncio.wait_for(task, 5)
    assert seen == [first]


async def test_one_reader_at_a_time() -> None:
    hub = EventHub()
    with hub.subscribe(7) as events:
        reading = asyncio.ensure_future(events.next())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already waiting"):
            await events.next()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        hub.publish(completed := event(7))
        assert await events.next() is completed  # a cancelled read left the slot free


async def test_a_reader_that_falls_behind_loses_the_oldest_events() -> None:
    hub = EventHub(max_pending=2)
    with hub.subscribe() as events:
        published = [event(run_id) for run_id in range(5)]
        for one in published:
            hub.publish(one)
        assert events.dropped == 3
        assert [await events.next(), await events.next()] == published[3:]


def test_reprs_say_what_they_hold() -> None:
    hub = EventHub()
    with hub.subscribe(7, event_types={RUN_COMPLETED}) as events:
        assert (
            repr(events) == "Subscription(run_id=7, event_types=['job.run.completed'], pending=0)"
        )
        assert repr(hub) == "EventHub(subscriptions=1, published=0)"
    assert "closed" in repr(events)


async def test_publishing_from_many_threads_loses_nothing() -> None:
    many_threads, per_thread = 8, 200
    hub = EventHub(max_pending=many_threads * per_thread)
    with hub.subscribe() as events:
        threads = [
            threading.Thread(
                target=lambda base: [hub.publish(event(base + i)) for i in range(per_thread)],
                args=(n * per_thread,),
            )
            for n in range(many_threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = set()
        while (one := events.get_nowait()) is not None:
            received.add(one.run_id)
    assert received == set(range(many_threads * per_thread))
    assert hub.published == many_threads * per_thread
