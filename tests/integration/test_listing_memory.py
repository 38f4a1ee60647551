"""Iterating a long listing holds memory for the window, not for the runs iterated (issue 15).

Against the emulator in its own process (`dbt-runs emulator`), over a real socket: the
emulator's own allocations stay out of tracemalloc's count, and httpx reads a real stream
(its ASGI transport would buffer every body in-process).
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbt_runs import AsyncRunsClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TOKEN = "dbtc_listing_memory_token"
SMALL, LARGE = 5_000, 40_000


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    script = Path(sys.executable).parent / "dbt-runs"
    args = ["emulator", "--port", "0", "--runs", str(LARGE), "--token", TOKEN]
    proc = subprocess.Popen(
        [str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "dbt Cloud emulator listening on http://.../api/v2"
        assert "listening on " in line, line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


async def _peak(client: AsyncRunsClient, max_items: int | None) -> tuple[int, int]:
    """tracemalloc's peak (bytes) iterating up to `max_items` runs, keeping none; and the
    count."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        count = 0
        async for _ in client.list_runs(max_items=max_items):
            count += 1
        return tracemalloc.get_traced_memory()[1] - base, count
    finally:
        tracemalloc.stop()


async def test_iterating_eight_times_more_runs_does_not_raise_the_peak(base_url: str) -> None:
    async with AsyncRunsClient(token=TOKEN, base_url=base_url, account_id=1) as client:
        async for _ in client.list_runs(max_items=200):  # connections and first calls
            pass
        small, small_count = await _peak(client, SMALL)
        large, large_count = await _peak(client, None)
    assert (small_count, large_count) == (SMALL, LARGE)
    # Before the fix, every response's body stayed on httpx's response until the cyclic
    # collector freed it, and the peak went up with the runs iterated (6.5 MiB for 10,000
    # runs, 9.6 MiB for 50,000). Now it is the window's pages whatever the count.
    assert large <= small * 1.2, f"peak {large / 2**20:.2f} MiB vs {small / 2**20:.2f} MiB"
