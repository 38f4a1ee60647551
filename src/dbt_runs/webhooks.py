"""dbt Cloud's outbound webhooks: verify a delivery, read its event, hand it to waiters.

dbt Cloud POSTs a JSON body to a subscription's URL when a run starts (`job.run.started`),
ends in any way (`job.run.completed`, sent once the run's artifacts can be read) and errors
(`job.run.errored`, sent at once, possibly before its artifacts can be read). Each delivery's
`Authorization` header is the hex HMAC-SHA256 digest of the body bytes, keyed with the
subscription's secret (`hmac_secret`, shown once, when the subscription is created). dbt
retries a failed delivery five times, so one event can arrive more than once.

- `verify_signature(body, authorization, secret)`: raises `WebhookSignatureError` unless the
  header is dbt's signature of these very bytes (compared in constant time).
- `parse_event(body, authorization=..., secret=...)`: verifies, then reads the body into a
  typed `RunEvent`.
- `ReplayGuard`: remembers the event ids it has seen, so that a retried delivery is
  acknowledged and ignored.
- `EventHub`: fans verified events out to whoever waits in this process:
  `client.wait_for_run(run, events=hub)` (both clients) ends on the run's event, or
  `hub.subscribe(run_id)` and `await subscription.next()` by hand.

This module is part of the core: it needs no server library. The receiver that serves it
over HTTP is `dbt_runs.expose.webhooks` (`create_webhook_app`); `dbt-runs serve` mounts it.

Example:
    ```python
    from dbt_runs import WebhookSignatureError
    from dbt_runs.webhooks import EventHub, ReplayGuard, parse_event

    hub, seen = EventHub(), ReplayGuard()

    def on_delivery(body: bytes, authorization: str | None) -> int:  # in any web framework
        try:
            event = parse_event(body, authorization=authorization, secret=SECRET)
        except WebhookSignatureError:
            return 401
        if seen.admit(event.event_id):  # False for dbt's retry of a delivery already taken
            hub.publish(event)
        return 200
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import threading
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import attrs

from dbt_runs.errors import ConfigurationError, WebhookPayloadError, WebhookSignatureError
from dbt_runs.models import RunStatus

T = TypeVar("T")

__all__ = [
    "DEFAULT_SAFETY_POLL",
    "EVENT_TYPES",
    "RUN_COMPLETED",
    "RUN_ERRORED",
    "RUN_STARTED",
    "WEBHOOK_SECRET_ENV",
    "EventHub",
    "ReplayGuard",
    "RunEvent",
    "Secret",
    "Subscription",
    "check_secret",
    "parse_event",
    "secret_from_env",
    "verify_signature",
]

RUN_STARTED: Final = "job.run.started"
"""A run started (status Running)."""
RUN_COMPLETED: Final = "job.run.completed"
"""A run ended, whatever its status; dbt sends it once the run's artifacts can be read."""
RUN_ERRORED: Final = "job.run.errored"
"""A run failed; dbt sends it at once, possibly before the run's artifacts can be read."""
EVENT_TYPES: Final = (RUN_STARTED, RUN_COMPLETED, RUN_ERRORED)
"""The event types dbt Cloud documents, in the order a run meets them."""

DEFAULT_SAFETY_POLL: Final = 120.0
"""Seconds between the polls of a wait driven by events (`wait_for_run(events=hub)` without a
`poll_interval`): dbt retries a failed delivery five times, but a delivery can still be lost,
and this bounds how late such a run is noticed."""

WEBHOOK_SECRET_ENV: Final = "DBT_WEBHOOK_SECRET"
"""The environment variable the receiver and `dbt-runs webhooks` read the secret from."""

Secret = str | bytes | Sequence[str | bytes]
"""One subscription's secret, or several (a receiver fed by several subscriptions, or a
secret being rotated): a delivery is accepted when it is signed with any of them."""

_DIGEST_HEX: Final = re.compile(r"[0-9A-Fa-f]{64}")
_SCHEMES: Final = ("bearer ", "token ", "sha256=")
#: Events remembered per run for late subscribers (a run meets at most three kinds).
_EVENTS_PER_RUN: Final = 8
_MAX_ID: Final = 2**63 - 1


# ---------------------------------------------------------------- the signature


def secret_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook secret from `DBT_WEBHOOK_SECRET`, or None when it is unset or blank.

    Surrounding whitespace is stripped (a secret pasted with its newline still works).

    Args:
        environ: The environment to read; `os.environ` by default.
    """
    value = (os.environ if environ is None else environ).get(WEBHOOK_SECRET_ENV, "").strip()
    return value or None


def check_secret(secret: Secret) -> None:
    """Raise `ConfigurationError` for an empty secret (or `TypeError` for one that is not
    text or bytes): a receiver checks at start-up what every delivery would run into.
    """
    _keys(secret)


def _keys(secret: Secret) -> list[bytes]:
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    keys = []
    for one in secrets:
        if not isinstance(one, str | bytes):
            raise TypeError(f"a webhook secret is str or bytes, not {type(one).__name__}")
        # A key of bytes is taken as is (any byte may be part of it); a text one is not blank.
        blank = not one.strip() if isinstance(one, str) else not one
        key = one.encode("utf-8") if isinstance(one, str) else bytes(one)
        if blank:
            raise ConfigurationError(
                "the webhook secret is empty: use the hmac_secret dbt Cloud showed when the "
                f"subscription was created (for example in {WEBHOOK_SECRET_ENV})"
            )
        keys.append(key)
    if not keys:
        raise ConfigurationError("no webhook secret was given")
    return keys


def _shape(value: str) -> str:
    """What a refused header value looks like, without repeating any of it."""
    lowered = value.lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            return (
                f"it starts with {scheme.strip()!r}; dbt sends the bare hex digest, and this "
                "endpoint is authenticated by dbt's signature, never by a token"
            )
    return f"it has {len(value)} characters"


def verify_signature(body: bytes, authorization: str | None, secret: Secret) -> None:
    """Check that `authorization` is dbt Cloud's signature of `body` under `secret`.

    dbt signs each delivery with the hex HMAC-SHA256 digest of the body bytes, keyed with the
    subscription's secret, and sends it as the whole `Authorization` header (no scheme).
    Verify the bytes exactly as received, before any JSON parsing: a body that was decoded
    and encoded again no longer matches. The digests are compared in constant time.

    Args:
        body: The request body, as received.
        authorization: The `Authorization` header's value (None when there was none).
        secret: The subscription's `hmac_secret`, or several secrets (any may match).

    Raises:
        WebhookSignatureError: The header is missing, is not 64 hex digits, or does not match.
        ConfigurationError: The secret is empty.

    Example:
        >>> import hashlib, hmac
        >>> body = b'{"eventType": "job.run.completed"}'
        >>> header = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        >>> verify_signature(body, header, "s3cret")  # returns None: the delivery is dbt's
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(
            f"verify the body's bytes exactly as received, not a decoded {type(body).__name__}"
        )
    keys = _keys(secret)
    if authorization is None or not authorization.strip():
        raise WebhookSignatureError(
            "the delivery has no Authorization header, where dbt Cloud puts its signature "
            "(a proxy in front of this endpoint may have removed it)"
        )
    presented = authorization.strip()
    if _DIGEST_HEX.fullmatch(presented) is None:
        raise WebhookSignatureError(
            "the Authorization header is not a hex HMAC-SHA256 digest (64 hex digits): "
            + _shape(presented)
        )
    digest = bytes.fromhex(presented)
    matched = False
    for key in keys:
        # Every key is tried, so the time taken does not say which one matched.
        matched |= hmac.compare_digest(hmac.new(key, bytes(body), hashlib.sha256).digest(), digest)
    if not matched:
        raise WebhookSignatureError(
            "the signature does not match the body for this secret: the delivery was not "
            "signed with it, or its body was changed on the way"
        )


# ---------------------------------------------------------------- the event


@attrs.frozen(repr=False)
class RunEvent:
    """One webhook event about a run, read from a verified delivery.

    Ids are ints (dbt sends them as strings of digits); timestamps are timezone-aware
    `datetime`s (dbt's nanoseconds are cut to microseconds). A field dbt left out or empty
    is None. Fields dbt adds later are kept in `raw`, the body's JSON object as received.

    Attributes:
        event_type: `job.run.started`, `job.run.completed` or `job.run.errored` (an event
            type dbt adds later is kept as sent).
        event_id: dbt's id of the event (`wev_...`): the same in every retry of a delivery.
        webhook_id: The subscription that sent it (`wsu_...`).
        webhook_name: That subscription's name.
        timestamp: When dbt created the event.
        account_id: The account.
        job_id: The job.
        run_id: The run.
        environment_id: The job's environment.
        project_id: The job's project.
        job_name: The job's name.
        environment_name: The environment's name.
        project_name: The project's name.
        dbt_version: The run's dbt version.
        status: The run's status code (`RunStatus.RUNNING`, `SUCCESS`, `ERROR`, ...).
        status_humanized: dbt's word for it in the event (`Running`, `Success`, `Errored`).
        status_message: dbt's message about the run's end (None: dbt sent `"None"`).
        reason: Why the run exists: its trigger's cause.
        started_at: When the run started.
        finished_at: When the run finished (`job.run.completed`).
        errored_at: When the run errored (`job.run.errored`).
        raw: The body's JSON object, as received.
    """

    event_type: str
    event_id: str
    account_id: int
    job_id: int
    run_id: int
    webhook_id: str | None = None
    webhook_name: str | None = None
    timestamp: datetime | None = None
    environment_id: int | None = None
    project_id: int | None = None
    job_name: str | None = None
    environment_name: str | None = None
    project_name: str | None = None
    dbt_version: str | None = None
    status: RunStatus | None = None
    status_humanized: str | None = None
    status_message: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    errored_at: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)

    @property
    def artifacts_ready(self) -> bool:
        """True for `job.run.completed`: dbt sends it once the run's artifacts and metadata
        can be read. A `job.run.errored` event may come before them: code that reads a
        failed run's logs or artifacts waits for the run's `completed` event instead."""
        return self.event_type == RUN_COMPLETED

    @property
    def ends_run(self) -> bool:
        """True for the events sent when a run has ended (`completed`, `errored`)."""
        return self.event_type in (RUN_COMPLETED, RUN_ERRORED)

    def __repr__(self) -> str:
        status = self.status.name if self.status is not None else None
        return (
            f"RunEvent({self.event_type}, run_id={self.run_id}, job_id={self.job_id}, "
            f"status={status}, event_id={self.event_id!r})"
        )


def parse_event(body: bytes, *, authorization: str | None, secret: Secret) -> RunEvent:
    """Verify a delivery's signature, then read its body into a `RunEvent`.

    Args:
        body: The request body, as received.
        authorization: The `Authorization` header's value (None when there was none).
        secret: The subscription's `hmac_secret`, or several (any may match).

    Raises:
        WebhookSignatureError: The signature is missing, garbled or wrong (nothing is read).
        WebhookPayloadError: The body is signed but is not a run event: not a JSON object,
            or `eventId`, `eventType`, `accountId`, `data.jobId` or `data.runId` is missing
            or of the wrong kind, or a field present holds a value of the wrong kind.
        ConfigurationError: The secret is empty.

    Example:
        ```python
        event = parse_event(await request.body(),
                            authorization=request.headers.get("authorization"),
                            secret=os.environ["DBT_WEBHOOK_SECRET"])
        if event.event_type == RUN_COMPLETED and event.status is RunStatus.ERROR: ...
        ```
    """
    verify_signature(body, authorization, secret)
    return _read_event(bytes(body))


def _read_event(body: bytes) -> RunEvent:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookPayloadError(f"the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"the body is a JSON {_kind(value)}, not an object")
    data = value.get("data")
    if not isinstance(data, dict):
        raise WebhookPayloadError(
            "data: missing, or not an object" if data is None else f"data: a {_kind(data)}",
            field="data",
        )
    top, inner = _Reader(value, ""), _Reader(data, "data.")
    return RunEvent(
        event_type=top.required(top.text, "eventType"),
        event_id=top.required(top.text, "eventId"),
        account_id=top.required(top.id, "accountId"),
        job_id=inner.required(inner.id, "jobId"),
        run_id=inner.required(inner.id, "runId"),
        webhook_id=top.text("webhooksID"),
        webhook_name=top.text("webhookName"),
        timestamp=top.time("timestamp"),
        environment_id=inner.id("environmentId"),
        project_id=inner.id("projectId"),
        job_name=inner.text("jobName"),
        environment_name=inner.text("environmentName"),
        project_name=inner.text("projectName"),
        dbt_version=inner.text("dbtVersion"),
        status=_status(inner.id("runStatusCode")),
        status_humanized=inner.text("runStatus"),
        # dbt writes an absent message as the string "None".
        status_message=_unless_none(inner.text("runStatusMessage")),
        reason=inner.text("runReason"),
        started_at=inner.time("runStartedAt"),
        finished_at=inner.time("runFinishedAt"),
        errored_at=inner.time("runErroredAt"),
        raw=value,
    )


def _status(code: int | None) -> RunStatus | None:
    return None if code is None else RunStatus(code)


def _unless_none(text: str | None) -> str | None:
    return None if text == "None" else text


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


@attrs.frozen
class _Reader:
    """Reads the fields of one JSON object, naming `prefix + key` in every complaint.

    A field that is absent, null or empty reads as None: dbt sends `""` for what it lacks.
    """

    obj: Mapping[str, Any]
    prefix: str

    def _error(self, key: str, problem: str) -> WebhookPayloadError:
        return WebhookPayloadError(f"{self.prefix}{key}: {problem}", field=self.prefix + key)

    def _wrong(self, key: str, expected: str, value: Any) -> WebhookPayloadError:
        return self._error(key, f"expected {expected}, got a {_kind(value)}")

    def required(self, read: Callable[[str], T | None], key: str) -> T:
        value = read(key)
        if value is None:
            raise self._error(key, "missing")
        return value

    def text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def id(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise self._wrong(key, "a whole number or a string of digits", value)
        if not 0 <= number <= _MAX_ID:
            raise self._error(key, f"{number} is not a 64-bit id")
        return number

    def time(self, key: str) -> datetime | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            # Python 3.11 reads "Z" and cuts digits past the microsecond (dbt sends nanos).
            when = datetime.fromisoformat(text)
        except ValueError:
            raise self._error(key, "not an RFC 3339 timestamp") from None
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# ---------------------------------------------------------------- retried deliveries


class ReplayGuard:
    """Remembers the event ids it has admitted: dbt retries a delivery up to five times, and
    a retry of a delivery that was received (but answered late, or not at all) is the same
    event again.

    It lives in this process and holds the latest `max_events` ids (a few hundred bytes
    each). Receivers running as several processes behind one URL need a shared store
    instead: subclass it and override `admit`.

    Example:
        >>> guard = ReplayGuard()
        >>> event_id = "wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD"
        >>> guard.admit(event_id), guard.admit(event_id)
        (True, False)

    Args:
        max_events: How many ids to remember; the oldest is forgotten first.
    """

    def __init__(self, max_events: int = 10_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, event_id: str) -> bool:
        """True the first time `event_id` is seen (and remember it); False for a replay."""
        with self._lock:
            if event_id in self._seen:
                self._seen.move_to_end(event_id)  # still being retried: keep it longest
                return False
            self._seen[event_id] = None
            if len(self._seen) > self.max_events:
                self._seen.popitem(last=False)
            return True

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def __repr__(self) -> str:
        return f"ReplayGuard(remembered={len(self)}, max_events={self.max_events})"


# ---------------------------------------------------------------- fan-out in this process


def _set(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _wake(waiter: asyncio.Future[None]) -> None:
    """Wake a task awaiting `waiter`, from its own event loop or from any other thread."""
    loop = waiter.get_loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _set(waiter)
    else:
        # Published from another thread (a receiver serving in one loop, a `RunsClient`
        # waiting in its own): hand the wake-up to the waiter's loop.
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_set, waiter)


class Subscription:
    """The events an `EventHub` delivers for one run (or every run), in arrival order.

    Read it from one task at a time: `await subscription.next()`, `next_within(seconds)`,
    or `async for event in subscription`. Close it when done (`with hub.subscribe(...) as
    subscription:` does): the hub then stops keeping events for it.

    Attributes:
        run_id: The run whose events it receives (None: every run's).
        event_types: The event types it receives (None: every type).
        dropped: Events discarded because more than `max_pending` were waiting unread.
    """

    def __init__(
        self,
        hub: EventHub,
        run_id: int | None,
        event_types: frozenset[str] | None,
        max_pending: int,
    ) -> None:
        self.run_id = run_id
        self.event_types = event_types
        self.dropped = 0
        self._hub = hub
        self._max = max_pending
        self._pending: deque[RunEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        types = sorted(self.event_types) if self.event_types is not None else "all"
        state = "closed" if self._closed else f"pending={len(self._pending)}"
        return f"Subscription(run_id={self.run_id}, event_types={types}, {state})"

    def wants(self, event: RunEvent) -> bool:
        """Whether `event` is one this subscription receives."""
        return (self.run_id is None or event.run_id == self.run_id) and (
            self.event_types is None or event.event_type in self.event_types
        )

    @property
    def closed(self) -> bool:
        """True once `close()` was called."""
        return self._closed

    def put(self, event: RunEvent) -> None:
        """Queue `event` for the reader (the hub calls this; any thread may)."""
        with self._lock:
            if self._closed:
                return
            if len(self._pending) >= self._max:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(event)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _wake(waiter)

    def get_nowait(self) -> RunEvent | None:
        """The next event if one is waiting, else None."""
        with self._lock:
            return self._pending.popleft() if self._pending else None

    async def next(self) -> RunEvent:
        """Wait for the next event.

        Raises:
            RuntimeError: The subscription is closed (also when it is closed while waiting),
                or another task is already waiting on it.
        """
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._pending:
                    return self._pending.popleft()
                if self._closed:
                    raise RuntimeError("the subscription is closed")
                if self._waiter is not None:
                    raise RuntimeError("another task is already waiting on this subscription")
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiter = waiter
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    async def next_within(
        self, seconds: float, *, sleep: Callable[[float], Awaitable[Any]] | None = None
    ) -> RunEvent | None:
        """The next event, or None when none arrives within `seconds`.

        This is a waiting loop's pause: `event = await subscription.next_within(interval)`
        returns as soon as an event comes, and after the interval otherwise, so the loop can
        poll as a safety net.

        Args:
            seconds: How long to wait.
            sleep: The waiting loop's own sleep, when it has one (a test's fake clock): the
                wait then ends when that sleep returns instead of after real seconds.
        """
        event = self.get_nowait()
        if event is not None or seconds <= 0:
            return event
        if sleep is None:
            try:
                async with asyncio.timeout(seconds):
                    return await self.next()
            except TimeoutError:
                return None
        reading = asyncio.ensure_future(self.next())
        sleeping = asyncio.ensure_future(sleep(seconds))
        try:
            await asyncio.wait({reading, sleeping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            if not reading.done():
                # `next` takes an event only when it returns: a cancelled read leaves it queued.
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
        if reading.cancelled():
            return None
        return reading.result()

    def close(self) -> None:
        """Stop receiving events; a task waiting in `next()` gets `RuntimeError`. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiter, self._waiter = self._waiter, None
        self._hub.forget(self)
        if waiter is not None:
            _wake(waiter)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RunEvent]:
        while True:
            try:
                event = await self.next()
            except RuntimeError:
                if self._closed:
                    return
                raise
            yield event


class EventHub:
    """Fans verified webhook events out to the waiters of this process.

    The receiver publishes every event it accepts (`hub.publish(event)`); a waiter
    subscribes to its run and awaits the next event (`hub.subscribe(run_id)`). Publishing
    never blocks and works from any thread: a receiver serving in one event loop wakes
    waiters in another (a `RunsClient`'s, say).

    The hub remembers the latest events of the last `remember_runs` runs and hands them to a
    subscription made later for one of those runs: a waiter that subscribes just after its
    run's `completed` event arrived still gets it. Subscribe before checking the run's status
    (then no event can fall between the check and the subscription).

    Example:
        ```python
        hub = EventHub()
        app = create_webhook_app(hub)            # dbt_runs.expose.webhooks: publishes to hub

        run = await client.wait_for_run(run, events=hub)   # ends on the run's event

        # or by hand:
        with hub.subscribe(run.id, event_types={RUN_COMPLETED}) as events:
            run = await client.get_run(run.id)   # finished already? then no need to wait
            if not run.is_terminal:
                event = await events.next_within(120.0)  # None: no event, poll again
        ```

    Args:
        remember_runs: How many runs' latest events to keep for late subscribers (0: none).
        max_pending: Events kept per subscription while its reader is busy; past it the
            oldest is dropped (and counted in `Subscription.dropped`).
    """

    def __init__(self, *, remember_runs: int = 1000, max_pending: int = 1000) -> None:
        if remember_runs < 0 or max_pending < 1:
            raise ValueError("remember_runs must be >= 0 and max_pending >= 1")
        self.remember_runs = remember_runs
        self.max_pending = max_pending
        self.published = 0
        self._subscriptions: dict[int | None, list[Subscription]] = {}
        self._recent: OrderedDict[int, list[RunEvent]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EventHub(subscriptions={self.subscription_count}, published={self.published})"

    @property
    def subscription_count(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return sum(len(subs) for subs in self._subscriptions.values())

    def publish(self, event: RunEvent) -> int:
        """Hand `event` to every open subscription that wants it; how many that was.

        Never blocks, from any thread. It does not deduplicate: a receiver admits each event
        id once (`ReplayGuard`) before publishing.
        """
        with self._lock:
            self.published += 1
            if self.remember_runs:
                recent = self._recent.pop(event.run_id, [])
                recent.append(event)
                self._recent[event.run_id] = recent[-_EVENTS_PER_RUN:]
                while len(self._recent) > self.remember_runs:
                    self._recent.popitem(last=False)
            targets = [
                subscription
                for key in (event.run_id, None)
                for subscription in self._subscriptions.get(key, ())
                if subscription.wants(event)
            ]
            # Under the lock, so that a subscription being made sees this event once:
            # either among the remembered ones or from here.
            for subscription in targets:
                subscription.put(event)
        return len(targets)

    def subscribe(
        self, run_id: int | None = None, *, event_types: Iterable[str] | None = None
    ) -> Subscription:
        """A subscription to the events of run `run_id` (None: of every run).

        The run's events the hub remembers come first, then each new one as it is published.

        Args:
            run_id: The run to follow, or None for every run (no remembered events).
            event_types: Only these event types (None: all), for example `{RUN_COMPLETED}`
                for a waiter that reads the run's artifacts.
        """
        types = None
        if event_types is not None:
            types = frozenset(event_types) if not isinstance(event_types, str) else None
            if types is None or not types or not all(isinstance(t, str) for t in types):
                raise ValueError("event_types must be a non-empty collection of event types")
        subscription = Subscription(self, run_id, types, self.max_pending)
        with self._lock:
            self._subscriptions.setdefault(run_id, []).append(subscription)
            if run_id is not None:
                for event in self._recent.get(run_id, ()):
                    if subscription.wants(event):
                        subscription.put(event)
        return subscription

    def forget(self, subscription: Subscription) -> None:
        """Remove a subscription (what `Subscription.close()` calls)."""
        with self._lock:
            subs = self._subscriptions.get(subscription.run_id)
            if subs is not None and subscription in subs:
                subs.remove(subscription)
                if not subs:
                    del self._subscriptions[subscription.run_id]
