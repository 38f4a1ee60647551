"""The Starlette app of the REST adapter: routing, pass-through and error envelopes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as Route_

from dbt_runs._response import RawResponse
from dbt_runs.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    DbtRunsError,
    InvalidArgumentError,
    RunInProgressError,
    TriggerOutcomeUnknownError,
)
from dbt_runs.expose._security import (
    DEFAULT_MAX_BODY_BYTES,
    SecurityMiddleware,
    TrackedSend,
    error_envelope,
)
from dbt_runs.expose.rest._openapi import build_document
from dbt_runs.expose.rest._params import ParameterError, describe, read_path, read_query
from dbt_runs.expose.rest._routes import UNAUTHENTICATED_PATHS, Report, Route, served_routes

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from dbt_runs import ArtifactStream, AsyncRunsClient
    from dbt_runs.expose.webhooks import WebhookReceiver

logger = logging.getLogger("dbt_runs.expose.rest")

_JSON = "application/json"
# Upstream headers worth passing on: how to read the body, and when to come back.
_PASSED_HEADERS = ("content-type", "retry-after")
_ACCEPTED_BODY_TYPES = frozenset({"", _JSON, "application/x-www-form-urlencoded"})


def create_app(
    client: AsyncRunsClient | None = None,
    *,
    read_only: bool = False,
    server_token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    webhooks: WebhookReceiver | None = None,
) -> Starlette:
    """Build the REST adapter: the seed's `/v1` runs surface in front of an `AsyncRunsClient`.

    Mount it in your own ASGI app or serve it with any ASGI server. Responses carry dbt's
    body bytes and status unchanged; the adapter validates inputs first and answers its own
    errors in dbt's envelope shape.

    Args:
        client: The client to send requests with. `None` builds one from the environment
            (`DBT_API_KEY`, `DBT_CLOUD_BASE_URL` or `DBT_CLOUD_HOST`, `DBT_CLOUD_ACCOUNT_ID`),
            which the app then opens and closes in its lifespan. A client you pass stays
            yours: the app never closes it.
        read_only: Serve no route that changes a run (trigger, cancel, retry, rerun): they
            answer 404 and leave the OpenAPI document.
        server_token: Require `Authorization: Bearer <server_token>` on every route but
            `/healthz`. This is not the dbt token, which never leaves the client.
        allowed_hosts: Accept only these names in `Host`/`Origin` (the CLI passes the
            loopback names when it binds a loopback address); `None` accepts any.
        max_body_bytes: Refuse request bodies above this size with 413.
        webhooks: Also take dbt Cloud's webhook deliveries at `POST /v1/webhooks/dbt`
            (`dbt_runs.expose.webhooks`). That route is authenticated by dbt's signature,
            never by `server_token`; the host check still applies to it.

    Returns:
        The Starlette app.

    Raises:
        ConfigurationError: `client` is `None` and the environment does not configure one.

    Example:
        ```python
        from dbt_runs import AsyncRunsClient
        from dbt_runs.expose.rest import create_app

        client = AsyncRunsClient()  # from DBT_API_KEY and friends
        app = create_app(client, read_only=True)
        ```
    """
    owned = client is None
    if client is None:
        from dbt_runs import AsyncRunsClient

        client = AsyncRunsClient()
    served = served_routes(read_only=read_only)
    document = json.dumps(
        build_document(served, secured=server_token is not None, webhooks=webhooks is not None),
        separators=(",", ":"),
    ).encode("utf-8")
    routes = [
        Route_(
            route.route_path,
            _endpoint(route, client, document),
            methods=[route.method],
            name=route.operation_id,
        )
        for route in served
    ]
    exempt: tuple[str, ...] = UNAUTHENTICATED_PATHS
    if webhooks is not None:
        from dbt_runs.expose.webhooks import WEBHOOK_PATH

        routes.append(Route_(WEBHOOK_PATH, webhooks.endpoint, methods=["POST"]))
        exempt = (*exempt, WEBHOOK_PATH)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if owned:
            async with client:
                yield
        else:
            yield

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(_LastResort),
            Middleware(
                SecurityMiddleware,
                server_token=server_token,
                exempt_paths=exempt,
                allowed_hosts=allowed_hosts,
                max_body_bytes=max_body_bytes,
            ),
        ],
        exception_handlers={
            HTTPException: _http_exception,
            ParameterError: _parameter_error,
        },
        lifespan=lifespan,
    )
    # Trailing-slash redirects would answer 307 to dbt-style URLs: refuse them plainly instead.
    app.router.redirect_slashes = False
    app.state.client = client
    return app


# ---------------------------------------------------------------- the operations


def _endpoint(
    route: Route, client: AsyncRunsClient, document: bytes
) -> Callable[[Request], Awaitable[Response]]:
    """The handler of `route`: read its inputs by their fields (naming every problem), call
    its operation in raw mode, and pass dbt's answer on."""
    if route.meta is not None:
        fixed = document if route.meta == "openapi" else b'{"status":"ok"}'

        async def meta(request: Request) -> Response:
            read_query((), request.query_params.multi_items())
            return Response(fixed, media_type=_JSON)

        return meta
    operation, report = route.operation, route.report
    query, body = route.query, route.body

    async def endpoint(request: Request) -> Response:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        try:
            values.update(read_path(route.path_fields, request.path_params))
        except ParameterError as exc:
            errors.update(exc.problems)
        try:
            values.update(read_query(query, request.query_params.multi_items()))
        except ParameterError as exc:
            errors.update(exc.problems)
        if errors:
            raise ParameterError(errors)
        if body is not None:
            content = await request.body()
            if content.strip():
                _require_json(request)
            values.update(body.read(content))
        if report is not None:
            return await _report(client, report, values)
        assert operation is not None
        call = getattr(client.with_raw_response, operation.name)
        if route.streams:
            # Each artifact the SDK reads (`get_*_artifact`) it also streams (`stream_*`).
            opener = getattr(client, operation.name.replace("get_", "stream_", 1))
            return await _stream_artifact(opener(**values))
        raw, response = await _call(call(**values))
        if raw is not None and route.pages:
            link = _next_link(request, raw.json(), values.get("offset", 0))
            if link is not None:
                response.headers["Link"] = link
        return response

    endpoint.__name__ = route.operation_id
    return endpoint


async def _report(client: AsyncRunsClient, report: Report, values: dict[str, Any]) -> Response:
    """A several-request client method's result as our JSON, in dbt's success envelope."""
    try:
        result = await getattr(client, report.name)(**values)
    except DbtRunsError as exc:
        return _error_response(exc)
    answer = RawResponse.enveloped(report.to_json(result), result)
    return Response(answer.content, media_type=_JSON)


async def _stream_artifact(opening: AbstractAsyncContextManager[ArtifactStream]) -> Response:
    stack = AsyncExitStack()
    try:
        stream = await stack.enter_async_context(opening)
    except DbtRunsError as exc:
        await stack.aclose()
        return _error_response(exc)
    except BaseException:
        await stack.aclose()
        raise
    headers = {}
    # The stream yields decoded bytes: a compressed body's length is not theirs.
    encoding = stream.headers.get("content-encoding", "identity").strip().lower()
    if stream.content_length is not None and encoding == "identity":
        headers["content-length"] = str(stream.content_length)
    return _StreamedArtifact(
        stream,
        stack,
        media_type=stream.content_type or "application/octet-stream",
        headers=headers,
    )


# ---------------------------------------------------------------- inputs


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    # curl's `-d` labels a body x-www-form-urlencoded; it is still parsed as JSON, so that the
    # obvious `curl -d '{"cause": "..."}'` works. Anything else labelled non-JSON is refused.
    if media_type in _ACCEPTED_BODY_TYPES or media_type.endswith("+json"):
        return
    raise HTTPException(
        415,
        f"The body must be JSON: send 'Content-Type: application/json' (got {media_type!r}).",
    )


# ---------------------------------------------------------------- outputs


async def _call(call: Awaitable[RawResponse[Any]]) -> tuple[RawResponse[Any] | None, Response]:
    """Await a raw-mode call; the raw response (None on error) and the answer to send."""
    try:
        raw = await call
    except DbtRunsError as exc:
        return None, _error_response(exc)
    try:
        body = raw.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # A gateway can answer 200 with an HTML page: never hand that on as dbt's answer.
        return None, envelope_response(
            502,
            f"dbt Cloud answered {raw.status_code} with a body that is not a JSON object.",
            f"content-type: {raw.content_type or 'none'}, {len(raw.content)} bytes",
        )
    headers = _passed(raw.headers)
    if raw.reconciled:
        # The trigger's response was lost and the client found the run it had started.
        headers["x-dbt-runs-reconciled"] = "true"
    if raw.reused:
        # `if_running=reuse`: the job's run already going, nothing triggered.
        headers["x-dbt-runs-reused"] = "true"
    return raw, Response(raw.content, status_code=raw.status_code, headers=headers)


def _passed(headers: Mapping[str, str]) -> dict[str, str]:
    passed = {name: headers[name] for name in _PASSED_HEADERS if name in headers}
    passed.setdefault("content-type", _JSON)
    return passed


def envelope_response(
    status_code: int,
    user_message: str,
    developer_message: str = "",
    *,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error in dbt's envelope shape."""
    body = json.loads(error_envelope(status_code, user_message, developer_message))
    body["data"] = dict(data) if data is not None else None
    return Response(
        json.dumps(body, separators=(",", ":")).encode("utf-8"),
        status_code=status_code,
        media_type=_JSON,
        headers=dict(headers or {}),
    )


def _error_response(exc: DbtRunsError) -> Response:
    """Map a client exception onto the adapter's answer."""
    if isinstance(exc, APIStatusError):
        if exc.body is not None:
            # dbt's own JSON error: its status and bytes, unchanged.
            return Response(exc.content, status_code=exc.status_code, headers=_passed(exc.headers))
        return envelope_response(
            502,
            f"dbt Cloud answered {exc.status_code} with a body that is not JSON.",
            exc.message,
        )
    if isinstance(exc, RunInProgressError):
        return envelope_response(
            409,
            f"{exc} Follow that run, or trigger with if_running=queue to queue another.",
            "if_running=fail: the job already has a run queued or running.",
            data={"run_id": exc.run.id},
        )
    if isinstance(exc, TriggerOutcomeUnknownError):
        return envelope_response(
            502,
            "dbt Cloud did not confirm the request; a run may or may not have started. "
            "Check the job's recent runs (look for the marker in their cause, when there is "
            "one) before sending it again.",
            exc.message,
            data={
                "job_id": exc.job_id,
                "marker": exc.marker,
                "candidate_run_ids": list(exc.candidate_run_ids),
            },
        )
    if isinstance(exc, APITimeoutError):
        return envelope_response(504, "dbt Cloud did not answer in time.", exc.message)
    if isinstance(exc, APIConnectionError):
        return envelope_response(502, "dbt Cloud could not be reached.", exc.message)
    if isinstance(exc, APIResponseValidationError):
        return envelope_response(
            502, "dbt Cloud answered with a body that is not what its API documents.", exc.message
        )
    if isinstance(exc, InvalidArgumentError):
        return envelope_response(400, str(exc))
    if isinstance(exc, ConfigurationError):
        return envelope_response(503, "The adapter's dbt Cloud client is not configured.", str(exc))
    return envelope_response(502, "The request to dbt Cloud failed.", str(exc))


def _next_link(request: Request, body: Mapping[str, Any], offset: int) -> str | None:
    extra = body.get("extra")
    pagination = extra.get("pagination") if isinstance(extra, Mapping) else None
    if not isinstance(pagination, Mapping):
        return None
    count, total = pagination.get("count"), pagination.get("total_count")
    if not isinstance(count, int) or not isinstance(total, int) or count <= 0:
        return None
    if offset + count >= total:
        return None
    url = request.url.include_query_params(offset=offset + count)
    return f'<{url}>; rel="next"'


class _StreamedArtifact(Response):
    """Streams an artifact from dbt to the caller chunk by chunk, then closes the upstream."""

    def __init__(
        self,
        stream: Any,
        stack: AsyncExitStack,
        *,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        self._stream = stream
        self._stack = stack
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._stack:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope.get("method") != "HEAD":
                async for chunk in self._stream:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---------------------------------------------------------------- error handlers


async def _parameter_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParameterError)
    return envelope_response(
        400,
        describe(exc.errors),
        "The request was invalid. Please double check the provided data and try again.",
        data=exc.errors,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    message = exc.detail
    if exc.status_code == 404:
        message = f"No route for {request.method} {path}."
        if path.endswith("/") and path != "/":
            message += " The adapter's paths have no trailing slash."
        message += " See /openapi.json for the served routes."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"Method {request.method} is not allowed on {path} (allowed: {allowed})."
    return envelope_response(exc.status_code, message, headers=exc.headers)


class _LastResort:
    """Answers a bare 500 envelope for any exception our code failed to handle.

    It logs the exception (dbt-runs' exceptions never carry the token) and never re-raises,
    so no traceback reaches a caller. A response that already started cannot be replaced:
    the exception then propagates so the server aborts the connection instead of sending a
    truncated body as if it were whole.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            # The caller left while its body was being read: nobody to answer, nothing wrong.
            return
        except Exception:
            logger.exception(
                "unhandled error answering %s %s", scope.get("method"), scope.get("path")
            )
            if tracked.started:
                raise
            response = envelope_response(500, "Internal error in the dbt-runs REST adapter.")
            await response(scope, receive, send)
