"""Our own bugs answer a bare 500 envelope (no traceback), logged without secrets."""

from __future__ import annotations

import logging

import httpx
import pytest

from dbt_runs import APIConnectionError

from .conftest import FakeDbt, adapter_for, assert_envelope

pytestmark = pytest.mark.anyio


def explode(request: httpx.Request) -> httpx.Response:
    raise RuntimeError("a bug far below the adapter")


async def test_unexpected_exception_is_a_bare_500(
    fake_dbt: FakeDbt, caplog: pytest.LogCaptureFixture
) -> None:
    fake_dbt.on("GET", "/accounts/1/runs/2/", explode)
    async with adapter_for(fake_dbt) as adapter:
        response = await adapter.get("/v1/accounts/1/runs/2")
    body = assert_envelope(response, 500)
    assert body["status"]["user_message"] == "Internal error in the dbt-runs REST adapter."
    assert "bug far below" not in response.text
    assert "Traceback" not in response.text
    records = [r for r in caplog.records if r.name == "dbt_runs.expose.rest"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert "GET /v1/accounts/1/runs/2" in records[0].getMessage()
    assert "s3cret" not in caplog.text


async def test_failure_mid_artifact_stream_aborts_instead_of_truncating(
    fake_dbt: FakeDbt, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def, override]
            yield b"{" * 10
            raise httpx.ReadError("connection reset")

    fake_dbt.on(
        "GET",
        "/accounts/1/runs/2/artifacts/manifest.json",
        lambda request: httpx.Response(200, stream=Broken(), headers={"content-length": "100"}),
    )
    async with adapter_for(fake_dbt) as adapter:
        # httpx's in-process transport re-raises what a real server would abort the
        # connection on; either way the caller never gets a short body passed off as whole.
        with pytest.raises(APIConnectionError):
            await adapter.get("/v1/accounts/1/runs/2/artifacts/manifest.json")
    assert any("manifest.json" in r.getMessage() for r in caplog.records)


async def test_a_caller_leaving_mid_body_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.expose.rest import create_app

    app = create_app(AsyncRunsClient(token="t", base_url="http://dbt.invalid"))
    messages = iter(
        [
            {"type": "http.request", "body": b'{"cause":', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/accounts/1/jobs/2/run",
        "raw_path": b"/v1/accounts/1/jobs/2/run",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    await app(scope, receive, send)
    assert sent == []
    assert not [r for r in caplog.records if r.name == "dbt_runs.expose.rest"]
