"""The emulator's ASGI entry: it hands each request to dbt's routes, and delivers the faults.

Faults are a transport's business, so they live here and not in the routes: added latency, the
rate limit's 429, injected statuses (a gateway's HTML 502/503/504, dbt's own 500), dropped and
hung connections, bodies cut short or sent slowly, and the ambiguous trigger (the run is
created, then the answer is lost). Over uvicorn a dropped connection is a real TCP reset; called
in-process (`httpx.ASGITransport`) the app raises the transport error the client would see.

The webhook deliveries (`_webhooks`) run in the serving event loop: between the lifespan's
start-up and shut-down, or, under a server that sends no lifespan events, from the first
request it serves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from dbt_runs.testing._faults import FaultKind, gateway_html
from dbt_runs.testing._routes import Router, error, too_many_requests

if TYPE_CHECKING:
    from dbt_runs.testing._account import Account

__all__ = ["EmulatorApp"]

_SERVER_ERROR: Final = (
    b'{"detail":"There was a server error. Please contact support at support@getdbt.com."}'
)


class EmulatorApp:
    """The ASGI callable behind `Emulator.app`: dbt's routes over `account`, with its faults."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self._router = Router(account)
        self._delivering: asyncio.Task[None] | None = None
        self._lifespan_delivers = False

    # -- ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - websockets are not dbt's
            return
        account = self._account
        if not self._lifespan_delivers and _transport_of(receive) is not None:
            self._deliver_from_here()
        faults = account.faults
        method = scope["method"]
        path = scope["path"]
        latency = faults.latency()
        if latency:
            await account.clock.sleep(latency)
        wait = account.rate_limit_wait(path)
        if wait is not None:
            account.record_request(method, path, 429)
            # Rounded up: a client that comes back after `Retry-After` finds the cooldown over.
            await too_many_requests(max(1, math.ceil(wait)))(scope, receive, send)
            return
        before, after = faults.before(method, path)
        if before is not None:
            account.record_request(method, path, before)
            await self._fail(before, scope, receive, send)
            return
        response, created_run = await self._router.dispatch(Request(scope, receive))
        # Only a trigger that created a run can be "ambiguous".
        after = after or faults.after(method, path, trigger=created_run)
        if after is not None and (created_run or after in ("truncate", "malformed")):
            account.record_request(method, path, after)
            if after in ("truncate", "malformed"):
                await self._cut(after, response, scope, receive, send)
            else:
                await self._fail(after, scope, receive, send)
            return
        account.record_request(method, path, response.status_code)
        if faults.slow_body_seconds > 0:
            await self._slow(response, scope, receive, send)
            return
        if method == "HEAD":
            await _head(response, scope, receive, send)
            return
        await response(scope, receive, send)

    # -- webhooks --------------------------------------------------------------------------
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Answer the server's lifespan; between start-up and shut-down, deliver webhooks."""
        async with anyio.create_task_group() as group:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._lifespan_delivers = True
                    group.start_soon(self._account.webhooks.run)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    group.cancel_scope.cancel()
                    break
        self._lifespan_delivers = False
        await send({"type": "lifespan.shutdown.complete"})

    def _deliver_from_here(self) -> None:
        """Served over a socket without lifespan events (uvicorn's `lifespan="off"`): run the
        deliveries in this server's loop, which cancels them when it stops."""
        if (self._delivering is None or self._delivering.done()) and (
            not self._account.webhooks.delivering
        ):
            self._delivering = asyncio.get_running_loop().create_task(self._account.webhooks.run())

    # -- faults ----------------------------------------------------------------------------
    async def _fail(self, kind: FaultKind, scope: Scope, receive: Receive, send: Send) -> None:
        if kind == "reset":
            await _reset(receive)
            return
        if kind == "hang":
            if _transport_of(receive) is None:
                # In-process there is no socket and no client timeout to trip: answer at once
                # with what the client would have raised after its read timeout.
                raise _in_process_error("ReadTimeout", TimeoutError, "timed out")
            with anyio.move_on_after(self._account.faults.hang_seconds):
                await _wait_disconnect(receive)
            await _reset(receive)
            return
        assert isinstance(kind, int)
        response: Response
        if kind in (502, 503, 504):
            response = Response(gateway_html(kind), kind, media_type="text/html")
        elif kind == 500:
            response = Response(_SERVER_ERROR, 500, media_type="application/json")
        elif kind == 429:
            limit = self._account.faults.rate_limit
            response = too_many_requests(math.ceil(limit.cooldown_seconds if limit else 300))
        else:
            response = error(kind)
        await response(scope, receive, send)

    async def _cut(
        self, kind: FaultKind, response: Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send half of the body: with the full length announced then a reset ("truncate"),
        or as a complete but invalid 200 JSON body ("malformed"). Streams: a 200 MB artifact
        is never held in memory."""
        length = _length_of(response)
        half = max(1, length // 2)
        if kind == "malformed":
            headers = [(b"content-type", b"application/json")]
            status = 200
        else:
            headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-length"]
            status = response.status_code
        headers.append((b"content-length", str(length if kind == "truncate" else half).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        sent = 0
        async for chunk in _chunks_of(response):
            piece = chunk[: half - sent]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += len(piece)
            if sent >= half:
                break
        if kind == "truncate":
            await _reset(receive)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _slow(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the body in about 20 pieces spread over `slow_body_seconds`."""
        length = _length_of(response)
        pieces = max(1, min(20, length // 256))
        size = max(1, -(-length // pieces))
        pause = self._account.faults.slow_body_seconds / pieces
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        buffer = b""
        async for chunk in _chunks_of(response):
            buffer += chunk
            while len(buffer) >= size:
                await self._account.clock.sleep(pause)
                await send({"type": "http.response.body", "body": buffer[:size], "more_body": True})
                buffer = buffer[size:]
        if buffer:
            await self._account.clock.sleep(pause)
        await send({"type": "http.response.body", "body": buffer, "more_body": False})


def _length_of(response: Response) -> int:
    header = response.headers.get("content-length")
    if header is not None:
        return int(header)
    return len(bytes(response.body))


async def _chunks_of(response: Response) -> AsyncIterator[bytes]:
    if isinstance(response, StreamingResponse):
        async for chunk in response.body_iterator:
            yield chunk if isinstance(chunk, bytes) else str(chunk).encode()
    else:
        yield bytes(response.body)


async def _head(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    async def no_body(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    if isinstance(response, StreamingResponse):
        await no_body(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await no_body({"type": "http.response.body", "body": b""})
        return
    await response(scope, receive, no_body)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _transport_of(receive: Receive) -> Any:
    """uvicorn's asyncio transport behind this request, or None when served in-process."""
    return getattr(getattr(receive, "__self__", None), "transport", None)


def _in_process_error(name: str, fallback: type[Exception], message: str) -> Exception:
    """The exception a client would see over a real connection, for in-process callers.

    httpx's ASGI transport re-raises what the app raises; when httpx is the caller (it is
    loaded, since it is calling), raise its own transport error so that client code handles an
    in-process fault exactly like a network one. The module is looked up, never imported: the
    emulator does not depend on httpx.
    """
    httpx = sys.modules.get("httpx")
    error = getattr(httpx, name, None)
    if isinstance(error, type) and issubclass(error, Exception):
        return error(message)
    return fallback(message)


async def _reset(receive: Receive) -> None:
    """Drop the connection: over uvicorn a TCP RST; in-process, the error a client sees then."""
    cycle = getattr(receive, "__self__", None)
    transport = _transport_of(receive)
    if transport is None:
        raise _in_process_error(
            "RemoteProtocolError",
            ConnectionResetError,
            "Server disconnected without sending a response.",
        )
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0 turns the close into an RST; platforms without it just close.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # uvicorn must not answer "500" on a connection we dropped on purpose.
    cycle.disconnected = True  # type: ignore[union-attr]
    transport.abort()
    await anyio.lowlevel.checkpoint()
