"""The webhook receiver: `create_webhook_app`, the REST adapter's route, and `dbt-runs serve`.

Deliveries are signed here with the standard library's hmac (not with dbt-runs), and, at the
end, sent by the emulator over loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema
import pytest
from click.testing import CliRunner

from dbt_runs import AsyncRunsClient, ConfigurationError
from dbt_runs.cli import _build
from dbt_runs.expose.rest import create_app
from dbt_runs.expose.webhooks import WEBHOOK_PATH, WebhookReceiver, create_webhook_app
from dbt_runs.testing import Emulator, ManualClock
from dbt_runs.testing._server import serve
from dbt_runs.webhooks import RUN_COMPLETED, RUN_STARTED, EventHub, ReplayGuard

from .conftest import assert_envelope
from .serve_support import BOUNDED, serving

pytestmark = pytest.mark.anyio

SECRET = "wsu-secret-0123456789"


def delivery(run_id: int = 42, event_id: str = "wev_1", event_type: str = RUN_COMPLETED) -> bytes:
    return json.dumps(
        {
            "accountId": 1,
            "webhooksID": "wsu_1",
            "eventId": event_id,
            "timestamp": "2023-01-31T19:29:35.789265936Z",
            "eventType": event_type,
            "webhookName": "test",
            "data": {
                "jobId": "1",
                "runId": str(run_id),
                "runStatus": "Success",
                "runStatusCode": 10,
            },
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Authorization": digest, "Content-Type": "application/json"}


@asynccontextmanager
async def calling(app: Any, base: str = "http://hooks.example") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        yield client


# ---------------------------------------------------------------- create_webhook_app


async def test_a_signed_delivery_is_published_once() -> None:
    hub = EventHub()
    app = create_webhook_app(hub, secret=SECRET)
    assert app.state.hub is hub
    with hub.subscribe(42) as events:
        async with calling(app) as client:
            body = delivery()
            first = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
            assert first.status_code == 200
            assert first.json()["data"] == {"event_id": "wev_1", "duplicate": False}
            event = events.get_nowait()
            assert event is not None
            assert (event.run_id, event.event_type) == (42, RUN_COMPLETED)
            # dbt retries a delivery it thinks failed: acknowledged, not published again.
            for _ in range(5):
                again = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
                assert again.status_code == 200
                assert again.json()["data"]["duplicate"] is True
            assert events.get_nowait() is None
    receiver = app.state.receiver
    assert (receiver.accepted, receiver.duplicates, receiver.refused) == (1, 5, 0)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "no Authorization header"),
        ({"Authorization": "Bearer some-server-token"}, "never by a token"),
        ({"Authorization": "0" * 64}, "does not match"),
        ({"Authorization": "not hex"}, "64 hex digits"),
    ],
)
async def test_a_bad_signature_is_401_and_nothing_is_published(
    headers: dict[str, str], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub = EventHub()
    with hub.subscribe() as events:
        async with calling(create_webhook_app(hub, secret=SECRET)) as client:
            answer = await client.post(WEBHOOK_PATH, content=delivery(), headers=headers)
        body = assert_envelope(answer, 401)
        assert words in body["status"]["user_message"]
        assert events.get_nowait() is None
    assert SECRET not in answer.text
    assert SECRET not in caplog.text
    assert "refused a webhook delivery" in caplog.text


async def test_a_body_signed_with_another_secret_or_changed_is_refused() -> None:
    async with calling(create_webhook_app(secret=SECRET)) as client:
        body = delivery()
        other = await client.post(WEBHOOK_PATH, content=body, headers=signed(body, "other"))
        assert_envelope(other, 401)
        changed = body.replace(b'"42"', b'"43"')
        tampered = await client.post(WEBHOOK_PATH, content=changed, headers=signed(body))
        assert_envelope(tampered, 401)


async def test_a_signed_body_that_is_not_an_event_is_400_naming_the_field() -> None:
    async with calling(create_webhook_app(secret=SECRET)) as client:
        body = json.dumps({"eventId": "wev_1", "eventType": RUN_COMPLETED, "data": {}}).encode()
        answer = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
    body_json = assert_envelope(answer, 400)
    assert list(body_json["data"]) == ["accountId"]


async def test_any_of_several_secrets_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with calling(create_webhook_app(secret=["old", "new"])) as client:
        for secret in ("old", "new"):
            body = delivery(event_id=f"wev_{secret}")
            answer = await client.post(WEBHOOK_PATH, content=body, headers=signed(body, secret))
            assert answer.status_code == 200
    monkeypatch.setenv("DBT_WEBHOOK_SECRET", f" {SECRET}\n")
    async with calling(create_webhook_app()) as client:
        body = delivery()
        assert (await client.post(WEBHOOK_PATH, content=body, headers=signed(body))).is_success
    monkeypatch.delenv("DBT_WEBHOOK_SECRET")
    with pytest.raises(ConfigurationError, match="DBT_WEBHOOK_SECRET"):
        create_webhook_app()
    with pytest.raises(ConfigurationError, match="empty"):
        create_webhook_app(secret=" ")


async def test_only_the_delivery_route_and_the_health_check_are_served() -> None:
    async with calling(create_webhook_app(secret=SECRET, max_body_bytes=1000)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert_envelope(await client.get(WEBHOOK_PATH), 405)
        missing = assert_envelope(await client.post("/v1/accounts/1/runs"), 404)
        assert WEBHOOK_PATH in missing["status"]["user_message"]
        assert_envelope(await client.post(WEBHOOK_PATH, content=b"x" * 2000), 413)
        # No host check: it answers whatever public name it is reached by.
        body = delivery()
        headers = {**signed(body), "Host": "hooks.example.com"}
        assert (await client.post(WEBHOOK_PATH, content=body, headers=headers)).is_success


async def test_it_mounts_under_a_prefix_of_your_own_app() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    hub = EventHub()
    outer = Starlette(routes=[Mount("/dbt", create_webhook_app(hub, secret=SECRET, path="/"))])
    async with calling(outer) as client:
        body = delivery()
        answer = await client.post("/dbt/", content=body, headers=signed(body))
    assert answer.is_success
    assert hub.published == 1


def test_the_secret_is_in_no_repr() -> None:
    receiver = WebhookReceiver(EventHub(), secret=SECRET, replay_guard=ReplayGuard(5))
    app = create_webhook_app(secret=SECRET)
    for text in (repr(receiver), repr(app.state.receiver), repr(app)):
        assert SECRET not in text


# ---------------------------------------------------------------- on the REST adapter


async def test_the_rest_adapter_takes_deliveries_without_its_bearer_token() -> None:
    emulator = Emulator(runs=5)
    client = emulator.client()
    hub = EventHub()
    app = create_app(
        client, server_token="inbound-t0ken", webhooks=WebhookReceiver(hub, secret=SECRET)
    )
    try:
        async with calling(app) as http:
            body = delivery()
            answer = await http.post(WEBHOOK_PATH, content=body, headers=signed(body))
            assert answer.status_code == 200
            assert hub.published == 1
            # The rest still needs the token; the token does not open the webhook route.
            assert_envelope(await http.get("/v1/accounts/1/runs"), 401)
            bearer = {"Authorization": "Bearer inbound-t0ken"}
            assert_envelope(await http.post(WEBHOOK_PATH, content=body, headers=bearer), 401)
            assert (await http.get("/v1/accounts/1/runs", headers=bearer)).status_code == 200
            # The adapter's document describes the route: what dbt sends, what it gets back.
            document = (await http.get("/openapi.json", headers=bearer)).json()
            route = document["paths"][WEBHOOK_PATH]["post"]
            assert route["security"] == []
            schemas = document["components"]["schemas"]
            resolver = {"$defs": schemas, **schemas["WebhookEvent"]}
            jsonschema.validate(json.loads(body), resolver)
            ack = {**schemas["WebhookAckEnvelope"], "$defs": schemas}
            ack_json = json.dumps(ack).replace("#/components/schemas/", "#/$defs/")
            jsonschema.validate(answer.json(), json.loads(ack_json))
    finally:
        await client.aclose()


async def test_the_rest_adapter_serves_no_webhook_route_by_default() -> None:
    emulator = Emulator(runs=5)
    client = emulator.client()
    try:
        async with calling(create_app(client)) as http:
            body = delivery()
            assert_envelope(await http.post(WEBHOOK_PATH, content=body, headers=signed(body)), 404)
    finally:
        await client.aclose()


# ---------------------------------------------------------------- dbt-runs serve


async def test_serve_puts_the_route_on_the_rest_adapter() -> None:
    async with (
        serving(webhook_secret=SECRET, server_token="t0k") as running,
        httpx.AsyncClient(timeout=BOUNDED) as http,
    ):
        url = running.urls["webhooks"]
        assert url == running.urls["rest"] + WEBHOOK_PATH
        assert running.hub is not None
        with running.hub.subscribe(42) as events:
            body = delivery()
            assert (await http.post(url, content=body, headers=signed(body))).is_success
            assert events.get_nowait() is not None


async def test_serve_puts_the_receiver_alone_on_its_own_port() -> None:
    async with (
        serving(webhook_secret=SECRET, webhook_port=0, rest=False) as running,
        httpx.AsyncClient(timeout=BOUNDED) as http,
    ):
        url = running.urls["webhooks"]
        assert "rest" not in running.urls
        assert "emulator" not in running.urls  # no upstream without an adapter
        body = delivery()
        assert (await http.post(url, content=body, headers=signed(body))).is_success
        base = url.removesuffix(WEBHOOK_PATH)
        assert_envelope(await http.get(f"{base}/v1/accounts/1/runs"), 404)
        # Reached by a public name through a proxy: no host check on this listener.
        headers = {**signed(delivery(event_id="wev_2")), "Host": "hooks.example.com"}
        answer = await http.post(url, content=delivery(event_id="wev_2"), headers=headers)
        assert answer.is_success


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"DBT_API_KEY": "", "DBT_RUNS_SERVER_TOKEN": "", "DBT_WEBHOOK_SECRET": ""}
    return CliRunner().invoke(_build(), ["serve", *args], env={**base, **(env or {})})


@pytest.mark.parametrize(
    "args", [["--only", "webhooks"], ["--webhook-port", "0"], ["--webhook-host", "0.0.0.0"]]
)
def test_a_separate_receiver_needs_the_secret(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "DBT_WEBHOOK_SECRET" in result.stderr
    assert "Traceback" not in result.output


def test_only_webhooks_needs_no_dbt_token_and_may_listen_publicly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt_runs.cli.serve as serve_module

    seen: list[Any] = []
    monkeypatch.setattr(serve_module, "run", seen.append)
    env = {"DBT_WEBHOOK_SECRET": SECRET}
    result = invoke("--only", "webhooks", "--host", "0.0.0.0", env=env)
    assert result.exit_code == 0, result.output
    (settings,) = seen
    assert (settings.rest, settings.mcp, settings.webhook_port) == (False, False, 8081)
    assert settings.webhook_secret == SECRET
    result = invoke("--help")
    for flag in ("--webhook-port", "--webhook-host", "webhooks"):
        assert flag in result.output


# ---------------------------------------------------------------- the emulator's deliveries


async def test_the_emulators_deliveries_reach_a_waiter_through_the_receiver() -> None:
    emulator = Emulator(runs=0, clock=ManualClock())
    hub = EventHub()
    app = create_webhook_app(hub, secret="not known yet")
    async with calling(emulator.app, "http://emulator.test") as api, serve(app) as server:
        created = await api.post(
            "/api/v3/accounts/1/webhooks/subscriptions",
            headers={"Authorization": "Token t"},
            json={
                "name": "waiters",
                "client_url": server.url + WEBHOOK_PATH,
                "event_types": [RUN_STARTED, RUN_COMPLETED],
            },
        )
        secret = created.json()["data"]["hmac_secret"]
        # dbt shows the secret in its answer to the create call, once the URL is known.
        app.state.receiver.set_secret(secret)
        runs_client: AsyncRunsClient = emulator.client()
        try:
            run = await runs_client.trigger_run(1, cause="webhooks")
            with hub.subscribe(run.id, event_types={RUN_COMPLETED}) as events:
                emulator.clock.advance(300)
                records = await emulator.webhooks.deliver_due()
                assert [r.outcome for r in records] == [200, 200]
                event = await events.next_within(BOUNDED)
        finally:
            await runs_client.aclose()
    assert event is not None
    assert (event.run_id, event.event_type) == (run.id, RUN_COMPLETED)
    assert event.status is not None
    assert event.status.is_terminal
