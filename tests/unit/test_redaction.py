"""The API token never appears in a log line, a repr or an exception."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest

from dbt_runs import AsyncRunsClient, AuthenticationError, DbtRunsError, RetryPolicy

from .fakes import TOKEN, Script, envelope, error_json, page_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]


async def test_token_is_absent_from_every_log_repr_and_error(
    client_for: ClientFor, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(
        respond(error_json(503, "busy"), 503),
        respond(envelope(run_json(1, 10))),
        respond(page_json([run_json(1)], total=1, offset=0, limit=100)),
        respond(envelope(run_json(1, 10))),
        httpx.ReadTimeout("slow"),
        respond(error_json(500, "down"), 500),
        respond(error_json(401, "Invalid token."), 401),
        respond(error_json(401, "Invalid token."), 401),
    )
    client = client_for(script, retry=RetryPolicy(max_retries=1))
    texts: list[str] = [repr(client), str(client)]

    with caplog.at_level(logging.DEBUG):
        run = await client.get_run(1)
        texts += [repr(run), str(run), run._repr_html_()]
        page = await client.list_runs()
        texts += [repr(page), page._repr_html_()]
        raw = await client.with_raw_response.get_run(1)
        texts += [repr(raw), repr(client.with_raw_response)]
        for call in (lambda: client.trigger_run(1), lambda: client.get_run(2)):
            with pytest.raises(DbtRunsError) as info:
                await call()
            error = info.value
            texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
            texts += [repr(vars(error))]

    texts += [record.getMessage() for record in caplog.records]
    # Not even in the transport's state, which a traceback with locals could print.
    requester = client._requester
    texts += [repr(vars(requester)), repr(vars(requester.http)), repr(vars(client))]
    assert isinstance(info.value, AuthenticationError)
    assert caplog.records, "expected some log lines to check"
    for text in texts:
        assert TOKEN not in text
    assert raw is not None
    # The token did go out, as a bearer header, on every request.
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in script.requests)


def _echo_headers(status: int, *, html: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    """A proxy that reflects the request's headers into its error (some debugging proxies do)."""

    def answer(request: httpx.Request) -> httpx.Response:
        echoed = dict(request.headers)
        if html:
            page = f"<html><title>Bad gateway</title><pre>{echoed}</pre></html>".encode()
            return httpx.Response(status, content=page, headers={"x-seen": str(echoed)})
        body = error_json(status, f"rejected: Authorization={echoed['authorization']}")
        body["data"] = {"headers": echoed}
        return respond(body, status, {"x-seen-authorization": echoed["authorization"]})

    return answer


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@pytest.mark.parametrize(("status", "html"), [(400, False), (401, False), (502, True), (403, True)])
async def test_an_echoed_token_is_removed_from_every_error(
    client_for: ClientFor, status: int, html: bool
) -> None:
    client = client_for(Script(_echo_headers(status, html=html)), retry=RetryPolicy.disabled())
    with pytest.raises(DbtRunsError) as info:
        await client.get_run(1)
    error = info.value
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [repr(vars(error)), repr(getattr(error, "body", None))]
    texts += [getattr(error, "content", b"").decode("utf-8", "replace")]
    texts += [repr(dict(getattr(error, "headers", {})))]
    for text in texts:
        assert TOKEN not in text
    assert "***" in str(getattr(error, "content", b""))


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.ProxyError("proxy said no"),
    ],
)
async def test_no_raised_exception_leads_to_the_request_and_its_token(
    client_for: ClientFor, failure: Exception
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        # httpx's exceptions hold the request, whose headers hold the token.
        failure.request = request  # type: ignore[attr-defined]
        raise failure

    client = client_for(Script(*[fail] * 4), retry=RetryPolicy.disabled())
    with pytest.raises(DbtRunsError) as info:
        await client.get_run(1)
    for linked in _chain(info.value):
        assert not isinstance(linked, httpx.HTTPError), _chain(info.value)
        assert TOKEN not in repr(vars(linked))
    assert str(failure) in str(info.value) or type(failure).__name__ in str(info.value)
