"""Fixtures for the REST adapter's tests.

Two upstreams: `fake_dbt` answers with dbt's real recorded payloads (tests/data/reference)
through httpx's MockTransport, for byte-exact pass-through and every failure mode; the
emulator (see test_emulator.py) for end-to-end behaviour.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from dbt_runs import AsyncRunsClient, RetryPolicy
from dbt_runs.expose.rest import create_app

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "examples"
UPSTREAM = "https://dbt.example/api/v2"
ADAPTER = "http://127.0.0.1:8080"


def reference(relative: str) -> bytes:
    """A recorded dbt payload, as bytes exactly as stored."""
    return (REFERENCE / relative).read_bytes()


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeDbt:
    """A programmable dbt Cloud behind httpx.MockTransport.

    `answers` maps `(method, path under /api/v2)` to a response, an exception to raise, or a
    function of the request. Every request received is kept in `requests`.
    """

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Answer] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, answer: Answer) -> None:
        self.answers[(method, path)] = answer

    def json(self, method: str, path: str, content: bytes, status: int = 200) -> None:
        self.on(
            method,
            path,
            httpx.Response(status, content=content, headers={"content-type": "application/json"}),
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v2")
        answer = self.answers.get((request.method, path))
        if answer is None:
            body = json.dumps({"status": {"code": 404, "is_success": False}, "data": None})
            return httpx.Response(404, content=body.encode())
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return httpx.Response(
                answer.status_code, content=answer.content, headers=answer.headers
            )
        return answer(request)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_dbt() -> FakeDbt:
    return FakeDbt()


@asynccontextmanager
async def adapter_for(
    upstream: Callable[[httpx.Request], httpx.Response], **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking in-process to the adapter, itself in front of `upstream`."""
    retry = options.pop("retry", RetryPolicy.disabled())
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as http,
        AsyncRunsClient(
            token="dbtc_s3cret-upstream-token", base_url=UPSTREAM, http_client=http, retry=retry
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client, **options)), base_url=ADAPTER
        ) as adapter,
    ):
        yield adapter


@pytest.fixture
async def adapter(fake_dbt: FakeDbt) -> AsyncIterator[httpx.AsyncClient]:
    async with adapter_for(fake_dbt) as client:
        yield client


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is one of the adapter's own errors, in dbt's envelope shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "data"}
    assert body["status"]["code"] == status
    assert body["status"]["is_success"] is False
    assert isinstance(body["status"]["user_message"], str)
    assert body["status"]["user_message"]
    return body


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the client's transport and keeps the bytes of every upstream answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bodies: list[tuple[int, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        self.bodies.append((response.status_code, content))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def uvicorn_serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on an ephemeral loopback port in this event loop."""
    import socket

    import anyio
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    # Already listening: connections wait in the backlog until uvicorn accepts them.
    sock = socket.create_server(("127.0.0.1", 0))
    server = Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
    finally:
        sock.close()
