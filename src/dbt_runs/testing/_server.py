"""Serving the emulator over loopback HTTP with uvicorn: in this event loop or in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

from dbt_runs._net import listen_socket

__all__ = ["EmulatorServer", "serve", "serve_in_thread"]

_START_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class EmulatorServer:
    """Where a served emulator listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the server root."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/api/v2`: what `AsyncRunsClient(base_url=...)` and
        `DBT_CLOUD_BASE_URL` take."""
        return f"{self.url}/api/v2"


def _server(app: Any) -> Any:
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - the [server] extra brings it
        raise ImportError(
            'serving the emulator needs uvicorn: pip install "dbt-runs[server]"'
        ) from None
    config = uvicorn.Config(
        app,
        log_level="warning",
        # The lifespan runs the webhook deliveries (`Webhooks.run`).
        lifespan="on",
        http="h11",
        access_log=False,
        timeout_graceful_shutdown=2,
        # A client that keeps a connection open must not hold a test's teardown.
        timeout_keep_alive=5,
    )
    return uvicorn.Server(config)


@contextlib.asynccontextmanager
async def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
) -> AsyncIterator[EmulatorServer]:
    """Run uvicorn on `host:port` (or on `sock`, already listening, which it then closes) as
    a task of the current event loop."""
    if sock is None:
        sock = listen_socket(host, port)
    else:
        host = sock.getsockname()[0]
    server = _server(app)
    bound = sock.getsockname()
    try:
        async with anyio.create_task_group() as tg:
            # uvicorn's `serve()` would take over SIGINT/SIGTERM while it runs in the main
            # thread; its internal `_serve()` does not, so a test's Ctrl-C stays the test's.
            tg.start_soon(getattr(server, "_serve", server.serve), [sock])
            with anyio.fail_after(_START_TIMEOUT):
                while not server.started:
                    if server.should_exit:
                        raise RuntimeError("the emulator server failed to start")
                    await anyio.sleep(0.005)
            try:
                yield EmulatorServer(host, bound[1])
            finally:
                server.should_exit = True
    finally:
        sock.close()


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[EmulatorServer]:
    """Run uvicorn on `host:port` in a daemon thread with its own event loop."""
    sock = listen_socket(host, port)
    server = _server(app)
    bound = sock.getsockname()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            # Off the main thread `serve()` leaves signal handling alone.
            asyncio.run(server.serve([sock]))
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    thread = threading.Thread(target=target, name="dbt-runs-emulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"the emulator server failed to start: {failure[:1]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start in time")
            time.sleep(0.005)
        yield EmulatorServer(host, bound[1])
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        sock.close()
