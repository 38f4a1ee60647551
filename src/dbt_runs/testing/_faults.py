"""Faults and limits: what a flaky network and a busy dbt Cloud do to a client.

`Faults` is read on every request, so a test (or the CLI's flags) can change it while the
emulator runs. Random faults draw from a seeded generator; scripted ones (`fail_next`,
`fail_next_trigger_response`) fire exactly when asked, which is what most tests want.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["FaultKind", "Faults", "RateLimit", "WebhookFault", "gateway_html"]

#: What a fault does to a response.
#: - an HTTP status (500, 502, 503, 504, 429...): that error instead of the answer;
#: - "reset": the connection is dropped before any byte of the response (a TCP reset);
#: - "truncate": headers announce the full length, the connection drops halfway through;
#: - "malformed": status 200 and a JSON content type, but the body is cut (invalid JSON);
#: - "hang": no answer for `Faults.hang_seconds` of real time (trips client read timeouts).
#: In-process (httpx's ASGI transport) "reset" and "truncate" raise httpx.RemoteProtocolError
#: and "hang" httpx.ReadTimeout at once: what a client sees over a real connection.
FaultKind = int | Literal["reset", "truncate", "malformed", "hang"]
_KINDS: Final = ("reset", "truncate", "malformed", "hang")

#: What a fault does to an outbound webhook delivery (see `Faults.fault_next_webhooks`):
#: - "drop": the event is never delivered, no attempt and no retry (a delivery dbt lost);
#: - "duplicate": the delivery is sent twice, the same body and event id both times.
WebhookFault = Literal["drop", "duplicate"]
_WEBHOOK_FAULTS: Final = ("drop", "duplicate")

_REASONS: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def gateway_html(status: int) -> str:
    """The HTML page a load balancer sends for a 5xx (what dbt-core #2836 received)."""
    reason = _REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )


@dataclass(slots=True)
class RateLimit:
    """dbt's Admin API limit: past `requests` per `per_seconds`, 429 for `cooldown_seconds`.

    dbt documents 5,000 requests per minute per account and a five-minute cooldown. The
    window slides: a request is refused when `requests` others were answered in the
    `per_seconds` before it, whenever they came. That is at least as strict as any fixed
    window dbt may use, so a client that stays under it here stays under it there. Only the
    account's own requests count (a request naming another account id is that account's).

    With a `ManualClock` time is the emulator's clock, so a test ends a cooldown with
    `clock.advance(300)`; with a `RealClock` it is real time whatever the speed, because a
    client waits out `Retry-After` in real seconds (scale the limit yourself to emulate
    dbt's at speed N: `RateLimit(5000, 60 / N, 300 / N)`).
    The 429 carries `Retry-After` (the seconds left in the cooldown, rounded up) and dbt's
    error envelope; requests refused during the cooldown do not count and do not extend it.
    """

    requests: int = 5000
    per_seconds: float = 60.0
    cooldown_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0 or self.cooldown_seconds < 0:
            raise ValueError("RateLimit needs requests >= 1, per_seconds > 0, cooldown >= 0")


@dataclass(slots=True)
class _Scripted:
    kind: FaultKind
    remaining: int
    method: str | None
    path: str | None
    trigger_only: bool


def _check_kind(kind: FaultKind) -> FaultKind:
    if isinstance(kind, bool) or not (
        (isinstance(kind, int) and 400 <= kind <= 599) or kind in _KINDS
    ):
        raise ValueError(f"unknown fault {kind!r}: use an HTTP status 400-599 or one of {_KINDS}")
    return kind


@dataclass
class Faults:
    """Fault settings, changeable at any time (also from another thread).

    Attributes:
        latency_ms: added before every response, in milliseconds.
        jitter_ms: up to this much more, uniformly drawn.
        error_rates: probability per request of answering with a status instead, for example
            `{503: 0.1}`. 502/503/504 come with a gateway's HTML page; 500 with dbt's
            `{"detail": "There was a server error..."}`; others with dbt's envelope.
        reset_rate: probability of dropping the connection without a response.
        truncate_rate: probability of cutting the body halfway (length announced in full).
        malformed_rate: probability of a 200 whose JSON body is cut short.
        slow_body_seconds: spread each response body over this many seconds, in chunks.
        hang_seconds: how long a "hang" fault waits (real time) before giving up.
        rate_limit: a `RateLimit`, or None for no limit.
        ambiguous_trigger_rate: probability that a trigger (run, rerun, retry) creates its run
            and then answers 502: the ambiguous trigger, at random.
        artifact_delay_seconds: a finished run's artifacts 404 (and its artifact list is
            null) for this many seconds: dbt uploads them asynchronously. Like the run's other
            phases, a `RealClock`'s speed divides it. `job.run.completed` waits for it too.
        webhook_delay_seconds: every webhook event is delivered this many seconds (of the
            emulator's clock) after it happened.
        webhook_drop_rate: probability that an event is never delivered to a subscription.
        webhook_duplicate_rate: probability that a delivery is sent twice.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rates: dict[int, float] = field(default_factory=dict)
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    slow_body_seconds: float = 0.0
    hang_seconds: float = 30.0
    rate_limit: RateLimit | None = None
    ambiguous_trigger_rate: float = 0.0
    artifact_delay_seconds: float = 0.0
    webhook_delay_seconds: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _scripted: deque[_Scripted] = field(init=False, repr=False, default_factory=deque)
    _scripted_webhooks: deque[WebhookFault] = field(init=False, repr=False, default_factory=deque)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    #: When the requests of the last window were answered, oldest first.
    _answered: deque[float] = field(init=False, repr=False, default_factory=deque)
    _cooldown_until: float = field(init=False, repr=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for status in self.error_rates:
            _check_kind(status)

    # -- scripted faults ------------------------------------------------------------------
    def fail_next(
        self,
        kind: FaultKind = 503,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Make the next `times` matching requests fail with `kind`.

        Args:
            kind: an HTTP status, or "reset", "truncate", "malformed", "hang".
            times: how many requests.
            method: only requests with this method (for example "GET").
            path: only requests whose path contains this text (for example "/runs/").
        """
        with self._lock:
            self._scripted.append(
                _Scripted(_check_kind(kind), times, method.upper() if method else None, path, False)
            )

    def fail_next_trigger_response(self, kind: FaultKind = 502, *, times: int = 1) -> None:
        """The ambiguous trigger: the next `times` triggers create their run, then the
        response fails with `kind` (a 502/504, "reset", "hang"...), as dbt-core #2836 saw.

        A client that retries the POST blindly now starts a second run; a careful one looks
        the run up instead.
        """
        with self._lock:
            self._scripted.append(_Scripted(_check_kind(kind), times, "POST", None, True))

    def fault_next_webhooks(self, kind: WebhookFault, *, times: int = 1) -> None:
        """The next `times` webhook deliveries (one event to one subscription each) are
        dropped ("drop": never sent, never retried) or sent twice ("duplicate")."""
        if kind not in _WEBHOOK_FAULTS:
            raise ValueError(f"unknown webhook fault {kind!r}: use one of {_WEBHOOK_FAULTS}")
        with self._lock:
            self._scripted_webhooks.extend([kind] * times)

    def webhook_fault(self) -> WebhookFault | None:
        """What happens to the next webhook delivery: a scripted fault first, else a draw."""
        with self._lock:
            if self._scripted_webhooks:
                return self._scripted_webhooks.popleft()
            roll = self._rng.random
            if self.webhook_drop_rate and roll() < self.webhook_drop_rate:
                return "drop"
            if self.webhook_duplicate_rate and roll() < self.webhook_duplicate_rate:
                return "duplicate"
        return None

    def clear(self) -> None:
        """Remove every fault and limit (and any scripted fault not yet fired)."""
        with self._lock:
            self.webhook_delay_seconds = 0.0
            self.webhook_drop_rate = self.webhook_duplicate_rate = 0.0
            self._scripted_webhooks.clear()
            self.latency_ms = self.jitter_ms = 0.0
            self.error_rates = {}
            self.reset_rate = self.truncate_rate = self.malformed_rate = 0.0
            self.slow_body_seconds = 0.0
            self.artifact_delay_seconds = 0.0
            self.ambiguous_trigger_rate = 0.0
            self.rate_limit = None
            self._scripted.clear()
            self._cooldown_until = float("-inf")
            self._answered.clear()

    @property
    def pending(self) -> int:
        """How many scripted faults have not fired yet (webhook faults included)."""
        with self._lock:
            return sum(s.remaining for s in self._scripted) + len(self._scripted_webhooks)

    # -- decisions (used by the app) -------------------------------------------------------
    def latency(self) -> float:
        """Seconds to wait before answering."""
        with self._lock:
            extra = self._rng.uniform(0, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return max(0.0, self.latency_ms + extra) / 1000.0

    def rate_limited(self, now: float) -> float | None:
        """Count a request; seconds until the cooldown ends when it must get a 429."""
        limit = self.rate_limit
        if limit is None:
            return None
        with self._lock:
            if now < self._cooldown_until:
                return self._cooldown_until - now
            answered = self._answered
            while answered and answered[0] <= now - limit.per_seconds:
                answered.popleft()
            if len(answered) >= limit.requests:
                # The cooldown starts afresh: the requests before it are forgiven.
                self._cooldown_until = now + limit.cooldown_seconds
                answered.clear()
                return limit.cooldown_seconds
            answered.append(now)
        return None

    def _take(self, method: str, path: str, *, trigger: bool) -> FaultKind | None:
        with self._lock:
            for scripted in self._scripted:
                if scripted.trigger_only != trigger:
                    continue
                if scripted.method is not None and scripted.method != method:
                    continue
                if scripted.path is not None and scripted.path not in path:
                    continue
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    self._scripted.remove(scripted)
                return scripted.kind
        return None

    def before(self, method: str, path: str) -> tuple[FaultKind | None, FaultKind | None]:
        """(a fault replacing the response before handling, a fault for the response after)."""
        scripted = self._take(method, path, trigger=False)
        if scripted is not None:
            if scripted in ("truncate", "malformed"):
                return None, scripted
            return scripted, None
        with self._lock:
            roll = self._rng.random
            if self.reset_rate and roll() < self.reset_rate:
                return "reset", None
            for status, rate in self.error_rates.items():
                if rate and roll() < rate:
                    return status, None
        return None, None

    def after(self, method: str, path: str, *, trigger: bool) -> FaultKind | None:
        """A fault applied to a handled request's response (ambiguous trigger, cut bodies)."""
        if trigger:
            scripted = self._take(method, path, trigger=True)
            if scripted is not None:
                return scripted
        with self._lock:
            roll = self._rng.random
            if trigger and self.ambiguous_trigger_rate and roll() < self.ambiguous_trigger_rate:
                return 502
            if self.truncate_rate and roll() < self.truncate_rate:
                return "truncate"
            if self.malformed_rate and roll() < self.malformed_rate:
                return "malformed"
        return None
