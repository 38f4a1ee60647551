"""Error mapping: one class per status, readable messages from whatever body dbt sends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dbt_runs import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncRunsClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DbtRunsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    UnprocessableEntityError,
)
from dbt_runs import errors as errors_module

from .fakes import TOKEN, Script, error_json, respond

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]
ERRORS = Path(__file__).parents[1] / "data" / "reference" / "examples" / "errors"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIStatusError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
    ],
)
async def test_status_classes(
    client_for: ClientFor, status: int, cls: type[APIStatusError]
) -> None:
    body = error_json(status, f"message for {status}")
    client = client_for(Script(respond(body, status)), retry=RetryPolicy.disabled())

    with pytest.raises(cls) as info:
        await client.get_run(1)

    error = info.value
    assert type(error) is cls
    assert isinstance(error, DbtRunsError)
    assert error.status_code == status
    assert error.body == body
    assert error.content == json.dumps(body).encode()
    assert error.headers["content-type"] == "application/json"
    assert str(error) == f"message for {status} (HTTP {status})"


@pytest.mark.parametrize(
    ("name", "status", "cls", "message"),
    [
        ("401_invalid_token.json", 401, AuthenticationError, "Invalid token."),
        (
            "401_unpaid_account_2022.json",
            401,
            AuthenticationError,
            "The API is not accessible to unpaid accounts.",
        ),
        (
            "403_token_not_scoped_to_account.json",
            403,
            PermissionDeniedError,
            "Access denied: Token is not scoped to account.",
        ),
        (
            "403_ip_restriction_forbidden.template.json",
            403,
            PermissionDeniedError,
            "Forbidden: Access denied",
        ),
        (
            "404_not_found.json",
            404,
            NotFoundError,
            "The requested resource was not found. Please check that you have the proper "
            "permissions.",
        ),
        ("405_missing_trailing_slash_2021.json", 405, APIStatusError, 'Method "GET" not allowed.'),
        (
            "500_missing_cause_2020.json",
            500,
            InternalServerError,
            "There was a server error. Please contact support at support@getdbt.com.",
        ),
        (
            "400_invalid_status__in.json",
            400,
            BadRequestError,
            "The request was invalid. Please double check the provided data and try again. "
            "(status__in: 'DbtCloudJobRunStatus.NON_TERMINAL_STATUSES' is not valid under any "
            "of the given schemas)",
        ),
    ],
)
async def test_captured_error_bodies(
    client_for: ClientFor, name: str, status: int, cls: type[APIStatusError], message: str
) -> None:
    content = (ERRORS / name).read_bytes()
    client = client_for(Script(respond(content, status)), retry=RetryPolicy.disabled())

    with pytest.raises(cls) as info:
        await client.get_run(1)

    assert info.value.message == message
    assert info.value.content == content
    assert info.value.body == json.loads(content)


async def test_html_gateway_page_gives_a_short_readable_message(client_for: ClientFor) -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center><hr><center>nginx</center>" + b" " * 5000 + b"</body></html>"
    )
    client = client_for(
        Script(respond(page, 502, {"content-type": "text/html"})), retry=RetryPolicy.disabled()
    )

    with pytest.raises(InternalServerError) as info:
        await client.get_run(1)

    assert info.value.body is None
    assert info.value.content == page
    assert info.value.message == (
        "dbt Cloud answered 502 Bad Gateway (an HTML page, not JSON: '502 Bad Gateway')"
    )


async def test_empty_error_body(client_for: ClientFor) -> None:
    client = client_for(Script(respond(b"", 503)), retry=RetryPolicy.disabled())
    with pytest.raises(InternalServerError) as info:
        await client.get_run(1)
    assert info.value.message == "dbt Cloud answered 503 Service Unavailable with an empty body"
    assert info.value.body is None


async def test_plain_text_error_is_truncated(client_for: ClientFor) -> None:
    client = client_for(Script(respond(b"x" * 1000, 500)), retry=RetryPolicy.disabled())
    with pytest.raises(InternalServerError) as info:
        await client.get_run(1)
    assert len(info.value.message) < 260
    assert info.value.message.endswith("...")


@pytest.mark.parametrize(
    "content",
    [b"<html>oops</html>", b"not json", b'{"status": {}}', b"[1, 2]", b""],
)
async def test_a_200_that_is_not_a_run_envelope_is_a_validation_error(
    client_for: ClientFor, content: bytes
) -> None:
    client = client_for(Script(respond(content, 200)))
    with pytest.raises(APIResponseValidationError) as info:
        await client.get_run(1)
    assert info.value.content == content
    assert "run" in str(info.value)


async def test_a_run_with_a_wrong_type_is_a_path_tagged_validation_error(
    client_for: ClientFor,
) -> None:
    body = {"status": {"code": 200}, "data": {"id": 1, "status": "done"}}
    client = client_for(Script(respond(body)))
    with pytest.raises(APIResponseValidationError, match=r"run\.status"):
        await client.get_run(1)


async def test_a_listed_run_with_a_wrong_type_fails_its_page_with_the_fields_path(
    client_for: ClientFor,
) -> None:
    runs = [{"id": 1, "status": 10}, {"id": 2, "status": "done"}, {"id": 3}]
    body = {"status": {"code": 200}, "data": runs, "extra": {"pagination": {"total_count": 3}}}
    client = client_for(Script(respond(body)))
    with pytest.raises(APIResponseValidationError, match=r"run list\.status"):
        await client.list_runs()


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), APIConnectionError, False),
        (httpx.ConnectTimeout("slow"), APITimeoutError, False),
        (httpx.PoolTimeout("busy"), APITimeoutError, False),
        (httpx.ReadTimeout("slow"), APITimeoutError, True),
        (httpx.WriteTimeout("slow"), APITimeoutError, True),
        (httpx.ReadError("reset"), APIConnectionError, True),
        (httpx.RemoteProtocolError("bad"), APIConnectionError, True),
    ],
)
async def test_transport_errors(
    client_for: ClientFor, exc: Exception, cls: type[APIConnectionError], sent: bool
) -> None:
    client = client_for(Script(exc), retry=RetryPolicy.disabled())
    with pytest.raises(cls) as info:
        await client.get_run(1)
    assert type(info.value) is cls
    assert info.value.request_sent is sent
    assert TOKEN not in str(info.value)


def test_timeouts_are_also_builtin_timeout_errors() -> None:
    assert issubclass(APITimeoutError, TimeoutError)
    assert issubclass(errors_module.WaitTimeoutError, TimeoutError)


def test_module_docstring_draws_every_exported_error() -> None:
    doc = errors_module.__doc__ or ""
    for name in errors_module.__all__:
        assert name in doc, name
