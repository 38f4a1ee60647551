"""Retries: the decision table, Retry-After, back-off, budgets, and the POST no-repeat rule."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from dbt_runs import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncRunsClient,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    Timeout,
    TriggerOutcomeUnknownError,
)
from dbt_runs._retry import Kind, is_ambiguous, parse_retry_after, should_retry

from .fakes import TOKEN, FakeClock, Script, envelope, error_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy()


def status_error(code: int, retry_after: float | None = None) -> APIStatusError:
    from dbt_runs.errors import status_error_class

    error = status_error_class(code)("x", status_code=code, headers={}, content=b"", body=None)
    error.retry_after = retry_after
    return error


@pytest.mark.parametrize(
    ("exc", "idempotent", "creates_run", "ambiguous"),
    [
        (status_error(400), False, False, False),
        (status_error(401), False, False, False),
        (status_error(404), False, False, False),
        (status_error(408), True, False, False),
        (status_error(409), False, False, False),
        (status_error(429), True, True, False),
        (status_error(429, retry_after=30), True, True, False),
        (status_error(429, retry_after=61), False, False, False),
        (status_error(500), True, False, True),
        (status_error(502), True, False, True),
        (status_error(503), True, False, False),
        (status_error(503, retry_after=10), True, False, False),
        (status_error(503, retry_after=600), False, False, False),
        (status_error(504), True, False, True),
        (APIConnectionError("refused", request_sent=False), True, True, False),
        (APITimeoutError("connect", request_sent=False), True, True, False),
        (APITimeoutError("read", request_sent=True), True, False, True),
        (APIConnectionError("reset", request_sent=True), True, False, True),
        (ValueError("not ours"), False, False, False),
    ],
)
def test_decision_table(
    exc: Exception, idempotent: bool, creates_run: bool, ambiguous: bool
) -> None:
    assert should_retry(Kind.IDEMPOTENT, POLICY, exc) is idempotent
    assert should_retry(Kind.CREATES_RUN, POLICY, exc) is creates_run
    assert is_ambiguous(exc) is ambiguous


def test_retry_statuses_are_configurable() -> None:
    policy = RetryPolicy(retry_statuses={502})
    assert should_retry(Kind.IDEMPOTENT, policy, status_error(502))
    assert not should_retry(Kind.IDEMPOTENT, policy, status_error(503))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Thu, 01 Jan 2026 12:00:30", None),  # a date without a zone is not an HTTP date
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


async def test_get_is_retried_on_5xx_with_growing_jittered_backoff(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(
        respond(error_json(503, "busy"), 503),
        respond(b"<html>bad gateway</html>", 502),
        httpx.ReadTimeout("slow"),
        respond(envelope(run_json(1, 10))),
    )
    client = client_for(script)

    raw = await client.with_raw_response.get_run(1)

    assert raw.retries == 3
    assert len(script.requests) == 4
    assert len(clock.sleeps) == 3
    # Full jitter under an exponential bound: 0.5, 1, 2 seconds.
    for sleep, bound in zip(clock.sleeps, (0.5, 1.0, 2.0), strict=True):
        assert 0 <= sleep <= bound


async def test_get_gives_up_after_max_retries_and_says_how_many(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*(respond(error_json(500, "down"), 500) for _ in range(3)))
    client = client_for(script, retry=RetryPolicy(max_retries=2))

    with pytest.raises(InternalServerError) as info:
        await client.get_run(1)

    assert info.value.retries == 2
    assert len(script.requests) == 3


async def test_4xx_is_not_retried(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(respond(error_json(404, "gone"), 404))
    client = client_for(script)
    with pytest.raises(APIStatusError):
        await client.get_run(1)
    assert len(script.requests) == 1
    assert clock.sleeps == []


async def test_retry_after_seconds_is_honoured(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(
        respond(error_json(429, "slow down"), 429, {"Retry-After": "7"}),
        respond(envelope(run_json(1))),
    )
    client = client_for(script)
    await client.get_run(1)
    assert clock.sleeps == [7.0]


async def test_retry_after_on_a_503_is_honoured(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(
        respond(b"<html>maintenance</html>", 503, {"Retry-After": "12"}),
        respond(envelope(run_json(1))),
    )
    client = client_for(script)
    await client.get_run(1)
    assert clock.sleeps == [12.0]


async def test_retry_after_http_date_is_honoured(client_for: ClientFor, clock: FakeClock) -> None:
    # The fake wall clock starts at 2026-01-01 12:00:00 UTC.
    script = Script(
        respond(error_json(503, "later"), 429, {"Retry-After": "Thu, 01 Jan 2026 12:00:20 GMT"}),
        respond(envelope(run_json(1))),
    )
    client = client_for(script)
    await client.get_run(1)
    assert clock.sleeps == [20.0]


async def test_retry_after_beyond_the_cap_raises_instead_of_sleeping(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(respond(error_json(429, "cooldown"), 429, {"Retry-After": "300"}))
    client = client_for(script)

    with pytest.raises(RateLimitError) as info:
        await client.get_run(1)

    assert info.value.retry_after == 300.0
    assert info.value.retries == 0
    assert clock.sleeps == []


async def test_the_cap_is_configurable(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(
        respond(error_json(429, "cooldown"), 429, {"Retry-After": "300"}),
        respond(envelope(run_json(1))),
    )
    # The call's total timeout (120 s by default) would stop a 300 s wait too.
    client = client_for(script, retry=RetryPolicy(max_retry_after=300), timeout=Timeout(total=None))
    await client.get_run(1)
    assert clock.sleeps == [300.0]


async def test_total_timeout_bounds_retries(client_for: ClientFor, clock: FakeClock) -> None:
    script = Script(*(respond(error_json(429, "x"), 429, {"Retry-After": "40"}) for _ in range(5)))
    client = client_for(script, timeout=Timeout(total=100))

    with pytest.raises(RateLimitError):
        await client.get_run(1)

    # Two 40 s waits fit in 100 s; a third would end past the deadline, so the client stops.
    assert clock.sleeps == [40.0, 40.0]
    assert len(script.requests) == 3


async def test_per_call_timeout_overrides_the_default(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*(respond(error_json(429, "x"), 429, {"Retry-After": "40"}) for _ in range(5)))
    client = client_for(script)
    with pytest.raises(RateLimitError):
        await client.get_run(1, timeout=Timeout(total=50))
    assert clock.sleeps == [40.0]


async def test_a_hanging_response_is_cut_by_the_total_timeout(client_for: ClientFor) -> None:
    import asyncio

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return respond(envelope(run_json(1)))

    client = client_for(hang, retry=RetryPolicy.disabled())
    with pytest.raises(APITimeoutError, match="total timeout"):
        await client.get_run(1, timeout=Timeout(total=0.05))


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_trigger_post_is_not_retried_on_server_errors(
    client_for: ClientFor, status: int
) -> None:
    # 500/502/504 are ambiguous (reconciled; here the lookup finds nothing); 408/503 raise.
    script = Script(
        respond(error_json(status, "trouble"), status),
        *[respond(envelope([], pagination={"count": 0, "total_count": 0}))] * 5,
    )
    client = client_for(script)
    with pytest.raises((InternalServerError, APIStatusError, TriggerOutcomeUnknownError)):
        await client.trigger_run(1, cause="once")
    posts = [r for r in script.requests if r.method == "POST"]
    assert len(posts) == 1


async def test_trigger_post_is_retried_when_it_never_left(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        respond(error_json(429, "x"), 429, {"Retry-After": "2"}),
        respond(envelope(run_json(9, 1, trigger={"cause": "once"}))),
    )
    client = client_for(script)

    raw = await client.with_raw_response.trigger_run(1, cause="once")

    assert raw.retries == 3
    assert raw.parse().id == 9
    assert [r.method for r in script.requests] == ["POST"] * 4
    assert clock.sleeps[-1] == 2.0


async def test_cancel_is_retried_like_a_get(client_for: ClientFor) -> None:
    script = Script(respond(error_json(502, "x"), 502), respond(envelope(run_json(3, 30))))
    client = client_for(script)
    run = await client.cancel_run(3)
    assert run.id == 3
    assert len(script.requests) == 2


async def test_retries_are_logged_without_the_token(
    client_for: ClientFor, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(respond(error_json(503, "busy"), 503), respond(envelope(run_json(1))))
    client = client_for(script)
    with caplog.at_level(logging.DEBUG):
        await client.get_run(1)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying GET /accounts/1/runs/1/" in text
    assert TOKEN not in text
    assert "Bearer" not in text


async def test_disabled_policy_sends_once(client_for: ClientFor) -> None:
    script = Script(respond(error_json(503, "busy"), 503))
    client = client_for(script, retry=RetryPolicy.disabled())
    with pytest.raises(InternalServerError) as info:
        await client.get_run(1)
    assert info.value.retries == 0
    assert len(script.requests) == 1


async def test_429_without_retry_after_backs_off_then_raises_rate_limit(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*(respond(error_json(429, "Too many requests"), 429) for _ in range(4)))
    client = client_for(script)
    with pytest.raises(RateLimitError) as info:
        await client.get_run(1)
    assert info.value.retry_after is None
    assert info.value.retries == 3
    assert len(clock.sleeps) == 3
