"""Bad input gets a 400 naming the problem, in dbt's envelope, before anything reaches dbt."""

from __future__ import annotations

import json

import httpx
import pytest

from dbt_runs import _fields
from dbt_runs._fields import NOT_BLANK, TRIGGER_FIELDS, FieldError
from dbt_runs.expose.rest._params import ParameterError
from dbt_runs.expose.rest._routes import ROUTES

from .conftest import FakeDbt, adapter_for, assert_envelope, reference

pytestmark = pytest.mark.anyio

TRIGGER = "kestra-io_plugin-dbt/run.json"


@pytest.mark.parametrize(
    "raw",
    ["0", "-1", "+1", "1.5", "1e3", "abc", " 1", "9223372036854775808", "1" * 40, "0x10", "\u0661"],
)
def test_path_ids_refuse(raw: str) -> None:
    with pytest.raises(FieldError, match=r"must be (a positive 64-bit integer|an integer)"):
        _fields.RUN_ID.from_text([raw])


# A whole number with a zero fraction is that integer, in text as in JSON (see _fields).
@pytest.mark.parametrize(
    ("raw", "value"), [("1", 1), ("1.0", 1), ("9223372036854775807", 2**63 - 1)]
)
def test_path_ids_accept(raw: str, value: int) -> None:
    assert _fields.RUN_ID.from_text([raw]) == value


def parse_trigger_body(content: bytes) -> dict[str, object]:
    trigger = next(route for route in ROUTES if route.operation_id == "triggerjobrun")
    assert trigger.body is not None
    return trigger.body.read(content)


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/v1/accounts/0/runs/1", ["accountid"]),
        ("/v1/accounts/1/runs/abc", ["runid"]),
        ("/v1/accounts/-3/runs/abc", ["accountid", "runid"]),
        ("/v1/accounts/1/runs/9223372036854775808/artifacts", ["runid"]),
        ("/v1/accounts/x/runs", ["accountid"]),
        ("/v1/accounts/1/runs/1.5/artifacts/manifest.json", ["runid"]),
    ],
)
async def test_bad_path_ids_are_400_naming_them(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, path: str, names: list[str]
) -> None:
    body = assert_envelope(await adapter.get(path), 400)
    assert sorted(body["data"]) == sorted(names)
    for name in names:
        assert f"'{name}'" in body["status"]["user_message"]
    assert fake_dbt.requests == []


async def test_bad_ids_on_posts(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    body = assert_envelope(await adapter.post("/v1/accounts/1/jobs/zero/run"), 400)
    assert list(body["data"]) == ["jobid"]
    body = assert_envelope(await adapter.post("/v1/accounts/1/runs/0/cancel"), 400)
    assert list(body["data"]) == ["runid"]
    assert fake_dbt.requests == []


@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        ("limit=0", "limit", "between 1 and 100"),
        ("limit=101", "limit", "between 1 and 100"),
        ("limit=ten", "limit", "integer"),
        ("limit=1&limit=2", "limit", "at most once"),
        ("offset=-1", "offset", ">= 0"),
        ("order_by=name", "order_by", "one of"),
        ("status=4", "status", "unknown run status"),
        ("status__in=[1,4]", "status__in", "unknown run status"),
        ("status__in=", "status__in", "non-empty"),
        ("job_definition_id=0", "job_definition_id", "positive"),
        ("environment_id=x", "environment_id", "integer"),
        ("include_related=run_steps", "include_related", "unknown value"),
        ("created_at__range=2024-01-01T00:00:00Z", "created_at__range", "exactly two"),
        (
            'created_at__range=["2024-01-02T00:00:00Z","2024-01-01T00:00:00Z"]',
            "created_at__range",
            "start must not be after",
        ),
        ('finished_at__range=["2024-01-01","2024-01-02"]', "finished_at__range", "time zone"),
        ('finished_at__range=["yesterday","today"]', "finished_at__range", "ISO 8601"),
        ("job_id=3", "job_id", "not a known query parameter"),
    ],
)
async def test_bad_list_queries_are_400_naming_them(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, query: str, name: str, words: str
) -> None:
    body = assert_envelope(await adapter.get(f"/v1/accounts/1/runs?{query}"), 400)
    assert name in body["data"]
    assert words in body["data"][name]
    assert fake_dbt.requests == []


@pytest.mark.parametrize(
    "query",
    [
        "status__in=1&status__in=2",
        "status__in=1,2",
        "status__in=[1, 2]",
        "include_related=['job']",
        "include_related=trigger&include_related=job",
        'include_related=["trigger","job"]',
        "created_at__range=2024-01-01T00:00:00Z,2024-01-02T00:00:00%2B00:00",
        "project_id__in=[1,2]",
        # A code as a JSON Schema reads the document's enum (10.0 is 10): schemathesis sends it.
        "status=10.0",
        "status__in=1.0&status__in=20",
    ],
)
async def test_list_encodings_real_clients_send_are_accepted(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, query: str
) -> None:
    fake_dbt.json(
        "GET", "/accounts/1/runs/", reference("open-metadata_OpenMetadata/list_runs_response.json")
    )
    response = await adapter.get(f"/v1/accounts/1/runs?{query}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/accounts/1/runs/1?expand=1", "expand"),
        ("/v1/accounts/1/runs/1?include_related=bogus", "include_related"),
        ("/v1/accounts/1/runs/1/artifacts?step=1", "step"),
        ("/v1/accounts/1/runs/1/artifacts/manifest.json?step=0", "step"),
        ("/v1/accounts/1/runs/1/artifacts/manifest.json?step=x", "step"),
        ("/v1/accounts/1/runs/1/artifacts/a/%2E%2E/b.json", "path"),
        ("/v1/accounts/1/runs/1/artifacts/a//b.json", "path"),
        ("/v1/accounts/1/runs/1/artifacts/a%5Cb.json", "path"),
        ("/v1/accounts/1/runs/1/artifacts/a%00b.json", "path"),
        ("/v1/accounts/1/runs/1/artifacts/" + "a" * 1025, "path"),
        ("/healthz?x=1", "x"),
    ],
)
async def test_other_bad_inputs(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, path: str, name: str
) -> None:
    body = assert_envelope(await adapter.get(path), 400)
    assert name in body["data"]
    assert fake_dbt.requests == []


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"{", "body", "not valid JSON"),
        (b"\xff\xfe", "body", "not valid JSON"),
        (b"[1]", "body", "JSON object"),
        (b'"cause"', "body", "JSON object"),
        (b'{"cause": "x", "job_id": 3}', "job_id", "not a field here"),
        (b'{"cause": ""}', "cause", "empty"),
        (b'{"cause": "   "}', "cause", "blank"),
        (b'{"cause": 3}', "cause", "string"),
        (b'{"threads_override": true}', "threads_override", "integer"),
        (b'{"threads_override": 0}', "threads_override", "positive"),
        (b'{"timeout_seconds_override": -1}', "timeout_seconds_override", ">= 0"),
        (b'{"generate_docs_override": "yes"}', "generate_docs_override", "true or false"),
        (b'{"steps_override": []}', "steps_override", "at least one dbt command"),
        (b'{"steps_override": "dbt run"}', "steps_override", "must be a list of dbt commands"),
        (b'{"steps_override": ["dbt run", ""]}', "steps_override", "must not be empty"),
    ],
)
async def test_bad_trigger_bodies_are_400_naming_them(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, content: bytes, name: str, words: str
) -> None:
    response = await adapter.post(
        "/v1/accounts/1/jobs/2/run", content=content, headers={"content-type": "application/json"}
    )
    body = assert_envelope(response, 400)
    assert name in body["data"]
    assert words in body["data"][name]
    assert fake_dbt.requests == []


async def test_cause_over_255_characters(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.json("POST", "/accounts/1/jobs/2/run/", reference(TRIGGER))
    ok = await adapter.post("/v1/accounts/1/jobs/2/run", json={"cause": "x" * 255})
    too_long = await adapter.post("/v1/accounts/1/jobs/2/run", json={"cause": "x" * 256})
    assert ok.status_code == 200
    body = assert_envelope(too_long, 400)
    assert "255" in body["data"]["cause"]
    assert len(fake_dbt.requests) == 1


async def test_unknown_fields_are_all_named(adapter: httpx.AsyncClient) -> None:
    response = await adapter.post("/v1/accounts/1/jobs/2/run", json={"caus": "x", "branch": "m"})
    body = assert_envelope(response, 400)
    assert sorted(body["data"]) == ["branch", "caus"]
    assert "'caus'" in body["status"]["user_message"]


async def test_null_fields_are_left_out(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.json("POST", "/accounts/1/jobs/2/run/", reference(TRIGGER))
    response = await adapter.post(
        "/v1/accounts/1/jobs/2/run", json={"cause": "c", "git_branch": None}
    )
    assert response.status_code == 200
    assert json.loads(fake_dbt.requests[0].content).keys() == {"cause"}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/x-www-form-urlencoded", 200),  # curl -d's default label
        ("application/vnd.api+json", 200),
        ("text/plain", 415),
        ("multipart/form-data; boundary=x", 415),
    ],
)
async def test_body_content_types(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, content_type: str, status: int
) -> None:
    fake_dbt.json("POST", "/accounts/1/jobs/2/run/", reference(TRIGGER))
    response = await adapter.post(
        "/v1/accounts/1/jobs/2/run",
        content=b'{"cause": "c"}',
        headers={"content-type": content_type},
    )
    if status == 200:
        assert response.status_code == 200
    else:
        body = assert_envelope(response, 415)
        assert "application/json" in body["status"]["user_message"]


async def test_oversized_body_is_413(fake_dbt: FakeDbt) -> None:
    async with adapter_for(fake_dbt, max_body_bytes=100) as adapter:
        declared = await adapter.post("/v1/accounts/1/jobs/2/run", json={"cause": "x" * 200})

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 20

        streamed = await adapter.post(
            "/v1/accounts/1/jobs/2/run",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    assert_envelope(declared, 413)
    assert_envelope(streamed, 413)
    assert fake_dbt.requests == []


def test_every_trigger_field_is_one_the_client_accepts() -> None:
    import inspect

    from dbt_runs import AsyncRunsClient

    accepted = set(inspect.signature(AsyncRunsClient.trigger_run).parameters)
    assert {f.name for f in TRIGGER_FIELDS} <= accepted


def test_parse_trigger_body_defaults_cause() -> None:
    assert parse_trigger_body(b"") == {"cause": "Triggered via the dbt-runs REST adapter"}
    assert parse_trigger_body(b"  \n") == {"cause": "Triggered via the dbt-runs REST adapter"}
    assert parse_trigger_body(b"{}") == {"cause": "Triggered via the dbt-runs REST adapter"}


# ---------------------------------------------------------------- routing errors


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", "/v2/accounts/1/runs", 404, "No route"),
        ("GET", "/v1/accounts/1/runs/", 404, "no trailing slash"),
        ("POST", "/v1/accounts/1/jobs/2/run/", 404, "no trailing slash"),
        ("GET", "/", 404, "No route"),
        ("DELETE", "/v1/accounts/1/runs/2", 405, "GET"),
        ("GET", "/v1/accounts/1/jobs/2/run", 405, "POST"),
        ("PUT", "/v1/accounts/1/runs/2/cancel", 405, "POST"),
        ("POST", "/healthz", 405, "GET"),
    ],
)
async def test_unknown_paths_and_methods_are_json(
    adapter: httpx.AsyncClient, method: str, path: str, status: int, words: str
) -> None:
    response = await adapter.request(method, path)
    body = assert_envelope(response, status)
    assert words in body["status"]["user_message"]
    if status == 405:
        assert "allow" in response.headers


@pytest.mark.parametrize(
    "value", [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\ufeff", "a"]
)
def test_blank_means_the_same_to_the_schema_and_to_the_adapter(value: str) -> None:
    import re

    schema_accepts = re.search(NOT_BLANK, value) is not None
    try:
        parse_trigger_body(json.dumps({"cause": value}).encode())
        adapter_accepts = True
    except ParameterError:
        adapter_accepts = False
    assert schema_accepts == adapter_accepts == (not value.isspace())
