"""wait_for_run: bounded, typed outcomes, a last check at the deadline, 404 grace, callbacks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    InvalidArgumentError,
    NotFoundError,
    Run,
    RunCancelledError,
    RunFailedError,
    RunStatus,
    WaitTimeoutError,
)
from dbt_runs._converter import structure

from .fakes import FakeClock, Script, envelope, error_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]


def run_with(status: int, **kw: Any) -> httpx.Response:
    return respond(envelope(run_json(7, status, **kw)))


def not_found() -> httpx.Response:
    return respond(error_json(404, "The requested resource was not found."), 404)


async def test_returns_the_finished_run_and_polls_afresh_each_time(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(run_with(1), run_with(3), run_with(3), run_with(10))
    client = client_for(script)

    run = await client.wait_for_run(7, poll_interval=5)

    assert run.status is RunStatus.SUCCESS
    assert len(script.requests) == 4
    assert clock.sleeps == [5, 5, 5]


async def test_callbacks_sync_and_async(client_for: ClientFor) -> None:
    script = Script(run_with(1), run_with(1), run_with(3), run_with(10))
    client = client_for(script)
    changes: list[RunStatus | None] = []
    polls: list[RunStatus | None] = []

    def on_change(run: Run) -> None:
        changes.append(run.status)

    async def on_poll(run: Run) -> None:
        polls.append(run.status)

    await client.wait_for_run(7, poll_interval=1, on_status_change=on_change, on_poll=on_poll)

    assert changes == [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCESS]
    assert polls == [RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCESS]


async def test_error_raises_run_failed_with_the_run(client_for: ClientFor) -> None:
    href = "https://cloud.getdbt.com/deploy/1/projects/1/runs/7/"
    client = client_for(
        Script(run_with(3), run_with(20, status_message="Database Error", href=href))
    )
    message = f"run 7 of job 1 failed: Database Error ({href})"
    with pytest.raises(RunFailedError, match=re.escape(message)) as info:
        await client.wait_for_run(7, poll_interval=1)
    assert info.value.run is not None
    assert info.value.run.status is RunStatus.ERROR


async def test_cancelled_raises_run_cancelled(client_for: ClientFor) -> None:
    client = client_for(Script(run_with(30, status_message="Cancelled by user.")))
    with pytest.raises(RunCancelledError, match="Cancelled by user") as info:
        await client.wait_for_run(7)
    assert info.value.run is not None


async def test_raise_on_failure_false_returns_the_failed_run(client_for: ClientFor) -> None:
    client = client_for(Script(run_with(20)))
    run = await client.wait_for_run(7, raise_on_failure=False)
    assert run.status is RunStatus.ERROR


async def test_times_out_with_the_last_run_after_a_final_check(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*(run_with(3) for _ in range(10)))
    client = client_for(script)

    with pytest.raises(WaitTimeoutError) as info:
        await client.wait_for_run(7, timeout=25, poll_interval=10)

    # Polls at 0, 10, 20, then a last look exactly at the deadline (25).
    assert clock.sleeps == [10, 10, 5]
    assert len(script.requests) == 4
    assert clock.now == 25
    assert info.value.run is not None
    assert info.value.run.status is RunStatus.RUNNING
    assert not info.value.cancelled
    assert "did not finish within 25 s (last status: Running)" in str(info.value)
    assert isinstance(info.value, TimeoutError)


async def test_a_run_finishing_at_the_deadline_is_not_a_timeout(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(run_with(3), run_with(3), run_with(10))
    client = client_for(script)
    run = await client.wait_for_run(7, timeout=15, poll_interval=10)
    assert run.status is RunStatus.SUCCESS
    assert clock.sleeps == [10, 5]


async def test_cancel_on_timeout_cancels_the_run(client_for: ClientFor) -> None:
    script = Script(run_with(1), run_with(1), run_with(30))
    client = client_for(script)
    with pytest.raises(WaitTimeoutError) as info:
        await client.wait_for_run(7, timeout=10, poll_interval=10, cancel_on_timeout=True)
    assert info.value.cancelled
    assert info.value.run is not None
    assert info.value.run.status is RunStatus.CANCELLED
    assert script.requests[-1].method == "POST"
    assert script.requests[-1].url.path == "/api/v2/accounts/1/runs/7/cancel/"


async def test_404_right_after_a_trigger_is_tolerated_for_the_grace_period(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(not_found(), not_found(), run_with(1), run_with(10))
    client = client_for(script)
    run = await client.wait_for_run(7, poll_interval=2, not_found_grace=5)
    assert run.status is RunStatus.SUCCESS


async def test_404_beyond_the_grace_period_raises(client_for: ClientFor) -> None:
    client = client_for(Script(*(not_found() for _ in range(5))))
    with pytest.raises(NotFoundError):
        await client.wait_for_run(7, poll_interval=2, not_found_grace=5)


async def test_404_after_the_run_was_seen_raises_at_once(client_for: ClientFor) -> None:
    script = Script(run_with(3), not_found())
    client = client_for(script)
    with pytest.raises(NotFoundError):
        await client.wait_for_run(7, poll_interval=1, not_found_grace=60)
    assert len(script.requests) == 2


async def test_timeout_none_waits_as_long_as_it_takes(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*(run_with(3) for _ in range(50)), run_with(10))
    client = client_for(script)
    await client.wait_for_run(7, timeout=None, poll_interval=3600)
    assert clock.now == 50 * 3600


async def test_default_wait_is_bounded(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(*(run_with(1) for _ in range(400)))
    client = client_for(script)
    with pytest.raises(WaitTimeoutError):
        await client.wait_for_run(7)
    assert clock.now == 3600


async def test_transient_errors_while_polling_are_retried(client_for: ClientFor) -> None:
    script = Script(run_with(3), respond(b"<html>502</html>", 502), run_with(10))
    client = client_for(script)
    run = await client.wait_for_run(7, poll_interval=1)
    assert run.status is RunStatus.SUCCESS


async def test_include_related_is_passed_to_each_poll(client_for: ClientFor) -> None:
    script = Script(run_with(10))
    client = client_for(script)
    await client.wait_for_run(7, include_related=["run_steps"])
    assert script.requests[0].url.params["include_related"] == "run_steps"


@pytest.mark.parametrize("related", [["trigger", "job"], "trigger,job", "trigger, job"])
async def test_several_related_objects_reach_each_poll(
    client_for: ClientFor, related: list[str] | str
) -> None:
    script = Script(run_with(3), run_with(10))
    client = client_for(script)
    await client.wait_for_run(7, include_related=related, poll_interval=1)
    assert [r.url.params["include_related"] for r in script.requests] == ["trigger,job"] * 2


async def test_undocumented_terminal_status_uses_dbts_flags(client_for: ClientFor) -> None:
    client = client_for(Script(run_with(40, is_complete=True, is_error=True, in_progress=False)))
    with pytest.raises(RunFailedError):
        await client.wait_for_run(7)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"timeout": -5}, "timeout must be more than 0"),
        ({"poll_interval": 0}, "poll_interval must be more than 0"),
        ({"include_related": ["nope"]}, "include_related has an unknown value"),
    ],
)
async def test_bad_wait_arguments(
    client_for: ClientFor, kwargs: dict[str, Any], needle: str
) -> None:
    client = client_for(Script())
    with pytest.raises(InvalidArgumentError) as info:
        await client.wait_for_run(7, **kwargs)
    assert needle in str(info.value)


async def test_cancel_on_abort_cancels_the_run_when_the_wait_is_cancelled() -> None:
    import asyncio

    from .fakes import close_opened, make_client

    script = Script(run_with(3), run_with(30))
    polled = asyncio.Event()

    async def sleep_until_cancelled(seconds: float) -> None:
        polled.set()
        await asyncio.Event().wait()

    client = make_client(script, sleep=sleep_until_cancelled)  # blocks in its first pause
    try:
        task = asyncio.ensure_future(client.wait_for_run(7, cancel_on_abort=True))
        await polled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [r.method for r in script.requests] == ["GET", "POST"]
        assert script.requests[1].url.path == "/api/v2/accounts/1/runs/7/cancel/"
    finally:
        await close_opened()


async def test_an_aborted_wait_leaves_the_run_alone_by_default() -> None:
    import asyncio

    from .fakes import close_opened, make_client

    script = Script(run_with(3))
    polled = asyncio.Event()

    async def sleep_until_cancelled(seconds: float) -> None:
        polled.set()
        await asyncio.Event().wait()

    client = make_client(script, sleep=sleep_until_cancelled)
    try:
        task = asyncio.ensure_future(client.wait_for_run(7))
        await polled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [r.method for r in script.requests] == ["GET"]
    finally:
        await close_opened()


def held_run(status: int = 1) -> Run:
    return structure(run_json(7, status), Run)


async def test_a_run_already_held_counts_as_the_first_poll(
    client_for: ClientFor, clock: FakeClock
) -> None:
    # After a trigger the caller holds the queued run: asking for it again at once is waste.
    script = Script(run_with(3), run_with(10))
    client = client_for(script)
    polls: list[RunStatus | None] = []

    run = await client.wait_for_run(
        held_run(), poll_interval=5, on_poll=lambda r: polls.append(r.status)
    )

    assert run.status is RunStatus.SUCCESS
    assert len(script.requests) == 2
    assert clock.sleeps == [5, 5]
    assert polls == [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCESS]


async def test_a_404_after_a_held_run_is_still_within_the_grace_period(
    client_for: ClientFor,
) -> None:
    script = Script(not_found(), run_with(10))
    client = client_for(script)
    run = await client.wait_for_run(held_run(), poll_interval=1)
    assert run.status is RunStatus.SUCCESS


async def test_a_finished_run_held_is_fetched_afresh(client_for: ClientFor) -> None:
    script = Script(run_with(10))
    client = client_for(script)
    run = await client.wait_for_run(held_run(10), include_related=["run_steps"])
    assert run.status is RunStatus.SUCCESS
    assert script.requests[0].url.params["include_related"] == "run_steps"


async def test_a_second_cancellation_does_not_stop_the_cancel_request() -> None:
    import asyncio

    from .fakes import close_opened, make_client

    release = asyncio.Event()
    finished: list[str] = []

    async def slow_cancel(request: httpx.Request) -> httpx.Response:
        await release.wait()
        finished.append(request.url.path)
        return run_with(30)

    script = Script(run_with(3), slow_cancel)
    polled = asyncio.Event()

    async def sleep_until_cancelled(seconds: float) -> None:
        polled.set()
        await asyncio.Event().wait()

    client = make_client(script, sleep=sleep_until_cancelled)
    try:
        task = asyncio.ensure_future(client.wait_for_run(7, cancel_on_abort=True))
        await polled.wait()
        task.cancel()
        for _ in range(10):
            await asyncio.sleep(0)  # the cancel request goes out
        assert [r.method for r in script.requests] == ["GET", "POST"]
        task.cancel()  # Ctrl-C again, or a supervisor's second cancellation
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        for _ in range(10):
            await asyncio.sleep(0)
        # The run is still cancelled in dbt: the request was shielded from the second one.
        assert finished == ["/api/v2/accounts/1/runs/7/cancel/"]
    finally:
        await close_opened()
