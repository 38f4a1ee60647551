"""The emulator's rate limit: per account, a sliding window, dbt's 429 and its cooldown.

dbt documents 5,000 requests per minute per account and a five-minute cooldown; the 429's
body and headers are not documented (reference section 9), so the emulator sends dbt's error
envelope and `Retry-After`, as a client has to expect.
"""

from __future__ import annotations

import httpx
import pytest
from emulator_support import API

from dbt_runs.testing import Emulator, ManualClock, RateLimit

pytestmark = pytest.mark.anyio


async def codes(http: httpx.AsyncClient, count: int, path: str = f"{API}/jobs/1/") -> list[int]:
    return [(await http.get(path)).status_code for _ in range(count)]


async def test_the_429_is_dbts_envelope_with_retry_after(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.rate_limit = RateLimit(requests=2, per_seconds=60, cooldown_seconds=300)
    assert await codes(http, 2) == [200, 200]
    limited = await http.get(f"{API}/runs/")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "300"
    assert limited.headers["content-type"] == "application/json"
    assert limited.json() == {
        "status": {
            "code": 429,
            "is_success": False,
            "user_message": "Too many requests. Please try again later.",
            "developer_message": None,
        },
        "data": None,
    }
    assert [r.outcome for r in emulator.requests[-3:]] == [200, 200, 429]


async def test_requests_for_another_account_are_not_counted(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.rate_limit = RateLimit(requests=2, per_seconds=60, cooldown_seconds=300)
    # Another account's requests (dbt answers them 403) spend that account's budget.
    assert await codes(http, 5, "/api/v2/accounts/2/jobs/1/") == [403] * 5
    assert await codes(http, 3) == [200, 200, 429]
    # ...and during this account's cooldown another account is not cooling down.
    assert await codes(http, 1, "/api/v2/accounts/2/jobs/1/") == [403]


async def test_the_window_slides(http: httpx.AsyncClient, emulator: Emulator) -> None:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    emulator.faults.rate_limit = RateLimit(requests=3, per_seconds=10, cooldown_seconds=5)
    assert await codes(http, 1) == [200]
    clock.advance(9)
    assert await codes(http, 2) == [200, 200]
    clock.advance(1)
    # A window fixed at the first request would start afresh now and allow three more; in
    # the last 10 seconds two were answered, so only one more may pass.
    assert await codes(http, 2) == [200, 429]


async def test_retry_after_is_rounded_up_and_the_cooldown_ends_on_time(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    emulator.faults.rate_limit = RateLimit(requests=1, per_seconds=60, cooldown_seconds=300)
    assert await codes(http, 2) == [200, 429]
    clock.advance(100.5)
    during = await http.get(f"{API}/jobs/1/")
    assert during.status_code == 429
    # 199.5 s are left: "199" would send a client back half a second too early.
    assert during.headers["retry-after"] == "200"
    clock.advance(199.4)
    assert await codes(http, 1) == [429]  # refused requests never extend the cooldown
    clock.advance(0.1)
    assert await codes(http, 2) == [200, 429]  # a fresh window after the cooldown


async def test_without_a_limit_nothing_is_refused(http: httpx.AsyncClient) -> None:
    assert set(await codes(http, 50)) == {200}


def test_a_limit_needs_sensible_numbers() -> None:
    for bad in ({"requests": 0}, {"per_seconds": 0}, {"cooldown_seconds": -1}):
        with pytest.raises(ValueError, match="RateLimit needs"):
            RateLimit(**bad)


async def test_an_sdk_client_sees_the_cooldown_as_rate_limit_error() -> None:
    from dbt_runs import RateLimitError

    emulator = Emulator(runs=5)
    emulator.faults.rate_limit = RateLimit(requests=1, per_seconds=60, cooldown_seconds=300)
    async with emulator.client() as client:
        await client.get_job(1)
        with pytest.raises(RateLimitError) as info:
            await client.get_job(1)
    assert info.value.retry_after == 300
