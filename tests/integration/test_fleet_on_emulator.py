"""250 waits against the emulator: shared polls, the account's limit, its 429 and cooldown.

The client's time is the emulator's manual clock, moved by a `Timeline`: only once every
wait is waiting, to the earliest wake-up, so that 250 sleepers do not move it 250 times.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dbt_runs import RateBudget, RunStatus
from dbt_runs.testing import Emulator, ManualClock, RateLimit
from unit.fakes import Timeline

pytestmark = pytest.mark.anyio
WAITS = 250


async def wait_for_all(emulator: Emulator, *, share: bool, budget: RateBudget | None) -> None:
    """Trigger `WAITS` runs of about 80 s and await them with independent `wait_for_run`s."""
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    timeline = Timeline(drives=clock)
    job = emulator.add_job("Fleet", job_type="ci", step_seconds=60)
    ids = [emulator.trigger_run(job, cause=f"fleet {i}") for i in range(WAITS)]
    emulator.clear_requests()
    async with emulator.client(
        clock=timeline,
        sleep=timeline.sleep,
        wall_clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        rate_limit=budget,
    ) as client:
        client._share_waits = share
        try:
            runs = await asyncio.gather(*(client.wait_for_run(i, poll_interval=10) for i in ids))
        finally:
            await timeline.aclose()
    assert [run.id for run in runs] == ids
    assert {run.status for run in runs} == {RunStatus.SUCCESS}


def outcomes(emulator: Emulator) -> list[int | str]:
    return [record.outcome for record in emulator.requests]


async def test_independent_waits_share_their_polls() -> None:
    emulator = Emulator(runs=0)
    await wait_for_all(emulator, share=True, budget=RateBudget())
    listed = [r for r in emulator.requests if r.path.endswith("/runs/")]
    # About 80 s at a 10 s interval: nine polls, each three lists (100 + 100 + 50 runs).
    assert 3 * 8 <= len(listed) <= 3 * 10
    assert len(emulator.requests) == len(listed)


async def test_without_sharing_each_wait_polls_its_own_run() -> None:
    emulator = Emulator(runs=0)
    await wait_for_all(emulator, share=False, budget=RateBudget())
    assert len(emulator.requests) >= WAITS * 8
    assert not [r for r in emulator.requests if r.path.endswith("/runs/")]


async def test_shared_polls_stay_under_a_limit_that_independent_ones_break() -> None:
    limit = RateLimit(requests=500, per_seconds=60, cooldown_seconds=300)
    shared = Emulator(runs=0, faults=None)
    shared.faults.rate_limit = limit
    await wait_for_all(shared, share=True, budget=None)
    assert 429 not in outcomes(shared)

    alone = Emulator(runs=0)
    alone.faults.rate_limit = limit
    await wait_for_all(alone, share=False, budget=None)
    # 1,500 requests a minute: dbt's 429 and cooldown. Each wait outlived the cooldown, but
    # without a budget every one of them drew its own 429.
    assert outcomes(alone).count(429) >= WAITS


async def test_the_cooldown_is_shared_so_dbt_sees_one_429() -> None:
    emulator = Emulator(runs=0)
    emulator.faults.rate_limit = RateLimit(requests=500, per_seconds=60, cooldown_seconds=300)
    # No sharing, and a budget above the emulator's limit: the limit is met, once.
    await wait_for_all(emulator, share=False, budget=RateBudget(requests=4500))
    assert outcomes(emulator).count(429) == 1
