"""The account's request budget: dbt Cloud's 5,000 requests a minute, shared by every call.

dbt Cloud allows 5,000 Admin API requests per minute per account and answers the next one
with 429 and a five-minute cooldown. One client can get there: a thousand waits, a listing's
window of concurrent pages, an adapter's callers. `RateBudget` keeps a client below the limit
on its own side, per account:

- a request goes out when fewer than `requests` were sent in the last `per` seconds, else it
  waits for the oldest of them to leave that window (`reserve`);
- waits lengthen their poll interval as the window fills (`fill`, `stretch`), so that
  polling gives way long before any call has to wait;
- a 429's `Retry-After` pauses every call of the account until it has passed, not just the
  call that got it (`Ledger.cool_down`).

Why a log of send times and not a token bucket: dbt states its limit as a count per minute,
and a log of the last `requests` send times is the one structure that guarantees at most
that many in every `per`-second window, whatever window dbt counts in, without slowing
anything that stays under it. A token bucket must trade a burst (which, added to its refill,
breaks that guarantee) against a pace that slows harmless bursts, such as a listing's ten
concurrent pages. anyio's `CapacityLimiter` bounds concurrency, not rate; a rate-limiting
library would be a new core dependency and would not take the client's injected clock and
sleep, nor the shared cooldown. The log costs one float per request of the last minute.

Every decision is a pure function of the policy, the log and the time, so it is table-tested.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from typing import Final

import attrs

from dbt_runs.errors import ConfigurationError, RateLimitError

__all__ = [
    "DBT_LIMIT_PER_MINUTE",
    "DEFAULT_RATE_BUDGET",
    "Ledger",
    "RateBudget",
    "fill",
    "reserve",
    "stretch",
]

DBT_LIMIT_PER_MINUTE: Final = 5000
"""dbt Cloud's documented Admin API limit, per account."""

STRETCH_FROM: Final = 0.5
"""The share of the budget used beyond which waits lengthen their poll interval."""
MAX_STRETCH: Final = 10.0
"""The most a wait's poll interval is lengthened by (a full budget)."""


def _positive_int(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"RateBudget.{attribute.name} must be an integer >= 1")


def _positive(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigurationError(f"RateBudget.{attribute.name} must be a positive number")


def _seconds(value: object) -> object:
    # An int is a number of seconds too; anything else is left for the validator to refuse.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


@attrs.frozen
class RateBudget:
    """How many requests a client sends to one account: at most `requests` in any `per`
    seconds, shared by every call of the client.

    The default, 4,500 a minute, stays a tenth below dbt Cloud's 5,000 per account. The
    budget is the client's: several processes on one account share dbt's limit, so give
    each a part of it (`AsyncRunsClient(rate_limit=2000)`).

    Attributes:
        requests: Requests allowed in any window of `per` seconds.
        per: The window, in seconds.

    Example:
        >>> AsyncRunsClient(rate_limit=RateBudget(requests=1000, per=60))
        >>> AsyncRunsClient(rate_limit=1000)   # the same: requests per minute
        >>> AsyncRunsClient(rate_limit=None)   # no budget (nor shared cooldown)
    """

    requests: int = attrs.field(default=4500, validator=_positive_int)
    per: float = attrs.field(default=60.0, converter=_seconds, validator=_positive)

    @classmethod
    def of(cls, value: RateBudget | int | None) -> RateBudget | None:
        """`value` as a budget: a `RateBudget`, a number of requests per minute, or None."""
        if value is None or isinstance(value, RateBudget):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(
                f"rate_limit must be a RateBudget, a number of requests per minute or None, "
                f"got {value!r}"
            )
        return cls(requests=value)

    @property
    def per_minute(self) -> float:
        """The budget as requests per minute."""
        return self.requests * 60.0 / self.per


DEFAULT_RATE_BUDGET: Final = RateBudget()


def reserve(sent: Sequence[float], now: float, paused_until: float, budget: RateBudget) -> float:
    """When the next request may be sent: now, or when the oldest of the last `requests`
    leaves the window, and never before a cooldown ends.

    `sent` holds the send times (past, or reserved in the future) in order.

    Example:
        >>> reserve([0.0, 1.0], 2.0, -math.inf, RateBudget(requests=2, per=60))
        60.0
    """
    start = max(now, paused_until)
    if len(sent) >= budget.requests:
        start = max(start, sent[-budget.requests] + budget.per)
    return start


def fill(sent: Sequence[float], now: float, budget: RateBudget) -> float:
    """The share of the budget spent, 0 to 1: requests sent (or reserved) within the last
    `per` seconds, over `requests`. `sent` is in order, so this is a bisection: waits ask
    before every poll."""
    count = len(sent) - bisect.bisect_right(sent, now - budget.per)
    return min(1.0, count / budget.requests)


def stretch(used: float) -> float:
    """How many times its poll interval a wait waits, with the budget `used` (0 to 1) spent.

    1 up to half the budget; then the interval grows as the room left shrinks (twice at
    three quarters, five times at nine tenths), up to `MAX_STRETCH`. A thousand waits that
    would poll at 6,000 requests a minute settle near 3,300 instead of meeting the limit.
    """
    if used <= STRETCH_FROM:
        return 1.0
    if used >= 1.0:
        return MAX_STRETCH
    return min(MAX_STRETCH, STRETCH_FROM / (1.0 - used))


class Ledger:
    """One account's record: when its recent requests were sent, and any cooldown."""

    __slots__ = ("cause", "paused_until", "sent")

    def __init__(self) -> None:
        self.sent: deque[float] = deque()
        self.paused_until = -math.inf
        #: The 429 that started the cooldown (its body and headers are what dbt sent).
        self.cause: RateLimitError | None = None

    def forget_before(self, horizon: float) -> None:
        """Drop the send times at or before `horizon`: they no longer count."""
        sent = self.sent
        while sent and sent[0] <= horizon:
            sent.popleft()

    def cool_down(self, until: float, cause: RateLimitError) -> None:
        """Pause every request of the account until `until` (a later cooldown wins)."""
        if until > self.paused_until:
            self.paused_until = until
            self.cause = cause

    def refusal(self, left: float) -> RateLimitError:
        """The error for a call that cannot wait out the cooldown's `left` seconds: dbt's
        429 that started it, with the time left as `retry_after`. Nothing was sent."""
        cause = self.cause
        error = RateLimitError(
            f"not sent: the account is cooling down for {left:.0f} s more after dbt Cloud's "
            "429 to another request",
            status_code=429,
            headers=cause.headers if cause is not None else {},
            content=cause.content if cause is not None else b"",
            body=cause.body if cause is not None else None,
        )
        error.retry_after = left
        return error
