"""The inbound guard shared by the REST adapter and the MCP server (`dbt_runs.expose._security`)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import anyio
import httpx
import pytest

from dbt_runs.expose._security import (
    LOOPBACK_HOSTS,
    SERVER_TOKEN_ENV,
    BodyTimeoutMiddleware,
    SecurityMiddleware,
    UnsafeBindError,
    allowed_hosts_for,
    bearer_token,
    check_bind,
    error_envelope,
    is_loopback,
    parse_host,
    server_token_from_env,
    token_matches,
)

pytestmark = pytest.mark.anyio


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that reads the whole body and answers its length."""
    assert scope["type"] == "http"
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"path": scope["path"], "size": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def client_for(app: Any, base_url: str = "http://127.0.0.1:8080") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["data"] is None
    assert body["status"]["code"] == status
    assert body["status"]["is_success"] is False
    assert body["status"]["user_message"]
    return body


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_check_bind_refuses_public_address_without_token() -> None:
    with pytest.raises(UnsafeBindError, match=SERVER_TOKEN_ENV) as info:
        check_bind("0.0.0.0", server_token=None, allow_unauthenticated=False)
    assert "--allow-unauthenticated" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("host", "token", "allow"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("0.0.0.0", "s3cret", False),
        ("0.0.0.0", None, True),
    ],
)
def test_check_bind_accepts_safe_combinations(host: str, token: str | None, allow: bool) -> None:
    check_bind(host, server_token=token, allow_unauthenticated=allow)


def test_server_token_from_env() -> None:
    assert server_token_from_env({}) is None
    assert server_token_from_env({SERVER_TOKEN_ENV: "   "}) is None
    assert server_token_from_env({SERVER_TOKEN_ENV: " abc\n"}) == "abc"


def test_allowed_hosts_for() -> None:
    assert allowed_hosts_for("127.0.0.1") == LOOPBACK_HOSTS
    assert allowed_hosts_for("127.0.0.2") == (*LOOPBACK_HOSTS, "127.0.0.2")
    assert allowed_hosts_for("0.0.0.0") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Token abc", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_token_matches() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches("ab", "abc")
    assert not token_matches(None, "abc")
    assert token_matches("é", "é")


def test_error_envelope_is_dbt_shaped() -> None:
    body = json.loads(error_envelope(502, "upstream unreachable", "details"))
    assert body == {
        "status": {
            "code": 502,
            "is_success": False,
            "user_message": "upstream unreachable",
            "developer_message": "details",
        },
        "data": None,
    }


async def test_no_token_configured_lets_requests_through() -> None:
    async with client_for(SecurityMiddleware(echo_app)) as http:
        response = await http.post("/v1/x", content=b"abc")
    assert response.json() == {"path": "/v1/x", "size": 3}


async def test_token_required_everywhere_but_exempt_paths() -> None:
    app = SecurityMiddleware(echo_app, server_token="s3cret", exempt_paths=("/healthz",))
    async with client_for(app) as http:
        missing = await http.get("/v1/x")
        wrong = await http.get("/v1/x", headers={"Authorization": "Bearer nope"})
        right = await http.get("/v1/x", headers={"Authorization": "Bearer s3cret"})
        dbt_style = await http.get("/v1/x", headers={"Authorization": "Token s3cret"})
        health = await http.get("/healthz")
    for response in (missing, wrong):
        body = assert_envelope(response, 401)
        assert SERVER_TOKEN_ENV in body["status"]["user_message"]
        assert "s3cret" not in response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert dbt_style.status_code == 200
    assert health.status_code == 200


async def test_exempt_paths_are_relative_to_the_mount_point() -> None:
    app = SecurityMiddleware(echo_app, server_token="s3cret")

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "root_path": "/dbt"}, receive, send)

    async with client_for(mounted) as http:
        assert (await http.get("/dbt/healthz")).status_code == 200
        assert (await http.get("/dbt/v1/x")).status_code == 401


async def test_declared_body_over_limit_is_refused_before_the_app() -> None:
    app = SecurityMiddleware(echo_app, max_body_bytes=10)
    async with client_for(app) as http:
        ok = await http.post("/", content=b"x" * 10)
        too_big = await http.post("/", content=b"x" * 11)
        bad_length = await http.post("/", headers={"Content-Length": "ten"}, content=b"x")
    assert ok.json()["size"] == 10
    body = assert_envelope(too_big, 413)
    assert "10 bytes" in body["status"]["user_message"]
    assert_envelope(bad_length, 400)


async def test_streamed_body_over_limit_is_refused() -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * 4

    app = SecurityMiddleware(echo_app, max_body_bytes=10)
    async with client_for(app) as http:
        response = await http.post("/", content=chunks())
    assert_envelope(response, 413)


async def test_streamed_body_over_limit_read_in_a_task_group() -> None:
    import anyio

    async def grouped_app(scope: Any, receive: Any, send: Any) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo_app, scope, receive, send)

    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * 4

    async with client_for(SecurityMiddleware(grouped_app, max_body_bytes=10)) as http:
        response = await http.post("/", content=chunks())
    assert_envelope(response, 413)


async def test_other_app_errors_propagate() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async with client_for(SecurityMiddleware(broken)) as http:
        with pytest.raises(RuntimeError, match="boom"):
            await http.get("/")


@pytest.mark.parametrize(
    ("base_url", "origin", "status"),
    [
        ("http://127.0.0.1:8080", None, 200),
        ("http://localhost:8080", None, 200),
        ("http://[::1]:8080", None, 200),
        ("http://localhost", "http://localhost:3000", 200),
        ("http://attacker.example:8080", None, 421),
        ("http://127.0.0.1:8080", "http://attacker.example", 403),
        ("http://127.0.0.1:8080", "null", 403),
    ],
)
async def test_host_and_origin_checks(base_url: str, origin: str | None, status: int) -> None:
    app = SecurityMiddleware(echo_app, allowed_hosts=LOOPBACK_HOSTS)
    headers = {"Origin": origin} if origin else {}
    async with client_for(app, base_url) as http:
        response = await http.get("/", headers=headers)
    if status == 200:
        assert response.status_code == 200
    else:
        assert_envelope(response, status)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("LocalHost:080", "localhost"),
        ("localhost.", "localhost."),
        ("api.example.com:443", "api.example.com"),
        ("[::1]", "::1"),
        ("[::1]:9090", "::1"),
        ("[0:0:0:0:0:0:0:1]:9090", "::1"),
        # An IPv4-mapped address, in the runtime's compressed form: Python 3.13 writes it
        # ::ffff:127.0.0.1, earlier ones ::ffff:7f00:1; allow-list entries are normalised by
        # the same call, so both sides agree on either.
        ("[::FFFF:127.0.0.1]", ipaddress.IPv6Address("::ffff:7f00:1").compressed),
        ("127.0.0.1:65535", "127.0.0.1"),
        # userinfo, in every place it could hide
        ("127.0.0.1:80@evil.com", None),
        ("evil.com@127.0.0.1", None),
        ("user:pass@localhost:8080", None),
        # whitespace and control characters inside the value
        ("127.0.0.1\t:80", None),
        ("127.0.0.1:\t80", None),
        ("127.0.0.1\tevil.com", None),
        ("127.0.0.1 :80", None),
        ("local host", None),
        (" 127.0.0.1", None),
        ("127.0.0.1\n", None),
        ("127.0.0.1\r\nX-Injected: 1", None),
        # ports
        ("127.0.0.1:", None),
        ("127.0.0.1:8o", None),
        ("127.0.0.1:+80", None),
        ("127.0.0.1:-1", None),
        ("127.0.0.1:0x50", None),
        ("127.0.0.1:65536", None),
        ("127.0.0.1:80:80", None),
        ("127.0.0.1:\u0660", None),  # a digit, but not an ASCII one
        # IPv6 literal forms
        ("::1", None),
        ("[::1", None),
        ("::1]", None),
        ("[::1]x", None),
        ("[::1]:", None),
        ("[::1]:abc", None),
        ("[::1%25lo]", None),
        ("[::1%lo]", None),
        ("[127.0.0.1]", None),
        ("[]", None),
        ("[v1.fe80::a+en1]", None),
        # everything else
        ("", None),
        ("127.0.0.1%2f", None),
        ("127.0.0.1/", None),
        ("127.0.0.1?", None),
        ("127.0.0.1#", None),
        ("http://127.0.0.1", None),
        ("l\u00f6calhost", None),
        ("xn--lcalhost-o4a", "xn--lcalhost-o4a"),
    ],
)
def test_parse_host_is_strict(value: str, expected: str | None) -> None:
    assert parse_host(value) == expected


async def call_with_headers(app: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """Call an ASGI app with exactly these raw headers (no client library normalising them)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([(b"host", b"127.0.0.1:8080")], 200),
        ([(b"host", b"[::1]:8080"), (b"origin", b"http://localhost:3000")], 200),
        ([], 400),
        ([(b"host", b"127.0.0.1"), (b"host", b"127.0.0.1")], 400),
        ([(b"host", b"127.0.0.1:80@evil.com")], 400),
        ([(b"host", b"127.0.0.1\t")], 400),
        ([(b"host", b"127.0.0.1.evil.com")], 421),
        ([(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1:80@evil.com")], 403),
        ([(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1\t.evil.com")], 403),
        ([(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1/path")], 403),
        ([(b"host", b"127.0.0.1"), (b"origin", b"127.0.0.1")], 403),
    ],
)
async def test_host_and_origin_are_parsed_strictly(
    headers: list[tuple[bytes, bytes]], status: int
) -> None:
    app = SecurityMiddleware(echo_app, allowed_hosts=["localhost", "127.0.0.1", "[::1]"])
    sent = await call_with_headers(app, headers)
    assert sent[0]["status"] == status


async def test_without_an_allow_list_the_host_is_not_checked() -> None:
    sent = await call_with_headers(SecurityMiddleware(echo_app), [(b"host", b"a b@c")])
    assert sent[0]["status"] == 200


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await SecurityMiddleware(app, server_token="t")({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_websocket_refused_without_token() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be reached")

    await SecurityMiddleware(app, server_token="t")(
        {"type": "websocket", "path": "/ws", "headers": []},
        None,
        send,  # type: ignore[arg-type]
    )
    assert sent == [
        {"type": "websocket.close", "code": 1008, "reason": sent[0]["reason"]},
    ]


class StalledClient:
    """ASGI `receive`/`send` of a client that sends `messages` (by default the first byte of a
    body), then nothing more."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.pending = list(messages) or [{"type": "http.request", "body": b"{", "more_body": True}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, message: Any) -> None:
        self.sent.append(message)


HTTP_SCOPE = {"type": "http", "method": "POST", "path": "/", "headers": [], "http_version": "1.1"}


async def test_a_stalled_body_gets_408_and_the_app_sees_a_disconnect() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (message := await receive())["type"] == "http.request":
            seen.append(message["type"])
        seen.append(message["type"])
        # Whatever the app answers now is dropped: the client has its 408.
        await send({"type": "http.response.start", "status": 500, "headers": []})

    client = StalledClient()
    with anyio.fail_after(5):
        await BodyTimeoutMiddleware(app, timeout=0.05)(HTTP_SCOPE, client.receive, client.send)
    assert seen == ["http.request", "http.disconnect"]
    start, body = client.sent
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert json.loads(body["body"])["status"]["user_message"].startswith("Request body not")


async def test_an_app_failing_on_the_cut_body_is_not_an_error() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive())["type"] == "http.request":
            pass
        raise RuntimeError("client disconnected")

    client = StalledClient()
    await BodyTimeoutMiddleware(app, timeout=0.05)(HTTP_SCOPE, client.receive, client.send)
    assert client.sent[0]["status"] == 408


async def test_a_timely_body_and_the_reads_after_it_are_not_timed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["body"] == b"{}"
        with anyio.move_on_after(0.2) as waited:  # waiting for a disconnect, past the timeout
            await receive()
        assert waited.cancelled_caught
        await send({"type": "http.response.start", "status": 200, "headers": []})

    client = StalledClient({"type": "http.request", "body": b"{}", "more_body": False})
    await BodyTimeoutMiddleware(app, timeout=0.05)(HTTP_SCOPE, client.receive, client.send)
    assert client.sent[0]["status"] == 200


async def test_after_the_answer_started_a_stalled_body_only_ends_the_reads() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive())["type"] == "http.request":
            pass
        await send({"type": "http.response.body", "body": b"done"})

    client = StalledClient()
    await BodyTimeoutMiddleware(app, timeout=0.05)(HTTP_SCOPE, client.receive, client.send)
    assert [m.get("status", m.get("body")) for m in client.sent] == [200, b"done"]


async def test_body_timeout_passes_lifespan_and_needs_a_positive_timeout() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await BodyTimeoutMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    with pytest.raises(ValueError, match="timeout"):
        BodyTimeoutMiddleware(app, timeout=0)


def test_repr_hides_the_token() -> None:
    text = repr(SecurityMiddleware(echo_app, server_token="s3cret"))
    assert "s3cret" not in text
    assert "token=set" in text


def test_rejects_blank_token_and_negative_limit() -> None:
    with pytest.raises(ValueError, match="server_token"):
        SecurityMiddleware(echo_app, server_token=" ")
    with pytest.raises(ValueError, match="max_body_bytes"):
        SecurityMiddleware(echo_app, max_body_bytes=-1)


def test_public_names_exist() -> None:
    import dbt_runs.expose._security as security

    for name in security.__all__:
        assert hasattr(security, name), name
