"""The servers under measurement, each in its own process: `python -m benchmarks._server CONFIG`.

Why a separate process: the measured client and the server it talks to must not share one
event loop (or one GIL), or the client's time would include the server's work and each would
slow the other. On a two-core machine the emulator gets one core and the caller the other;
peers run as their own child processes against the very same emulator process.

Roles (CONFIG is a JSON object with "role"):

- `emulator`: the dbt Cloud emulator (`dbt_runs.testing.Emulator`) with the row's faults.
- `rest`: the REST adapter (`dbt_runs.expose.rest.create_app`) over a client pointed at
  an emulator (`upstream`).
- `mcp`: the MCP server (`dbt_runs.expose.mcp`) over such a client, streamable HTTP.

Every role is wrapped in `Counter`, which counts requests and responses by status, so that
"requests spent" and "retries" are counted on the wire, identically for every contender, and
the server's own CPU time since the last reset. A reset (`POST /_bench/reset`) also starts the
emulator's random faults again from their seed, so every contender meets the same sequence.
The process prints `READY <base_url>` once it listens, and exits when its stdin closes (so it
can never outlive the harness).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
from collections import Counter as _Tally
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATS_PATH = "/_bench/stats"
RESET_PATH = "/_bench/reset"


class Counter:
    """ASGI middleware counting requests and response statuses; serves `/_bench/*` itself."""

    def __init__(self, app: ASGIApp, on_reset: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.on_reset = on_reset
        self.requests = 0
        self.statuses: _Tally[int] = _Tally()
        self.cpu_at_reset = time.process_time()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in (STATS_PATH, RESET_PATH):
            if path == RESET_PATH:
                self.on_reset()
                self.requests, self.statuses = 0, _Tally()
                self.cpu_at_reset = time.process_time()
            body = json.dumps(
                {
                    "requests": self.requests,
                    "statuses": {str(k): v for k, v in self.statuses.items()},
                    "cpu_s": time.process_time() - self.cpu_at_reset,
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.requests += 1

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


Built = tuple[Any, Callable[[], AbstractAsyncContextManager[None]], Callable[[], None]]


def _emulator_app(config: dict[str, Any]) -> Built:
    from benchmarks._emulator import build_emulator, build_faults

    emulator, seeded = build_emulator(config)
    print("SEEDED " + json.dumps(seeded), flush=True)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        yield

    def reset_faults() -> None:
        emulator.faults = build_faults(config)

    return emulator.app, lifespan, reset_faults


def _adapter_app(config: dict[str, Any]) -> Built:
    from dbt_runs import AsyncRunsClient

    client = AsyncRunsClient(
        token=config["token"], base_url=config["upstream"], account_id=config["account"]
    )
    app: Any
    if config["role"] == "rest":
        from dbt_runs.expose.rest import create_app

        app = create_app(client)
    else:
        from dbt_runs.expose.mcp import create_app as create_mcp_app

        app = create_mcp_app(client)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with client:
            yield

    return app, lifespan, lambda: None


async def _serve(config: dict[str, Any]) -> None:
    import uvicorn

    role = config["role"]
    app, lifespan, on_reset = _emulator_app(config) if role == "emulator" else _adapter_app(config)
    counted = Counter(app, on_reset)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every keep-alive response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Access logs cost the server CPU per request, which no real dbt Cloud charges the caller.
    server = uvicorn.Server(
        uvicorn.Config(
            counted,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_keep_alive=30,
        )
    )

    def watch_stdin() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with lifespan():
        port = sock.getsockname()[1]
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.01)
        print(f"READY http://127.0.0.1:{port}", flush=True)
        await serving


def main() -> None:
    """Serve the role described by the JSON config in argv[1]."""
    asyncio.run(_serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
