"""`RunsClient.wait_for_run(events=...)`: an `EventHub` fed from another thread (a receiver
serving in its own loop) wakes a wait running in the client's loop thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from dbt_runs import RunsClient, RunStatus
from dbt_runs.testing import Emulator
from dbt_runs.webhooks import RUN_COMPLETED, EventHub, RunEvent

MakeClient = Callable[..., RunsClient]


def test_an_event_published_in_another_thread_ends_a_sync_wait(
    make_client: MakeClient, emulator: Emulator
) -> None:
    # Real sleeps: without the event, this wait would poll again only after 120 s.
    client = make_client(clock=time.monotonic, sleep=asyncio.sleep)
    hub = EventHub()
    run_id = emulator.trigger_run(1)
    polled = threading.Event()
    threads: set[int] = set()

    def on_poll(run: object) -> None:
        threads.add(threading.get_ident())
        polled.set()

    def receiver() -> None:  # what the webhook receiver's thread does when dbt delivers
        polled.wait(10)
        emulator.clock.advance(3600)
        hub.publish(RunEvent(RUN_COMPLETED, "wev_sync", account_id=1, job_id=1, run_id=run_id))

    delivering = threading.Thread(target=receiver)
    delivering.start()
    started = time.monotonic()
    run = client.wait_for_run(run_id, events=hub, on_poll=on_poll)
    delivering.join()

    assert run.status is RunStatus.SUCCESS
    assert time.monotonic() - started < 30
    assert threads == {threading.get_ident()}  # callbacks still run in the calling thread
    assert hub.subscription_count == 0
