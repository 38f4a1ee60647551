"""`dbt-runs serve` against malformed requests, on both servers, over raw sockets.

No client library stands between these tests and the servers: a request is the bytes sent, so
a test can send a `Host` header no client library would let through.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import anyio
import pytest
from anyio.abc import SocketStream

from dbt_runs.cli.serve import Running

from .serve_support import BOUNDED, serving

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SERVERS = ["rest", "mcp"]
PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[Running]:
    # One serve for the module: each test closes what it opens.
    async with serving(mcp=True) as started:
        yield started


async def connect(running: Running, server: str) -> SocketStream:
    address = urlsplit(running.urls[server])
    assert address.hostname is not None
    assert address.port is not None
    return await anyio.connect_tcp(address.hostname, address.port)


async def read_until_closed(stream: SocketStream) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with anyio.fail_after(BOUNDED):
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return received


def request(
    server: str, *, host: bytes = b"127.0.0.1", body: bytes = PING, extra: bytes = b""
) -> bytes:
    """A whole request each server answers 200 to: REST's health check, an MCP ping."""
    if server == "rest":
        return b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + b"\r\n"
    return (
        b"POST /mcp HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer
    return int(answer.split(b" ", 2)[1])


# ---------------------------------------------------------------- Host


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    ("host", "status"),
    [
        (b"127.0.0.1", 200),
        (b"localhost:8080", 200),
        (b"LOCALHOST", 200),
        (b"[::1]:9090", 200),
        (b"[0:0:0:0:0:0:0:1]", 200),
        (b"evil.com", 421),
        (b"127.0.0.1.evil.com", 421),
        (b"localhost.", 421),
        (b"[::ffff:127.0.0.1]", 421),
        (b"127.0.0.1:80@evil.com", 400),
        (b"evil.com@127.0.0.1", 400),
        (b"user:pass@localhost", 400),
        (b"127.0.0.1\t:80", 400),
        (b"127.0.0.1:80\tevil.com", 400),
        (b"127.0.0.1 :80", 400),
        (b"local host", 400),
        (b"127.0.0.1:", 400),
        (b"127.0.0.1:8o", 400),
        (b"127.0.0.1:+80", 400),
        (b"127.0.0.1:65536", 400),
        (b"127.0.0.1:80:80", 400),
        (b"::1", 400),
        (b"[::1", 400),
        (b"[::1]x", 400),
        (b"[::1]:", 400),
        (b"[::1%25lo]", 400),
        (b"127.0.0.1%2f", 400),
        (b"", 400),
    ],
)
async def test_the_host_header_is_parsed_strictly(
    running: Running, server: str, host: bytes, status: int
) -> None:
    async with await connect(running, server) as stream:
        await stream.send(request(server, host=host, extra=b"Connection: close\r\n"))
        answer = await read_until_closed(stream)
    assert status_of(answer) == status, answer


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    "extra",
    [b"Host: 127.0.0.1\r\n", b"Host: evil.com\r\n"],
    ids=["twice", "a-second-foreign-one"],
)
async def test_more_than_one_host_header_is_refused(
    running: Running, server: str, extra: bytes
) -> None:
    async with await connect(running, server) as stream:
        await stream.send(request(server, extra=extra + b"Connection: close\r\n"))
        assert status_of(await read_until_closed(stream)) == 400
