"""Retries: a small frozen `RetryPolicy` outside, tenacity inside.

Every decision is a pure function of the policy, the kind of operation and the exception, so
the rules can be table-tested: see `should_retry`, `is_ambiguous` and `parse_retry_after`.

Two kinds of operation:

- `Kind.IDEMPOTENT` (every GET, and cancel): retried on 408, 429, 5xx and transport errors.
- `Kind.CREATES_RUN` (trigger and retry POSTs): retried only when the request cannot have
  reached dbt (a connect-phase failure) or when dbt refused it with 429. Any other failure
  is never retried; if it is ambiguous (`is_ambiguous`) the client reconciles instead.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import attrs
import tenacity
from tenacity.wait import wait_random_exponential

from dbt_runs.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    ConfigurationError,
    RateLimitError,
)

__all__ = ["Kind", "RetryPolicy", "is_ambiguous", "parse_retry_after", "should_retry"]

logger = logging.getLogger("dbt_runs")

# Statuses after which a POST may still have created the run (the gateway gave up waiting,
# or dbt failed while or after handling it). 503 and 429 say the request was not taken.
AMBIGUOUS_STATUSES: Final = frozenset({500, 502, 504})


class Kind(enum.Enum):
    """How an operation may be retried."""

    IDEMPOTENT = "idempotent"
    CREATES_RUN = "creates_run"


def _non_negative_int(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be an integer >= 0")


def _positive(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"RetryPolicy.{attribute.name} must be a positive number")


@attrs.frozen
class RetryPolicy:
    """When and how the client retries a failed request.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        initial_backoff: The first back-off in seconds; it doubles with each retry, with
            full jitter (a random wait between 0 and the exponential bound).
        max_backoff: The largest back-off between two attempts, in seconds.
        max_retry_after: The longest `Retry-After` the client will sleep for. A 429 asking
            for longer raises `RateLimitError` (with `retry_after`) instead of sleeping.
        retry_statuses: The statuses retried for GETs and cancel.

    Example:
        >>> RetryPolicy(max_retries=5, max_retry_after=300)  # wait out dbt's 5-minute cooldown
        >>> RetryPolicy.disabled()
    """

    max_retries: int = attrs.field(default=3, validator=_non_negative_int)
    initial_backoff: float = attrs.field(default=0.5, validator=_positive)
    max_backoff: float = attrs.field(default=8.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    retry_statuses: frozenset[int] = attrs.field(
        default=frozenset({408, 429, 500, 502, 503, 504}), converter=frozenset
    )

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date.

    Returns None for a missing or unreadable value; a date in the past gives 0.

    Example:
        >>> parse_retry_after("120", now)
        120.0
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now)  # seconds until then
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def should_retry(kind: Kind, policy: RetryPolicy, exc: BaseException) -> bool:
    """Whether a failed attempt may be sent again (the attempt budget is checked elsewhere)."""
    if isinstance(exc, APIStatusError) and (
        exc.retry_after is not None and exc.retry_after > policy.max_retry_after
    ):
        # Sleeping that long inside a call helps nobody: hand the wait to the caller.
        return False
    if isinstance(exc, RateLimitError):
        return 429 in policy.retry_statuses or kind is Kind.CREATES_RUN
    if isinstance(exc, APIStatusError):
        return kind is Kind.IDEMPOTENT and exc.status_code in policy.retry_statuses
    if isinstance(exc, APIConnectionError):
        return kind is Kind.IDEMPOTENT or not exc.request_sent
    return False


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed run-creating POST may still have created the run.

    A 2xx answer that cannot be read did create it.
    """
    if isinstance(exc, APIResponseValidationError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code in AMBIGUOUS_STATUSES
    if isinstance(exc, APIConnectionError):
        return exc.request_sent
    return False


class _Wait(tenacity.wait.wait_base):
    """Honour `Retry-After` when dbt sent one; otherwise exponential back-off with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._fallback = wait_random_exponential(
            multiplier=policy.initial_backoff, max=policy.max_backoff
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._fallback(retry_state))


class _Stop(tenacity.stop.stop_base):
    """Stop when the attempts are spent, or when the next sleep would pass the deadline."""

    def __init__(
        self, policy: RetryPolicy, deadline: float | None, clock: Callable[[], float]
    ) -> None:
        self._max_attempts = policy.max_retries + 1
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number >= self._max_attempts:
            return True
        if self._deadline is None:
            return False
        return self._clock() + retry_state.upcoming_sleep >= self._deadline


def _log_retry(method: str, path: str) -> Callable[[tenacity.RetryCallState], None]:
    def log(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        # The path and the error's message only: never headers, never the token.
        logger.info(
            "retrying %s %s in %.2fs (retry %d): %s",
            method,
            path,
            retry_state.upcoming_sleep,
            retry_state.attempt_number,
            exc,
        )

    return log


def retrying(
    *,
    kind: Kind,
    policy: RetryPolicy,
    deadline: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[Any]],
    method: str,
    path: str,
) -> tenacity.AsyncRetrying:
    """The tenacity controller for one call."""
    return tenacity.AsyncRetrying(
        sleep=sleep,
        stop=_Stop(policy, deadline, clock),
        wait=_Wait(policy),
        retry=tenacity.retry_if_exception(lambda exc: should_retry(kind, policy, exc)),
        before_sleep=_log_retry(method, path),
        reraise=True,
    )
