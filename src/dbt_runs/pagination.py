"""`RunPaginator` and `JobPaginator`: what `list_runs(...)` and `list_jobs(...)` return.

`await` it for the first page, `async for` over it for every run, or walk `.pages()`.
Once the first page gives dbt's `total_count`, later pages are fetched concurrently, at most
`window` requests at a time, and still yielded in order. Memory holds the `window` pages
waiting as received (undecoded), the page being handed over, decoded, and the first page,
whatever the number of runs iterated.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Final, Generic, Protocol, TypeVar, cast

import attrs

from dbt_runs._raw import take_raw_mode
from dbt_runs.models import Job, JobPage, Page, Run, RunPage

__all__ = ["JobPaginator", "Paginator", "RunPaginator"]

T = TypeVar("T")

DEDUPLICATED_PAGES: Final = 2
"""Beyond the window, how many pages' ids iteration remembers to skip a run seen twice."""
PageT = TypeVar("PageT", bound=Page[Any])
PageT_co = TypeVar("PageT_co", bound=Page[Any], covariant=True)


class PageResponse(Protocol[PageT_co]):
    """A page as received, decoded on demand (`RawResponse[RunPage]` is one)."""

    def parse(self) -> PageT_co:
        """Decode the page."""
        ...


FetchPage = Callable[[int, int], Awaitable[PageResponse[PageT]]]


class Paginator(Generic[T, PageT]):
    """The items matching a listing's filter, fetched lazily, page by page.

    Example:
        >>> pager = client.list_runs(job_definition_id=1, status="error")
        >>> first = await pager                  # one request: RunPage
        >>> first.total_count, first.next_offset
        (230, 100)
        >>> async for run in pager:              # every run, in order
        ...     print(run.id, run.status)
        >>> async for page in pager.pages():     # page by page
        ...     print(len(page), page.next_offset)

    Runs listed while new runs are being created can shift between pages; a run seen twice
    is yielded once, as long as it moved by fewer runs than `window + 2` pages hold (the ids
    of older pages are forgotten, so that iterating holds memory for the window only). The
    first page is fetched once per paginator and reused.

    Args:
        fetch: Fetches the page at `(offset, limit)`, undecoded: pages are decoded as they are
            handed over, so decoding one never holds up the requests for the next ones.
        offset: Where the listing starts.
        limit: Runs per request (dbt allows at most 100).
        max_items: Stop after this many runs (None: all of them).
        window: How many page requests may be in flight at once (1: one at a time).
    """

    def __init__(
        self,
        fetch: FetchPage[PageT],
        *,
        offset: int,
        limit: int,
        max_items: int | None,
        window: int,
    ) -> None:
        self._fetch = fetch
        self._offset = offset
        self._limit = limit
        self._max_items = max_items
        self._window = window
        self._first: PageT | None = None

    @property
    def max_items(self) -> int | None:
        """The most runs iteration will yield (None: no bound)."""
        return self._max_items

    @property
    def window(self) -> int:
        """How many page requests may be in flight at once."""
        return self._window

    @property
    def limit(self) -> int:
        """Items asked for per request."""
        return self._limit

    def __await__(self) -> Generator[Any, None, PageT]:
        return self._first_or_raw().__await__()

    async def _first_or_raw(self) -> PageT:
        if take_raw_mode():
            # `client.with_raw_response.list_runs(...)`: the first page as received.
            raw: Any = await self._fetch(self._offset, self._limit)
            return cast(PageT, raw)
        return await self.first_page()

    async def first_page(self) -> PageT:
        """The first page (fetched on first use, then reused)."""
        if self._first is None:
            self._first = (await self._fetch(self._offset, self._limit)).parse()
        return self._first

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def to_list(self) -> list[T]:
        """Every item (up to `max_items`) in a list: convenient, but holds them all in memory."""
        return [item async for item in self]

    async def _items(self) -> AsyncIterator[T]:
        # The ids of the last few pages only: a run that moved while the listing went on
        # shows up again a few places later, and remembering every id would hold memory in
        # proportion to the whole listing instead of the window.
        seen: set[Any] = set()
        remembered: collections.deque[list[Any]] = collections.deque()
        pages = self.pages()
        try:
            async for page in pages:
                ids = []
                for item in page.items:
                    key = getattr(item, "id", None)
                    if key is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                        ids.append(key)
                    yield item
                # Let the page go before the next is awaited: it is decoded meanwhile, and
                # holding this one too would put two decoded pages in memory instead of one.
                del page
                remembered.append(ids)
                if len(remembered) > self._window + DEDUPLICATED_PAGES:
                    seen.difference_update(remembered.popleft())
        finally:
            await pages.aclose()

    async def pages(self) -> AsyncGenerator[PageT, None]:
        """Every page in order; the last one is cut to respect `max_items`."""
        budget = self._max_items
        if budget == 0:
            return
        first = await self.first_page()
        yield self._cut(first, budget)
        step = len(first.items)
        if budget is not None:
            budget -= step
            if budget <= 0:
                return
        if first.next_offset is None or step == 0:
            return
        end = first.total_count if first.total_count is not None else first.next_offset + step
        if budget is not None:
            end = min(end, first.next_offset + budget)
        offsets = iter(range(first.next_offset, end, step))
        pending: collections.deque[asyncio.Future[PageResponse[PageT]]] = collections.deque()

        def top_up() -> bool:
            added = False
            while len(pending) < self._window:
                offset = next(offsets, None)
                if offset is None:
                    break
                pending.append(asyncio.ensure_future(self._fetch(offset, step)))
                added = True
            return added

        next_offset: int | None = first.next_offset
        try:
            top_up()
            while pending:
                received = await pending.popleft()
                # Send the next request before decoding this page and handing it over, so the
                # window stays full while the CPU works on it. A new task only starts when
                # the loop runs, and awaiting a page that has already arrived does not yield
                # to it: without this, the requests queued while the consumer works through
                # pages already received would all leave together, a window's decoding late.
                if top_up():
                    await asyncio.sleep(0)
                page = received.parse()
                del received  # the body as received: the page no longer needs it
                yield self._cut(page, budget)
                # Only the page's position outlives the hand-over: the page itself is freed
                # while the next one is awaited and decoded, not held alongside it.
                next_offset, size = page.next_offset, len(page.items)
                del page
                if budget is not None:
                    budget -= size
                    if budget <= 0:
                        return
                if not size:
                    return
            # Runs created while listing can grow the total past the planned pages.
            while next_offset is not None:
                page = (await self._fetch(next_offset, step)).parse()
                yield self._cut(page, budget)
                next_offset, size = page.next_offset, len(page.items)
                del page
                if budget is not None:
                    budget -= size
                    if budget <= 0:
                        return
                if not size:
                    return
        finally:
            for future in pending:
                future.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    @staticmethod
    def _cut(page: PageT, budget: int | None) -> PageT:
        if budget is None or len(page.items) <= budget:
            return page
        return attrs.evolve(page, items=page.items[:budget])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(offset={self._offset}, limit={self._limit}, "
            f"max_items={self._max_items}, window={self._window})"
        )


class RunPaginator(Paginator[Run, RunPage]):
    """The runs matching a `list_runs` filter, fetched lazily, page by page.

    See `Paginator`: `await` it for the first `RunPage`, `async for` it for every `Run`.
    """


class JobPaginator(Paginator[Job, JobPage]):
    """The jobs matching a `list_jobs` filter, fetched lazily, page by page.

    See `Paginator`: `await` it for the first `JobPage`, `async for` it for every `Job`.
    """
