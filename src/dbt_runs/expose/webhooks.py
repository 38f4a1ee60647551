"""The webhook receiver: dbt Cloud's deliveries in, verified run events out to an `EventHub`.

`POST /v1/webhooks/dbt` takes a delivery, checks dbt's signature (the `Authorization` header,
the hex HMAC-SHA256 of the body keyed with the subscription's secret), reads the event,
acknowledges a retried delivery without handing it on again, and publishes the event to the
hub, where waiters of this process pick it up. Everything happens in memory before the
answer, which leaves dbt's 10-second timeout far away.

| answer | when |
|---|---|
| 200 `{"data": {"event_id": ..., "duplicate": false}}` | accepted and published |
| 200 `{"data": {"event_id": ..., "duplicate": true}}` | a retry of an accepted delivery: ignored |
| 400 | signed, but not a run event (dbt's envelope; `data` names the field) |
| 401 | no signature, a garbled one, or one that does not match |
| 413 | a body over `max_body_bytes` (dbt's are about 1 KB) |

The route is authenticated by dbt's signature and nothing else: it never asks for the
server's bearer token (dbt sends its signature where that token would go), so it can face
the internet on a port of its own while the rest stays on loopback.

- `create_webhook_app(hub)`: a Starlette app with that one route (and `GET /healthz`), to
  serve alone or mount in your own ASGI app.
- `WebhookReceiver`: the route's handler, which `create_app(client, webhooks=...)` (the REST
  adapter) and `dbt-runs serve` put on their own routes.

Needs the server extra (`pip install "dbt-runs[server]"`).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the core-only install
    raise ImportError(
        'dbt_runs.expose.webhooks needs the server extra: pip install "dbt-runs[server]"'
    ) from exc

import json
import logging
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dbt_runs.errors import ConfigurationError, WebhookPayloadError, WebhookSignatureError
from dbt_runs.expose._security import SecurityMiddleware, error_envelope
from dbt_runs.webhooks import (
    WEBHOOK_SECRET_ENV,
    EventHub,
    ReplayGuard,
    Secret,
    check_secret,
    parse_event,
    secret_from_env,
)

__all__ = [
    "DEFAULT_MAX_WEBHOOK_BYTES",
    "WEBHOOK_PATH",
    "WebhookReceiver",
    "create_webhook_app",
]

logger = logging.getLogger("dbt_runs.expose.webhooks")

WEBHOOK_PATH: Final = "/v1/webhooks/dbt"
"""Where dbt Cloud delivers: the `client_url` of a subscription ends with it."""

DEFAULT_MAX_WEBHOOK_BYTES: Final = 256 * 1024
"""Delivery bodies above this many bytes are refused with 413 (dbt's are about 1 KB)."""

_JSON: Final = "application/json"


def _answer(status_code: int, data: dict[str, Any]) -> Response:
    body = {
        "status": {
            "code": status_code,
            "is_success": True,
            "user_message": "Success!",
            "developer_message": "",
        },
        "data": data,
    }
    return Response(
        json.dumps(body, separators=(",", ":")).encode("utf-8"), status_code, media_type=_JSON
    )


def _refusal(status_code: int, message: str, field: str | None = None) -> Response:
    body = json.loads(error_envelope(status_code, message))
    if field is not None:
        body["data"] = {field: message}
    return Response(
        json.dumps(body, separators=(",", ":")).encode("utf-8"), status_code, media_type=_JSON
    )


class WebhookReceiver:
    """Takes dbt Cloud's deliveries: verifies, de-duplicates, publishes to `hub`.

    Its `endpoint` is a Starlette endpoint (`Route(path, receiver.endpoint,
    methods=["POST"])`); `create_webhook_app` builds the app around it.

    Args:
        hub: Where accepted events go (a new `EventHub` when None): give your waiters the same.
        secret: The subscription's `hmac_secret`, or several (a delivery signed with any is
            accepted). None reads `DBT_WEBHOOK_SECRET`.
        replay_guard: Remembers the event ids accepted, so that dbt's retries of a delivery
            are acknowledged and ignored (a new `ReplayGuard` when None).

    Attributes:
        hub: The hub events are published to.
        replay_guard: The event ids already accepted.
        accepted: Deliveries accepted and published.
        duplicates: Deliveries acknowledged as retries of an accepted one.
        refused: Deliveries refused (401 or 400).

    Raises:
        ConfigurationError: `secret` is None and `DBT_WEBHOOK_SECRET` is unset, or a secret
            is empty.
    """

    def __init__(
        self,
        hub: EventHub | None = None,
        *,
        secret: Secret | None = None,
        replay_guard: ReplayGuard | None = None,
    ) -> None:
        if secret is None:
            secret = secret_from_env()
        if secret is None:
            raise ConfigurationError(
                f"the webhook receiver needs dbt's secret: set {WEBHOOK_SECRET_ENV} to the "
                "hmac_secret dbt Cloud showed when the webhook subscription was created"
            )
        self._secret: Secret = ""
        self.set_secret(secret)
        self.hub = hub if hub is not None else EventHub()
        self.replay_guard = replay_guard if replay_guard is not None else ReplayGuard()
        self.accepted = self.duplicates = self.refused = 0

    def set_secret(self, secret: Secret) -> None:
        """Take deliveries signed with `secret` from now on (one secret, or several while
        one replaces another): a process that creates its own subscription learns the
        secret only from dbt's answer, after its receiver is already up.

        Raises:
            ConfigurationError: The secret is empty.
        """
        check_secret(secret)  # a blank one stops here, not at every delivery
        self._secret = secret

    def __repr__(self) -> str:
        # The secret itself never appears in a repr.
        return (
            f"WebhookReceiver(accepted={self.accepted}, duplicates={self.duplicates}, "
            f"refused={self.refused}, hub={self.hub!r})"
        )

    async def endpoint(self, request: Request) -> Response:
        """Answer one delivery (the handler of `POST /v1/webhooks/dbt`)."""
        body = await request.body()
        who = request.client.host if request.client is not None else "an unknown address"
        try:
            event = parse_event(
                body, authorization=request.headers.get("authorization"), secret=self._secret
            )
        except WebhookSignatureError as exc:
            self.refused += 1
            logger.warning("refused a webhook delivery from %s: %s", who, exc)
            return _refusal(401, f"Webhook signature refused: {exc}.")
        except WebhookPayloadError as exc:
            self.refused += 1
            logger.warning("refused a signed webhook delivery from %s: %s", who, exc)
            return _refusal(400, f"Not a dbt Cloud run event: {exc}.", exc.field)
        if not self.replay_guard.admit(event.event_id):
            self.duplicates += 1
            logger.info("ignored a repeated delivery of webhook event %s", event.event_id)
            return _answer(200, {"event_id": event.event_id, "duplicate": True})
        self.accepted += 1
        waiters = self.hub.publish(event)
        logger.info(
            "webhook %s for run %d of job %d (event %s): %d waiter(s)",
            event.event_type,
            event.run_id,
            event.job_id,
            event.event_id,
            waiters,
        )
        return _answer(200, {"event_id": event.event_id, "duplicate": False})


async def _healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=_JSON)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    elif exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path}: dbt delivers to POST "
        message += f"{WEBHOOK_PATH}."
    else:
        message = str(exc.detail)
    response = _refusal(exc.status_code, message)
    response.headers.update(exc.headers or {})
    return response


def create_webhook_app(
    hub: EventHub | None = None,
    *,
    secret: Secret | None = None,
    replay_guard: ReplayGuard | None = None,
    path: str = WEBHOOK_PATH,
    max_body_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES,
) -> Starlette:
    """The webhook receiver alone: `POST {path}` for dbt's deliveries and `GET /healthz`.

    It holds no dbt token and serves nothing else, so it is safe to expose to the internet
    (behind TLS: dbt wants an https `client_url`) while the REST adapter stays on loopback.
    Its only credential is dbt's signature; there is no host check (it answers to whatever
    name it is reached by) and no bearer token.

    Args:
        hub: Where accepted events go (a new `EventHub` when None; it is `app.state.hub`).
        secret: The subscription's `hmac_secret`, or several; None reads `DBT_WEBHOOK_SECRET`.
        replay_guard: Remembers accepted event ids (a new `ReplayGuard` when None).
        path: The route's path (mounted under a prefix, give `"/"` and mount it there).
        max_body_bytes: Refuse bodies above this size with 413.

    Returns:
        The Starlette app; `app.state.hub` and `app.state.receiver` are its hub and receiver.

    Raises:
        ConfigurationError: No secret was given and `DBT_WEBHOOK_SECRET` is unset.

    Example:
        ```python
        from dbt_runs.expose.webhooks import create_webhook_app
        from dbt_runs.webhooks import EventHub

        hub = EventHub()
        app = create_webhook_app(hub)          # secret from DBT_WEBHOOK_SECRET
        # uvicorn.run(app, host="0.0.0.0", port=8081), or mount it in your own app:
        # your_app.mount("/dbt", create_webhook_app(hub, path="/"))
        ```
    """
    receiver = WebhookReceiver(hub, secret=secret, replay_guard=replay_guard)
    app = Starlette(
        routes=[
            Route(path, receiver.endpoint, methods=["POST"], name="receive_dbt_webhook"),
            Route("/healthz", _healthz, methods=["GET"], name="healthz"),
        ],
        middleware=[
            # Only the size limit: no token, no host check (see above).
            Middleware(SecurityMiddleware, exempt_paths=(), max_body_bytes=max_body_bytes)
        ],
        exception_handlers={HTTPException: _http_exception},
    )
    app.router.redirect_slashes = False
    app.state.hub = receiver.hub
    app.state.receiver = receiver
    return app
