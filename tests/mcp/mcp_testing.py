"""Helpers shared by the MCP tests (a plain module: `tests/mcp` must not be a package named
`mcp`, which would shadow the MCP library)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import uvicorn

DBT_TOKEN = "dbtc_emulated-secret-token-0123456789"
"""The emulator's only accepted token: tests assert it never shows up in a result."""


def text_of(result: Any) -> str:
    """The single text content block of a tool result."""
    assert len(result.content) == 1
    block = result.content[0]
    assert block.type == "text"
    text: str = block.text
    return text


@contextlib.asynccontextmanager
async def serve_http(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on an ephemeral loopback port in this event loop; yield its URL."""
    # IPPROTO_TCP rather than socket.socket()'s 0: asyncio sets TCP_NODELAY only on sockets
    # that say they are TCP; without it each response waits ~40 ms on a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: server.serve(sockets=[sock]))
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
                    await anyio.sleep(0.005)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()
