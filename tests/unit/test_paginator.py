"""`RunPaginator` on its own: when requests go out relative to the decoding of pages."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest

from dbt_runs.models import Run, RunPage
from dbt_runs.pagination import PageResponse, RunPaginator

pytestmark = pytest.mark.anyio

TOTAL = 100
LIMIT = 10


class Received:
    """A page as it arrived: decoding it is logged."""

    def __init__(self, offset: int, log: list[str]) -> None:
        self.offset = offset
        self.log = log

    def parse(self) -> RunPage:
        self.log.append(f"decode {self.offset}")
        ids = range(self.offset + 1, min(self.offset + LIMIT, TOTAL) + 1)
        return RunPage(
            items=tuple(Run(id=i) for i in ids),
            total_count=TOTAL,
            count=len(ids),
            offset=self.offset,
            limit=LIMIT,
        )


def pager_with_log(window: int) -> tuple[RunPaginator, list[str]]:
    log: list[str] = []

    async def arrive(offset: int) -> PageResponse:
        return Received(offset, log)

    def fetch(offset: int, limit: int) -> Coroutine[Any, Any, PageResponse]:
        # Logged when the request is started, not when its task first runs.
        log.append(f"request {offset}")
        return arrive(offset)

    return RunPaginator(fetch, offset=0, limit=LIMIT, max_items=None, window=window), log


@pytest.mark.parametrize("window", [1, 2, 4])
async def test_the_next_request_goes_out_before_a_page_is_decoded(window: int) -> None:
    pager, log = pager_with_log(window)

    ids = [run.id async for run in pager]

    assert ids == list(range(1, TOTAL + 1))
    refilled = range(LIMIT, TOTAL - window * LIMIT, LIMIT)
    assert len(refilled) >= 4
    for offset in refilled:
        # The request that refills the window is out before this page costs any CPU.
        assert log.index(f"request {offset + window * LIMIT}") < log.index(f"decode {offset}")


@pytest.mark.parametrize("window", [2, 4])
async def test_the_refill_request_is_on_its_way_before_a_page_already_received_is_decoded(
    window: int,
) -> None:
    # Every page has arrived by the time the consumer asks for it, as when decoding is
    # slower than the network: the request queued for the freed slot must still start (its
    # task run, as far as its first wait for the network) before this page is decoded.
    log: list[str] = []

    async def send(offset: int) -> PageResponse:
        log.append(f"sent {offset}")
        return Received(offset, log)

    pager = RunPaginator(
        lambda offset, limit: send(offset), offset=0, limit=LIMIT, max_items=None, window=window
    )

    assert len([run async for run in pager]) == TOTAL
    for offset in range(LIMIT, TOTAL - window * LIMIT, LIMIT):
        assert log.index(f"sent {offset + window * LIMIT}") < log.index(f"decode {offset}")


async def test_each_page_is_decoded_once() -> None:
    pager, log = pager_with_log(3)
    [run async for run in pager]
    decodes = [entry for entry in log if entry.startswith("decode")]
    assert decodes == [f"decode {offset}" for offset in range(0, TOTAL, LIMIT)]


@pytest.mark.parametrize("how", ["pages", "runs"])
async def test_stopping_early_cancels_the_pages_already_requested(how: str) -> None:
    import asyncio

    started: list[int] = []
    cancelled: list[int] = []
    never = asyncio.Event()

    async def fetch(offset: int, limit: int) -> PageResponse:
        if offset in (0, 10):
            return Received(offset, [])
        started.append(offset)
        try:
            await never.wait()  # a page that would take forever to arrive
        except asyncio.CancelledError:
            cancelled.append(offset)
            raise
        raise AssertionError("unreachable")

    pager = RunPaginator(fetch, offset=0, limit=LIMIT, max_items=None, window=4)
    stream: Any = pager.pages() if how == "pages" else aiter(pager)
    for _ in range(2 if how == "pages" else 11):
        await anext(stream)  # up to the first item of the second page
    for _ in range(3):
        await asyncio.sleep(0)  # the window's other requests start
    assert started == [20, 30, 40, 50]
    # Closing the iteration (what `break` does, once the generator is collected) must not
    # wait for pages nobody will read: without the cancellation this never returns.
    await asyncio.wait_for(stream.aclose(), timeout=5)
    assert sorted(cancelled) == started


def _peak_bytes_listing(total: int, window: int) -> tuple[int, int]:
    """Iterate a listing of `total` runs whose pages are made on demand; (runs, peak bytes)."""
    import asyncio
    import tracemalloc

    class Arrived:
        def __init__(self, offset: int, limit: int) -> None:
            self.offset, self.limit = offset, limit

        def parse(self) -> RunPage:
            ids = range(self.offset + 1, min(self.offset + self.limit, total) + 1)
            return RunPage(
                items=tuple(Run(id=i, raw={"id": i, "cause": "x" * 200}) for i in ids),
                total_count=total,
                offset=self.offset,
                limit=self.limit,
            )

    async def fetch(offset: int, limit: int) -> PageResponse:
        return Arrived(offset, limit)

    async def iterate() -> int:
        pager = RunPaginator(fetch, offset=0, limit=100, max_items=None, window=window)
        count = 0
        async for _ in pager:
            count += 1
        return count

    tracemalloc.start()
    try:
        count = asyncio.run(iterate())
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_iterating_holds_memory_for_the_window_not_the_whole_listing() -> None:
    small, small_peak = _peak_bytes_listing(20_000, window=4)
    large, large_peak = _peak_bytes_listing(200_000, window=4)
    assert (small, large) == (20_000, 200_000)
    # Ten times the runs, about the same memory: nothing grows with the listing (remembering
    # every id to skip duplicates would add some 10 MiB here).
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
