"""`RunsClient`: every operation of `AsyncRunsClient`, for synchronous code.

One implementation, two faces. A `RunsClient` owns a private event loop running in a daemon
thread, and one `AsyncRunsClient` created in that loop. Each of its methods is derived from the
async method of the same name (`_blocking`, `_paginated`, `_blocking_context`): it keeps that
method's signature and docstring, hands the coroutine to the loop and blocks the calling thread
until it is done. Retries, timeouts, reconciliation, waiting, pagination windows and artifact
streaming are the async client's own code, running unchanged; the connection pool lives as long
as the `RunsClient`. (ARCHITECTURE.md, "The synchronous client", says why a thread rather than
generated code.)

The calling thread does not just wait: it serves its call's mailbox. `wait_for_run`'s
callbacks come back through it and run in the caller's own thread (thread-locals, loggers and
the caller's exceptions behave as in a plain loop), so a slow callback holds up only its own
wait, and a callback may itself call the client. Anything raised in the calling thread while it
waits (Ctrl-C, an orchestrator's timeout signal) cancels the call in the loop, waits for the
cancellation to finish (so `cancel_on_abort=True` cancels the run in dbt) and propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import logging
import os
import queue
import re
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Any, Concatenate, Final, Generic, ParamSpec, Self, TypeVar, cast, overload

from dbt_runs._artifacts import ArtifactStream
from dbt_runs._client import AsyncRunsClient
from dbt_runs._http import CHUNK_SIZE
from dbt_runs._raw import RawRunsClient
from dbt_runs.models import Job, JobPage, Page, Run, RunPage
from dbt_runs.pagination import Paginator

__all__ = [
    "RunsClient",
    "SyncArtifactStream",
    "SyncJobPaginator",
    "SyncPaginator",
    "SyncRawRunsClient",
    "SyncRunPaginator",
]

logger = logging.getLogger("dbt_runs")

P = ParamSpec("P")
T = TypeVar("T")
V = TypeVar("V")
S = TypeVar("S")
PageT = TypeVar("PageT", bound=Page[Any])
F = TypeVar("F", bound=Callable[..., Any])

#: Seconds between two looks for an interruption while a thread waits: lock waits are
#: interrupted by signals on POSIX, but not on every platform.
_TICK: Final = 0.25
#: Seconds an unclosed client waits for its loop to close at garbage collection or exit.
_EXIT_GRACE: Final = 5.0
#: The parameters whose values are user callbacks, run in the calling thread.
CALLBACKS: Final = frozenset({"on_status_change", "on_poll", "on_log"})
#: Chunks handed over per trip to the loop when streaming (8 x 64 KiB).
_CHUNKS_PER_TRIP: Final = 8

_names = itertools.count(1)


class _Done:
    """The last message of a call's mailbox: its task has ended."""


_DONE: Final = _Done()
_Mail = tuple[Callable[[Any], Any], Any, "asyncio.Future[Any]"] | _Done


class _Call(Generic[T]):
    """One coroutine run in the loop for a waiting thread: its mailbox, and its task."""

    __slots__ = ("_loop", "_mailbox", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._mailbox: queue.SimpleQueue[_Mail] = queue.SimpleQueue()
        self.task: asyncio.Task[T] | None = None

    # -- in the loop thread ----------------------------------------------------------------

    def settle(self, _task: asyncio.Task[T]) -> None:
        self._mailbox.put(_DONE)

    def relay(self, callback: Callable[[V], Any]) -> Callable[[V], Awaitable[None]]:
        """`callback`, run in the calling thread when the loop calls it."""

        async def relayed(value: V) -> None:
            replied: asyncio.Future[Any] = self._loop.create_future()
            self._mailbox.put((callback, value, replied))
            result = await replied
            if inspect.isawaitable(result):  # an async callback: awaited here, in the loop
                await result

        return relayed

    def cancel(self) -> None:
        # Scheduled after `_Portal._start` whenever that was scheduled at all (the loop runs
        # callbacks in order), so no task means none will ever start.
        if self.task is not None:
            self.task.cancel()
        else:
            self._mailbox.put(_DONE)

    # -- in the calling thread -------------------------------------------------------------

    def serve(self) -> None:
        """Run the callbacks the loop relays here until the task ends."""
        while not isinstance(mail := self._next(), _Done):
            callback, value, replied = mail
            try:
                result = callback(value)
            except Exception as exc:
                # Back into the wait, which ends with it, as an async callback's would.
                self._reply(replied, exc, failed=True)
            else:
                self._reply(replied, result, failed=False)

    def outcome(self) -> T:
        """The task's result, or its exception."""
        task = self.task
        if task is None or task.cancelled():
            raise RuntimeError("the RunsClient was closed while this call was in progress")
        return task.result()

    def abort(self) -> None:
        """End the call in the loop after this thread was interrupted, and wait until its
        clean-up is done (a second interruption stops this wait, not the clean-up)."""
        try:
            self._loop.call_soon_threadsafe(self.cancel)
        except RuntimeError:  # the loop is closed: nothing runs any more
            return
        while not isinstance(mail := self._next(), _Done):
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(mail[2].cancel)

    def _next(self) -> _Mail:
        while True:
            try:
                return self._mailbox.get(timeout=_TICK)
            except queue.Empty:
                if self._loop.is_closed():  # pragma: no cover - stopped by a close meanwhile
                    return _DONE

    def _reply(self, replied: asyncio.Future[Any], value: Any, *, failed: bool) -> None:
        def resolve() -> None:
            if replied.done():  # the wait was cancelled meanwhile
                return
            if failed:
                replied.set_exception(value)
            else:
                replied.set_result(value)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(resolve)


class _Portal:
    """The private event loop, in its daemon thread, and the way calls cross into it.

    Thread-safe: any number of threads may call at once; their coroutines run concurrently in
    the one loop, as they would in an async program.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closing = False
        self._pid = os.getpid()
        self._calls: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(
            target=self._run, name=f"dbt-runs-loop-{next(_names)}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    @property
    def closing(self) -> bool:
        """True once `close` has begun."""
        return self._closing

    def in_loop_thread(self) -> bool:
        """True when the caller is the loop's own thread (where blocking would deadlock)."""
        return threading.get_ident() == self._thread.ident

    # -- calls -------------------------------------------------------------------------------

    def call(self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `func(*args, **kwargs)` in the loop; block this thread until it is done.

        The coroutine is created in the loop, so arguments are checked there, and any
        callback among `CALLBACKS` is relayed back to run in this thread.
        """
        if self.in_loop_thread():
            raise RuntimeError(
                "a RunsClient cannot be called from its own event loop thread: "
                "use AsyncRunsClient in async code"
            )
        if os.getpid() != self._pid:
            raise RuntimeError(
                "this RunsClient was created in another process (before a fork); "
                "create the client in the process that uses it"
            )
        call: _Call[T] = _Call(self._loop)
        options: dict[str, Any] = dict(kwargs)
        for name in CALLBACKS.intersection(options):
            if options[name] is not None:
                options[name] = call.relay(options[name])
        target = cast(Callable[..., Awaitable[T]], func)

        async def run() -> T:
            return await target(*args, **options)

        scheduled = False
        try:
            with self._lock:
                if self._closing:
                    raise RuntimeError("the RunsClient is closed")
                # Under the lock: a call scheduled before `close` is seen by its shutdown.
                scheduled = True
                self._loop.call_soon_threadsafe(self._start, call, run)
            call.serve()
        except BaseException:
            # Ctrl-C, or an exception a signal handler raised in this thread (an
            # orchestrator's timeout), wherever it lands: end the call in the loop too, and
            # let its clean-up (`cancel_on_abort`) finish before it propagates.
            if scheduled:
                call.abort()
            raise
        return call.outcome()

    def _start(self, call: _Call[T], run: Callable[[], Coroutine[Any, Any, T]]) -> None:
        task = self._loop.create_task(run())
        call.task = task
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        task.add_done_callback(call.settle)

    # -- closing -----------------------------------------------------------------------------

    def close(self, finish: Callable[[], Awaitable[object]], *, wait: float | None) -> None:
        """Cancel the calls in flight, await what they leave behind, `finish()`, stop the loop.

        Idempotent and thread-safe. Waits up to `wait` seconds (None: until done) for the
        loop thread to end, unless called from it.
        """
        with self._lock:
            if not self._closing:
                self._closing = True
                if os.getpid() == self._pid and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(self._begin_shutdown, finish)
        if not self.in_loop_thread() and os.getpid() == self._pid:
            self._thread.join(wait)

    def _begin_shutdown(self, finish: Callable[[], Awaitable[object]]) -> None:
        self._loop.create_task(self._shutdown(finish))

    async def _shutdown(self, finish: Callable[[], Awaitable[object]]) -> None:
        try:
            for task in self._calls:
                task.cancel()
            # The cancelled calls, and what they leave running (the cancel request of a wait
            # aborted with `cancel_on_abort=True`), end before the connections close.
            current = asyncio.current_task()
            others = [task for task in asyncio.all_tasks() if task is not current]
            await asyncio.gather(*others, return_exceptions=True)
            await finish()
            await self._loop.shutdown_asyncgens()
            await self._loop.shutdown_default_executor()
        except Exception:  # pragma: no cover - closing must stop the loop whatever happens
            logger.exception("error while closing a RunsClient")
        finally:
            self._loop.stop()


async def _take(items: AsyncIterator[T], count: int) -> list[T]:
    batch: list[T] = []
    for _ in range(count):
        try:
            batch.append(await anext(items))
        except StopAsyncIteration:
            break
    return batch


def _bound(owner: RunsClient, func: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """`func`, blocking in `owner`'s loop: same signature and docstring (the raw mode)."""

    @functools.wraps(func)
    def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
        return owner._portal.call(func, *args, **kwargs)

    blocking.__doc__ = sync_doc(func.__doc__)
    return blocking


def _iterate(owner: RunsClient, items: AsyncIterator[T], per_trip: int) -> Iterator[T]:
    """The items of an async iterator, fetched in `owner`'s loop `per_trip` at a time.

    The generator holds `owner`, so that a client nobody else holds stays open while it is
    iterated (`for run in RunsClient().list_runs(): ...`).
    """
    portal = owner._portal
    finished = False
    try:
        while True:
            batch = portal.call(_take, items, per_trip)
            yield from batch
            if len(batch) < per_trip:
                finished = True
                return
    finally:
        # Left early (break, an error, garbage collection): stop the async side too, so that
        # a listing's window of requests in flight is cancelled.
        aclose = getattr(items, "aclose", None)
        if not finished and aclose is not None and not portal.closing:
            with contextlib.suppress(RuntimeError):
                portal.call(aclose)


# -- deriving the sync methods from the async ones -----------------------------------------


def _blocking(
    method: Callable[Concatenate[AsyncRunsClient, P], Awaitable[T]],
    *,
    note: str | None = None,
) -> Callable[Concatenate[RunsClient, P], T]:
    """The sync twin of an async method of `AsyncRunsClient`: the same arguments and
    docstring, the same result, the same exceptions."""

    @functools.wraps(method)
    def blocking(self: RunsClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._portal.call(method, self._client, *args, **kwargs)

    return _described(blocking, method, note)


def _paginated(
    method: Callable[Concatenate[AsyncRunsClient, P], Paginator[V, PageT]],
    paginator: Callable[[RunsClient, Paginator[V, PageT]], S],
) -> Callable[Concatenate[RunsClient, P], S]:
    """The sync twin of a listing: the async paginator (its arguments checked at once, in
    this thread, before anything is sent), wrapped to be iterated with `for`."""

    @functools.wraps(method)
    def listing(self: RunsClient, /, *args: P.args, **kwargs: P.kwargs) -> S:
        self._check_open()
        return paginator(self, method(self._client, *args, **kwargs))

    return _described(listing, method, None, returns=paginator)


def _iterated(
    method: Callable[Concatenate[AsyncRunsClient, P], AsyncIterator[V]],
    *,
    note: str | None = None,
) -> Callable[Concatenate[RunsClient, P], Iterator[V]]:
    """The sync twin of a method returning an async iterator: its arguments checked at once,
    in this thread, and its items handed over one per trip to the loop, each as soon as it
    comes (a run that finished is not held back waiting for the next)."""

    @functools.wraps(method)
    def iterated(self: RunsClient, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[V]:
        self._check_open()
        return _iterate(self, method(self._client, *args, **kwargs), 1)

    return _described(iterated, method, note, returns="Iterator[Run]")


def _blocking_context(
    method: Callable[Concatenate[AsyncRunsClient, P], AbstractAsyncContextManager[V]],
    wrap: Callable[[RunsClient, V], S],
) -> Callable[Concatenate[RunsClient, P], AbstractContextManager[S]]:
    """The sync twin of an async context manager method: entered and exited in the loop."""

    @functools.wraps(method)
    @contextlib.contextmanager
    def managed(self: RunsClient, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[S]:
        self._check_open()
        manager = method(self._client, *args, **kwargs)
        value = self._portal.call(manager.__aenter__)
        try:
            yield wrap(self, value)
        except BaseException as exc:
            # Only an Exception may cross into the loop: a KeyboardInterrupt raised there
            # would stop the loop itself. The async side is told it was cancelled instead.
            sent = exc if isinstance(exc, Exception) else asyncio.CancelledError()
            if not self._portal.call(manager.__aexit__, type(sent), sent, sent.__traceback__):
                raise
        else:
            self._portal.call(manager.__aexit__, None, None, None)

    return _described(managed, method, None, returns=f"AbstractContextManager[{_name_of(wrap)}]")


def _described(
    func: F, method: Callable[..., Any], note: str | None, *, returns: object = None
) -> F:
    """`func` named, documented and signed as `method`'s sync twin (`returns` replaces the
    return annotation), for `help()`, `inspect.signature` and the API reference.

    The signature is set rather than left to `__wrapped__`, which documentation tools follow
    back to the async method, taking the sync twin for an alias of it.
    """
    signature = inspect.signature(method)
    if returns is not None:
        annotation = returns if isinstance(returns, str) else _name_of(returns)
        signature = signature.replace(return_annotation=annotation)
    func.__signature__ = signature  # type: ignore[attr-defined]
    del func.__wrapped__  # type: ignore[attr-defined]
    func.__qualname__ = f"RunsClient.{method.__name__}"
    func.__module__ = __name__
    func.__doc__ = sync_doc(method.__doc__, note)
    return func


def _name_of(value: object) -> str:
    return str(getattr(value, "__name__", value))


_LISTING = re.compile(r"`await` the result for one page, `async for` it for every (\w+)")
_CODE_LINE = re.compile(r"^(\s*(?:>>>|\.\.\.)\s.*)$", re.MULTILINE)


def sync_doc(doc: str | None, note: str | None = None) -> str | None:
    """An async method's docstring, read for its sync twin: examples without `await` and
    `async`, listings described as iterated, and an optional note after the summary."""
    if doc is None:
        return None
    doc = inspect.cleandoc(doc)
    doc = _LISTING.sub(r"iterate over the result for every \1, `.first_page()` for one page", doc)
    doc = _CODE_LINE.sub(
        lambda m: (
            m.group(1)
            .replace("await ", "")
            .replace("async with ", "with ")
            .replace("async for ", "for ")
        ),
        doc,
    )
    if note:
        summary, _, rest = doc.partition("\n\n")
        doc = f"{summary}\n\n{note}\n\n{rest}" if rest else f"{summary}\n\n{note}\n"
    return doc


class _Same(Generic[T]):
    """A read-only attribute of the async client, read through (its docstring too)."""

    def __init__(self, getter: Callable[[AsyncRunsClient], T]) -> None:
        self.__doc__ = getter.__doc__
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: RunsClient, owner: type[Any]) -> T: ...

    def __get__(self, obj: RunsClient | None, owner: type[Any]) -> Self | T:
        if obj is None:
            return self
        return cast(T, getattr(obj._client, self._name))

    def __set__(self, obj: RunsClient, value: object) -> None:
        # A data descriptor, read-only like the property it mirrors.
        raise AttributeError(f"property {self._name!r} of 'RunsClient' object has no setter")


# -- what the sync methods return ------------------------------------------------------------


class SyncPaginator(Generic[V, PageT]):
    """A listing, for synchronous code: iterate over it for every item, lazily.

    Pages are fetched in the client's loop exactly as the async paginator fetches them (up to
    `window` requests in flight once the first page gives the total), so a synchronous
    listing is as fast as an async one.

    Example:
        >>> pager = client.list_runs(job_definition_id=1, status="error")
        >>> first = pager.first_page()           # one request: RunPage
        >>> for run in pager:                    # every run, in order
        ...     print(run.id, run.status)
        >>> for page in pager.pages():           # page by page
        ...     print(len(page), page.next_offset)
    """

    def __init__(self, client: RunsClient, paginator: Paginator[V, PageT]) -> None:
        self._client = client
        self._paginator = paginator

    @property
    def max_items(self) -> int | None:
        """The most items iteration will yield (None: no bound)."""
        return self._paginator.max_items

    @property
    def window(self) -> int:
        """How many page requests may be in flight at once."""
        return self._paginator.window

    def first_page(self) -> PageT:
        """The first page (fetched on first use, then reused)."""
        return self._client._portal.call(self._paginator.first_page)

    def __iter__(self) -> Iterator[V]:
        # About a page per trip to the loop: the async iterator's own de-duplication and
        # `max_items` apply unchanged.
        return _iterate(self._client, aiter(self._paginator), self._paginator.limit)

    def pages(self) -> Iterator[PageT]:
        """Every page in order; the last one is cut to respect `max_items`."""
        return _iterate(self._client, self._paginator.pages(), 1)

    def to_list(self) -> list[V]:
        """Every item (up to `max_items`) in a list: convenient, but holds them all in memory."""
        return self._client._portal.call(self._paginator.to_list)

    def __repr__(self) -> str:
        return f"Sync{self._paginator!r}"


class SyncRunPaginator(SyncPaginator[Run, RunPage]):
    """The runs matching a `RunsClient.list_runs` filter: `for run in ...` for every `Run`,
    `.first_page()` for the first `RunPage`, `.pages()` page by page."""


class SyncJobPaginator(SyncPaginator[Job, JobPage]):
    """The jobs matching a `RunsClient.list_jobs` filter: `for job in ...` for every `Job`,
    `.first_page()` for the first `JobPage`, `.pages()` page by page."""


class SyncArtifactStream:
    """An artifact being downloaded, for synchronous code: iterate over it for its bytes.

    Attributes:
        run_id: The run (None for a job's artifact).
        job_id: The job, for a job's artifact.
        path: The artifact path.
        step: The step asked for (None: the last step).
        status_code: The HTTP status.
        headers: The response headers.
        retries: How many retries it took to open the stream.
    """

    def __init__(self, client: RunsClient, stream: ArtifactStream) -> None:
        self._client = client
        self._stream = stream
        self.run_id = stream.run_id
        self.job_id = stream.job_id
        self.path = stream.path
        self.step = stream.step
        self.status_code = stream.status_code
        self.headers = stream.headers
        self.retries = stream.retries

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` dbt sent."""
        return self._stream.content_type

    @property
    def content_length(self) -> int | None:
        """The size in bytes, when dbt said (`Content-Length`)."""
        return self._stream.content_length

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body in chunks of at most `chunk_size` bytes."""
        return _iterate(self._client, self._stream.iter_bytes(chunk_size), _CHUNKS_PER_TRIP)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def __repr__(self) -> str:
        return f"Sync{self._stream!r}"


class SyncRawRunsClient:
    """`RunsClient.with_raw_response`: the client's operations, returning `RawResponse`.

    Each attribute takes exactly the arguments of the method of the same name; `list_runs`
    and `list_jobs` return one page. Errors raise the same exceptions as the typed methods.

    Example:
        >>> raw = client.with_raw_response.get_run(42)
        >>> raw.status_code, raw.headers["content-type"], raw.parse().status
    """

    def __init__(self, client: RunsClient, raw: RawRunsClient) -> None:
        self.get_run = _bound(client, raw.get_run)
        self.list_runs = _bound(client, raw.list_runs)
        self.trigger_run = _bound(client, raw.trigger_run)
        self.cancel_run = _bound(client, raw.cancel_run)
        self.retry_run = _bound(client, raw.retry_run)
        self.list_run_artifacts = _bound(client, raw.list_run_artifacts)
        self.get_run_artifact = _bound(client, raw.get_run_artifact)
        self.rerun_job = _bound(client, raw.rerun_job)
        self.list_jobs = _bound(client, raw.list_jobs)
        self.get_job = _bound(client, raw.get_job)
        self.get_job_artifact = _bound(client, raw.get_job_artifact)


def _same_arguments(
    source: Callable[Concatenate[Any, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give an `__init__` that forwards `**kwargs` the signature of `source` (for type
    checkers, `inspect.signature` and the API reference)."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        init.__signature__ = inspect.signature(source)  # type: ignore[attr-defined]
        return init

    return decorate


async def _new_client(config: dict[str, Any]) -> AsyncRunsClient:
    return AsyncRunsClient(**config)


class RunsClient:
    """The client for dbt Cloud job runs, for synchronous code: Airflow tasks, Dagster ops,
    scripts, notebooks.

    It has every operation of `AsyncRunsClient`, with the same arguments, the same results
    and the same exceptions, without `await`; listings are iterated with `for`,
    `stream_run_artifact` is entered with `with`. It is the async client underneath,
    running in a private event loop thread, so behaviour is identical.

    It takes exactly `AsyncRunsClient`'s keyword arguments (`token`, `base_url`,
    `account_id`, `timeout`, `retry`...), resolved the same way: argument > environment
    (`DBT_API_KEY`, `DBT_CLOUD_BASE_URL` or `DBT_CLOUD_HOST`, `DBT_CLOUD_ACCOUNT_ID`) >
    default.

    One client holds one connection pool: create it once, use it from any number of threads
    at once, and close it (`with RunsClient() as client:` or `client.close()`). It works in a
    thread that already runs an event loop (Jupyter), where `asyncio.run` would not.

    - `wait_for_run`'s callbacks run in the calling thread, between polls.
    - Ctrl-C (or any exception a signal handler raises, such as an orchestrator's timeout)
      while a call waits cancels that call; with `cancel_on_abort=True` the run is cancelled
      in dbt before the exception propagates.
    - `close()` cancels calls still in progress in other threads (they raise `RuntimeError`),
      then closes the connections; a client left unclosed is closed when it is garbage
      collected, and never holds up the interpreter's exit.

    Example:
        >>> with RunsClient(account_id=1) as client:   # token from DBT_API_KEY
        ...     run = client.trigger_run(42, cause="Nightly refresh")
        ...     run = client.wait_for_run(run, timeout=3600)
    """

    @_same_arguments(AsyncRunsClient.__init__)
    def __init__(self, **config: Any) -> None:
        portal = _Portal()
        try:
            client = portal.call(_new_client, config)
        except BaseException:
            portal.close(_nothing, wait=None)
            raise
        self._portal = portal
        self._client = client
        self._raw = SyncRawRunsClient(self, client.with_raw_response)
        # Not a method of self: the finalizer must not keep the client alive.
        self._finalizer = weakref.finalize(self, portal.close, client.aclose, wait=_EXIT_GRACE)

    # -- configuration and lifecycle ---------------------------------------------------------

    base_url = _Same(AsyncRunsClient.base_url)
    account_id = _Same(AsyncRunsClient.account_id)
    timeout = _Same(AsyncRunsClient.timeout)
    retry_policy = _Same(AsyncRunsClient.retry_policy)
    rate_limit = _Same(AsyncRunsClient.rate_limit)
    page_window = _Same(AsyncRunsClient.page_window)
    trigger_marker = _Same(AsyncRunsClient.trigger_marker)

    @property
    def with_raw_response(self) -> SyncRawRunsClient:
        """The same operations, returning `RawResponse` (dbt's bytes plus `.parse()`)."""
        return self._raw

    @property
    def is_closed(self) -> bool:
        """True once `close()` has been called (or the HTTP client is closed)."""
        return self._portal.closing or self._client.is_closed

    def close(self) -> None:
        """Close the connections and stop the client's thread.

        Calls still running in other threads are cancelled and raise `RuntimeError`; a wait
        with `cancel_on_abort=True` first cancels its run in dbt. Idempotent and thread-safe.
        """
        self._finalizer.detach()
        self._portal.close(self._client.aclose, wait=None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunsClient(base_url={self.base_url!r}, account_id={self.account_id})"

    def _check_open(self) -> None:
        if self._portal.closing:
            raise RuntimeError("the RunsClient is closed")

    # -- the operations, derived from AsyncRunsClient's ----------------------------------------

    get_run = _blocking(AsyncRunsClient.get_run)
    list_runs = _paginated(AsyncRunsClient.list_runs, SyncRunPaginator)
    trigger_run = _blocking(AsyncRunsClient.trigger_run)
    cancel_run = _blocking(AsyncRunsClient.cancel_run)
    retry_run = _blocking(AsyncRunsClient.retry_run)
    rerun_job = _blocking(AsyncRunsClient.rerun_job)
    get_run_errors = _blocking(AsyncRunsClient.get_run_errors)
    list_jobs = _paginated(AsyncRunsClient.list_jobs, SyncJobPaginator)
    get_job = _blocking(AsyncRunsClient.get_job)
    find_job = _blocking(AsyncRunsClient.find_job)
    get_job_artifact = _blocking(AsyncRunsClient.get_job_artifact)
    stream_job_artifact = _blocking_context(AsyncRunsClient.stream_job_artifact, SyncArtifactStream)
    list_run_artifacts = _blocking(AsyncRunsClient.list_run_artifacts)
    get_run_artifact = _blocking(AsyncRunsClient.get_run_artifact)
    get_run_artifact_json = _blocking(AsyncRunsClient.get_run_artifact_json)
    stream_run_artifact = _blocking_context(AsyncRunsClient.stream_run_artifact, SyncArtifactStream)
    download_run_artifact = _blocking(AsyncRunsClient.download_run_artifact)
    wait_for_run = _blocking(
        AsyncRunsClient.wait_for_run,
        note="The callbacks run in the calling thread, between polls. Ctrl-C, or any "
        "exception a signal handler raises in the calling thread while it waits, aborts the "
        "wait (see `cancel_on_abort`).",
    )
    wait_for_runs = _blocking(
        AsyncRunsClient.wait_for_runs,
        note="The callbacks run in the calling thread, one at a time. Ctrl-C, or any "
        "exception a signal handler raises in the calling thread while it waits, aborts every "
        "wait (see `cancel_on_abort`).",
    )
    as_completed = _iterated(
        AsyncRunsClient.as_completed,
        note="A plain iterator: `for run in client.as_completed(run_ids): ...`. Leaving the "
        "loop early, or Ctrl-C while it waits, stops the waits left (see `cancel_on_abort`).",
    )


async def _nothing() -> None:
    return None
