"""list_runs: filter encoding, validation, and concurrent pagination that stays in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    AuthenticationError,
    InternalServerError,
    InvalidArgumentError,
    RetryPolicy,
    RunStatus,
)

from .fakes import Script, envelope, error_json, page_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]


def params_of(script: Script) -> dict[str, str]:
    return dict(script.requests[-1].url.params)


def one_page() -> httpx.Response:
    return respond(page_json([run_json(1)], total=1, offset=0, limit=100))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"limit": "100", "offset": "0"}),
        ({"job_definition_id": 5}, {"job_definition_id": "5"}),
        ({"environment_id": 6}, {"environment_id": "6"}),
        ({"project_id": 7}, {"project_id": "7"}),
        ({"project_id": [7, 8]}, {"project_id__in": "[7,8]"}),
        ({"status": RunStatus.ERROR}, {"status": "20"}),
        ({"status": 10}, {"status": "10"}),
        ({"status": 10.0}, {"status": "10"}),  # JSON's 10.0 (an MCP client's, say) is 10
        ({"status": "cancelled"}, {"status": "30"}),
        ({"status": [RunStatus.QUEUED, "running", 2]}, {"status__in": "[1,3,2]"}),
        ({"order_by": "-id"}, {"order_by": "-id"}),
        ({"order_by": "finished_at"}, {"order_by": "finished_at"}),
        ({"include_related": ["trigger", "job"]}, {"include_related": "trigger,job"}),
        ({"include_related": "job"}, {"include_related": "job"}),
        ({"limit": 25, "offset": 50}, {"limit": "25", "offset": "50"}),
        (
            {
                "created_after": datetime(2024, 1, 1, tzinfo=UTC),
                "created_before": datetime(2024, 1, 2, tzinfo=UTC),
            },
            {"created_at__range": '["2024-01-01T00:00:00+00:00","2024-01-02T00:00:00+00:00"]'},
        ),
        (
            {"finished_after": datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=2)))},
            {"finished_at__range": '["2024-01-01T03:00:00+02:00","9999-12-31T00:00:00+00:00"]'},
        ),
        (
            {"created_before": datetime(2024, 1, 1)},  # naive: taken as UTC
            {"created_at__range": '["1970-01-01T00:00:00+00:00","2024-01-01T00:00:00+00:00"]'},
        ),
    ],
)
async def test_filter_encoding(
    client_for: ClientFor, kwargs: dict[str, Any], expected: dict[str, str]
) -> None:
    script = Script(one_page())
    client = client_for(script)
    await client.list_runs(**kwargs)
    sent = params_of(script)
    for key, value in expected.items():
        assert sent[key] == value
    assert script.requests[0].url.path == "/api/v2/accounts/1/runs/"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"limit": 101}, "limit must be between 1 and 100, got 101 (dbt Cloud refuses"),
        ({"limit": 0}, "limit must be between 1 and 100"),
        ({"offset": -1}, "offset must be >= 0"),
        ({"status": "done"}, "unknown run status 'done'"),
        ({"status": 40}, "unknown run status 40"),
        ({"status": []}, "at least one status"),
        ({"order_by": "name"}, "order_by must be one of"),
        ({"include_related": ["run_steps"]}, "include_related has an unknown value 'run_steps'"),
        ({"project_id": []}, "at least one id"),
        ({"project_id": "7"}, "project_id must be an id or a list of ids"),
        ({"job_definition_id": 0}, "job_definition_id must be a positive 64-bit integer"),
        ({"created_after": "2024-01-01"}, "created_after needs a time zone"),
        (
            {
                "created_after": datetime(2024, 1, 2, tzinfo=UTC),
                "created_before": datetime(2024, 1, 1, tzinfo=UTC),
            },
            "created_after must not be later than created_before",
        ),
        ({"max_items": -1}, "max_items must be >= 0"),
        ({"page_window": 0}, "page_window must be a positive"),
    ],
)
async def test_bad_list_arguments_fail_before_sending(
    client_for: ClientFor, kwargs: dict[str, Any], needle: str
) -> None:
    script = Script()
    client = client_for(script)
    with pytest.raises(InvalidArgumentError) as info:
        client.list_runs(**kwargs)
    assert needle in str(info.value)
    assert script.requests == []


def paged_dbt(
    total: int, *, delay: float = 0.0, log: list[str] | None = None
) -> Callable[[httpx.Request], Any]:
    """A dbt that serves `total` runs (ids 1..total) by offset, tracking concurrency."""
    state = {"in_flight": 0, "peak": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        if log is not None:
            log.append(f"start {offset}")
        try:
            await asyncio.sleep(delay * (1 + (offset // limit) % 3))  # uneven latencies
        finally:
            state["in_flight"] -= 1
        if log is not None:
            log.append(f"end {offset}")
        runs = [run_json(i) for i in range(offset + 1, min(offset + limit, total) + 1)]
        return respond(page_json(runs, total=total, offset=offset, limit=limit))

    handler.state = state  # type: ignore[attr-defined]
    return handler


async def test_iteration_fetches_pages_concurrently_within_the_window_in_order(
    client_for: ClientFor,
) -> None:
    handler = paged_dbt(95, delay=0.002)
    client = client_for(handler, page_window=3)

    ids = [run.id async for run in client.list_runs(limit=10)]

    assert ids == list(range(1, 96))
    assert handler.state["peak"] == 3  # type: ignore[attr-defined]


async def test_window_of_one_is_sequential(client_for: ClientFor) -> None:
    handler = paged_dbt(45, delay=0.001)
    client = client_for(handler)
    ids = [run.id async for run in client.list_runs(limit=10, page_window=1)]
    assert ids == list(range(1, 46))
    assert handler.state["peak"] == 1  # type: ignore[attr-defined]


async def test_max_items_bounds_runs_and_requests(client_for: ClientFor) -> None:
    log: list[str] = []
    handler = paged_dbt(1000, log=log)
    client = client_for(handler, page_window=4)

    ids = [run.id async for run in client.list_runs(limit=10, max_items=25)]

    assert ids == list(range(1, 26))
    assert sorted(entry for entry in log if entry.startswith("start")) == [
        "start 0",
        "start 10",
        "start 20",
    ]


async def test_pages_view(client_for: ClientFor) -> None:
    client = client_for(paged_dbt(25))
    pages = [page async for page in client.list_runs(limit=10).pages()]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [p.offset for p in pages] == [0, 10, 20]
    assert [p.next_offset for p in pages] == [10, 20, None]
    assert all(p.total_count == 25 for p in pages)


async def test_offset_starts_the_listing(client_for: ClientFor) -> None:
    client = client_for(paged_dbt(30))
    pager = client.list_runs(limit=10, offset=15)
    first = await pager
    assert first.offset == 15
    assert [run.id async for run in pager] == list(range(16, 31))


async def test_breaking_early_cancels_prefetched_pages(client_for: ClientFor) -> None:
    handler = paged_dbt(1000, delay=0.01)
    client = client_for(handler, page_window=4)
    pager = client.list_runs(limit=10)
    seen = []
    async for run in pager:
        seen.append(run.id)
        if len(seen) == 15:
            break
    await asyncio.sleep(0)
    assert seen == list(range(1, 16))


async def test_a_failed_page_stops_the_iteration_with_its_error(client_for: ClientFor) -> None:
    inner = paged_dbt(50)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "20":
            return respond(error_json(401, "Invalid token."), 401)
        response: httpx.Response = await inner(request)
        return response

    client = client_for(handler, page_window=3)
    seen: list[int] = []

    async def consume() -> None:
        async for run in client.list_runs(limit=10):
            seen.append(run.id)

    with pytest.raises(AuthenticationError, match="Invalid token"):
        await consume()
    assert seen == list(range(1, 21))


async def test_a_total_that_grows_while_listing_is_followed(client_for: ClientFor) -> None:
    totals = iter([20, 30, 30])

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        total = next(totals)
        runs = [run_json(i) for i in range(offset + 1, min(offset + 10, total) + 1)]
        return respond(page_json(runs, total=total, offset=offset, limit=10))

    client = client_for(handler, page_window=2)
    assert [run.id async for run in client.list_runs(limit=10)] == list(range(1, 31))


async def test_a_run_that_shifts_between_pages_is_yielded_once(client_for: ClientFor) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        # A new run pushed everything down by one between the two requests.
        ids = [1, 2, 3] if offset == 0 else [3, 4, 5]
        return respond(page_json([run_json(i) for i in ids], total=6, offset=offset, limit=3))

    client = client_for(handler)
    assert [run.id async for run in client.list_runs(limit=3)] == [1, 2, 3, 4, 5]


async def test_list_without_pagination_extra_still_works(client_for: ClientFor) -> None:
    script = Script(
        respond(envelope([run_json(1), run_json(2)])),
        respond(envelope([run_json(3)])),
    )
    client = client_for(script)
    pager = client.list_runs(limit=2)
    first = await pager
    assert first.total_count is None
    assert [run.id async for run in pager] == [1, 2, 3]


async def test_raw_list_runs_returns_one_page_with_dbts_bytes(client_for: ClientFor) -> None:
    body = page_json([run_json(1)], total=40, offset=0, limit=1)
    client = client_for(Script(respond(body)))
    raw = await client.with_raw_response.list_runs(limit=1, status="success")
    assert json.loads(raw.content) == body
    page = raw.parse()
    assert page.total_count == 40
    assert page.next_offset == 1
    assert page.raw == body


async def test_to_list(client_for: ClientFor) -> None:
    client = client_for(paged_dbt(12))
    runs = await client.list_runs(limit=5).to_list()
    assert [r.id for r in runs] == list(range(1, 13))


async def test_a_page_error_is_retried_like_any_get(client_for: ClientFor) -> None:
    script = Script(respond(error_json(503, "x"), 503), respond(error_json(503, "x"), 503))
    client = client_for(script, retry=RetryPolicy(max_retries=1))
    with pytest.raises(InternalServerError):
        await client.list_runs()
    assert len(script.requests) == 2
