"""Serve the MCP server: Streamable HTTP (an ASGI app) and stdio.

HTTP answers at `/mcp` (and at `/`, where the Naftiko runtime's clients post) and is
stateless: every POST is served on its own, so a client may skip `initialize` and the
`Mcp-Session-Id` dance entirely, as a bare `curl` does:

    curl -s localhost:9090 -H 'Content-Type: application/json' -d '{"jsonrpc": "2.0",
      "id": 1, "method": "tools/call", "params": {"name": "get-run", "arguments": {"runId": 1}}}'

Which response format a POST gets depends on what it accepts and what it asks. A request for
progress (`params._meta.progressToken`) from a client that names `text/event-stream` in
`Accept` (every MCP SDK does) gets a stream, which carries the progress notifications before
the result (`wait-for-run` sends one at every check); every other POST (any other request, or
a client that sends `*/*`, `application/json` or no `Accept` at all) gets one plain JSON
response, which the spec has every client accept and which costs the server less.

The app starts the SDK's session manager for each request itself rather than in an ASGI
lifespan, so it works the same run by uvicorn, mounted inside another Starlette app (which
does not forward lifespan events to mounted apps) or driven by `httpx.ASGITransport`.
Stateless serving makes this free: no state outlives a request.

The inbound guard (bearer token, Host/Origin allow-list, body limit) is the one the REST
adapter uses, `dbt_runs.expose._security.SecurityMiddleware`, so both servers refuse the
same requests the same way. The app reads the whole body (within that limit) before the SDK
sees the request, which reads it all anyway: a client that leaves halfway, or whose body runs
out of time (`BodyTimeoutMiddleware` answers 408), is dropped quietly instead of surfacing as
an SDK error, and a streamed body over the limit gets the guard's 413.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from dbt_runs._net import answer_lifespan
from dbt_runs.expose._security import LOOPBACK_HOSTS, SecurityMiddleware
from dbt_runs.expose.mcp._server import create_server

if TYPE_CHECKING:
    from mcp.server.lowlevel.server import Server
    from mcp.server.mcpserver import MCPServer

    from dbt_runs import AsyncRunsClient
    from dbt_runs.expose._security import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOOPBACK_ONLY", "MCP_PATHS", "McpHttpApp", "create_app", "run_stdio"]

MCP_PATHS: tuple[str, ...] = ("/mcp", "/mcp/", "/")
"""The paths that accept MCP messages; anything else is a 404."""


class _LoopbackOnly(enum.Enum):
    LOOPBACK_ONLY = enum.auto()

    def __repr__(self) -> str:
        return "LOOPBACK_ONLY"


LOOPBACK_ONLY: Final = _LoopbackOnly.LOOPBACK_ONLY
"""`create_app`'s default `allowed_hosts`: accept only the loopback names in Host/Origin."""

_EVENT_STREAM = b"text/event-stream"

# The SDK's own Host/Origin check is off: SecurityMiddleware applies ours before a request
# reaches the SDK, with the same rules as the REST adapter. The SDK still insists on a JSON
# Content-Type for POSTs, which blocks the simple cross-site form posts a browser may send.
_SDK_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)


def _lowlevel(server: MCPServer[Any]) -> Server[Any]:
    # MCPServer exposes its low-level server only through the session manager it builds for
    # its own Starlette app; that manager is the documented way to reach it.
    server.streamable_http_app(stateless_http=True, transport_security=_SDK_SECURITY)
    return server.session_manager.app


class McpHttpApp:
    """The ASGI app serving one MCP server over stateless Streamable HTTP.

    Use [`create_app`][dbt_runs.expose.mcp.create_app] rather than this class directly.

    Args:
        server: The MCP server to serve.
    """

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server
        self._lowlevel = _lowlevel(server)

    def __repr__(self) -> str:
        return f"McpHttpApp(server={self.server.name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: lifespan events, or one HTTP request."""
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            # MCP has no WebSocket transport here: refuse the handshake.
            await send({"type": "websocket.close", "code": 1008})
            return
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if path not in MCP_PATHS:
            await _refuse(send, 404, "Not found: the MCP endpoint is /mcp (or /).")
            return
        if scope.get("method") != "POST":
            # Stateless: no session to resume with GET or end with DELETE. The spec lets a
            # server without a standalone stream answer 405.
            await _refuse(
                send, 405, "Method not allowed: send JSON-RPC messages with POST.", b"POST"
            )
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        accept = b",".join(value for key, value in headers if key == b"accept").lower()
        body = await _whole_body(receive)
        if body is None:
            # The client left, or its body ran out of time and got its 408, before it was all
            # here: nobody to answer. (Handed a half body, the SDK logs a traceback.)
            return
        streaming = _EVENT_STREAM in accept and _may_notify(body)
        if not streaming:
            # A client that did not ask for a stream gets plain JSON, whatever its Accept
            # said (curl sends */*, some clients send nothing): the SDK's JSON mode
            # requires the header to name JSON, so say so for the client. So does a call
            # that asked for no progress: nothing would come before its result, and the
            # spec has every client take either form.
            headers = [(key, value) for key, value in headers if key != b"accept"]
            headers.append((b"accept", b"application/json"))
        if not any(key == b"content-type" for key, _ in headers):
            # No Content-Type at all is not a browser form post (browsers always label
            # theirs), so the body is read as the JSON-RPC it must be.
            headers.append((b"content-type", b"application/json"))
        manager = StreamableHTTPSessionManager(
            app=self._lowlevel,
            json_response=not streaming,
            stateless=True,
            security_settings=_SDK_SECURITY,
        )
        async with manager.run():
            await manager.handle_request(
                {**scope, "headers": headers}, _replaying(body, receive), send
            )


def _may_notify(body: bytes) -> bool:
    """Whether serving this POST may send anything before its answer, so that it needs a
    stream: only a request that asks for progress (`params._meta.progressToken`, the one
    notification these tools send) does. Anything else the SDK may make of it, a body that
    is not one JSON object included, keeps the stream the client accepted.

    A stream costs the server an SSE response, its task group and a memory channel: about a
    third of a `tools/call get-run`'s time in the server, for one message.
    """
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return True
    if not isinstance(message, dict):
        return True
    params = message.get("params", {})
    if not isinstance(params, dict):
        return True
    meta = params.get("_meta")
    if meta is None:
        return False
    return not isinstance(meta, dict) or meta.get("progressToken") is not None


async def _whole_body(receive: Receive) -> bytes | None:
    """The request body (the SDK reads it all anyway), or None if the client went first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for the SDK: the body already read, then the client's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(send: Send, status: int, message: str, allow: bytes | None = None) -> None:
    body = json.dumps({"error": message}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _host_allow_list(
    allowed_hosts: Iterable[str] | _LoopbackOnly | None,
) -> tuple[str, ...] | None:
    if allowed_hosts is None:
        return None
    if isinstance(allowed_hosts, _LoopbackOnly):
        return LOOPBACK_HOSTS
    return tuple(dict.fromkeys((*LOOPBACK_HOSTS, *allowed_hosts)))


def create_app(
    client: AsyncRunsClient,
    *,
    read_only: bool = False,
    server_token: str | None = None,
    allowed_hosts: Iterable[str] | _LoopbackOnly | None = LOOPBACK_ONLY,
) -> ASGIApp:
    """Build the ASGI app serving the MCP tools over Streamable HTTP at `/mcp` (and `/`).

    Args:
        client: The shared client every tool calls (not closed by the app).
        read_only: Hide every tool that changes something in dbt Cloud.
        server_token: When set, every request must send `Authorization: Bearer <token>`.
            This guards the MCP server; it is never the dbt token.
        allowed_hosts: Host names accepted in `Host` and `Origin` (DNS-rebinding and
            cross-site protection). By default only the loopback names (`127.0.0.1`,
            `localhost`, `::1`); names given are accepted besides those. `None` turns the
            check off, as `dbt-runs serve` does for a non-loopback bind, where the server
            cannot know the names it is reached by and the bearer token guards it.

    Returns:
        An ASGI app; run it with uvicorn or mount it in another ASGI app.

    Example:
        ```python
        import uvicorn

        app = create_app(client, server_token=os.environ.get("DBT_RUNS_SERVER_TOKEN"))
        uvicorn.run(app, host="127.0.0.1", port=9090)
        ```
    """
    app = McpHttpApp(create_server(client, read_only=read_only))
    return SecurityMiddleware(
        app,
        server_token=server_token,
        exempt_paths=(),
        allowed_hosts=_host_allow_list(allowed_hosts),
    )


async def run_stdio(client: AsyncRunsClient, *, read_only: bool = False) -> None:
    """Serve the MCP tools over stdio (newline-delimited JSON-RPC) until stdin closes.

    This is how desktop clients (Claude Desktop, Cursor, VS Code) launch a local server.
    Nothing but MCP messages may go to stdout while it runs; logs go to stderr.

    Args:
        client: The shared client every tool calls (not closed here).
        read_only: Hide every tool that changes something in dbt Cloud.
    """
    await create_server(client, read_only=read_only).run_stdio_async()
