"""The first operations end to end against a scripted dbt: requests sent, results parsed."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from dbt_runs import AsyncRunsClient, Run, RunPage, RunStatus

from .fakes import TOKEN, Script, envelope, page_json, respond, run_json

pytestmark = pytest.mark.anyio

ClientFor = Callable[..., AsyncRunsClient]


async def test_get_run_sends_bearer_token_trailing_slash_and_parses(client_for: ClientFor) -> None:
    script = Script(respond(envelope(run_json(5, 10))))
    client = client_for(script)

    run = await client.get_run(5, include_related=["trigger", "run_steps"])

    assert isinstance(run, Run)
    assert run.id == 5
    assert run.status is RunStatus.SUCCESS
    assert run.raw["id"] == 5
    request = script.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/api/v2/accounts/1/runs/5/"
    assert request.url.params["include_related"] == "trigger,run_steps"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("dbt-runs/")


async def test_list_runs_awaits_first_page_and_iterates_all(client_for: ClientFor) -> None:
    pages = [
        respond(page_json([run_json(1), run_json(2)], total=5, offset=0, limit=2)),
        respond(page_json([run_json(3), run_json(4)], total=5, offset=2, limit=2)),
        respond(page_json([run_json(5)], total=5, offset=4, limit=2)),
    ]
    script = Script(*pages)
    client = client_for(script)
    pager = client.list_runs(limit=2)

    first = await pager
    ids = [run.id async for run in pager]

    assert isinstance(first, RunPage)
    assert (first.total_count, first.next_offset) == (5, 2)
    assert ids == [1, 2, 3, 4, 5]
    # The first page is fetched once and reused by the iteration.
    assert [r.url.params["offset"] for r in script.requests] == ["0", "2", "4"]


async def test_trigger_run_posts_only_the_fields_given(client_for: ClientFor) -> None:
    script = Script(respond(envelope(run_json(9, 1, trigger={"cause": "nightly"}))))
    client = client_for(script)

    run = await client.trigger_run(1, cause="nightly", git_branch="main", threads_override=4)

    assert run.trigger is not None
    assert run.trigger.cause == "nightly"
    request = script.requests[0]
    assert request.url.path == "/api/v2/accounts/1/jobs/1/run/"
    sent = json.loads(request.content)
    assert sent.pop("cause").startswith("nightly [dbt-runs:")
    assert sent == {
        "git_branch": "main",
        "threads_override": 4,
    }


async def test_list_run_artifacts_maps_null_to_empty_list(client_for: ClientFor) -> None:
    client = client_for(Script(respond(envelope(None)), respond(envelope(["manifest.json"]))))

    assert await client.list_run_artifacts(5) == []
    assert await client.list_run_artifacts(5) == ["manifest.json"]


async def test_raw_response_keeps_dbt_bytes(client_for: ClientFor) -> None:
    body = json.dumps(envelope(run_json(5, 3)), indent=3).encode()
    client = client_for(Script(respond(body, headers={"x-request-id": "abc"})))

    raw = await client.with_raw_response.get_run(5)

    assert raw.status_code == 200
    assert raw.content == body
    assert raw.headers["X-Request-Id"] == "abc"
    assert raw.json()["data"]["id"] == 5
    assert raw.parse().status is RunStatus.RUNNING
    assert raw.parse() is raw.parse()


async def test_same_host_redirects_are_followed_with_the_token(client_for: ClientFor) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/runs/5/"):
            return httpx.Response(301, headers={"location": "/api/v2/accounts/1/runs/6/"})
        return respond(envelope(run_json(6)))

    recorded: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        recorded.append(request)
        return handler(request)

    client = client_for(recording)
    run = await client.get_run(5)
    assert run.id == 6
    assert recorded[1].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_redirect_to_another_host_drops_the_token(client_for: ClientFor) -> None:
    recorded: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        recorded.append(request)
        if request.url.host == "dbt.test":
            return httpx.Response(302, headers={"location": "https://elsewhere.test/x"})
        return respond(envelope(run_json(6)))

    client = client_for(handler)
    await client.get_run(5)
    assert "authorization" not in recorded[1].headers
