"""The account's request budget: the pure decisions, table-tested, then the client using them.

The decisions (`reserve`, `fill`, `stretch`, `account_of`) are functions of the policy, the
send times and the clock; the client tests drive them through a fake clock and sleep.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import pytest

from dbt_runs import (
    APITimeoutError,
    AsyncRunsClient,
    ConfigurationError,
    RateBudget,
    RateLimitError,
    RetryPolicy,
    Timeout,
)
from dbt_runs._base import account_of
from dbt_runs._budget import MAX_STRETCH, fill, reserve, stretch

from .fakes import FakeClock, Script, envelope, error_json, respond, run_json

ClientFor = Callable[..., AsyncRunsClient]
NEVER = -math.inf
THREE = RateBudget(requests=3, per=60)


@pytest.mark.parametrize(
    ("sent", "now", "paused_until", "expected"),
    [
        ([], 0.0, NEVER, 0.0),  # an empty window: at once
        ([0.0, 1.0], 2.0, NEVER, 2.0),  # room left: at once
        ([0.0, 1.0, 2.0], 2.0, NEVER, 60.0),  # full: when the oldest leaves the window
        ([5.0, 30.0, 59.0], 61.0, NEVER, 65.0),
        ([0.0, 60.0, 60.0, 60.0], 60.0, NEVER, 120.0),  # only the last `requests` count
        ([0.0, 0.0, 0.0, 60.0, 60.0, 60.0], 10.0, NEVER, 120.0),  # reservations queue up
        ([], 0.0, 30.0, 30.0),  # a cooldown: not before it ends
        ([0.0, 1.0, 2.0], 10.0, 100.0, 100.0),  # the later of the two
        ([0.0, 1.0, 2.0], 10.0, 20.0, 60.0),
        ([0.0], 10.0, 5.0, 10.0),  # a cooldown over is no cooldown
    ],
)
def test_reserve(sent: list[float], now: float, paused_until: float, expected: float) -> None:
    assert reserve(sent, now, paused_until, THREE) == expected


@pytest.mark.parametrize(
    ("sent", "now", "expected"),
    [
        ([], 0.0, 0.0),
        ([0.0], 0.0, 1 / 3),
        ([0.0, 59.0], 60.0, 1 / 3),  # the send at 0 has left the window
        ([0.0, 1.0, 2.0], 2.0, 1.0),
        ([0.0, 1.0, 2.0, 61.0, 61.0], 50.0, 1.0),  # reservations count: never above 1
    ],
)
def test_fill(sent: list[float], now: float, expected: float) -> None:
    assert fill(sent, now, THREE) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("used", "expected"),
    [(0.0, 1.0), (0.5, 1.0), (0.75, 2.0), (0.9, 5.0), (0.95, MAX_STRETCH), (0.99, MAX_STRETCH)],
)
def test_stretch(used: float, expected: float) -> None:
    assert stretch(used) == pytest.approx(expected)


def test_stretch_never_shortens_and_grows_with_the_fill() -> None:
    values = [stretch(i / 100) for i in range(101)]
    assert values == sorted(values)
    assert min(values) == 1.0
    assert max(values) == MAX_STRETCH


@pytest.mark.parametrize(
    ("path", "account"),
    [
        ("/accounts/1/runs/", "1"),
        ("/accounts/70403110257794/runs/7/artifacts/manifest.json", "70403110257794"),
        ("/accounts/12", "12"),
        ("/accounts/", ""),
        ("/runs/1/", ""),
        ("/accounts/1x/runs/", ""),
    ],
)
def test_account_of(path: str, account: str) -> None:
    assert account_of(path) == account


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1000, RateBudget(requests=1000, per=60)),
        (RateBudget(requests=10, per=1), RateBudget(requests=10, per=1)),
    ],
)
def test_a_budget_from_what_the_client_is_given(
    value: RateBudget | int | None, expected: RateBudget | None
) -> None:
    assert RateBudget.of(value) == expected


@pytest.mark.parametrize("bad", [0, -5, True, 2.5, "1000"])
def test_a_bad_budget_is_a_configuration_error(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        RateBudget.of(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("per", [0, -1.0, math.inf, math.nan, True, "60"])
def test_a_bad_window_is_a_configuration_error(per: object) -> None:
    with pytest.raises(ConfigurationError):
        RateBudget(requests=100, per=per)  # type: ignore[arg-type]


def test_the_default_stays_below_dbts_limit() -> None:
    from dbt_runs._budget import DBT_LIMIT_PER_MINUTE

    assert RateBudget().per_minute < DBT_LIMIT_PER_MINUTE
    assert AsyncRunsClient(token="t", account_id=1).rate_limit == RateBudget()
    assert AsyncRunsClient(token="t", account_id=1, rate_limit=None).rate_limit is None


# -- the client ------------------------------------------------------------------------------


def ok(request: httpx.Request) -> httpx.Response:
    return respond(envelope(run_json(int(request.url.path.rstrip("/").split("/")[-1]), 10)))


def too_many(retry_after: str | None) -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return respond(error_json(429, "Too many requests."), 429, headers)


pytestmark = pytest.mark.anyio


async def test_a_full_window_makes_the_next_request_wait(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*([ok] * 8))
    client = client_for(script, rate_limit=THREE)
    for _ in range(5):
        await client.get_run(1)
    # Three at 0 s; the fourth when the first leaves the window; the fifth fits beside it.
    assert clock.sleeps == [60]
    assert len(script.requests) == 5


async def test_no_budget_never_waits(client_for: ClientFor, clock: FakeClock) -> None:
    client = client_for(Script(*([ok] * 10)), rate_limit=None)
    for _ in range(10):
        await client.get_run(1)
    assert clock.sleeps == []


async def test_a_429_pauses_the_accounts_other_calls(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many("5"), ok)
    client = client_for(script, retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError):
        await client.get_run(1)
    # Another call of the account waits out the cooldown, then goes.
    run = await client.get_run(2)
    assert run.id == 2
    assert clock.sleeps == [5]
    assert len(script.requests) == 2


async def test_a_cooldown_too_long_to_wait_refuses_without_sending(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many("300"), ok)
    client = client_for(script)  # max_retry_after 60: the 429 itself is not retried
    with pytest.raises(RateLimitError) as first:
        await client.get_run(1)
    assert first.value.retry_after == 300
    clock.now += 100
    with pytest.raises(RateLimitError, match="not sent: the account is cooling down") as refused:
        await client.get_run(2)
    assert refused.value.retry_after == pytest.approx(200)
    assert refused.value.body == first.value.body  # dbt's own 429, as received
    assert refused.value.retries == 0
    assert len(script.requests) == 1
    clock.now += 200
    assert (await client.get_run(2)).id == 2


async def test_a_cooldown_past_the_calls_deadline_refuses(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many("30"), ok)
    client = client_for(script, retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError):
        await client.get_run(1)
    with pytest.raises(RateLimitError):
        await client.get_run(2, timeout=Timeout(total=10))
    assert len(script.requests) == 1
    assert clock.sleeps == []


async def test_only_the_account_that_got_the_429_pauses(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many("300"), ok)
    client = client_for(script)
    with pytest.raises(RateLimitError):
        await client.get_run(1)
    assert (await client.get_run(2, account_id=2)).id == 2
    assert clock.sleeps == []


async def test_without_a_budget_a_429_pauses_only_its_own_call(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many("300"), ok)
    client = client_for(script, rate_limit=None)
    with pytest.raises(RateLimitError):
        await client.get_run(1)
    assert (await client.get_run(2)).id == 2
    assert len(script.requests) == 2


async def test_a_429_without_retry_after_pauses_nobody_else(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(too_many(None), ok)
    client = client_for(script, retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError):
        await client.get_run(1)
    assert (await client.get_run(2)).id == 2
    assert clock.sleeps == []


async def test_the_call_that_got_the_429_waits_once(
    client_for: ClientFor, clock: FakeClock
) -> None:
    # Its retry sleeps Retry-After (the retry policy); the budget adds no second wait.
    script = Script(too_many("5"), ok)
    client = client_for(script)
    assert (await client.get_run(1)).id == 1
    assert clock.sleeps == [5]


async def test_no_room_before_the_deadline_is_a_timeout_not_a_long_sleep(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(*([ok] * 3))
    client = client_for(script, rate_limit=THREE, retry=RetryPolicy.disabled())
    for _ in range(3):
        await client.get_run(1)
    with pytest.raises(APITimeoutError) as info:
        await client.get_run(1, timeout=Timeout(total=30))
    assert not info.value.request_sent
    assert clock.sleeps == []


async def test_pace_grows_as_the_budget_fills(client_for: ClientFor) -> None:
    client = client_for(Script(*([ok] * 8)), rate_limit=RateBudget(requests=10, per=60))
    requester = client._requester
    assert requester.pace(1) == 1.0
    for _ in range(8):
        await client.get_run(1)
    assert requester.pace(1) == pytest.approx(2.5)  # 80 % spent
    assert requester.pace(2) == 1.0  # another account's budget is untouched
