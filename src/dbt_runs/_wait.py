"""Waiting for a run to finish: the polling loop behind `AsyncRunsClient.wait_for_run`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs

from dbt_runs._logs import LogFollower, LogLines
from dbt_runs.errors import (
    APIError,
    NotFoundError,
    RunCancelledError,
    RunFailedError,
    WaitTimeoutError,
)
from dbt_runs.models import Run, RunStatus

if TYPE_CHECKING:
    from dbt_runs._client import AsyncRunsClient

__all__ = [
    "DEFAULT_NOT_FOUND_GRACE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "LogCallback",
    "RunCallback",
    "Waiter",
]

logger = logging.getLogger("dbt_runs")

RunCallback = Callable[[Run], Awaitable[object] | object]
LogCallback = Callable[[LogLines], Awaitable[object] | object]

DEFAULT_WAIT_TIMEOUT: Final = 3600.0
DEFAULT_POLL_INTERVAL: Final = 10.0
DEFAULT_NOT_FOUND_GRACE: Final = 30.0


@attrs.frozen
class Waiter:
    """One wait: the run, how to poll it, and what to do when it ends or does not."""

    client: AsyncRunsClient
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[Any]]
    run_id: int
    account_id: int
    timeout: float | None
    poll_interval: float
    not_found_grace: float
    cancel_on_timeout: bool
    raise_on_failure: bool
    include_related: tuple[str, ...] | None
    on_status_change: RunCallback | None
    on_poll: RunCallback | None
    on_log: LogCallback | None = None
    follower: LogFollower = attrs.field(factory=LogFollower)

    async def wait(self, seen: Run | None, *, cancel_on_abort: bool, aborts: set[Any]) -> Run:
        """Poll until the run finishes; on cancellation, cancel the run if asked to."""
        try:
            return await self._poll(seen)
        except asyncio.CancelledError:
            if cancel_on_abort:
                await self._cancel_after_abort(aborts)
            raise

    async def _cancel_after_abort(self, aborts: set[Any]) -> None:
        # Shielded: the wait's own cancellation must not cancel the cancel. The task is kept
        # in `aborts` (the client's) so that it is not garbage-collected half-way.
        task = asyncio.ensure_future(
            self.client.cancel_run(self.run_id, account_id=self.account_id)
        )
        aborts.add(task)
        task.add_done_callback(aborts.discard)
        try:
            await asyncio.shield(task)
            logger.warning("cancelled run %d because the wait for it was aborted", self.run_id)
        except asyncio.CancelledError:
            pass  # cancelled again: the cancel request still goes out in the background
        except APIError as exc:
            logger.warning(
                "could not cancel run %d after its wait was aborted: %s", self.run_id, exc
            )

    async def _poll(self, seen: Run | None) -> Run:
        start = self.clock()
        deadline = None if self.timeout is None else start + self.timeout
        last: Run | None = None
        last_status: RunStatus | None = None
        final_check = False
        found = False
        # A finished run passed in is fetched afresh (it may carry less than asked for); an
        # unfinished one is this wait's first poll, so no request repeats what the caller knows.
        pending = seen if seen is not None and not seen.is_terminal else None
        while True:
            try:
                if pending is not None:
                    run, pending = pending, None
                else:
                    run = await self.client.get_run(
                        self.run_id,
                        account_id=self.account_id,
                        include_related=self.include_related,
                    )
                    found = True
            except NotFoundError:
                if found or self.clock() - start >= self.not_found_grace:
                    raise
                logger.debug("run %d not found yet; still within the grace period", self.run_id)
            else:
                last = run
                if self.on_log is not None:
                    for chunk in self.follower.feed(run):
                        await _call(self.on_log, chunk)
                if self.on_poll is not None:
                    await _call(self.on_poll, run)
                if run.status != last_status:
                    last_status = run.status
                    if self.on_status_change is not None:
                        await _call(self.on_status_change, run)
                if run.is_terminal:
                    return finish(run, self.raise_on_failure)
            if final_check:
                break
            now = self.clock()
            pause = self.poll_interval
            if deadline is not None:
                if now >= deadline:
                    break
                if now + pause >= deadline:
                    # Sleep to the deadline, then look once more before giving up.
                    pause = deadline - now
                    final_check = True
            await self.sleep(pause)
        cancelled = False
        if self.cancel_on_timeout and last is not None:
            last = await self.client.cancel_run(self.run_id, account_id=self.account_id)
            cancelled = True
        state = last.status.humanized if last is not None and last.status is not None else "unseen"
        raise WaitTimeoutError(
            f"run {self.run_id} did not finish within {self.timeout} s (last status: {state})"
            + ("; it was cancelled" if cancelled else ""),
            run=last,
            cancelled=cancelled,
        )


async def _call(callback: Callable[[Any], Awaitable[object] | object], value: Any) -> None:
    result = callback(value)
    if inspect.isawaitable(result):
        await result


def finish(run: Run, raise_on_failure: bool) -> Run:
    """`run`, or the `WaitError` that says it failed or was cancelled."""
    if not raise_on_failure:
        return run
    failed = run.status is RunStatus.ERROR or (
        run.status is not None and not run.status.is_known and bool(run.is_error)
    )
    if failed:
        raise RunFailedError(f"run {run.id}{_of_job(run)} failed{_detail(run)}", run=run)
    cancelled = run.status is RunStatus.CANCELLED or (
        run.status is not None and not run.status.is_known and bool(run.is_cancelled)
    )
    if cancelled:
        raise RunCancelledError(f"run {run.id}{_of_job(run)} was cancelled{_detail(run)}", run=run)
    return run


def _of_job(run: Run) -> str:
    return f" of job {run.job_definition_id}" if run.job_definition_id is not None else ""


def _detail(run: Run) -> str:
    # dbt's own reason when it gives one, and where to read the logs.
    detail = f": {run.status_message}" if run.status_message else ""
    return f"{detail} ({run.href})" if run.href else detail
