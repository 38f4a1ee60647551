"""An upstream or proxy that echoes the request's Authorization header back: the token must
not reach a REST answer, an MCP tool result, or anything the SDK raises."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

import mcp
from dbt_runs import AsyncRunsClient, RetryPolicy
from dbt_runs.expose.mcp import create_server
from dbt_runs.expose.rest import create_app

pytestmark = pytest.mark.anyio

TOKEN = "dbtc_echoed_SECRET_b1e2c3"


def echoing(status: int, *, html: bool) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        seen = request.headers["authorization"]
        if html:
            page = f"<html><title>{status} from proxy</title><p>you sent {seen}</p></html>"
            return httpx.Response(status, content=page.encode(), headers={"x-echo": seen})
        body = {
            "status": {"code": status, "is_success": False, "user_message": f"bad {seen}"},
            "data": {"authorization": seen},
        }
        return httpx.Response(status, json=body, headers={"x-echo": seen, "retry-after": "1"})

    return answer


CASES = [(400, False), (401, False), (404, False), (429, False), (502, True), (500, True)]


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}{'-html' if c[1] else ''}")
async def client(request: pytest.FixtureRequest) -> AsyncIterator[AsyncRunsClient]:
    status, html = request.param
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(echoing(status, html=html))) as http,
        AsyncRunsClient(
            token=TOKEN,
            base_url="https://dbt.test/api/v2",
            account_id=1,
            http_client=http,
            retry=RetryPolicy.disabled(),
        ) as bound,
    ):
        yield bound


async def test_rest_answers_never_carry_the_token(client: AsyncRunsClient) -> None:
    app = create_app(client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        answers = [
            await http.get("/v1/accounts/1/runs/5"),
            await http.get("/v1/accounts/1/runs?limit=1"),
            await http.post("/v1/accounts/1/jobs/1/run", json={"cause": "x"}),
            await http.get("/v1/accounts/1/runs/5/artifacts/run_results.json"),
        ]
    for answer in answers:
        assert answer.status_code >= 400
        assert TOKEN not in answer.text
        assert TOKEN not in json.dumps(dict(answer.headers))


async def test_mcp_results_never_carry_the_token(client: AsyncRunsClient) -> None:
    async with mcp.Client(create_server(client)) as session:
        results = [
            await session.call_tool("get-run", {"runId": 5}),
            await session.call_tool("list-runs", {}),
            await session.call_tool("trigger-job-run", {"jobId": 1}),
            await session.call_tool("get-run-artifact", {"runId": 5, "path": "a.json"}),
        ]
    for result in results:
        assert result.is_error
        assert TOKEN not in result.model_dump_json()
