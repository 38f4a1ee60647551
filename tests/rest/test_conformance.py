"""The served surface is the seed's `rest` resources, plus the documented extensions, exactly.

The seed is read from the spec shipped in the package (what the adapter implements), and the
OpenAPI document is checked against what is actually routed, so neither can drift.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Route

from dbt_runs import AsyncRunsClient
from dbt_runs.expose.rest import create_app
from dbt_runs.expose.webhooks import WEBHOOK_PATH, WebhookReceiver
from dbt_runs.webhooks import EventHub

from .conftest import ADAPTER, FakeDbt, adapter_for, assert_envelope

pytestmark = pytest.mark.anyio

EXTENSIONS = {
    ("GET", "/v1/accounts/{accountid}/runs/{runid}/artifacts/{path}"),
    ("POST", "/v1/accounts/{accountid}/runs/{runid}/cancel"),
    ("POST", "/v1/accounts/{accountid}/runs/{runid}/retry"),
    ("GET", "/v1/accounts/{accountid}/runs/{runid}/errors"),
    ("GET", "/v1/accounts/{accountid}/jobs"),
    ("GET", "/v1/accounts/{accountid}/jobs/{jobid}"),
    ("GET", "/v1/accounts/{accountid}/jobs/{jobid}/artifacts/{path}"),
    ("POST", "/v1/accounts/{accountid}/jobs/{jobid}/rerun"),
}
META = {("GET", "/healthz"), ("GET", "/openapi.json")}
CHANGES_RUNS = {
    ("POST", "/v1/accounts/{accountid}/jobs/{jobid}/run"),
    ("POST", "/v1/accounts/{accountid}/runs/{runid}/cancel"),
    ("POST", "/v1/accounts/{accountid}/runs/{runid}/retry"),
    ("POST", "/v1/accounts/{accountid}/jobs/{jobid}/rerun"),
}


def seed_rest() -> dict[str, Any]:
    text = files("dbt_runs").joinpath("_spec/cloud-administrative-runs.yaml").read_text("utf-8")
    (rest,) = [e for e in yaml.safe_load(text)["capability"]["exposes"] if e["type"] == "rest"]
    return rest  # type: ignore[no-any-return]


def seed_operations() -> dict[tuple[str, str], str]:
    return {
        (op["method"], resource["path"]): op["name"]
        for resource in seed_rest()["resources"]
        for op in resource["operations"]
    }


def served(app: Any) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{path:path}", "{path}")
        # Starlette answers HEAD wherever it answers GET; that is HTTP, not another route.
        routes |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return routes


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


@pytest.fixture
def client() -> AsyncRunsClient:
    return AsyncRunsClient(token="t", base_url="http://dbt.invalid", account_id=1)


def test_seed_has_the_four_resources() -> None:
    assert len(seed_operations()) == 4
    assert seed_rest()["port"] == 8080


def test_served_routes_are_the_seed_plus_extensions(client: AsyncRunsClient) -> None:
    assert served(create_app(client)) == set(seed_operations()) | EXTENSIONS | META


def test_read_only_serves_nothing_that_changes_a_run(client: AsyncRunsClient) -> None:
    app = create_app(client, read_only=True)
    assert served(app) == (set(seed_operations()) | EXTENSIONS | META) - CHANGES_RUNS
    assert all(method == "GET" for method, _ in served(app))


@pytest.mark.parametrize("webhooks", [False, True], ids=["", "webhooks"])
@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("token", [None, "t0k"])
async def test_document_describes_exactly_the_served_routes(
    client: AsyncRunsClient, read_only: bool, token: str | None, webhooks: bool
) -> None:
    receiver = WebhookReceiver(EventHub(), secret="s3cret") if webhooks else None
    app = create_app(client, read_only=read_only, server_token=token, webhooks=receiver)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ADAPTER, headers=headers
    ) as http:
        document = (await http.get("/openapi.json")).json()
    assert documented(document) == served(app)
    assert document["openapi"] == "3.1.0"
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    for schema in document["components"]["schemas"].values():
        OAS31Validator.check_schema(schema)
    seed = seed_operations()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            key = (method.upper(), path)
            if key in seed:
                assert operation["operationId"] == seed[key]
                assert "x-extension" not in operation
            elif key in EXTENSIONS:
                assert operation["x-extension"] is True
                assert "extension" in operation["summary"].lower()
            # Path parameters in the document are exactly those in the path.
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}
    if webhooks:
        # Authenticated by dbt's signature, never by the adapter's token.
        assert document["paths"][WEBHOOK_PATH]["post"]["security"] == []
    if token:
        assert document["security"] == [{"bearerAuth": []}]
        assert document["paths"]["/healthz"]["get"]["security"] == []
    else:
        assert "security" not in document


async def test_list_parameters_documented_are_the_accepted_ones(fake_dbt: FakeDbt) -> None:
    async with adapter_for(fake_dbt) as http:
        document = (await http.get("/openapi.json")).json()
        params = document["paths"]["/v1/accounts/{accountid}/runs"]["get"]["parameters"]
        for param in params:
            if param["in"] != "query":
                continue
            # A documented parameter is never refused as unknown.
            response = await http.get("/v1/accounts/1/runs", params={param["name"]: "@"})
            body = assert_envelope(response, 400)
            assert "not a known query parameter" not in body["data"][param["name"]]
        response = await http.get("/v1/accounts/1/runs", params={"undocumented": "1"})
        assert (
            "not a known query parameter" in assert_envelope(response, 400)["data"]["undocumented"]
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/accounts/1/jobs/2/run"),
        ("POST", "/v1/accounts/1/runs/2/cancel"),
        ("POST", "/v1/accounts/1/runs/2/retry"),
        ("POST", "/v1/accounts/1/jobs/2/rerun"),
    ],
)
async def test_read_only_hides_run_changes(fake_dbt: FakeDbt, method: str, path: str) -> None:
    async with adapter_for(fake_dbt, read_only=True) as http:
        response = await http.request(method, path, json={"cause": "x"})
    assert response.status_code in {404, 405}
    assert_envelope(response, response.status_code)
    assert fake_dbt.requests == []


async def test_healthz(adapter: httpx.AsyncClient) -> None:
    response = await adapter.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_curl_in_the_docs_names_a_served_route(client: AsyncRunsClient) -> None:
    """docs/rest.md's examples call routes that exist, with the method they take."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "rest.md"
    calls = re.findall(r"^curl (.*)$", docs.read_text(encoding="utf-8"), re.MULTILINE)
    routes = [
        (method, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path.replace("{path}", ".+"))))
        for method, path in served(create_app(client))
    ]
    checked = 0
    for call in calls:
        found = re.search(r"\$A(/[^\s\"'?]*)", call)
        if found is None:
            continue
        method = "POST" if "-X POST" in call else "GET"
        path = "/v1/accounts/1" + found.group(1)
        assert any(m == method and route.fullmatch(path) for m, route in routes), (method, path)
        checked += 1
    assert checked >= 15
