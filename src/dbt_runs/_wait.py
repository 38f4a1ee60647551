"""Waiting for runs to finish: the loop behind `wait_for_run`, and the `RunWatcher` through which
the waits of one account share their polls.

A `Waiter` is one wait: it decides when its run is next looked at (its poll interval,
lengthened as the account's request budget fills, and one last look at its deadline), what
a 404 or a 429 means, which callbacks to call, and how the wait ends. Where its answer comes
from is its `Polls`:

- `RunWatcher` (one per account and client): every wait that polls through it registers when
  it next wants its run, and the watcher sends one `GET runs/?pk__in=[...]` for up to 100 of
  the runs due, so a thousand waits at a 10 s interval cost about ten requests per interval
  instead of a thousand. A lone run is read with `GET runs/{id}/`, so one wait alone sends
  exactly what it always did. The watcher polls when the earliest wait is due, and takes along
  every other wait due within the next half of its interval: waits started at different times
  fall into step after one poll. A wait is never answered later than it asked (bar the
  budget), a last look at a deadline is never taken early, and a run the listing leaves out
  is asked for on its own, so that a 404 is dbt's own.
- `SolePolls`: a wait's own `GET runs/{id}/` after its own sleep, for a wait the list cannot
  serve (`on_log`, or related objects only a single run embeds, such as `run_steps`), and when
  sharing is turned off.

A wait given an `EventHub` (`events=`) subscribes to its run before its first poll and races
each poll's pause against the run's next event: an event ends the pause at once, and the run
is then read once (through the same `Polls`, so events that come together share a request) to
return a full `Run` and to confirm that it has ended. The polls go on, every
`DEFAULT_SAFETY_POLL` seconds unless the caller chose an interval, for a delivery dbt lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from dbt_runs._fields import LIST_RELATED
from dbt_runs._logs import LogFollower, LogLines
from dbt_runs.errors import (
    APIError,
    InvalidArgumentError,
    NotFoundError,
    RateLimitError,
    RunCancelledError,
    RunFailedError,
    WaitTimeoutError,
)
from dbt_runs.models import Run, RunStatus
from dbt_runs.webhooks import RUN_COMPLETED, RUN_ERRORED, EventHub, Subscription

if TYPE_CHECKING:
    from dbt_runs._client import AsyncRunsClient

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_NOT_FOUND_GRACE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "EVENT_RECHECK",
    "LogCallback",
    "Polls",
    "RunCallback",
    "RunWatcher",
    "SolePolls",
    "Wait",
    "Waiter",
    "completing",
    "listed",
    "shareable",
]

logger = logging.getLogger("dbt_runs")

RunCallback = Callable[[Run], Awaitable[object] | object]
LogCallback = Callable[[LogLines], Awaitable[object] | object]

DEFAULT_WAIT_TIMEOUT: Final = 3600.0
DEFAULT_POLL_INTERVAL: Final = 10.0
DEFAULT_NOT_FOUND_GRACE: Final = 30.0
EVENT_RECHECK: Final = DEFAULT_POLL_INTERVAL
"""Seconds before the next poll when an event said the run ended but dbt's API did not yet."""

BATCH_SIZE: Final = 100
"""Runs per list request: dbt's largest page."""
EARLY: Final = 0.5
"""How early, as a share of its interval, a wait may be polled along with others."""


def shareable(include_related: Sequence[str] | None, on_log: object) -> bool:
    """Whether a wait can poll through the account's `RunWatcher`: dbt's list embeds only
    `trigger`, `job`, `audit` and `debug_logs`, and logs need each run's `run_steps`."""
    return on_log is None and (include_related is None or set(include_related) <= _LISTABLE)


_LISTABLE: Final = frozenset(LIST_RELATED)


class Polls(Protocol):
    """Where a wait's answers come from."""

    async def poll(self, run_id: int, *, after: float, exact: bool) -> Run:
        """The run, as dbt has it `after` seconds from now (`exact`: not a moment sooner).

        Raises what `get_run` raises.
        """
        ...


@attrs.frozen
class SolePolls:
    """A wait's own polls: its own sleep, then `GET runs/{id}/`."""

    client: AsyncRunsClient
    account_id: int
    include_related: tuple[str, ...] | None
    sleep: Callable[[float], Awaitable[Any]]

    async def poll(self, run_id: int, *, after: float, exact: bool) -> Run:
        """Sleep `after` seconds, then ask dbt for the run."""
        if after > 0:
            await self.sleep(after)
        return await self.client.get_run(
            run_id, account_id=self.account_id, include_related=self.include_related
        )


@attrs.define(eq=False)
class _Ticket:
    """A wait's request for its run: no sooner than `earliest`, no later than `due`."""

    run_id: int
    related: tuple[str, ...] | None
    due: float
    earliest: float
    #: The seconds asked for, and when: the watcher sleeps exactly that when nothing changed.
    after: float
    asked_at: float
    future: asyncio.Future[Run]


class RunWatcher:
    """Polls the runs of one account that many waits are waiting on, together.

    Waits hand it a `_Ticket` (`poll`) and await their run. A background task wakes when the
    earliest ticket is due, takes every ticket whose `earliest` has come, and sends one list
    request per 100 distinct runs with the same related objects (`GET runs/{id}/` for a lone
    one). The task ends when no ticket is left, and starts again with the next.
    """

    def __init__(
        self,
        client: AsyncRunsClient,
        account_id: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
    ) -> None:
        self._client = client
        self._account_id = account_id
        self._clock = clock
        self._sleep = sleep
        self._pending: list[_Ticket] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._target = float("inf")
        # Where its last completed nap was meant to end: the watcher trusts its sleep, as a
        # lone wait does (a test's fast sleep moves its time even when the clock does not).
        self._slept_to = float("-inf")
        self._fetches: set[asyncio.Task[None]] = set()

    def polls(self, include_related: tuple[str, ...] | None) -> Polls:
        """The `Polls` of a wait that embeds `include_related` in its runs."""
        return _WatchedPolls(self, include_related)

    @property
    def waiting(self) -> int:
        """How many polls are waiting for their turn (not yet sent)."""
        return sum(1 for ticket in self._pending if not ticket.future.done())

    async def poll(
        self, run_id: int, related: tuple[str, ...] | None, *, after: float, exact: bool
    ) -> Run:
        """The run, read together with the others due about then."""
        loop = asyncio.get_running_loop()
        now = self._now()
        due = now + after
        ticket = _Ticket(
            run_id,
            related,
            due,
            due if exact else due - after * EARLY,
            after,
            now,
            loop.create_future(),
        )
        ticket.future.add_done_callback(self._settled)
        if self._task is None:
            # Tickets of an event loop that is gone (a client used by several `asyncio.run`)
            # have nobody left to answer.
            self._pending = [t for t in self._pending if t.future.get_loop() is loop]
            self._pending.append(ticket)
            self._wake = asyncio.Event()
            # A context of its own: the first wait's context variables (raw mode, a caller's
            # tracing span) are not the watcher's.
            self._task = loop.create_task(self._watch(), context=contextvars.Context())
        else:
            self._pending.append(ticket)
            if due < self._target and self._wake is not None:
                self._wake.set()
        return await ticket.future

    def _settled(self, future: asyncio.Future[Run]) -> None:
        # A wait that was cancelled while its ticket was pending: once none is left, the task
        # must end at once rather than sleep out an interval (a closing client awaits it).
        if future.cancelled() and self._wake is not None and self.waiting == 0:
            self._wake.set()

    async def _watch(self) -> None:
        try:
            while True:
                self._pending = [t for t in self._pending if not t.future.done()]
                if not self._pending:
                    return
                now = self._now()
                first = min(self._pending, key=lambda t: t.due)
                if first.due > now:
                    # Exactly what was asked when the clock has not moved since (a lone wait
                    # sleeps its own interval, to the digit).
                    await self._nap(first.after if first.asked_at == now else first.due - now)
                    continue
                batch = [t for t in self._pending if t.earliest <= now]
                self._pending = [t for t in self._pending if t.earliest > now]
                self._send(batch)
        except Exception as exc:
            # Every wait is told, rather than left waiting for an answer that never comes.
            _fail(self._pending, exc)
            self._pending = []
        finally:
            self._task = None
            self._target = float("inf")

    def _now(self) -> float:
        return max(self._clock(), self._slept_to)

    async def _nap(self, seconds: float) -> None:
        """Sleep `seconds`, or until a ticket due sooner arrives."""
        wake = self._wake
        assert wake is not None
        wake.clear()
        target = self._target = self._now() + seconds
        nap = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({nap, woken}, return_when=asyncio.FIRST_COMPLETED)
            if nap.done() and not nap.cancelled():
                nap.result()  # a sleep that failed ends the watch (see `_watch`)
                self._slept_to = max(self._slept_to, target)
        finally:
            self._target = float("inf")
            nap.cancel()
            woken.cancel()

    def _send(self, batch: Iterable[_Ticket]) -> None:
        groups: dict[tuple[str, ...] | None, dict[int, list[_Ticket]]] = {}
        for ticket in batch:
            groups.setdefault(ticket.related, {}).setdefault(ticket.run_id, []).append(ticket)
        loop = asyncio.get_running_loop()
        for related, by_run in groups.items():
            ids = list(by_run)
            for start in range(0, len(ids), BATCH_SIZE):
                chunk = {run_id: by_run[run_id] for run_id in ids[start : start + BATCH_SIZE]}
                task = loop.create_task(self._fetch(chunk, related), context=contextvars.Context())
                self._fetches.add(task)
                task.add_done_callback(self._fetches.discard)

    async def _fetch(
        self, chunk: dict[int, list[_Ticket]], related: tuple[str, ...] | None
    ) -> None:
        """Read the chunk's runs and hand each wait its run, or the error reading it raised."""
        ids = list(chunk)
        found: dict[int, Run] = {}
        try:
            if len(ids) == 1:
                found[ids[0]] = await self._one(ids[0], related)
            else:
                runs = await self._client._runs_by_id(self._account_id, ids, related)
                found.update((run.id, run) for run in runs if run.id in chunk)
                missing = [run_id for run_id in ids if run_id not in found]
                if missing:
                    # Not listed: not visible yet, or no such run. Its own GET says which,
                    # with dbt's own 404.
                    alone = await asyncio.gather(
                        *(self._one(run_id, related) for run_id in missing),
                        return_exceptions=True,
                    )
                    for run_id, outcome in zip(missing, alone, strict=True):
                        if isinstance(outcome, BaseException):
                            _fail(chunk.pop(run_id), outcome)
                        else:
                            found[run_id] = outcome
        except Exception as exc:
            for tickets in chunk.values():
                _fail(tickets, exc)
            return
        finally:
            # Stopped half-way (the loop is closing): nobody is left waiting for an answer.
            for tickets in chunk.values():
                for ticket in tickets:
                    if not ticket.future.done() and ticket.run_id not in found:
                        ticket.future.cancel()
        for run_id, tickets in chunk.items():
            for ticket in tickets:
                if not ticket.future.done():
                    ticket.future.set_result(found[run_id])

    async def _one(self, run_id: int, related: tuple[str, ...] | None) -> Run:
        return await self._client.get_run(
            run_id, account_id=self._account_id, include_related=related
        )


def _fail(tickets: Iterable[_Ticket], exc: BaseException) -> None:
    for ticket in tickets:
        if not ticket.future.done():
            ticket.future.set_exception(exc)


@attrs.frozen
class _WatchedPolls:
    watcher: RunWatcher
    related: tuple[str, ...] | None

    async def poll(self, run_id: int, *, after: float, exact: bool) -> Run:
        return await self.watcher.poll(run_id, self.related, after=after, exact=exact)


@attrs.define(eq=False)
class Waiter:
    """One wait: the run, how to poll it, and what to do when it ends or does not."""

    client: AsyncRunsClient
    clock: Callable[[], float]
    polls: Polls
    run_id: int
    account_id: int
    timeout: float | None
    poll_interval: float
    not_found_grace: float
    cancel_on_timeout: bool
    raise_on_failure: bool
    on_status_change: RunCallback | None
    on_poll: RunCallback | None
    on_log: LogCallback | None = None
    #: Webhook events that end the wait early (None: polls only), and whether it waits for
    #: `job.run.completed` (the run's artifacts readable) or also ends on `job.run.errored`.
    events: EventHub | None = None
    needs_artifacts: bool = True
    #: How many times its interval the wait waits (the account's budget filling up).
    pace: Callable[[], float] = lambda: 1.0
    follower: LogFollower = attrs.field(factory=LogFollower)
    _cancel: asyncio.Future[Run] | None = None

    async def wait(self, seen: Run | None, *, cancel_on_abort: bool, aborts: set[Any]) -> Run:
        """Poll until the run finishes; on cancellation, cancel the run if asked to."""
        try:
            return await self._poll(seen, aborts)
        except asyncio.CancelledError:
            if cancel_on_abort:
                await self._cancel_after_abort(aborts)
            raise

    def _cancel_run(self, aborts: set[Any]) -> asyncio.Future[Run]:
        """The cancel request, sent once and kept alive in `aborts` (the client's) until it is
        answered: a cancelled wait must not cancel its cancel, nor leave it to be collected."""
        if self._cancel is None:
            task = asyncio.ensure_future(
                self.client.cancel_run(self.run_id, account_id=self.account_id)
            )
            aborts.add(task)
            task.add_done_callback(aborts.discard)
            self._cancel = task
        return self._cancel

    async def _cancel_after_abort(self, aborts: set[Any]) -> None:
        cancel = self._cancel_run(aborts)
        try:
            await asyncio.shield(cancel)
            logger.warning("cancelled run %d because the wait for it was aborted", self.run_id)
        except asyncio.CancelledError:
            pass  # cancelled again: the cancel request still goes out in the background
        except APIError as exc:
            logger.warning(
                "could not cancel run %d after its wait was aborted: %s", self.run_id, exc
            )

    def _subscribe(self) -> contextlib.AbstractContextManager[Subscription | None]:
        """The run's events, subscribed to before the first poll: an event that comes between
        that poll and the pause is queued, not lost (the hub also replays recent ones)."""
        if self.events is None:
            return contextlib.nullcontext()
        types = {RUN_COMPLETED} if self.needs_artifacts else {RUN_COMPLETED, RUN_ERRORED}
        return self.events.subscribe(self.run_id, event_types=types)

    async def _next(
        self, events: Subscription | None, *, after: float, exact: bool
    ) -> tuple[Run, bool]:
        """The run after the pause, and whether an event cut the pause short (then the run is
        read at once)."""
        event = None if events is None else events.get_nowait()
        if event is None and (events is None or after <= 0):
            return await self.polls.poll(self.run_id, after=after, exact=exact), False
        if event is None:
            assert events is not None
            reading = asyncio.ensure_future(events.next())
            polling = asyncio.ensure_future(self.polls.poll(self.run_id, after=after, exact=exact))
            try:
                await asyncio.wait({reading, polling}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # A read cancelled before it returned leaves its event queued.
                for task in (reading, polling):
                    task.cancel()
                await asyncio.wait({reading, polling})
            if reading.cancelled() or reading.exception() is not None:
                return polling.result(), False  # the poll's answer, or its error
            event = reading.result()
            if not polling.cancelled() and polling.exception() is None:
                run = polling.result()
                if run.is_terminal:
                    return run, True
        logger.debug("run %d: %s arrived; reading the run", self.run_id, event)
        return await self.polls.poll(self.run_id, after=0.0, exact=True), True

    async def _poll(self, seen: Run | None, aborts: set[Any]) -> Run:
        with self._subscribe() as events:
            return await self._poll_with(seen, aborts, events)

    async def _poll_with(
        self, seen: Run | None, aborts: set[Any], events: Subscription | None
    ) -> Run:
        start = self.clock()
        deadline = None if self.timeout is None else start + self.timeout
        last: Run | None = None
        last_status: RunStatus | None = None
        found = False
        # A finished run passed in is fetched afresh (it may carry less than asked for); an
        # unfinished one is this wait's first poll, so no request repeats what the caller knows.
        pending = seen if seen is not None and not seen.is_terminal else None
        after, final = 0.0, False
        while True:
            hold_off, woken = 0.0, False
            try:
                if pending is not None:
                    run, pending = pending, None
                else:
                    run, woken = await self._next(events, after=after, exact=final)
                    found = True
            except NotFoundError:
                if found or self.clock() - start >= self.not_found_grace:
                    raise
                logger.debug("run %d not found yet; still within the grace period", self.run_id)
            except RateLimitError as exc:
                # dbt's cooldown: wait it out, when it ends before the deadline.
                if exc.retry_after is None or (
                    deadline is not None and self.clock() + exc.retry_after >= deadline
                ):
                    raise
                hold_off = exc.retry_after
                logger.info("run %d: polls resume in %.0fs (429)", self.run_id, hold_off)
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
            if final:
                break
            now = self.clock()
            after = max(self.poll_interval * self.pace(), hold_off)
            if woken:
                # The event said the run ended and dbt's API does not say so yet: look again
                # soon rather than a whole safety interval later.
                after = max(min(after, EVENT_RECHECK), hold_off)
            if deadline is not None:
                if now >= deadline:
                    break
                if now + after >= deadline:
                    # Look once more at the deadline before giving up.
                    after, final = deadline - now, True
        cancelled = False
        if self.cancel_on_timeout and last is not None:
            last = await asyncio.shield(self._cancel_run(aborts))
            cancelled = True
        state = last.status.humanized if last is not None and last.status is not None else "unseen"
        raise WaitTimeoutError(
            f"run {self.run_id} did not finish within {self.timeout} s (last status: {state})"
            + ("; it was cancelled" if cancelled else ""),
            run=last,
            cancelled=cancelled,
        )


@attrs.frozen
class Wait:
    """A checked wait, ready to start: its `Waiter`, and the run the caller holds, if any."""

    waiter: Waiter
    seen: Run | None
    aborts: set[asyncio.Future[Run]]

    @property
    def run_id(self) -> int:
        """The run waited for."""
        return self.waiter.run_id

    async def start(self, cancel_on_abort: bool) -> Run:
        """Wait (see `Waiter.wait`)."""
        return await self.waiter.wait(
            self.seen, cancel_on_abort=cancel_on_abort, aborts=self.aborts
        )


def listed(runs: Iterable[int | Run]) -> list[int | Run]:
    """The runs `wait_for_runs` and `as_completed` were given, as a list (once: it may be an
    iterator), or `InvalidArgumentError` for one run or a text given instead of a list."""
    if isinstance(runs, str | bytes | Run) or not isinstance(runs, Iterable):
        raise InvalidArgumentError(
            f"runs must be a list of run ids or Runs, got {runs!r}"[:200], argument="runs"
        )
    return list(runs)


async def completing(
    waits: Sequence[Wait], cancel_on_abort: bool, return_exceptions: bool
) -> AsyncIterator[Any]:
    """The runs of `waits`, as they finish (see `AsyncRunsClient.as_completed`)."""
    tasks = [asyncio.ensure_future(wait.start(cancel_on_abort)) for wait in waits]
    finished: asyncio.Queue[asyncio.Future[Run]] = asyncio.Queue()
    for task in tasks:
        task.add_done_callback(finished.put_nowait)
    try:
        for _ in tasks:
            done = await finished.get()
            try:
                run = done.result()
            except Exception as exc:
                if not return_exceptions:
                    raise
                yield exc
            else:
                yield run
    finally:
        # Left early, or an error raised: the waits left stop, and clean up (the cancel
        # requests of `cancel_on_abort`) before the loop goes on.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
