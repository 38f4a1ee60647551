"""Sending one operation's request: the deadline, the one retry driver, the account's request
budget, status -> exception.

`Requester` is what the client sends through. It owns the policy that decides how long a call
may take and what may be sent again; it knows nothing of runs. Requests and artifact streams
go through the same driver (`Requester.drive`): one attempt on the hot path, then tenacity
(`_retry.retrying`) once an attempt has failed in a way the policy retries. Every attempt
first passes the account's request budget (`_budget`): it may wait for room in the window, or
for a cooldown another call's 429 started, and a 429 it gets pauses the account's other calls.

No exception raised here carries a credential: the token is removed from every error text and
body, and transport errors are raised without a chained cause (httpx's exception holds the
request, whose headers hold the token).
"""

# `timeout=` is a per-call `Timeout`, applied with asyncio.timeout; ruff's ASYNC109 assumes a
# parameter that callers should replace with it.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from dbt_runs._budget import Ledger, RateBudget, fill, reserve, stretch
from dbt_runs._config import Timeout
from dbt_runs._http import HttpResponse, HttpStream, HttpTransport
from dbt_runs._retry import Kind, RetryPolicy, parse_retry_after, retrying, should_retry
from dbt_runs.errors import (
    APIError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    decode_error_body,
    error_message,
    status_error_class,
)

__all__ = ["JSON", "Redactor", "Requester"]

logger = logging.getLogger("dbt_runs")

R = TypeVar("R")

JSON: Final = "application/json"
_MASK: Final = "***"
#: Every dbt v2 path starts with its account: dbt's limit, and so the budget, is per account.
_ACCOUNT_PATH: Final = re.compile(r"^/accounts/(\d+)(?:/|$)")


def account_of(path: str) -> str:
    """The account a request path names (`/accounts/1/runs/` -> `"1"`), or `""`."""
    found = _ACCOUNT_PATH.match(path)
    return found.group(1) if found is not None else ""


class Redactor:
    """Removes a secret's value from text and bytes (error messages, echoed bodies)."""

    __slots__ = ("_secret", "_secret_bytes")

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._secret_bytes = secret.encode("utf-8", errors="ignore")

    def text(self, value: str) -> str:
        """`value` without the secret."""
        return value.replace(self._secret, _MASK) if self._secret in value else value

    def content(self, value: bytes) -> bytes:
        """`value` without the secret."""
        if self._secret_bytes and self._secret_bytes in value:
            return value.replace(self._secret_bytes, _MASK.encode())
        return value

    def headers(self, value: Mapping[str, str]) -> Mapping[str, str]:
        """`value` itself, or a copy (lower-case names) without the secret if it holds it."""
        if not any(self._secret in item for item in value.values()):
            return value
        return {name.lower(): self.text(item) for name, item in value.items()}

    def __repr__(self) -> str:
        return "Redactor('***')"


class Requester:
    """Sends requests for the client: deadlines, retries and error mapping.

    Args:
        http: The transport (the one module that touches httpx).
        retry: When to send a failed request again.
        redactor: Removes the API token from anything an exception carries.
        clock: A monotonic clock in seconds.
        sleep: The async sleep between retries.
        wall_clock: The current UTC time (for `Retry-After` dates).
        budget: The request budget each account's calls share (None: none, and a 429
            pauses only the call that got it).
    """

    def __init__(
        self,
        *,
        http: HttpTransport,
        retry: RetryPolicy,
        redactor: Redactor,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        wall_clock: Callable[[], datetime],
        budget: RateBudget | None = None,
    ) -> None:
        self.http = http
        self.retry = retry
        self.redactor = redactor
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.budget = budget
        self._ledgers: dict[str, Ledger] = {}

    def deadline(self, timeout: Timeout) -> float | None:
        """The monotonic time by which a call with `timeout` must end (None: never)."""
        return None if timeout.total is None else self.clock() + timeout.total

    def remaining(self, deadline: float | None) -> float | None:
        """Seconds left before `deadline` (None: no deadline)."""
        return None if deadline is None else deadline - self.clock()

    # -- the account's request budget ----------------------------------------------------------

    def pace(self, account_id: int) -> float:
        """How many times their poll interval waits on `account_id` should wait now: 1 while
        under half the budget is spent, more as it fills (`_budget.stretch`)."""
        budget = self.budget
        ledger = self._ledgers.get(str(account_id))
        if budget is None or ledger is None:
            return 1.0
        return stretch(fill(ledger.sent, self.clock(), budget))

    def cooldown(self, account_id: int) -> float:
        """Seconds left in the account's cooldown after a 429 (0: none)."""
        ledger = self._ledgers.get(str(account_id))
        return 0.0 if ledger is None else max(0.0, ledger.paused_until - self.clock())

    async def _admit(self, path: str, deadline: float | None) -> None:
        """Wait until the budget lets a request for `path` go, and count it.

        Raises:
            RateLimitError: The account is cooling down after a 429 for longer than the retry
                policy's `max_retry_after`, or than the call has left. Nothing is sent.
            APITimeoutError: The budget has no room before the call's deadline.
        """
        budget = self.budget
        if budget is None:
            return
        key = account_of(path)
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = self._ledgers[key] = Ledger()
        now = self.clock()
        ledger.forget_before(now - budget.per)
        left = ledger.paused_until - now
        if left > 0 and (
            left > self.retry.max_retry_after or (deadline is not None and now + left >= deadline)
        ):
            raise ledger.refusal(left)
        send_at = reserve(ledger.sent, now, ledger.paused_until, budget)
        if deadline is not None and send_at >= deadline:
            raise APITimeoutError(
                "the call's total timeout would run out while it waits for room in the "
                f"account's request budget ({budget.requests} per {budget.per:g} s)",
                request_sent=False,
            )
        ledger.sent.append(send_at)
        if send_at > now:
            if left <= 0:
                logger.debug("request budget full: %s waits %.2fs", path, send_at - now)
            await self.sleep(send_at - now)

    def _cool_down(self, path: str, error: RateLimitError) -> None:
        """Pause the account's other calls for the `Retry-After` dbt sent with a 429."""
        if self.budget is None or error.retry_after is None:
            return
        ledger = self._ledgers.setdefault(account_of(path), Ledger())
        ledger.cool_down(self.clock() + error.retry_after, error)
        logger.warning(
            "dbt Cloud answered 429: every call of this account waits %.0fs (Retry-After)",
            error.retry_after,
        )

    # -- the one retry driver ------------------------------------------------------------------

    async def drive(
        self,
        attempt: Callable[[], Awaitable[R]],
        *,
        kind: Kind,
        deadline: float | None,
        method: str,
        path: str,
    ) -> tuple[R, int]:
        """Run `attempt` until it succeeds or the policy stops; the result and the retries.

        The failed attempts' count is set on the `APIError` that ends the call (`retries`).
        """
        attempts = 0

        async def counted() -> R:
            nonlocal attempts
            await self._admit(path, deadline)
            attempts += 1
            try:
                return await attempt()
            except RateLimitError as exc:
                self._cool_down(path, exc)
                raise

        try:
            try:
                # The hot path: one attempt, no retry machinery built unless it fails.
                return await counted(), 0
            except APIError as first_error:
                if self.retry.max_retries == 0 or not should_retry(kind, self.retry, first_error):
                    raise
                failed: APIError = first_error
            replayed = False

            async def replay_then_attempt() -> R:
                # Tenacity sees the attempt that already failed as its first one.
                nonlocal replayed
                if not replayed:
                    replayed = True
                    raise failed
                return await counted()

            controller = retrying(
                kind=kind,
                policy=self.retry,
                deadline=deadline,
                clock=self.clock,
                sleep=self.sleep,
                method=method,
                path=path,
            )
            result: R = await controller(replay_then_attempt)
            return result, max(0, attempts - 1)
        except APIError as exc:
            exc.retries = max(0, attempts - 1)
            raise

    # -- requests ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: Kind,
        params: Mapping[str, str | int] | None,
        body: Any,
        timeout: Timeout,
        deadline: float | None,
        accept: str = JSON,
    ) -> tuple[HttpResponse, int]:
        """Send with retries; the response (2xx) and the number of retries taken."""

        async def attempt() -> HttpResponse:
            response = await self._bounded(
                self.http.request(
                    method, path, params=params, json=body, timeout=timeout, accept=accept
                ),
                timeout,
                deadline,
            )
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s -> %d", method, path, response.status_code)
            if response.status_code >= 400:
                raise self.status_error(response, response.content)
            return response

        return await self.drive(attempt, kind=kind, deadline=deadline, method=method, path=path)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        timeout: Timeout,
    ) -> AsyncIterator[tuple[HttpStream, int]]:
        """Open a GET whose body stays on the wire; opening is retried like any GET.

        A failure after the first byte is not retried: the caller has started consuming.
        """
        deadline = self.deadline(timeout)

        async def attempt() -> tuple[HttpStream, contextlib.AsyncExitStack]:
            stack = contextlib.AsyncExitStack()
            try:
                opened = await self._bounded(
                    stack.enter_async_context(
                        self.http.stream("GET", path, params=params, timeout=timeout)
                    ),
                    timeout,
                    deadline,
                )
                if opened.status_code >= 400:
                    content = await opened.read()
                    raise self.status_error(opened, content)
            except BaseException:
                await stack.aclose()
                raise
            return opened, stack

        (opened, stack), retries = await self.drive(
            attempt, kind=Kind.IDEMPOTENT, deadline=deadline, method="GET", path=path
        )
        async with stack:
            yield opened, retries

    async def _bounded(self, call: Awaitable[R], timeout: Timeout, deadline: float | None) -> R:
        """Await one attempt within what is left of the call's total timeout."""
        remaining = self.remaining(deadline)
        if remaining is None:
            return await call
        if remaining <= 0:
            if asyncio.iscoroutine(call):
                call.close()
            raise APITimeoutError(
                f"the call ran out of its total timeout of {timeout.total} s", request_sent=False
            )
        expired = False
        scope = asyncio.timeout(remaining)
        try:
            async with scope:
                return await call
        except TimeoutError:
            if not scope.expired():
                raise
            expired = True
        # Raised outside the except block, so that it chains to nothing.
        assert expired
        raise APITimeoutError(
            f"the call took longer than its total timeout of {timeout.total} s", request_sent=True
        )

    def status_error(self, response: HttpResponse | HttpStream, content: bytes) -> APIStatusError:
        """The exception for an error response, with the token removed from all it carries.

        A proxy that echoes the request's headers into its error page would otherwise put
        the token into messages, logs and the bodies the adapters pass on.
        """
        content = self.redactor.content(content)
        body = decode_error_body(content)
        cls = status_error_class(response.status_code)
        message = self.redactor.text(
            error_message(response.status_code, response.reason, body, content)
        )
        error = cls(
            message,
            status_code=response.status_code,
            headers=self.redactor.headers(response.headers),
            content=content,
            body=body,
        )
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            error.retry_after = parse_retry_after(retry_after, self.wall_clock())
        return error
