"""A webhook endpoint for tests: it records what it receives and answers what it is told.

It is a bare ASGI app served by uvicorn on an ephemeral loopback port: nothing of dbt-runs'
own receiver, so that the emulator's deliveries are seen exactly as they arrive.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio

from dbt_runs._net import answer_lifespan
from dbt_runs.testing._server import serve


@dataclass(frozen=True)
class Delivery:
    """One request the endpoint received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class Endpoint:
    """Records deliveries; answers `statuses` in turn, then `status` (after `delay` seconds)."""

    statuses: list[int] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    arrived: anyio.Event = field(default_factory=anyio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.deliveries.append(Delivery(scope["method"], scope["path"], headers, body))
        self.arrived.set()
        self.arrived = anyio.Event()
        status = self.statuses.pop(0) if self.statuses else self.status
        if self.delay:
            await anyio.sleep(self.delay)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Delivery]:
        """Wait (in real time, bounded) until `count` deliveries have arrived."""
        with anyio.fail_after(seconds):
            while len(self.deliveries) < count:
                await self.arrived.wait()
        return self.deliveries


@contextlib.asynccontextmanager
async def endpoint(
    statuses: Iterable[int] = (), *, status: int = 200, delay: float = 0.0, path: str = "/hook"
) -> AsyncIterator[Endpoint]:
    """An `Endpoint` listening on 127.0.0.1 (its `url` ends in `path`)."""
    app = Endpoint(list(statuses), status, delay)
    async with serve(app) as server:
        app.url = server.url + path
        yield app


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
