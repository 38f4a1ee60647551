"""Webhook-driven waits end to end: the emulator delivers over loopback, the receiver verifies
and publishes, waiters wake; dropped, duplicated and delayed deliveries are survived.

The waiter is `wait_for_run(events=hub)`: it subscribes before looking, waits for the run's
`completed` event with a slow safety poll as its pause, and reads the run once when either
says it may be over.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest

from dbt_runs import AsyncRunsClient, Run, RunsClient
from dbt_runs.expose.webhooks import WEBHOOK_PATH, WebhookReceiver, create_webhook_app
from dbt_runs.testing import Emulator, RealClock
from dbt_runs.testing._server import serve
from dbt_runs.webhooks import RUN_COMPLETED, EventHub

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEED = 100.0  # a run of job 4 (CI, parallel) takes about 0.6 s
SAFETY_POLL = 1.5


async def wait_with_events(
    client: AsyncRunsClient, hub: EventHub, run: Run, *, safety_poll: float
) -> tuple[Run, bool]:
    """The run once finished (`wait_for_run(events=hub)`), and whether its event had come."""
    with hub.subscribe(run.id, event_types={RUN_COMPLETED}) as seen:
        done = await client.wait_for_run(run, events=hub, poll_interval=safety_poll)
        return done, seen.get_nowait() is not None


@dataclass
class Stack:
    emulator: Emulator
    client: AsyncRunsClient
    hub: EventHub
    receiver: WebhookReceiver
    secret: str


@asynccontextmanager
async def stack() -> AsyncIterator[Stack]:
    """A served emulator (real time, sped up) delivering to a served receiver."""
    emulator = Emulator(runs=0, clock=RealClock(speed=SPEED))
    hub = EventHub()
    app = create_webhook_app(hub, secret="not known yet")
    async with emulator.serve() as api, serve(app) as hooks:
        subscription = emulator.webhooks.subscribe(
            hooks.url + WEBHOOK_PATH, event_types=[RUN_COMPLETED]
        )
        assert subscription.secret is not None
        # dbt shows the secret in its answer to the create call, once the URL is known.
        app.state.receiver.set_secret(subscription.secret)
        async with AsyncRunsClient(token="t", base_url=api.base_url, account_id=1) as client:
            yield Stack(emulator, client, hub, app.state.receiver, subscription.secret)


async def test_a_waiter_wakes_on_the_event_not_on_a_poll() -> None:
    async with stack() as s:
        run = await s.client.trigger_run(4, cause="webhooks")
        started = time.monotonic()
        with anyio.fail_after(10):
            done, woken = await wait_with_events(s.client, s.hub, run, safety_poll=30.0)
        assert woken
        assert done.is_terminal
        assert time.monotonic() - started < 5  # the 30 s safety poll never came into it
        assert s.receiver.accepted == 1


async def test_dropped_duplicated_and_delayed_deliveries_are_survived() -> None:
    async with stack() as s:
        s.emulator.faults.fault_next_webhooks("drop")
        s.emulator.faults.fault_next_webhooks("duplicate")
        lost = await s.client.trigger_run(4, cause="dropped")
        await anyio.sleep(0.05)  # so the two finish in this order
        twice = await s.client.trigger_run(4, cause="duplicated")
        results = {}

        async def follow(run: Run) -> None:
            results[run.id] = await wait_with_events(s.client, s.hub, run, safety_poll=SAFETY_POLL)

        with anyio.fail_after(15):
            async with anyio.create_task_group() as group:
                group.start_soon(follow, lost)
                group.start_soon(follow, twice)
        assert not results[lost.id][1]  # no event ever came: the safety poll found it finished
        assert results[lost.id][0].is_terminal
        assert results[twice.id][1]
        assert s.receiver.duplicates == 1  # the second copy was acknowledged and ignored
        outcomes = sorted(str(r.outcome) for r in s.emulator.webhooks.deliveries)
        assert outcomes == ["200", "200", "dropped"]

        s.emulator.faults.webhook_delay_seconds = 0.5
        late = await s.client.trigger_run(4, cause="delayed")
        with anyio.fail_after(15):
            done, woken = await wait_with_events(s.client, s.hub, late, safety_poll=30.0)
        assert woken
        assert done.finished_at is not None
        delivered_at = s.emulator.webhooks.deliveries[-1].at
        assert (delivered_at - done.finished_at).total_seconds() >= 0.5


async def test_a_receiver_with_a_stale_secret_is_fixed_in_time_for_dbts_retry() -> None:
    async with stack() as s:
        s.emulator.webhooks.retry_delays = (0.3,) * 5
        s.receiver.set_secret("the secret of a deleted subscription")
        run = await s.client.trigger_run(4, cause="retried")
        with anyio.fail_after(15):
            while not s.emulator.webhooks.deliveries:  # noqa: ASYNC110 (no event to await)
                await anyio.sleep(0.02)
        s.receiver.set_secret(s.secret)
        with anyio.fail_after(15):
            done, woken = await wait_with_events(s.client, s.hub, run, safety_poll=30.0)
        assert woken
        assert done.is_terminal
        attempts = [(r.attempt, r.outcome) for r in s.emulator.webhooks.deliveries]
        assert attempts == [(1, 401), (2, 200)]
        assert (s.receiver.refused, s.receiver.accepted) == (1, 1)


async def test_a_sync_client_wakes_on_an_event_received_in_another_thread() -> None:
    # The receiver serves in this event loop's thread; the RunsClient waits in its own.
    async with stack() as s:
        sync_client = RunsClient(token="t", base_url=s.client.base_url, account_id=1)
        try:
            run = await anyio.to_thread.run_sync(sync_client.trigger_run, 4)
            started = time.monotonic()
            wait = functools.partial(sync_client.wait_for_run, run, events=s.hub)
            with anyio.fail_after(15):
                done = await anyio.to_thread.run_sync(wait)
        finally:
            await anyio.to_thread.run_sync(sync_client.close)
        assert done.is_terminal
        assert time.monotonic() - started < 10  # the event, not the 120 s safety poll
        assert s.receiver.accepted == 1
        assert s.hub.subscription_count == 0
