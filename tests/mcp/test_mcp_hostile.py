"""Well-formed but hostile JSON over MCP's HTTP transport: a clear error, never a 500."""

from __future__ import annotations

import httpx
import pytest

from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import create_app
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "arguments",
    [
        '{"runId": ' + NESTED + "}",
        '{"jobId": 1, "cause": "lone \\ud800 surrogate"}',
        '{"jobId": 1, "cause": ' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}",
    ],
)
async def test_hostile_json_is_a_parse_or_argument_error_and_reaches_nothing(
    emulator: Emulator, client: AsyncRunsClient, arguments: str
) -> None:
    app = create_app(client)
    body = (
        '{"jsonrpc":"2.0","id":7,"method":"tools/call",'
        '"params":{"name":"trigger-job-run","arguments":' + arguments + "}}"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        response = await http.post("/mcp", content=body, headers=HEADERS)
    assert response.status_code in (200, 400), response.text
    answer = response.json()
    if response.status_code == 400:
        assert answer["error"]["code"] == -32700  # JSON-RPC parse error, with where it failed
    else:
        assert answer["result"]["isError"] is True
        assert "Invalid arguments" in answer["result"]["content"][0]["text"]
    assert emulator.requests == []
