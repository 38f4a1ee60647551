"""The MCP server over real Streamable HTTP (uvicorn on a loopback ephemeral port).

Covers the SDK's own client (both the 2026 per-request protocol and the legacy initialize
handshake), the bare JSON-RPC POSTs the Naftiko runtime sends, progress notifications on the
wire, the bearer token and the Host/Origin checks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import yaml
from mcp.client.streamable_http import streamable_http_client
from mcp_testing import DBT_TOKEN, serve_http, text_of
from starlette.applications import Starlette
from starlette.routing import Mount

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import SEED_TOOLS, WRITE_TOOLS, create_app
from dbt_runs.testing import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ALL_TOOLS = {
    *SEED_TOOLS,
    "get-run-artifact",
    "wait-for-run",
    "get-run-errors",
    "cancel-run",
    "retry-run",
    "rerun-job",
    "list-jobs",
}
SERVER_TOKEN = "mcp-inbound-token-for-tests"


def rpc(method: str, params: dict[str, Any] | None = None, id_: int = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return message


@pytest.fixture
async def url(client: AsyncRunsClient) -> AsyncIterator[str]:
    async with serve_http(create_app(client)) as base:
        yield base


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as raw:
        yield raw


# -- the SDK's client -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_client_lists_and_calls_tools(
    url: str, emulator: Emulator, client: AsyncRunsClient, mode: str
) -> None:
    run_id = emulator.runs()[-1].id
    async with mcp.Client(f"{url}/mcp", mode=mode, read_timeout_seconds=10) as session:
        listed = await session.list_tools()
        result = await session.call_tool("get-run", {"runId": run_id})
    assert {tool.name for tool in listed.tools} == ALL_TOOLS
    assert not result.is_error
    direct = await client.with_raw_response.get_run(run_id)
    assert result.structured_content == direct.json()
    assert DBT_TOKEN not in text_of(result)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_wait_for_run_progress_reaches_the_client_over_http(
    url: str, emulator: Emulator, mode: str
) -> None:
    run_id = emulator.trigger_run(emulator.job_ids[0])
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with mcp.Client(f"{url}/mcp", mode=mode, read_timeout_seconds=10) as session:
        result = await session.call_tool(
            "wait-for-run",
            {"runId": run_id, "timeout_seconds": 3600},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert result.structured_content["wait"]["outcome"] == "success"
    assert len(progress) == result.structured_content["wait"]["polls"] >= 3
    assert all(message and message.startswith(f"run {run_id}: ") for message in progress)


# -- bare JSON-RPC, as the Naftiko runtime's clients send it -------------------------------


SDK_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(
    ("meta", "streamed"),
    [(None, False), ({}, False), ({"progressToken": 7}, True), ({"progressToken": "p"}, True)],
)
async def test_a_client_that_accepts_a_stream_gets_one_only_when_it_asked_for_progress(
    http: httpx.AsyncClient, emulator: Emulator, meta: dict[str, Any] | None, streamed: bool
) -> None:
    # Nothing comes before a call's result unless it asked for progress: plain JSON then
    # costs the server less than a stream, and every client takes either form.
    run_id = emulator.runs()[-1].id
    params: dict[str, Any] = {"name": "get-run", "arguments": {"runId": run_id}}
    if meta is not None:
        params["_meta"] = meta
    called = await http.post(
        "/mcp", content=json.dumps(rpc("tools/call", params)), headers=SDK_HEADERS
    )
    assert called.status_code == 200
    kind = called.headers["content-type"]
    if streamed:
        assert kind.startswith("text/event-stream")
        data = [line[5:] for line in called.text.splitlines() if line.startswith("data:")]
        answer = json.loads(data[-1])
    else:
        assert kind.startswith("application/json")
        answer = called.json()
    assert answer["id"] == 1
    assert answer["result"]["structuredContent"]["data"]["id"] == run_id


@pytest.mark.parametrize(
    ("body", "stream"),
    [
        (b"not json", True),
        (b"[1]", True),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": 3}', True),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"_meta": 5}}', True),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}', False),
        (b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', False),
    ],
)
def test_what_the_sdk_must_judge_keeps_the_stream(body: bytes, stream: bool) -> None:
    from dbt_runs.expose.mcp._transport import _may_notify

    assert _may_notify(body) is stream


@pytest.mark.parametrize("path", ["/", "/mcp"])
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},  # curl -H 'Content-Type: ...' -d ... (Accept */*)
        {"Content-Type": "application/json", "Accept": "application/json"},
        {},  # nothing at all
    ],
)
async def test_a_bare_post_without_initialize_calls_a_tool(
    http: httpx.AsyncClient, emulator: Emulator, path: str, headers: dict[str, str]
) -> None:
    run_id = emulator.runs()[-1].id
    listed = await http.post(path, content=json.dumps(rpc("tools/list")), headers=headers)
    assert listed.status_code == 200
    assert {tool["name"] for tool in listed.json()["result"]["tools"]} == ALL_TOOLS
    called = await http.post(
        path,
        content=json.dumps(rpc("tools/call", {"name": "get-run", "arguments": {"runId": run_id}})),
        headers=headers,
    )
    assert called.status_code == 200
    assert called.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in called.headers
    result = called.json()["result"]
    assert result["isError"] is False
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert result["structuredContent"]["data"]["id"] == run_id


def seed_tools() -> list[dict[str, Any]]:
    text = (
        resources.files("dbt_runs")
        .joinpath("_spec/cloud-administrative-runs.yaml")
        .read_text(encoding="utf-8")
    )
    (expose,) = [e for e in yaml.safe_load(text)["capability"]["exposes"] if e["type"] == "mcp"]
    tools: list[dict[str, Any]] = expose["tools"]
    return tools


@pytest.mark.parametrize("seed_tool", seed_tools(), ids=lambda tool: tool["name"])
async def test_each_seed_tool_answers_a_naftiko_style_call(
    http: httpx.AsyncClient, emulator: Emulator, seed_tool: dict[str, Any]
) -> None:
    """What the Naftiko runtime's CI does: POST tools/call to the root with the tool's `with`
    arguments, fail on isError, parse content[0].text as JSON and assert on it."""
    run_id = emulator.trigger_run(emulator.job_ids[0])
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    values = {"accountId": emulator.account_id, "jobId": emulator.job_ids[0], "runId": run_id}
    arguments = {name: values[name] for name in seed_tool["with"]}
    answer = await http.post(
        "/",
        content=json.dumps(rpc("tools/call", {"name": seed_tool["name"], "arguments": arguments})),
        headers={"Content-Type": "application/json"},
    )
    result = answer.json()["result"]
    assert result.get("isError", False) is False
    body = json.loads(result["content"][0]["text"])
    assert body["status"]["is_success"] is True
    assert body == result["structuredContent"]


async def test_a_bare_post_gets_dbts_error_as_a_tool_error(http: httpx.AsyncClient) -> None:
    called = await http.post(
        "/", json=rpc("tools/call", {"name": "get-run", "arguments": {"runId": 999_999_999}})
    )
    result = called.json()["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("dbt Cloud answered HTTP 404")


async def test_a_notification_is_accepted_with_202(http: httpx.AsyncClient) -> None:
    answer = await http.post("/", json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert answer.status_code == 202


async def test_a_malformed_body_is_a_json_rpc_parse_error(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/mcp", content=b'{"jsonrpc": "2.0", "id": 1,', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == -32700


async def test_an_unknown_method_is_a_json_rpc_error(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp", json=rpc("tools/frobnicate"))
    assert answer.json()["error"]["code"] == -32601


@pytest.mark.parametrize(("method", "status"), [("GET", 405), ("DELETE", 405), ("PUT", 405)])
async def test_only_post_is_served(http: httpx.AsyncClient, method: str, status: int) -> None:
    answer = await http.request(method, "/mcp")
    assert answer.status_code == status
    assert answer.headers["allow"] == "POST"


async def test_other_paths_are_404(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/tools", json=rpc("tools/list"))
    assert answer.status_code == 404
    assert "/mcp" in answer.json()["error"]


# -- the inbound guard ------------------------------------------------------------------------


@pytest.fixture
async def guarded_url(client: AsyncRunsClient) -> AsyncIterator[str]:
    async with serve_http(create_app(client, server_token=SERVER_TOKEN)) as base:
        yield base


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", SERVER_TOKEN, f"Basic {SERVER_TOKEN}"]
)
async def test_the_server_token_is_required(guarded_url: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(base_url=guarded_url) as raw:
        answer = await raw.post("/mcp", json=rpc("tools/list"), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["status"]["user_message"].startswith("Missing or invalid bearer token")
    assert SERVER_TOKEN not in answer.text


@pytest.mark.parametrize("scheme", ["Bearer", "Token"])
async def test_the_right_token_is_let_in(guarded_url: str, scheme: str) -> None:
    async with httpx.AsyncClient(base_url=guarded_url) as raw:
        answer = await raw.post(
            "/", json=rpc("tools/list"), headers={"Authorization": f"{scheme} {SERVER_TOKEN}"}
        )
    assert answer.status_code == 200
    assert answer.json()["result"]["tools"]


async def test_the_sdk_client_sends_the_token(guarded_url: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {SERVER_TOKEN}"}) as transport,
        mcp.Client(streamable_http_client(f"{guarded_url}/mcp", http_client=transport)) as s,
    ):
        listed = await s.list_tools()
    assert {tool.name for tool in listed.tools} == ALL_TOOLS


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": "evil.example:9090"}, 421),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://localhost:6274"}, 200),  # the MCP Inspector's page
        ({"Host": "localhost:9090"}, 200),
        ({"Host": "[::1]:9090"}, 200),
    ],
)
async def test_host_and_origin_are_checked_by_default(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    answer = await http.post("/mcp", json=rpc("tools/list"), headers=headers)
    assert answer.status_code == status


async def test_allowed_hosts_adds_names_and_none_turns_the_check_off(
    client: AsyncRunsClient,
) -> None:
    evil = {"Host": "evil.example"}
    named = {"Host": "mcp.example.com:9090", "Origin": "https://mcp.example.com"}
    async with (
        serve_http(create_app(client, allowed_hosts=["mcp.example.com"])) as base,
        httpx.AsyncClient(base_url=base) as raw,
    ):
        assert (await raw.post("/", json=rpc("ping"), headers=named)).status_code == 200
        assert (await raw.post("/", json=rpc("ping"))).status_code == 200
        assert (await raw.post("/", json=rpc("ping"), headers=evil)).status_code == 421
    async with (
        serve_http(create_app(client, allowed_hosts=None)) as base,
        httpx.AsyncClient(base_url=base) as raw,
    ):
        assert (await raw.post("/", json=rpc("ping"), headers=evil)).status_code == 200


async def test_a_large_body_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp", content=b" " * (2 * 1024 * 1024))
    assert answer.status_code == 413


async def test_read_only_over_http_lists_no_write_tool(client: AsyncRunsClient) -> None:
    async with (
        serve_http(create_app(client, read_only=True)) as base,
        httpx.AsyncClient(base_url=base) as raw,
    ):
        listed = (await raw.post("/", json=rpc("tools/list"))).json()["result"]["tools"]
    assert {tool["name"] for tool in listed} == ALL_TOOLS - WRITE_TOOLS


# -- mounted in another app (no lifespan reaches it) --------------------------------------------


async def test_it_works_mounted_in_another_app_without_a_lifespan(
    client: AsyncRunsClient, emulator: Emulator
) -> None:
    host = Starlette(routes=[Mount("/tools", app=create_app(client))])
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as raw:
        run_id = emulator.runs()[-1].id
        answer = await raw.post(
            "/tools/mcp",
            json=rpc("tools/call", {"name": "get-run", "arguments": {"runId": run_id}}),
        )
    assert answer.status_code == 200
    assert answer.json()["result"]["structuredContent"]["data"]["id"] == run_id


def test_a_websocket_is_refused(emulator: Emulator) -> None:
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    client = emulator.client()
    try:
        app = create_app(client, allowed_hosts=None)
        with (
            TestClient(app) as test_client,
            pytest.raises(WebSocketDisconnect) as closed,
            test_client.websocket_connect("/mcp"),  # the app closes the handshake: raises
        ):
            pass
        assert closed.value.code == 1008
    finally:
        anyio.run(client.aclose)
