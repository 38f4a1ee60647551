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
