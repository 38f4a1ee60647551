"""The adapter mounted under a prefix in someone else's ASGI app, as docs/rest.md shows."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from dbt_runs import AsyncRunsClient, RetryPolicy
from dbt_runs.expose.rest import create_app

from .conftest import UPSTREAM, FakeDbt, assert_envelope

pytestmark = pytest.mark.anyio


async def test_mounted_under_a_prefix(fake_dbt: FakeDbt) -> None:
    fake_dbt.json(
        "GET",
        "/accounts/1/runs/",
        json.dumps(
            {
                "status": {"code": 200, "is_success": True},
                "data": [{"id": 1}],
                "extra": {"pagination": {"count": 1, "total_count": 3}},
            }
        ).encode(),
    )
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(fake_dbt)) as http,
        AsyncRunsClient(
            token="t", base_url=UPSTREAM, http_client=http, retry=RetryPolicy.disabled()
        ) as client,
    ):
        outer = Starlette(
            routes=[Mount("/dbt", app=create_app(client, read_only=True, server_token="tok"))]
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=outer), base_url="http://127.0.0.1:8000"
        ) as caller:
            auth = {"Authorization": "Bearer tok"}
            health = await caller.get("/dbt/healthz")
            refused = await caller.get("/dbt/v1/accounts/1/runs")
            listed = await caller.get("/dbt/v1/accounts/1/runs?limit=1", headers=auth)
            hidden = await caller.post("/dbt/v1/accounts/1/jobs/2/run", headers=auth)
    assert health.status_code == 200
    assert_envelope(refused, 401)
    assert listed.status_code == 200
    assert listed.headers["link"] == (
        '<http://127.0.0.1:8000/dbt/v1/accounts/1/runs?limit=1&offset=1>; rel="next"'
    )
    assert_envelope(hidden, 404)


async def test_app_owns_a_client_it_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_API_KEY", "from-env")
    monkeypatch.setenv("DBT_CLOUD_BASE_URL", "http://127.0.0.1:9/api/v2")
    app = create_app()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as caller,
        # ASGITransport runs no lifespan; drive it the way a server would.
        app.router.lifespan_context(app),
    ):
        assert (await caller.get("/healthz")).status_code == 200
        assert not app.state.client.is_closed
    assert app.state.client.is_closed


async def test_app_leaves_a_passed_client_open() -> None:
    async with AsyncRunsClient(token="t", base_url=UPSTREAM) as client:
        app = create_app(client)
        async with app.router.lifespan_context(app):
            pass
        assert not client.is_closed


def test_create_app_without_configuration_names_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt_runs import ConfigurationError

    monkeypatch.delenv("DBT_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="DBT_API_KEY"):
        create_app()
