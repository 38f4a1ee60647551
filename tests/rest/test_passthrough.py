"""dbt's answers go through the adapter unchanged; failures to reach dbt become 502/504.

The upstream here is a fake dbt answering with dbt's real recorded payloads, so "unchanged"
is checked against bytes dbt actually sent, including its own error bodies.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from dbt_runs import RetryPolicy

from .conftest import UPSTREAM, FakeDbt, adapter_for, assert_envelope, reference

pytestmark = pytest.mark.anyio

RUN = "data-mie_dbt-cloud-cli/run_get_response.json"
TRIGGER = "kestra-io_plugin-dbt/run.json"
CANCEL = "data-mie_dbt-cloud-cli/run_cancel_response.json"
LIST = "open-metadata_OpenMetadata/list_runs_response.json"
ARTIFACTS = "data-mie_dbt-cloud-cli/run_list_artifacts_response.json"
RUN_RESULTS = "data-mie_dbt-cloud-cli/run_get_artifact_response.json"


@pytest.mark.parametrize(
    ("method", "upstream_path", "adapter_path", "payload"),
    [
        ("GET", "/accounts/7/runs/5/", "/v1/accounts/7/runs/5", RUN),
        ("POST", "/accounts/7/jobs/3/run/", "/v1/accounts/7/jobs/3/run", TRIGGER),
        ("GET", "/accounts/7/runs/", "/v1/accounts/7/runs", LIST),
        ("GET", "/accounts/7/runs/5/artifacts/", "/v1/accounts/7/runs/5/artifacts", ARTIFACTS),
        ("POST", "/accounts/7/runs/5/cancel/", "/v1/accounts/7/runs/5/cancel", CANCEL),
    ],
)
async def test_success_bodies_are_dbts_bytes(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    method: str,
    upstream_path: str,
    adapter_path: str,
    payload: str,
) -> None:
    fake_dbt.json(method, upstream_path, reference(payload))
    response = await adapter.request(method, adapter_path)
    assert response.status_code == 200
    assert response.content == reference(payload)
    assert response.headers["content-type"] == "application/json"
    assert [r.url.path for r in fake_dbt.requests] == ["/api/v2" + upstream_path]


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (400, "errors/400_invalid_status__in.json"),
        (401, "errors/401_invalid_token.json"),
        (401, "errors/401_unpaid_account_2022.json"),
        (403, "errors/403_ip_restriction_forbidden.template.json"),
        (403, "errors/403_token_not_scoped_to_account.json"),
        (404, "errors/404_not_found.json"),
        (405, "errors/405_missing_trailing_slash_2021.json"),
        (500, "errors/500_missing_cause_2020.json"),
    ],
)
@pytest.mark.parametrize(
    ("method", "upstream_path", "adapter_path"),
    [
        ("GET", "/accounts/7/runs/5/", "/v1/accounts/7/runs/5"),
        ("POST", "/accounts/7/jobs/3/run/", "/v1/accounts/7/jobs/3/run"),
    ],
)
async def test_dbt_errors_pass_through_unchanged(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    status: int,
    payload: str,
    method: str,
    upstream_path: str,
    adapter_path: str,
) -> None:
    fake_dbt.json(method, upstream_path, reference(payload), status=status)
    response = await adapter.request(method, adapter_path)
    if method == "POST" and status >= 500:
        # A 5xx to a trigger may hide a started run: the client looks for it (here: in vain)
        # rather than claim dbt's plain failure.
        body = assert_envelope(response, 502)
        assert "may or may not have started" in body["status"]["user_message"]
        return
    assert response.status_code == status
    assert response.content == reference(payload)


async def test_rate_limit_passes_retry_after_on(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    body = b'{"status":{"code":429,"is_success":false,"user_message":"Slow down"},"data":null}'
    fake_dbt.on(
        "GET",
        "/accounts/7/runs/5/",
        httpx.Response(429, content=body, headers={"Retry-After": "300", "X-Internal": "no"}),
    )
    response = await adapter.get("/v1/accounts/7/runs/5")
    assert response.status_code == 429
    assert response.content == body
    assert response.headers["retry-after"] == "300"
    assert "x-internal" not in response.headers


async def test_artifact_streams_dbts_bytes_and_content_type(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    fake_dbt.on(
        "GET",
        "/accounts/7/runs/5/artifacts/compiled/jaffle/models/a b.sql",
        httpx.Response(200, content=b"select 1\n", headers={"content-type": "text/plain"}),
    )
    fake_dbt.json("GET", "/accounts/7/runs/5/artifacts/run_results.json", reference(RUN_RESULTS))
    sql = await adapter.get("/v1/accounts/7/runs/5/artifacts/compiled/jaffle/models/a%20b.sql")
    results = await adapter.get("/v1/accounts/7/runs/5/artifacts/run_results.json?step=2")
    assert sql.status_code == 200
    assert sql.content == b"select 1\n"
    assert sql.headers["content-type"].startswith("text/plain")
    assert results.content == reference(RUN_RESULTS)
    assert results.headers["content-length"] == str(len(reference(RUN_RESULTS)))
    assert fake_dbt.requests[-1].url.params["step"] == "2"


async def test_missing_artifact_is_dbts_404(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.json(
        "GET",
        "/accounts/7/runs/5/artifacts/manifest.json",
        reference("errors/404_not_found.json"),
        status=404,
    )
    response = await adapter.get("/v1/accounts/7/runs/5/artifacts/manifest.json")
    assert response.status_code == 404
    assert response.content == reference("errors/404_not_found.json")


async def test_trigger_sends_validated_fields_and_default_cause(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    fake_dbt.json("POST", "/accounts/7/jobs/3/run/", reference(TRIGGER))
    await adapter.post("/v1/accounts/7/jobs/3/run")
    await adapter.post(
        "/v1/accounts/7/jobs/3/run",
        json={"cause": "nightly", "git_branch": "main", "steps_override": ["dbt build"]},
    )
    sent = [json.loads(r.content) for r in fake_dbt.requests]
    causes = [body.pop("cause") for body in sent]
    assert causes[0].startswith("Triggered via the dbt-runs REST adapter [dbt-runs:")
    assert causes[1].startswith("nightly [dbt-runs:")
    assert sent == [{}, {"git_branch": "main", "steps_override": ["dbt build"]}]


async def test_list_filters_reach_dbt(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.json("GET", "/accounts/7/runs/", reference(LIST))
    response = await adapter.get(
        "/v1/accounts/7/runs",
        params=[
            ("limit", "2"),
            ("offset", "4"),
            ("order_by", "-id"),
            ("job_definition_id", "3"),
            ("status__in", "[10, 20]"),
            ("include_related", "trigger,job"),
        ],
    )
    assert response.status_code == 200
    params = fake_dbt.requests[-1].url.params
    assert params["limit"] == "2"
    assert params["offset"] == "4"
    assert params["order_by"] == "-id"
    assert params["job_definition_id"] == "3"
    assert json.loads(params["status__in"]) == [10, 20]
    assert params["include_related"] == "trigger,job"


def _page(count: int, total: int) -> bytes:
    return json.dumps(
        {
            "status": {"code": 200, "is_success": True, "user_message": "Success!"},
            "data": [{"id": i + 1} for i in range(count)],
            "extra": {"pagination": {"count": count, "total_count": total}},
        }
    ).encode()


@pytest.mark.parametrize(
    ("query", "count", "total", "expected"),
    [
        ("limit=2", 2, 5, "http://127.0.0.1:8080/v1/accounts/7/runs?limit=2&offset=2"),
        (
            "limit=2&offset=2&status__in=1&status__in=3",
            2,
            5,
            "http://127.0.0.1:8080/v1/accounts/7/runs?limit=2&offset=4&status__in=1&status__in=3",
        ),
        ("limit=2&offset=4", 1, 5, None),
        ("", 4, 4, None),
        ("offset=9", 0, 5, None),
    ],
)
async def test_link_header_points_at_the_next_page(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    query: str,
    count: int,
    total: int,
    expected: str | None,
) -> None:
    fake_dbt.json("GET", "/accounts/7/runs/", _page(count, total))
    response = await adapter.get(f"/v1/accounts/7/runs?{query}")
    assert response.status_code == 200
    if expected is None:
        assert "link" not in response.headers
    else:
        link = response.headers["link"]
        assert link.endswith('; rel="next"')
        url = httpx.URL(link.removeprefix("<").partition(">")[0])
        want = httpx.URL(expected)
        assert (url.scheme, url.host, url.port, url.path) == (
            want.scheme,
            want.host,
            want.port,
            want.path,
        )
        assert sorted(url.params.multi_items()) == sorted(want.params.multi_items())


# ---------------------------------------------------------------- when dbt cannot be reached


@pytest.mark.parametrize(
    ("failure", "status", "words"),
    [
        (httpx.ConnectError("connection refused"), 502, "could not be reached"),
        (httpx.ReadTimeout("read timed out"), 504, "did not answer in time"),
        (httpx.ConnectTimeout("connect timed out"), 504, "did not answer in time"),
        (httpx.RemoteProtocolError("peer closed"), 502, "could not be reached"),
    ],
)
async def test_transport_failures_become_gateway_errors(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    failure: Exception,
    status: int,
    words: str,
) -> None:
    fake_dbt.on("GET", "/accounts/7/runs/5/", failure)
    response = await adapter.get("/v1/accounts/7/runs/5")
    body = assert_envelope(response, status)
    assert body["data"] is None
    assert words in body["status"]["user_message"]


async def test_html_error_page_becomes_502(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    fake_dbt.on(
        "GET",
        "/accounts/7/runs/5/",
        httpx.Response(502, content=page, headers={"content-type": "text/html"}),
    )
    body = assert_envelope(await adapter.get("/v1/accounts/7/runs/5"), 502)
    assert "not JSON" in body["status"]["user_message"]
    assert "502" in body["status"]["user_message"]


async def test_html_success_page_becomes_502(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.on("GET", "/accounts/7/runs/5/", httpx.Response(200, content=b"<html>login</html>"))
    body = assert_envelope(await adapter.get("/v1/accounts/7/runs/5"), 502)
    assert "not a JSON object" in body["status"]["user_message"]


async def test_ambiguous_trigger_is_502_and_never_resent(fake_dbt: FakeDbt) -> None:
    empty = _page(0, 0)
    fake_dbt.on("POST", "/accounts/7/jobs/3/run/", httpx.ReadTimeout("lost"))
    fake_dbt.json("GET", "/accounts/7/runs/", empty)
    async with adapter_for(fake_dbt, retry=RetryPolicy(max_retries=3)) as adapter:
        response = await adapter.post("/v1/accounts/7/jobs/3/run", json={"cause": "once"})
    body = assert_envelope(response, 502)
    assert "may or may not have started" in body["status"]["user_message"]
    posts = [r for r in fake_dbt.requests if r.method == "POST"]
    assert len(posts) == 1


async def test_reconciled_trigger_is_marked(fake_dbt: FakeDbt) -> None:
    run = json.loads(reference(TRIGGER))["data"]
    page = json.loads(_page(0, 1))
    page["data"] = [run]
    page["extra"]["pagination"]["count"] = 1
    fake_dbt.on("POST", "/accounts/7/jobs/3/run/", httpx.ReadTimeout("lost"))

    def listed(request: httpx.Request) -> httpx.Response:
        # dbt lists the run with the cause the POST sent, marker included.
        posted = json.loads(fake_dbt.requests[0].content)["cause"]
        page["data"][0]["trigger"]["cause"] = posted
        return httpx.Response(200, json=page)

    fake_dbt.on("GET", "/accounts/7/runs/", listed)
    cause = run["trigger"]["cause"]
    async with adapter_for(fake_dbt) as adapter:
        response = await adapter.post("/v1/accounts/7/jobs/3/run", json={"cause": cause})
    assert response.status_code == 200, response.text
    assert response.headers["x-dbt-runs-reconciled"] == "true"
    assert response.json()["data"]["id"] == run["id"]


async def test_unreachable_upstream_over_a_real_closed_port() -> None:
    import socket

    from dbt_runs import AsyncRunsClient
    from dbt_runs.expose.rest import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` any more: connecting is refused.
    async with (
        AsyncRunsClient(
            token="t", base_url=f"http://127.0.0.1:{port}", retry=RetryPolicy.disabled()
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client)), base_url="http://adapter"
        ) as adapter,
    ):
        response = await adapter.get("/v1/accounts/1/runs/1")
    assert_envelope(response, 502)


async def test_the_dbt_token_never_reaches_a_response_or_log(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_dbt.on("GET", "/accounts/7/runs/5/", httpx.ConnectError("refused"))
    fake_dbt.json("GET", "/accounts/7/runs/6/", reference(RUN))
    responses = [
        await adapter.get("/v1/accounts/7/runs/5"),
        await adapter.get("/v1/accounts/7/runs/6"),
        await adapter.get("/v1/accounts/7/runs/x"),
        await adapter.get("/openapi.json"),
    ]
    assert fake_dbt.requests[0].headers["authorization"] == "Bearer dbtc_s3cret-upstream-token"
    for response in responses:
        assert "s3cret" not in response.text
        assert all("s3cret" not in value for value in response.headers.values())
    assert "s3cret" not in caplog.text
    assert UPSTREAM  # the fake upstream's URL is the only place the adapter is told of dbt


async def test_single_and_list_filters_combine(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    fake_dbt.json("GET", "/accounts/7/runs/", reference(LIST))
    response = await adapter.get(
        "/v1/accounts/7/runs?status=10&status__in=20,10&project_id=4&project_id__in=5"
    )
    assert response.status_code == 200
    params = fake_dbt.requests[-1].url.params
    assert json.loads(params["status__in"]) == [10, 20]
    assert json.loads(params["project_id__in"]) == [4, 5]
    assert "status" not in params


async def test_compressed_artifact_is_passed_decoded_without_a_wrong_length(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    import gzip

    original = reference(RUN_RESULTS) * 50
    packed = gzip.compress(original)
    fake_dbt.on(
        "GET",
        "/accounts/7/runs/5/artifacts/run_results.json",
        lambda request: httpx.Response(
            200,
            content=packed,
            headers={
                "content-type": "application/json",
                "content-encoding": "gzip",
                "content-length": str(len(packed)),
            },
        ),
    )
    response = await adapter.get("/v1/accounts/7/runs/5/artifacts/run_results.json")
    assert response.status_code == 200
    assert response.content == original
    assert response.headers.get("content-length") in {None, str(len(original))}
    assert "content-encoding" not in response.headers
