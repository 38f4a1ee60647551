"""dbt Cloud's outbound webhooks, emulated: subscriptions, events, signed deliveries, retries.

What dbt documents (docs.getdbt.com, "Webhooks for your jobs"; the notes copied into
`tests/data/reference/dbt-cloud-webhooks.md`), and what the emulator does with it:

- **Subscriptions** (the v3 API, `_routes`): a name, a `client_url`, the event types, the jobs
  (none: every job of the account), active or not, and a secret of their own (`hmac_secret`,
  returned once, by the create call).
- **Events come from the runs' timelines**: `job.run.started` at a run's `started_at`;
  `job.run.errored` at the `finished_at` of a run that failed; `job.run.completed`, whatever
  the outcome, once the run's artifacts can be read (`finished_at` plus the artifact delay, as
  dbt sends it after ingesting them). Only runs triggered after the emulator was built send
  events, and only events that happen while a subscription exists reach it.
- **Deliveries**: a POST of the JSON body to `client_url`, `Authorization` set to the hex
  HMAC-SHA256 of the body bytes keyed with the subscription's secret. An answer other than
  2xx, a connection error or no answer within 10 seconds fails the attempt; dbt then retries
  five times (when is not published: the emulator waits `retry_delays`, on its own clock).
- **Faults** (`Faults`): every delivery late by `webhook_delay_seconds`, some dropped for good
  or sent twice (`webhook_drop_rate`, `webhook_duplicate_rate`, `fault_next_webhooks`).

The signature is computed here with the standard library and nothing of the client's
(`dbt_runs.webhooks` verifies it): one misreading of dbt cannot hide on both sides.

Deliveries go out while something runs `Webhooks.run()`: the app's lifespan (any ASGI server
that sends lifespan events, `Emulator.serve()` and `serve_in_thread()` included) or, under a
server without lifespan events, the first request it serves. In-process tests call
`await emulator.webhooks.deliver_due()` after moving the clock instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import heapq
import hmac
import itertools
import json
import random
import secrets
import ssl
import string
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from dbt_runs.testing._clock import ManualClock
from dbt_runs.testing._state import CANCELLED, ERROR, RUNNING, SUCCESS, Run

if TYPE_CHECKING:
    from dbt_runs.testing._account import Account

__all__ = [
    "EVENT_TYPES",
    "RETRY_DELAYS",
    "DeliveryRecord",
    "SubscriptionError",
    "WebhookSubscription",
    "Webhooks",
]

STARTED: Final = "job.run.started"
COMPLETED: Final = "job.run.completed"
ERRORED: Final = "job.run.errored"
EVENT_TYPES: Final = (STARTED, COMPLETED, ERRORED)
#: The order of one run's events that fall due at the same instant.
_ORDER: Final = {STARTED: 0, ERRORED: 1, COMPLETED: 2}

#: Seconds between a failed attempt and the next, for dbt's five retries (dbt does not
#: publish its schedule).
RETRY_DELAYS: Final = (10.0, 30.0, 60.0, 120.0, 300.0)
#: dbt records a delivery as failed when the endpoint has not answered within this.
DELIVERY_TIMEOUT: Final = 10.0
#: How often the delivery loop looks at the clock when no event is known to be due sooner:
#: new runs get their timelines planned when they leave the queue.
_LOOK_EVERY: Final = 0.05
#: A manual clock moves when a test says: the loop looks often, in real time.
_LOOK_EVERY_MANUAL: Final = 0.01
_IDLE_LOOK: Final = 0.25
_MAX_RECORDS: Final = 10_000
#: The words dbt puts in `runStatus` (an error is "Errored" here, "Error" in the v2 API).
_STATUS_WORDS: Final = {RUNNING: "Running", SUCCESS: "Success", ERROR: "Errored"}
_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_USER_AGENT: Final = "dbt-runs-emulator (dbt Cloud webhooks)"
_MAX_NAME: Final = 255


class SubscriptionError(ValueError):
    """A subscription body dbt would refuse; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    """A webhook subscription, as the emulator sees it now.

    `secret` is set only in what `Webhooks.subscribe` returns (dbt shows it once, when the
    subscription is created); it never appears in a repr.
    """

    id: str
    name: str
    client_url: str
    event_types: tuple[str, ...]
    job_ids: tuple[int, ...]
    active: bool
    description: str = ""
    #: The HTTP status of the last delivery attempt (0: none yet, or no answer).
    http_status_code: int = 0
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery attempt (or a dropped delivery), for assertions in tests.

    Attributes:
        subscription_id: The subscription it was for.
        event_id: The event's id (`wev_...`); the same in every attempt and duplicate.
        event_type: `job.run.started`, `job.run.completed`, `job.run.errored` or `test`.
        run_id: The run (None for a test delivery).
        attempt: 1 for the first try, 2 to 6 for dbt's retries.
        outcome: The receiver's HTTP status, or what happened instead: "timeout",
            "connection error: ...", "dropped" (a fault: never sent).
        at: When the attempt ended, on the emulator's clock.
        duplicate: True for the second copy of a duplicated delivery (a fault).
    """

    subscription_id: str
    event_id: str
    event_type: str
    run_id: int | None
    attempt: int
    outcome: int | str
    at: datetime
    duplicate: bool = False

    @property
    def delivered(self) -> bool:
        """True when the receiver answered 2xx."""
        return isinstance(self.outcome, int) and 200 <= self.outcome < 300


@dataclass(slots=True, eq=False)
class _Subscription:
    id: str
    name: str
    description: str
    client_url: str
    event_types: tuple[str, ...]
    job_ids: tuple[int, ...]
    active: bool
    secret: str = field(repr=False)
    created_at: float
    updated_at: float
    dispatched_at: float | None = None
    http_status_code: int = 0

    def covers(self, event_type: str, job_id: int) -> bool:
        return (
            self.active
            and event_type in self.event_types
            and (not self.job_ids or job_id in self.job_ids)
        )

    def snapshot(self, *, with_secret: bool = False) -> WebhookSubscription:
        return WebhookSubscription(
            self.id,
            self.name,
            self.client_url,
            self.event_types,
            self.job_ids,
            self.active,
            self.description,
            self.http_status_code,
            self.secret if with_secret else None,
        )


@dataclass(slots=True)
class _Attempt:
    """One POST to make: the body and its signature are fixed when the event happens."""

    subscription_id: str
    event_id: str
    event_type: str
    run_id: int | None
    url: str
    body: bytes = field(repr=False)
    signature: str = field(repr=False)
    number: int = 1
    duplicate: bool = False


def sign(body: bytes, secret: str) -> str:
    """dbt's signature of a delivery: the hex HMAC-SHA256 of the body, keyed with the secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- the wire format


def _z_seconds(ts: float) -> str:
    """`2023-01-31T19:28:07Z`: a run's times in a webhook."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _z_nanos(ts: float) -> str:
    """`2023-01-31T19:29:35.789265936Z`: an event's timestamp (RFC 3339, nanoseconds)."""
    whole = int(ts // 1)
    nanos = round((ts - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _micros(ts: float | None) -> str | None:
    """A subscription's times: microseconds since the epoch, as a string."""
    return None if ts is None else str(round(ts * 1_000_000))


def event_body(
    account: Account,
    subscription: _Subscription,
    run: Run,
    event_type: str,
    event_id: str,
    at: float,
) -> bytes:
    """The JSON body dbt POSTs for `event_type` of `run`, in the documented field order."""
    state = account.state
    job = run.job
    environment = state.environments.get(job.environment_id)
    project = state.projects.get(job.project_id)
    code = RUNNING if event_type == STARTED else run.final_status or SUCCESS
    data: dict[str, Any] = {
        "jobId": str(job.id),
        "jobName": job.name,
        "runId": str(run.id),
        "environmentId": str(job.environment_id),
        "environmentName": environment.name if environment is not None else "",
        "dbtVersion": run.dbt_version,
        "projectName": project.name if project is not None else "",
        "projectId": str(job.project_id),
        "runStatus": _STATUS_WORDS.get(code, "Cancelled" if code == CANCELLED else str(code)),
        "runStatusCode": code,
        # dbt writes an absent message as "None".
        "runStatusMessage": (run.status_message if event_type != STARTED else None) or "None",
        "runReason": run.trigger.cause,
        "runStartedAt": _z_seconds(run.started_at) if run.started_at is not None else "",
    }
    if event_type == COMPLETED and run.finished_at is not None:
        data["runFinishedAt"] = _z_seconds(run.finished_at)
    elif event_type == ERRORED and run.finished_at is not None:
        data["runErroredAt"] = _z_seconds(run.finished_at)
    body = {
        "accountId": account.account_id,
        "webhooksID": subscription.id,
        "eventId": event_id,
        "timestamp": _z_nanos(at),
        "eventType": event_type,
        "webhookName": subscription.name,
        "data": data,
    }
    # dbt's documented example is spaced JSON; receivers must verify the bytes as sent.
    return json.dumps(body).encode("utf-8")


def _test_body(account: Account, subscription: _Subscription, event_id: str, at: float) -> bytes:
    """What the test call sends. dbt does not publish its test payload: the emulator sends
    the documented `job.run.completed` example's run (run 12345, which no emulated run is
    unless asked to be), from this account and subscription."""
    body = {
        "accountId": account.account_id,
        "webhooksID": subscription.id,
        "eventId": event_id,
        "timestamp": _z_nanos(at),
        "eventType": COMPLETED,
        "webhookName": subscription.name,
        "data": {
            "jobId": "123",
            "jobName": "Daily Job (dbt build)",
            "runId": "12345",
            "environmentId": "1234",
            "environmentName": "Production",
            "dbtVersion": "1.0.0",
            "projectName": "Snowflake Github Demo",
            "projectId": "167194",
            "runStatus": "Success",
            "runStatusCode": SUCCESS,
            "runStatusMessage": "None",
            "runReason": "Kicked off from UI by test@test.com",
            "runStartedAt": _z_seconds(at - 88),
            "runFinishedAt": _z_seconds(at - 3),
        },
    }
    return json.dumps(body).encode("utf-8")


def subscription_json(account: Account, subscription: _Subscription) -> dict[str, Any]:
    """A subscription as the v3 API answers it (the secret only in the create answer)."""
    return {
        "id": subscription.id,
        "account_identifier": f"act_{account.account_id:0>10}",
        "name": subscription.name,
        "description": subscription.description,
        "job_ids": [str(job_id) for job_id in subscription.job_ids],
        "event_types": list(subscription.event_types),
        "client_url": subscription.client_url,
        "active": subscription.active,
        "created_at": _micros(subscription.created_at),
        "updated_at": _micros(subscription.updated_at),
        "dispatched_at": _micros(subscription.dispatched_at),
        "account_id": str(account.account_id),
        "http_status_code": str(subscription.http_status_code),
    }


def read_subscription(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a create or update body, checked as dbt would.

    Raises:
        SubscriptionError: naming each field that is missing or wrong.
    """
    errors: dict[str, str] = {}
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "This field is required."
    elif len(name) > _MAX_NAME:
        errors["name"] = f"Ensure this field has no more than {_MAX_NAME} characters."
    url = body.get("client_url")
    if not isinstance(url, str) or not url.strip():
        errors["client_url"] = "This field is required."
    else:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors["client_url"] = "Enter a valid URL."
    types = body.get("event_types")
    if not isinstance(types, list) or not types:
        errors["event_types"] = "This field is required: a list of event types."
    elif any(t not in EVENT_TYPES for t in types):
        unknown = next(t for t in types if t not in EVENT_TYPES)
        errors["event_types"] = f'"{unknown}" is not a valid choice.'
    jobs = body.get("job_ids", [])
    if jobs is None:
        jobs = []
    if not isinstance(jobs, list) or any(
        isinstance(j, bool) or not isinstance(j, int) or j < 1 for j in jobs
    ):
        errors["job_ids"] = "Expected a list of job ids (numbers)."
    active = body.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = "Must be a valid boolean."
    description = body.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        errors["description"] = "Not a valid string."
    if errors:
        raise SubscriptionError(errors)
    assert isinstance(name, str)
    assert isinstance(url, str)
    assert isinstance(types, list)
    assert isinstance(jobs, list)
    return {
        "name": name,
        "client_url": url,
        "event_types": tuple(dict.fromkeys(types)),
        "job_ids": tuple(dict.fromkeys(jobs)),
        "active": active,
        "description": description,
    }


# ---------------------------------------------------------------- sending


class _DeliveryError(Exception):
    """An attempt that got no HTTP answer; the message is the record's outcome."""


async def post(url: str, body: bytes, signature: str, seconds: float) -> int:
    """POST `body` to `url` as dbt does; the answer's status.

    A small HTTP/1.1 client of the emulator's own (the emulator leaves httpx to the client):
    one connection per delivery (`Connection: close`), TLS for https URLs.

    Raises:
        _DeliveryError: no answer within `seconds`, or no connection.
    """
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = (
        f"POST {target} HTTP/1.1\r\n"
        f"Host: {parts.netloc.rpartition('@')[2]}\r\n"
        f"User-Agent: {_USER_AGENT}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Authorization: {signature}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    try:
        with anyio.fail_after(seconds):
            port = parts.port or (443 if https else 80)
            stream: anyio.abc.ByteStream
            if https:
                stream = await anyio.connect_tcp(
                    host, port, ssl_context=ssl.create_default_context(), tls_hostname=host
                )
            else:
                stream = await anyio.connect_tcp(host, port)
            async with stream:
                await stream.send(head + body)
                reader = BufferedByteReceiveStream(stream)
                status_line = await reader.receive_until(b"\r\n", 8192)
                # Read the rest, so the receiver finishes its answer before the close.
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    while await reader.receive():
                        pass
    except TimeoutError:
        raise _DeliveryError("timeout") from None
    except Exception as exc:
        # Refused, reset, TLS, a status line past 8 KiB...: for dbt, no answer is a failed
        # attempt, whatever the reason, and the delivery loop must go on.
        raise _DeliveryError(f"connection error: {type(exc).__name__}") from None
    fields = status_line.split(b" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        raise _DeliveryError("connection error: not an HTTP answer")
    return int(fields[1])


# ---------------------------------------------------------------- the engine


class Webhooks:
    """The emulator's webhooks: `emulator.webhooks`.

    Example:
        ```python
        emulator = Emulator(runs=0)
        subscription = emulator.webhooks.subscribe("http://127.0.0.1:8081/v1/webhooks/dbt")
        run_id = emulator.trigger_run(1)
        emulator.clock.advance(120)
        records = await emulator.webhooks.deliver_due()   # started, then completed
        ```

    Attributes:
        retry_delays: Seconds (on the emulator's clock) before each of dbt's five retries.
        timeout: Real seconds a receiver has to answer an attempt (dbt's: 10).
    """

    def __init__(self, account: Account, *, seed: int = 0) -> None:
        self._account = account
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self.timeout = DELIVERY_TIMEOUT
        self._subscriptions: dict[str, _Subscription] = {}
        # Seeded runs finished before the emulator existed: they send nothing.
        self._cursor = len(account.state.runs)
        #: Runs that may still send events -> the event types already sent.
        self._live: dict[int, tuple[Run, set[str]]] = {}
        self._queue: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._records: deque[DeliveryRecord] = deque(maxlen=_MAX_RECORDS)
        self._ids = random.Random(seed + 2)
        self.delivering = False

    def __repr__(self) -> str:
        return (
            f"Webhooks(subscriptions={len(self._subscriptions)}, pending={len(self._queue)}, "
            f"delivering={self.delivering})"
        )

    # -- subscriptions (the v3 API, and tests) ---------------------------------------------
    def subscribe(
        self,
        client_url: str,
        *,
        event_types: Iterable[str] = EVENT_TYPES,
        job_ids: Iterable[int] = (),
        name: str = "emulator",
        description: str = "",
        active: bool = True,
    ) -> WebhookSubscription:
        """Create a subscription, as `POST .../webhooks/subscriptions` does; its `secret` is
        set in what is returned (and only there).

        Raises:
            ValueError: for a body dbt would refuse (the message names the field).
        """
        body = {
            "name": name,
            "client_url": client_url,
            "event_types": list(event_types),
            "job_ids": list(job_ids),
            "active": active,
            "description": description,
        }
        subscription = self.create(read_subscription(body))
        return subscription.snapshot(with_secret=True)

    def subscriptions(self) -> list[WebhookSubscription]:
        """Every subscription, oldest first (without secrets)."""
        with self._account.state.lock:
            return [s.snapshot() for s in self._subscriptions.values()]

    def unsubscribe(self, subscription_id: str) -> bool:
        """Delete a subscription; False when there was none. Its pending deliveries stop."""
        return self.delete(subscription_id)

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """The last 10,000 delivery attempts, oldest first."""
        with self._account.state.lock:
            return list(self._records)

    def clear_deliveries(self) -> None:
        """Forget the recorded attempts."""
        with self._account.state.lock:
            self._records.clear()

    def create(self, fields: Mapping[str, Any]) -> _Subscription:
        """A new subscription from checked fields (`read_subscription`)."""
        with self._account.moment() as now:
            # Events that happened before the subscription are not its: consume them first.
            self._collect(now)
            subscription = _Subscription(
                id=self._new_id("wsu_"),
                secret=secrets.token_urlsafe(32),
                created_at=now,
                updated_at=now,
                **fields,
            )
            self._subscriptions[subscription.id] = subscription
            return subscription

    def get(self, subscription_id: str) -> _Subscription | None:
        """The subscription, or None."""
        return self._subscriptions.get(subscription_id)

    def all(self) -> list[_Subscription]:
        """Every subscription, oldest first."""
        return list(self._subscriptions.values())

    def update(self, subscription_id: str, fields: Mapping[str, Any]) -> _Subscription | None:
        """Replace a subscription's fields (its id and secret stay); None when there is none."""
        with self._account.moment() as now:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                return None
            self._collect(now)
            for key, value in fields.items():
                setattr(subscription, key, value)
            subscription.updated_at = now
            return subscription

    def delete(self, subscription_id: str) -> bool:
        """Remove a subscription; False when there was none."""
        with self._account.state.lock:
            return self._subscriptions.pop(subscription_id, None) is not None

    async def test(self, subscription_id: str) -> tuple[str | None, int]:
        """The test call: one signed delivery to the subscription's URL, now, no retry.

        Returns:
            (the error, or None when the receiver answered 2xx; the HTTP status, 0 for none).
        """
        with self._account.moment() as now:
            subscription = self._subscriptions[subscription_id]
            event_id = self._new_id("wev_")
            body = _test_body(self._account, subscription, event_id, now)
            attempt = _Attempt(
                subscription.id,
                event_id,
                "test",
                None,
                subscription.client_url,
                body,
                sign(body, subscription.secret),
            )
        record = await self._send(attempt, retry=False)
        if record.delivered:
            return None, int(record.outcome)
        if isinstance(record.outcome, int):
            return f"The endpoint answered {record.outcome}.", record.outcome
        return f"The endpoint could not be reached ({record.outcome}).", 0

    # -- events -----------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return prefix + "".join(self._ids.choice(_BASE62) for _ in range(27))

    def _run_events(self, run: Run) -> list[tuple[float, str]]:
        """The run's events whose time is known now: (when, type)."""
        events = []
        if run.started_at is not None:
            events.append((run.started_at, STARTED))
        if run.finished_at is not None:
            if run.final_status == ERROR:
                events.append((run.finished_at, ERRORED))
            ready = self._account.artifacts_ready_at(run)
            if ready is not None:
                events.append((ready, COMPLETED))
        return events

    def _collect(self, now: float) -> float | None:
        """Turn every event that has happened by `now` into deliveries (call it inside
        `account.moment()`); when the next known event happens, if one is known."""
        state = self._account.state
        for run in state.runs[self._cursor :]:
            self._live[run.id] = (run, set())
        self._cursor = len(state.runs)
        happened: list[tuple[float, int, str, Run]] = []
        upcoming: float | None = None
        for run_id, (run, sent) in list(self._live.items()):
            for when, event_type in self._run_events(run):
                if event_type in sent:
                    continue
                if when <= now:
                    sent.add(event_type)
                    happened.append((when, _ORDER[event_type], event_type, run))
                elif upcoming is None or when < upcoming:
                    upcoming = when
            if COMPLETED in sent:
                del self._live[run_id]
        happened.sort(key=lambda item: (item[0], item[1], item[3].id))
        for when, _, event_type, run in happened:
            self._fan_out(run, event_type, when)
        return upcoming

    def _fan_out(self, run: Run, event_type: str, when: float) -> None:
        faults = self._account.faults
        for subscription in self._subscriptions.values():
            if not subscription.covers(event_type, run.job.id):
                continue
            event_id = self._new_id("wev_")
            body = event_body(self._account, subscription, run, event_type, event_id, when)
            attempt = _Attempt(
                subscription.id,
                event_id,
                event_type,
                run.id,
                subscription.client_url,
                body,
                sign(body, subscription.secret),
            )
            fault = faults.webhook_fault()
            if fault == "drop":
                self._record(attempt, "dropped", when)
                continue
            due = when + faults.webhook_delay_seconds
            self._push(due, attempt)
            if fault == "duplicate":
                self._push(due, dataclasses.replace(attempt, duplicate=True))

    def _push(self, due: float, attempt: _Attempt) -> None:
        heapq.heappush(self._queue, (due, next(self._order), attempt))

    def _record(self, attempt: _Attempt, outcome: int | str, at: float) -> DeliveryRecord:
        record = DeliveryRecord(
            attempt.subscription_id,
            attempt.event_id,
            attempt.event_type,
            attempt.run_id,
            attempt.number,
            outcome,
            datetime.fromtimestamp(at, UTC),
            attempt.duplicate,
        )
        self._records.append(record)
        return record

    def _due(self) -> tuple[list[_Attempt], list[DeliveryRecord], float | None]:
        """The attempts due now (taken off the queue), the deliveries dropped meanwhile (a
        fault), and when something is next due, if that is known."""
        with self._account.moment() as now:
            recorded = len(self._records)
            upcoming = self._collect(now)
            dropped = list(self._records)[recorded:] if len(self._records) > recorded else []
            due = []
            while self._queue and self._queue[0][0] <= now:
                due.append(heapq.heappop(self._queue)[2])
            if self._queue and (upcoming is None or self._queue[0][0] < upcoming):
                upcoming = self._queue[0][0]
            return due, dropped, upcoming

    @property
    def busy(self) -> bool:
        """Whether there is anything to deliver, now or later."""
        with self._account.state.lock:  # subscriptions change from other threads too
            return bool(self._queue) or any(s.active for s in self._subscriptions.values())

    async def _send(self, attempt: _Attempt, *, retry: bool = True) -> DeliveryRecord:
        account = self._account
        with account.moment() as now:
            subscription = self._subscriptions.get(attempt.subscription_id)
            if subscription is None:
                # Deleted since the event: nobody to deliver to any more.
                return self._record(attempt, "cancelled: the subscription was deleted", now)
        try:
            outcome: int | str = await post(
                attempt.url, attempt.body, attempt.signature, self.timeout
            )
        except _DeliveryError as exc:
            outcome = str(exc)
        with account.moment() as now:
            record = self._record(attempt, outcome, now)
            subscription.dispatched_at = now
            subscription.http_status_code = outcome if isinstance(outcome, int) else 0
            retries = self.retry_delays
            if retry and not record.delivered and attempt.number <= len(retries):
                again = dataclasses.replace(attempt, number=attempt.number + 1)
                self._push(now + retries[attempt.number - 1], again)
        return record

    async def deliver_due(self) -> list[DeliveryRecord]:
        """Send every delivery due at the clock's time now, and wait for the answers.

        For in-process tests (`ManualClock`): advance the clock, then call this. A failed
        attempt's retry falls due `retry_delays[n]` later on the clock.

        Returns:
            The records of the attempts made (dropped deliveries included).
        """
        attempts, records, _ = self._due()
        async with anyio.create_task_group() as group:
            for attempt in attempts:

                async def one(attempt: _Attempt = attempt) -> None:
                    records.append(await self._send(attempt))

                group.start_soon(one)
        return records

    async def run(self) -> None:
        """Deliver events as they happen, until cancelled (the lifespan runs this)."""
        manual = isinstance(self._account.clock, ManualClock)
        self.delivering = True
        try:
            async with anyio.create_task_group() as group:
                while True:
                    if not self.busy:
                        await anyio.sleep(_IDLE_LOOK)
                        continue
                    attempts, _, upcoming = self._due()
                    for attempt in attempts:
                        group.start_soon(self._send, attempt)
                    pause = _LOOK_EVERY_MANUAL if manual else _LOOK_EVERY
                    if upcoming is not None and not manual:
                        pause = min(pause, max(0.0, upcoming - self._account.clock.now()))
                    await anyio.sleep(pause)
        finally:
            self.delivering = False

    @contextlib.asynccontextmanager
    async def running_in_background(self) -> AsyncIterator[Webhooks]:
        """Deliver in this event loop while the block runs: `async with
        emulator.webhooks.running_in_background():` (for an emulator reached in-process)."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.run)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()
