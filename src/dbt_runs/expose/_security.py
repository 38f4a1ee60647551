"""Inbound safety shared by the REST adapter and the MCP server.

Both servers put the same guard in front of their ASGI app, so that the rules read the same
whichever protocol a caller speaks:

- **Bearer token.** When a server token is configured (`DBT_RUNS_SERVER_TOKEN`), every request
  but the exempt paths (the health check) must send `Authorization: Bearer <token>`. The
  comparison is constant-time. This token guards *our* server; it is never the dbt token and
  is never forwarded upstream.
- **Where it listens.** [`check_bind`][dbt_runs.expose._security.check_bind] refuses a
  non-loopback address without a token unless the operator explicitly allows it.
- **Host and Origin.** With `allowed_hosts` (the CLI passes the loopback names when it binds a
  loopback address), a request whose `Host` or browser `Origin` names another host is refused:
  this stops DNS rebinding and cross-site browser requests from driving runs on a local server.
  Both are parsed strictly ([`parse_host`][dbt_runs.expose._security.parse_host]): a value
  that is not exactly `host[:port]` gets a 400, so no spelling (`127.0.0.1:80@evil.com`, a tab,
  a stray space) can pass for an allowed name.
- **Request size.** Bodies over `max_body_bytes` get a 413 before the app buffers them.
- **Slow bodies.** [`BodyTimeoutMiddleware`][dbt_runs.expose._security.BodyTimeoutMiddleware]
  gives a request body a deadline (a body shorter than its `Content-Length` would otherwise
  hold a connection for good) and answers 408 when it passes.

Refusals are JSON in dbt's envelope shape (`{"status": {...}, "data": null}`), so a caller
parses one error format whatever refused it.

Example:
    ```python
    from dbt_runs.expose._security import SecurityMiddleware, check_bind, server_token_from_env

    token = server_token_from_env()
    check_bind("0.0.0.0", server_token=token, allow_unauthenticated=False)  # raises without one
    app = SecurityMiddleware(app, server_token=token, exempt_paths=("/healthz",))
    ```

This module imports nothing but the standard library and anyio (which httpx, a core
dependency, brings), so both adapters (and the CLI) can use it before their own extras are
imported.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

import anyio

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "LOOPBACK_HOSTS",
    "SERVER_TOKEN_ENV",
    "ASGIApp",
    "BodyTimeoutMiddleware",
    "Message",
    "Receive",
    "Scope",
    "SecurityMiddleware",
    "Send",
    "UnsafeBindError",
    "allowed_hosts_for",
    "bearer_token",
    "check_bind",
    "error_envelope",
    "is_loopback",
    "parse_host",
    "server_token_from_env",
    "token_matches",
]

# ASGI types, spelled out here so this module needs no server library.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SERVER_TOKEN_ENV = "DBT_RUNS_SERVER_TOKEN"
"""The environment variable holding the inbound bearer token of `dbt-runs serve`."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Request bodies above this many bytes are refused with 413 (trigger bodies are ~1 KB)."""

DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a request body may take to arrive, counted from the end of its headers."""

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""The host names a loopback-bound server accepts in `Host` and `Origin`."""


class UnsafeBindError(ValueError):
    """Raised by [`check_bind`][dbt_runs.expose._security.check_bind] for an unsafe address.

    The message is one line saying what to do, fit to print as is.
    """


def server_token_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the inbound server token from `DBT_RUNS_SERVER_TOKEN`, or `None` when unset.

    Surrounding whitespace is stripped (a token pasted with a newline still works); an empty or
    blank value counts as unset.

    Args:
        environ: The environment to read; `os.environ` by default.
    """
    value = (os.environ if environ is None else environ).get(SERVER_TOKEN_ENV, "").strip()
    return value or None


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`, as given to `--host`) is a loopback address.

    `0.0.0.0`, `::` and the empty string mean "every interface", so they are not loopback.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, server_token: str | None, allow_unauthenticated: bool) -> None:
    """Refuse to listen on a non-loopback address without a server token.

    Args:
        host: The address the server is about to bind.
        server_token: The configured inbound token, or `None`.
        allow_unauthenticated: The operator's explicit opt-out (`--allow-unauthenticated`).

    Raises:
        UnsafeBindError: `host` is reachable from other machines, no token is set and the
            operator did not opt out.
    """
    if server_token is None and not allow_unauthenticated and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to listen on {host} without a token: set {SERVER_TOKEN_ENV} "
            "(callers then send 'Authorization: Bearer <token>'), bind 127.0.0.1, "
            "or pass --allow-unauthenticated"
        )


def allowed_hosts_for(host: str) -> tuple[str, ...] | None:
    """The `Host`/`Origin` names to accept for a server bound to `host`.

    A loopback-bound server accepts only loopback names (this is what defeats DNS rebinding); a
    server bound to another address cannot know the names it is reached by, so `None` (no
    check) is returned and the bearer token does the guarding.
    """
    if not is_loopback(host):
        return None
    name = host.strip().strip("[]").lower()
    return LOOPBACK_HOSTS if name in LOOPBACK_HOSTS else (*LOOPBACK_HOSTS, name)


# RFC 9110's Host: uri-host [":" port], narrowed to what a client of ours can mean: a DNS name or
# IPv4 address (letters, digits, '-' and '.'), or an IPv6 address in brackets; a port of digits.
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))"
    r"(?::(?P<port>[0-9]+))?"
)
# An Origin is scheme "://" host [":" port] and nothing else (RFC 6454).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<authority>.*)")


def parse_host(value: str) -> str | None:
    """The host a `Host` header value names, normalised; `None` when the value is malformed.

    The value must be exactly `host` or `host:port`, where host is a DNS name or IPv4 address
    (ASCII letters, digits, `-` and `.`) or an IPv6 address in brackets, and port is digits up
    to 65535. Anything else (userinfo such as `127.0.0.1:80@evil.com`, whitespace inside the
    value, percent-escapes, an empty or non-numeric port, a bare or zoned IPv6 address) is
    malformed. Names come back lower-cased and IPv6 addresses in their compressed form, without
    brackets, ready to compare with an allow-list.

    Example:
        >>> parse_host("LocalHost:8080"), parse_host("[0:0::1]:9090")
        ('localhost', '::1')
        >>> parse_host("127.0.0.1:80@evil.com") is None, parse_host("127.0.0.1:") is None
        (True, True)
    """
    match = _HOST.fullmatch(value)
    if match is None:
        return None
    port = match["port"]
    if port is not None and int(port) > 65535:
        return None
    if match["ipv6"] is None:
        return match["name"].lower()
    try:
        return ipaddress.IPv6Address(match["ipv6"]).compressed
    except ValueError:
        return None


def _origin_host(origin: str) -> str | None:
    """The host of an `Origin` header value (`scheme://host[:port]`), or `None` ("null", ...)."""
    match = _ORIGIN.fullmatch(origin)
    return None if match is None else parse_host(match["authority"])


def _allowed_name(name: str) -> str:
    """An allow-list entry in `parse_host`'s normal form (`"[::1]"` and `"::1"` alike)."""
    bare = name.strip().strip("[]").lower()
    try:
        return ipaddress.IPv6Address(bare).compressed
    except ValueError:
        return bare


def bearer_token(authorization: str | None) -> str | None:
    """Extract the credential from an `Authorization` header value.

    Accepts `Bearer <token>` and dbt's own `Token <token>` spelling (scheme case-insensitive),
    so a dbt client pointed at the adapter works unchanged. Returns `None` otherwise.
    """
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() not in {"bearer", "token"} or not credential:
        return None
    return credential


def token_matches(presented: str | None, expected: str) -> bool:
    """Compare a presented token with the expected one in constant time."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def error_envelope(status_code: int, user_message: str, developer_message: str = "") -> bytes:
    """Render an error as dbt renders its own: `{"status": {...}, "data": null}`, as bytes.

    Example:
        >>> error_envelope(401, "Invalid token.")[:40]
        b'{"status":{"code":401,"is_success":fals'
    """
    body = {
        "status": {
            "code": status_code,
            "is_success": False,
            "user_message": user_message,
            "developer_message": developer_message,
        },
        "data": None,
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


class _BodyTooLargeError(Exception):
    """Raised from `receive` when the body passes the limit; see `SecurityMiddleware`."""


class SecurityMiddleware:
    """Pure ASGI middleware applying the host/origin check, the bearer token and the body limit.

    Wrap an app with it (or list it in Starlette's `middleware=`). Lifespan messages pass
    through untouched; WebSocket connections get the same host and token checks and are closed
    with code 1008 when refused.

    A declared `Content-Length` over the limit is refused before the app runs. A chunked body
    that grows past the limit makes `receive` raise `SecurityMiddleware.body_too_large`; this
    middleware answers 413 when that exception reaches it before the response started. In a
    Starlette app, list it in `middleware=[Middleware(SecurityMiddleware, ...)]` so it sits
    inside Starlette's error middleware, or register a handler for `body_too_large`.

    Args:
        app: The ASGI app to protect.
        server_token: The inbound bearer token; `None` disables the token check.
        exempt_paths: Paths (relative to the app's mount point) served without a token.
        allowed_hosts: Host names accepted in `Host` and `Origin`; `None` disables the check.
        max_body_bytes: The largest request body accepted, in bytes.
    """

    body_too_large: type[Exception] = _BodyTooLargeError
    """The exception class `receive` raises past the limit (register a handler for it)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        server_token: str | None = None,
        exempt_paths: Iterable[str] = ("/healthz",),
        allowed_hosts: Iterable[str] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if server_token is not None and not server_token.strip():
            raise ValueError("server_token must be None or a non-blank string")
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must be >= 0")
        self.app = app
        self._token = server_token
        self._exempt = frozenset(exempt_paths)
        self._hosts: frozenset[str] | None = None
        if allowed_hosts is not None:
            self._hosts = frozenset(_allowed_name(h) for h in allowed_hosts)
        self._max = max_body_bytes

    def __repr__(self) -> str:
        # The token itself never appears in a repr.
        return (
            f"SecurityMiddleware(token={'set' if self._token else 'unset'}, "
            f"allowed_hosts={sorted(self._hosts) if self._hosts is not None else None}, "
            f"max_body_bytes={self._max})"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it to the wrapped app (or refuse it)."""
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message, extra = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": message})
            else:
                await _send_error(send, status, message, extra)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_error(send, 400, "Invalid Content-Length header.")
                return
            if int(declared) > self._max:
                await _send_error(send, 413, self._too_large_message())
                return
        await self._call_limited(scope, receive, send)

    def _refusal(
        self, scope: Scope, headers: Mapping[str, str]
    ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        if self._hosts is not None:
            # One Host header, well formed (RFC 9112 section 3.2 asks for a 400 otherwise).
            hosts = [value for key, value in scope.get("headers", []) if key.lower() == b"host"]
            host = parse_host(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
            if host is None:
                return 400, "Invalid Host header: send one Host header, host or host:port.", []
            if host not in self._hosts:
                return 421, "Invalid Host header: this server answers only to its own names.", []
            origin = headers.get("origin")
            if origin is not None and _origin_host(origin) not in self._hosts:
                return 403, "Cross-origin requests are refused.", []
        if (
            self._token is not None
            and _relative_path(scope) not in self._exempt
            and not token_matches(bearer_token(headers.get("authorization")), self._token)
        ):
            return (
                401,
                "Missing or invalid bearer token: send 'Authorization: Bearer <token>' "
                f"with the token set in {SERVER_TOKEN_ENV}.",
                [(b"www-authenticate", b'Bearer realm="dbt-runs"')],
            )
        return None

    def _too_large_message(self) -> str:
        return f"Request body too large: the limit is {self._max} bytes."

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max:
                    raise _BodyTooLargeError(self._too_large_message())
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except Exception as exc:
            # Apps that read the body inside a task group see it wrapped in an ExceptionGroup.
            if tracked.started or not _only_too_large(exc):
                raise
            await _send_error(send, 413, self._too_large_message())


class BodyTimeoutMiddleware:
    """Pure ASGI middleware giving each request body a deadline: 408 when it passes.

    A client that declares a `Content-Length` and sends less (or trickles its body) would
    otherwise keep a connection, and the task reading its body, for as long as it likes. The
    whole body must arrive within `timeout` seconds of the request reaching the app; a trickle
    cannot stretch that. When the deadline passes before the app started its answer, the
    client gets a 408 envelope with `Connection: close`, the app's pending `receive` returns
    `http.disconnect` (the message every ASGI app already handles: the client is gone as far as
    it is concerned) and anything it sends after that is dropped. Reads after the last body
    chunk (an app waiting for the client to go away) are not timed.

    Args:
        app: The ASGI app to protect.
        timeout: Seconds the body may take to arrive, in all.
    """

    def __init__(self, app: ASGIApp, *, timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        self.app = app
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"BodyTimeoutMiddleware(timeout={self.timeout:g})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, timing the reads of its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout
        body_read = timed_out = answered = started = False

        async def timed_receive() -> Message:
            nonlocal body_read, timed_out, answered
            if timed_out:
                return {"type": "http.disconnect"}
            if body_read:
                return await receive()
            with anyio.CancelScope(deadline=deadline):
                message = await receive()
                body_read = message["type"] != "http.request" or not message.get("more_body")
                return message
            timed_out = True
            if not started:
                answered = True
                # The rest of the body is not coming (soon): close rather than wait for it.
                # HTTP/2 has no Connection header (and needs none: the stream is reset).
                close = scope.get("http_version", "1.1") in {"1.0", "1.1"}
                await _send_error(
                    send,
                    408,
                    f"Request body not received within {self.timeout:g} seconds.",
                    [(b"connection", b"close")] if close else [],
                )
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 408 went out instead: whatever the app answers now has no place
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            # An app that does not expect a disconnect in the middle of its body fails on it;
            # the client already has its 408.
            if not answered:
                raise


class TrackedSend:
    """An ASGI `send` that notes when the response has started: after that, an error can no
    longer be answered in its place."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _only_too_large(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_too_large(inner) for inner in exc.exceptions)
    return isinstance(exc, _BodyTooLargeError)


def _headers(scope: Scope) -> dict[str, str]:
    # Later duplicates win, except that we only read single-valued headers here.
    return {
        key.decode("latin-1").lower(): value.decode("latin-1")
        for key, value in scope.get("headers", [])
    }


def _relative_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def _send_error(
    send: Send,
    status_code: int,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = error_envelope(status_code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
