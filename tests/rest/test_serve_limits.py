"""`dbt-runs serve` against slow and malformed clients, on both servers, over raw sockets.

No client library stands between these tests and the servers: a request is the bytes sent, so
a test can stop in the middle of a header or send a body shorter than its `Content-Length`.
The timeouts are set to fractions of a second so that every timing test ends within ~2 s.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import anyio
import pytest
from anyio.abc import SocketStream

from dbt_runs.cli.serve import Running

from .serve_support import BOUNDED, serving

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HEADER_TIMEOUT = 0.4
BODY_TIMEOUT = 0.4
MAX_CONNECTIONS = 8
SERVER_TOKEN = "limits-inbound-token"
SERVERS = ["rest", "mcp"]
PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


LIMITS = {"header_timeout": HEADER_TIMEOUT, "body_timeout": BODY_TIMEOUT}


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[Running]:
    # One serve for the module: each test closes what it opens, and the servers reap the rest.
    async with serving(mcp=True, max_connections=MAX_CONNECTIONS, **LIMITS) as started:
        yield started


@pytest.fixture(scope="module")
async def guarded() -> AsyncIterator[Running]:
    # A long body timeout: what closes a refused request's connection is the header clock.
    limits = {**LIMITS, "body_timeout": BODY_TIMEOUT * 10}
    async with serving(mcp=True, server_token=SERVER_TOKEN, **limits) as started:
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


async def until_closed(running: Running, server: str, sent: bytes) -> tuple[bytes, float]:
    """Send `sent` on a new connection: all the server answers until it closes, and how long
    that took in seconds."""
    async with await connect(running, server) as stream:
        started = anyio.current_time()
        await stream.send(sent)
        answer = await read_until_closed(stream)
        return answer, anyio.current_time() - started


async def read_answer(stream: SocketStream) -> bytes:
    """One whole answer off the stream: its head, and the body its Content-Length announces."""
    received = b""
    with anyio.fail_after(BOUNDED):
        while b"\r\n\r\n" not in received:
            received += await stream.receive()
        head, _, body = received.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
        assert length is not None, head
        while len(body) < int(length.group(1)):
            body += await stream.receive()
    return head + b"\r\n\r\n" + body


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


# ---------------------------------------------------------------- unfinished headers


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /healthz HTTP/1.1\r\n", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-"],
    ids=["nothing", "request-line", "half-a-header"],
)
async def test_unfinished_headers_are_closed_after_the_header_timeout(
    running: Running, server: str, sent: bytes
) -> None:
    answer, elapsed = await until_closed(running, server, sent)
    assert answer == b""
    assert HEADER_TIMEOUT * 0.8 <= elapsed < HEADER_TIMEOUT + 1.0


@pytest.mark.parametrize("server", SERVERS)
async def test_a_trickle_does_not_stretch_the_header_timeout(running: Running, server: str) -> None:
    async with await connect(running, server) as stream:
        started = anyio.current_time()

        async def trickle() -> None:
            for byte in request(server):
                await stream.send(bytes([byte]))
                await anyio.sleep(HEADER_TIMEOUT / 8)

        async with anyio.create_task_group() as group:
            group.start_soon(trickle)
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                with anyio.fail_after(BOUNDED):
                    await stream.receive()
            group.cancel_scope.cancel()
        elapsed = anyio.current_time() - started
    assert HEADER_TIMEOUT * 0.8 <= elapsed < HEADER_TIMEOUT + 1.0


@pytest.mark.parametrize("server", SERVERS)
async def test_a_keep_alive_connection_gets_the_same_time_for_its_next_request(
    running: Running, server: str
) -> None:
    async with await connect(running, server) as stream:
        await stream.send(request(server))
        assert status_of(await read_answer(stream)) == 200
        started = anyio.current_time()
        await stream.send(b"GET /healthz HTTP/1.1\r\n")
        assert await read_until_closed(stream) == b""
        elapsed = anyio.current_time() - started
    assert elapsed < HEADER_TIMEOUT + 1.0


@pytest.mark.parametrize("server", SERVERS)
async def test_a_slow_but_timely_client_is_served(running: Running, server: str) -> None:
    async with await connect(running, server) as stream:
        for part in (request(server)[:10], request(server)[10:]):
            await stream.send(part)
            await anyio.sleep(HEADER_TIMEOUT / 4)
        assert status_of(await read_answer(stream)) == 200


# ---------------------------------------------------------------- short bodies


SHORT_BODIES = {
    "rest": b"POST /v1/accounts/1/jobs/1/run HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    "mcp": b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{",
}


@pytest.mark.parametrize("server", SERVERS)
async def test_a_body_shorter_than_its_length_gets_408_and_a_close(
    running: Running, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer, elapsed = await until_closed(running, server, SHORT_BODIES[server])
    assert status_of(answer) == 408
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["status"]["code"] == 408
    assert BODY_TIMEOUT * 0.8 <= elapsed < BODY_TIMEOUT + 1.0
    # An expected outcome, not an error with a traceback in the server's log.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("server", SERVERS)
async def test_a_streamed_body_over_the_limit_gets_413(running: Running, server: str) -> None:
    head, _, _ = SHORT_BODIES[server].partition(b"\r\n\r\n")
    head = head.replace(b"Content-Length: 100", b"Transfer-Encoding: chunked")
    chunks = [b" " * 65536] * 16 + [b"x"]  # one byte past the 1 MiB limit, and no further
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    answer, _ = await until_closed(running, server, head + b"\r\n\r\n" + body + b"0\r\n\r\n")
    assert status_of(answer) == 413


@pytest.mark.parametrize("server", SERVERS)
async def test_a_trickled_body_gets_408_on_time(running: Running, server: str) -> None:
    head, _, _ = SHORT_BODIES[server].partition(b"\r\n\r\n")
    async with await connect(running, server) as stream:
        await stream.send(head + b"\r\n\r\n")
        started = anyio.current_time()

        async def trickle() -> None:
            for _ in range(100):
                await stream.send(b" ")
                await anyio.sleep(BODY_TIMEOUT / 8)

        async with anyio.create_task_group() as group:
            group.start_soon(trickle)
            answer = await read_answer(stream)
            group.cancel_scope.cancel()
        elapsed = anyio.current_time() - started
    assert status_of(answer) == 408
    assert elapsed < BODY_TIMEOUT + 1.0


@pytest.mark.parametrize("server", SERVERS)
async def test_without_the_token_the_answer_comes_before_the_body(
    guarded: Running, server: str
) -> None:
    async with await connect(guarded, server) as stream:
        started = anyio.current_time()
        await stream.send(SHORT_BODIES[server])
        answer = await read_answer(stream)
        answered = anyio.current_time() - started
        assert await read_until_closed(stream) == b""
        closed = anyio.current_time() - started
    assert status_of(answer) == 401
    # The refusal did not wait for the body it has no use for...
    assert answered < HEADER_TIMEOUT / 2
    # ... and the rest of that body, never sent, holds the connection no longer than a late
    # header would (the body timeout, long here, covers bodies an app reads).
    assert HEADER_TIMEOUT * 0.8 <= closed < HEADER_TIMEOUT + 1.0


@pytest.mark.parametrize("server", SERVERS)
async def test_a_refused_large_body_is_drained_and_the_answer_read(
    guarded: Running, server: str
) -> None:
    head, _, _ = SHORT_BODIES[server].partition(b"\r\n\r\n")
    body = b" " * 2_000_000
    head = head.replace(b"Content-Length: 100", b"Content-Length: %d" % len(body))
    authorized = b"Authorization: Bearer " + SERVER_TOKEN.encode() + b"\r\n"
    async with await connect(guarded, server) as stream:
        await stream.send(head + b"\r\n\r\n" + body)
        assert status_of(await read_answer(stream)) == 401
        # The connection is still good for the next request.
        await stream.send(request(server, extra=authorized))
        assert status_of(await read_answer(stream)) == 200


# ---------------------------------------------------------------- too many connections


@pytest.mark.parametrize("server", SERVERS)
async def test_idle_connections_past_the_cap_get_503_until_their_timeout_frees_them(
    running: Running, server: str
) -> None:
    idle = [await connect(running, server) for _ in range(MAX_CONNECTIONS * 2)]
    try:
        async with await connect(running, server) as stream:
            await stream.send(request(server))
            answer = await read_until_closed(stream)
        assert status_of(answer) == 503
        assert b"connection: close" in answer.lower()
        for stream in idle:
            assert await read_until_closed(stream) == b""
        async with await connect(running, server) as stream:
            await stream.send(request(server))
            assert status_of(await read_answer(stream)) == 200
    finally:
        for stream in idle:
            await stream.aclose()


@pytest.mark.parametrize("server", SERVERS)
async def test_up_to_the_cap_every_connection_is_served(running: Running, server: str) -> None:
    streams = [await connect(running, server) for _ in range(MAX_CONNECTIONS)]
    try:
        for stream in streams:
            await stream.send(request(server))
        for stream in streams:
            assert status_of(await read_answer(stream)) == 200
    finally:
        for stream in streams:
            await stream.aclose()


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
