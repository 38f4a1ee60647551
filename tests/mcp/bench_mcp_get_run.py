"""Benchmark: `tools/call get-run` over Streamable HTTP vs a direct client call.

Not a test (pytest does not collect it). One emulator serves over loopback HTTP; the direct
path is `AsyncRunsClient.get_run` against it, the MCP paths go through the MCP server (uvicorn
on loopback, its own client to the same emulator) with the MCP SDK's client (streaming) and
with a bare JSON-RPC POST (no initialize, JSON response). The calls interleave, one of each
per round, so drift hits all paths alike. It also measures the answer sizes of `list-runs`.

    .venv/bin/python tests/mcp/bench_mcp_get_run.py [--rounds 500]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import uvicorn
from mcp.client.streamable_http import streamable_http_client

import mcp
from dbt_runs import AsyncRunsClient
from dbt_runs.expose.mcp import create_app, create_server
from dbt_runs.testing import Emulator


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    # IPPROTO_TCP, not socket.socket()'s default 0: asyncio turns Nagle off (TCP_NODELAY)
    # only on sockets that say they are TCP, and with Nagle on every uvicorn response waits
    # ~40 ms for the client's delayed ACK between its header and body writes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes no event to wait on
            await anyio.sleep(0.005)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(samples: list[float], call: Callable[[], Awaitable[Any]]) -> None:
    start = time.perf_counter()
    await call()
    samples.append((time.perf_counter() - start) * 1000)


async def sizes(client: AsyncRunsClient) -> dict[str, int]:
    out = {}
    async with mcp.Client(create_server(client)) as session:
        for label, arguments in [
            ("list-runs default (limit 10, full)", {}),
            ("list-runs limit 10, compact", {"view": "compact"}),
            ("list-runs limit 100, compact", {"limit": 100, "view": "compact"}),
            ("list-runs limit 100, full (dbt's default page)", {"limit": 100}),
        ]:
            result = await session.call_tool("list-runs", arguments)
            out[label] = len(result.content[0].text)
    return out


async def main(rounds: int) -> None:
    emulator = Emulator(runs=200)
    run_id = emulator.runs()[-1].id
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(serve(emulator.app)) + "/api/v2"
        direct = await stack.enter_async_context(
            AsyncRunsClient(token="t", base_url=upstream, account_id=1)
        )
        behind = await stack.enter_async_context(
            AsyncRunsClient(token="t", base_url=upstream, account_id=1)
        )
        mcp_url = await stack.enter_async_context(serve(create_app(behind)))
        session = await stack.enter_async_context(
            mcp.Client(streamable_http_client(f"{mcp_url}/mcp"))
        )
        bare = await stack.enter_async_context(httpx.AsyncClient(base_url=mcp_url))
        payload = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "get-run", "arguments": {"runId": run_id}},
        }

        async def via_sdk() -> None:
            result = await session.call_tool("get-run", {"runId": run_id})
            assert not result.is_error

        async def via_bare_post() -> None:
            response = await bare.post("/mcp", json=payload)
            assert not response.json()["result"]["isError"]

        async def via_client() -> None:
            await direct.get_run(run_id)

        paths = {
            "direct client.get_run": via_client,
            "MCP SDK client (SSE)": via_sdk,
            "bare JSON-RPC POST": via_bare_post,
        }
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(max(20, rounds // 10)):  # warm-up: connections, caches
            for call in paths.values():
                await call()
        for _ in range(rounds):
            for name, call in paths.items():
                await timed(samples[name], call)
        measured = await sizes(direct)

    base = samples["direct client.get_run"]
    print(f"get-run, {rounds} rounds, one emulator on loopback HTTP (ms)")
    print(f"{'path':28} {'p50':>7} {'p99':>7} {'p50 ratio':>10} {'p99 ratio':>10}")
    for name, values in samples.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(
            f"{name:28} {p50:7.2f} {p99:7.2f} {p50 / statistics.median(base):10.2f} "
            f"{p99 / percentile(base, 0.99):10.2f}"
        )
    print()
    print("answer sizes (text content; tokens ~ chars / 4)")
    for label, chars in measured.items():
        print(f"{label:48} {chars:7d} chars ~ {chars // 4:6d} tokens")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    anyio.run(main, parser.parse_args().rounds)
