"""The one module that touches httpx: send a request, read or stream the response, map
transport failures to `dbt_runs.errors`. Swapping the HTTP library touches only this file.
"""

# `timeout=` here carries per-phase limits down to httpx, not a cancellation deadline.
# ruff: noqa: ASYNC109

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from typing import Any, Final

import attrs
import httpx

from dbt_runs._config import Timeout
from dbt_runs.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidArgumentError,
)

__all__ = ["HttpResponse", "HttpStream", "HttpTransport", "asgi_http_client", "mock_http_client"]

# Large enough to keep syscalls few, small enough that a stream never holds much in memory.
CHUNK_SIZE: Final = 64 * 1024


@attrs.frozen
class HttpResponse:
    """A fully read response: what the client layer needs, and nothing from httpx."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes


@attrs.define
class HttpStream:
    """A response whose body is still on the wire (for artifact downloads)."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    _response: httpx.Response

    async def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in chunks of at most `chunk_size` bytes; transport errors are mapped."""
        chunks = self._response.aiter_bytes(chunk_size)
        while True:
            error: Exception | None = None
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except (httpx.HTTPError, OSError) as exc:
                error = _map_transport_error(exc)
            if error is not None:
                raise error  # outside the except block: chained to nothing (see below)
            yield chunk

    async def read(self) -> bytes:
        """Read the rest of the body (used for error responses, which are small)."""
        error: Exception | None = None
        try:
            return await self._response.aread()
        except (httpx.HTTPError, OSError) as exc:
            error = _map_transport_error(exc)
        raise error


class _BearerAuth(httpx.Auth):
    """Adds `Authorization: Bearer <token>` at send time.

    The token stays inside this object (whose repr hides it) instead of sitting in a headers
    dict that a traceback with locals could print; httpx masks it in a request's repr and
    drops it on a redirect to another host.
    """

    def __init__(self, reveal: Callable[[], str]) -> None:
        self._reveal = reveal

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._reveal()}"
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth('***')"


@functools.lru_cache(maxsize=64)
def _httpx_timeout(timeout: Timeout) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
    )


def _map_transport_error(exc: httpx.HTTPError | httpx.InvalidURL | OSError) -> Exception:
    """The dbt-runs exception for a transport failure, to be raised chained to nothing.

    httpx's exception holds the request, and the request's headers hold the token: an
    exception we raise must not lead there through `__cause__` or `__context__`, so callers
    raise the result outside their `except` block. The message keeps what is useful.
    """
    # Which phase failed decides whether a POST may be sent again: a request that never
    # left (connect, pool) cannot have started a run; anything later might have.
    name = type(exc).__name__
    detail = str(exc) or name
    if isinstance(exc, OSError):
        # Raised as-is by in-process transports (httpx's ASGI transport) and some proxies.
        sent = not isinstance(exc, ConnectionRefusedError)
        return APIConnectionError(
            f"the connection to dbt Cloud failed: {detail}", request_sent=sent
        )
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return APITimeoutError(f"timed out connecting to dbt Cloud ({name})", request_sent=False)
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"timed out waiting for dbt Cloud ({name})", request_sent=True)
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return APIConnectionError(f"could not connect to dbt Cloud: {detail}", request_sent=False)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(f"the base URL cannot be used: {detail}")
    if isinstance(exc, httpx.InvalidURL):
        return InvalidArgumentError(f"the request URL is not valid: {detail}")
    return APIConnectionError(f"the connection to dbt Cloud failed: {detail}", request_sent=True)


class HttpTransport:
    """Sends requests through one pooled `httpx.AsyncClient`.

    Args:
        base_url: The API root; request paths are appended to it.
        headers: Headers sent with every request (never logged).
        token: Returns the API token, sent as a bearer token with every request.
        http_client: An existing client to use; the transport then does not close it.
        timeout: Phase timeouts for a client the transport creates itself.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        token: Callable[[], str],
        http_client: httpx.AsyncClient | None,
        timeout: Timeout,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._auth = _BearerAuth(token)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=_httpx_timeout(timeout),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    @property
    def owns_client(self) -> bool:
        """True when this transport created its httpx client (and so closes it)."""
        return self._owns_client

    @property
    def is_closed(self) -> bool:
        """True once the underlying httpx client is closed."""
        return self._client.is_closed

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as `/accounts/1/runs/`."""
        return self._base_url + path

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        timeout: Timeout,
        accept: str,
    ) -> httpx.Request:
        headers = (
            self._headers if accept == "application/json" else {**self._headers, "Accept": accept}
        )
        return self._client.build_request(
            method,
            self.url(path),
            params=params,
            json=json,
            headers=headers,
            timeout=_httpx_timeout(timeout),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        timeout: Timeout,
        accept: str = "application/json",
    ) -> HttpResponse:
        """Send one request and read the whole response."""
        error: Exception | None = None
        try:
            request = self._build(method, path, params, json, timeout, accept)
            response = await self._client.send(
                request, stream=True, auth=self._auth, follow_redirects=True
            )
            try:
                # Read the body here rather than let httpx keep it: an httpx response and its
                # stream refer to each other, so the response outlives us until the cyclic
                # garbage collector runs, and `send()` without `stream` caches the body on it.
                # Those bodies piled up between collections: a listing held twice its window.
                content = b"".join([chunk async for chunk in response.aiter_bytes()])
            finally:
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            error = _map_transport_error(exc)
        if error is not None:
            raise error
        return HttpResponse(
            status_code=response.status_code,
            reason=response.reason_phrase,
            headers=response.headers,
            content=content,
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: Timeout,
        accept: str = "*/*",
    ) -> AsyncIterator[HttpStream]:
        """Send one request and hand over the response before its body is read."""
        error: Exception | None = None
        try:
            request = self._build(method, path, params, None, timeout, accept)
            response = await self._client.send(
                request, stream=True, auth=self._auth, follow_redirects=True
            )
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            error = _map_transport_error(exc)
        if error is not None:
            raise error
        try:
            yield HttpStream(
                status_code=response.status_code,
                reason=response.reason_phrase,
                headers=response.headers,
                response=response,
            )
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the httpx client if this transport created it."""
        if self._owns_client:
            await self._client.aclose()


def asgi_http_client(app: Any, *, base_url: str) -> httpx.AsyncClient:
    """An httpx client bound in-process to an ASGI app (the emulator), for `http_client=`.

    Note that httpx's ASGI transport buffers whole responses: measure streaming and memory
    against a real loopback server instead.

    Args:
        app: The ASGI application.
        base_url: The URL the app pretends to live at, e.g. `http://emulator.test`.
    """
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=True
    )


def mock_http_client(handler: Any) -> httpx.AsyncClient:
    """An httpx client whose requests are answered by `handler(request) -> response`.

    For tests: `handler` receives an `httpx.Request` and returns an `httpx.Response` (or
    raises an `httpx` transport error to simulate a network failure).
    """
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
