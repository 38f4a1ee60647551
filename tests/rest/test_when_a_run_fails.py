"""When a run fails, through REST: why (`/errors`), retry, rerun, jobs, and `if_running`.

dbt's answers pass through unchanged (checked against a fake dbt's bytes); the errors answer
is the adapter's own JSON, checked against the OpenAPI document that declares it and against
the SDK's `as_json`; the rest runs end to end against the emulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

from dbt_runs import AsyncRunsClient
from dbt_runs._diagnose import as_json
from dbt_runs.expose.rest import create_app
from dbt_runs.testing import Emulator

from .conftest import ADAPTER, FakeDbt, adapter_for, assert_envelope, reference

pytestmark = [pytest.mark.anyio, pytest.mark.dbt_emulator(runs=0)]

TRIGGER = "kestra-io_plugin-dbt/run.json"
RUN = "data-mie_dbt-cloud-cli/run_get_response.json"
JOB = "data-mie_dbt-cloud-cli/job_get_response.json"
# dbt's refusal of a retry: a 400 in its envelope, naming the reason.
REFUSED = json.dumps(
    {
        "status": {
            "code": 400,
            "is_success": False,
            "user_message": "This run cannot be retried.",
            "developer_message": "RETRY_NOT_FAILED_RUN",
        },
        "data": {"reason": "RETRY_NOT_FAILED_RUN"},
    }
).encode()
IN_PROGRESS = json.dumps(
    {
        "status": {
            "code": 409,
            "is_success": False,
            "user_message": "A run of this job is already in progress.",
            "developer_message": "",
        },
        "data": None,
    }
).encode()


# -- dbt's bytes, through a fake dbt --------------------------------------------------------


@pytest.mark.parametrize(
    ("upstream_path", "adapter_path", "payload"),
    [
        ("/accounts/7/runs/5/retry/", "/v1/accounts/7/runs/5/retry", TRIGGER),
        ("/accounts/7/jobs/3/rerun/", "/v1/accounts/7/jobs/3/rerun", TRIGGER),
    ],
)
async def test_retry_and_rerun_pass_dbts_bytes(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    upstream_path: str,
    adapter_path: str,
    payload: str,
) -> None:
    fake_dbt.json("POST", upstream_path, reference(payload))
    response = await adapter.post(adapter_path)
    assert response.status_code == 200
    assert response.content == reference(payload)
    assert [(r.method, r.url.path) for r in fake_dbt.requests] == [
        ("POST", "/api/v2" + upstream_path)
    ]


@pytest.mark.parametrize(
    ("upstream_path", "adapter_path", "status", "body"),
    [
        ("/accounts/7/runs/5/retry/", "/v1/accounts/7/runs/5/retry", 400, REFUSED),
        ("/accounts/7/jobs/3/rerun/", "/v1/accounts/7/jobs/3/rerun", 409, IN_PROGRESS),
        ("/accounts/7/jobs/3/rerun/", "/v1/accounts/7/jobs/3/rerun", 400, REFUSED),
    ],
)
async def test_dbts_refusal_passes_through_unchanged_and_is_sent_once(
    fake_dbt: FakeDbt,
    adapter: httpx.AsyncClient,
    upstream_path: str,
    adapter_path: str,
    status: int,
    body: bytes,
) -> None:
    fake_dbt.json("POST", upstream_path, body, status=status)
    response = await adapter.post(adapter_path)
    assert response.status_code == status
    assert response.content == body
    assert len(fake_dbt.requests) == 1


@pytest.mark.parametrize(
    ("upstream_path", "adapter_path", "lost", "job_id"),
    [
        ("/accounts/7/runs/5/retry/", "/v1/accounts/7/runs/5/retry", httpx.ReadTimeout("lost"), 1),
        (
            "/accounts/7/jobs/3/rerun/",
            "/v1/accounts/7/jobs/3/rerun",
            httpx.RemoteProtocolError("cut"),
            3,
        ),
    ],
)
async def test_a_lost_answer_is_the_502_of_a_lost_trigger(
    fake_dbt: FakeDbt, upstream_path: str, adapter_path: str, lost: Exception, job_id: int
) -> None:
    fake_dbt.on("POST", upstream_path, lost)
    run = json.loads(reference(RUN))
    run["data"]["job_definition_id"] = 1
    fake_dbt.json("GET", "/accounts/7/runs/5/", json.dumps(run).encode())
    page = {"status": {"code": 200, "is_success": True}, "data": [], "extra": {}}
    fake_dbt.json("GET", "/accounts/7/runs/", json.dumps(page).encode())
    async with adapter_for(fake_dbt) as adapter:
        response = await adapter.post(adapter_path)
    body = assert_envelope(response, 502)
    assert "may or may not have started" in body["status"]["user_message"]
    assert body["data"]["job_id"] == job_id
    assert body["data"]["candidate_run_ids"] == []
    assert len([r for r in fake_dbt.requests if r.method == "POST"]) == 1


async def test_get_job_passes_dbts_bytes(fake_dbt: FakeDbt, adapter: httpx.AsyncClient) -> None:
    fake_dbt.json("GET", "/accounts/7/jobs/3/", reference(JOB))
    response = await adapter.get("/v1/accounts/7/jobs/3")
    assert response.status_code == 200
    assert response.content == reference(JOB)


async def test_list_jobs_passes_dbts_bytes_with_a_link_to_the_next_page(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    job = json.loads(reference(JOB))["data"]
    page = json.dumps(
        {
            "status": {"code": 200, "is_success": True},
            "data": [job, job],
            "extra": {"pagination": {"count": 2, "total_count": 5}},
        }
    ).encode()
    fake_dbt.json("GET", "/accounts/7/jobs/", page)
    response = await adapter.get("/v1/accounts/7/jobs?limit=2&offset=1&name__icontains=daily")
    assert response.status_code == 200
    assert response.content == page
    link = httpx.URL(response.headers["link"].removeprefix("<").split(">")[0])
    assert dict(link.params) == {"limit": "2", "offset": "3", "name__icontains": "daily"}
    sent = fake_dbt.requests[0].url.params
    assert (sent["name__icontains"], sent["limit"], sent["offset"]) == ("daily", "2", "1")


async def test_job_artifact_passes_dbts_bytes_and_content_type(
    fake_dbt: FakeDbt, adapter: httpx.AsyncClient
) -> None:
    fake_dbt.on(
        "GET",
        "/accounts/7/jobs/3/artifacts/manifest.json",
        httpx.Response(200, content=b'{"nodes": {}}', headers={"content-type": "application/json"}),
    )
    response = await adapter.get("/v1/accounts/7/jobs/3/artifacts/manifest.json")
    assert response.status_code == 200
    assert response.content == b'{"nodes": {}}'
    assert response.headers["content-type"] == "application/json"
    missing = await adapter.get("/v1/accounts/7/jobs/3/artifacts/catalog.json")
    assert missing.status_code == 404
    # The fake's own 404 for a path it does not know: dbt's body, passed on.
    assert missing.json() == {"status": {"code": 404, "is_success": False}, "data": None}


# -- end to end, against the emulator -------------------------------------------------------


@pytest.fixture
async def rest(dbt_client: AsyncRunsClient) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(dbt_client)), base_url=ADAPTER
    ) as http:
        yield http


def failed_run(emulator: Emulator, job_id: int = 1) -> int:
    emulator.set_job_outcome(job_id, "error")
    run_id = emulator.trigger_run(job_id)
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    emulator.set_job_outcome(job_id, "success")
    return run_id


async def resolved(rest: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """A component of the served OpenAPI document, with every `$ref` in it resolved."""
    document = (await rest.get("/openapi.json")).json()
    components = document["components"]["schemas"]

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(components[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    schema: dict[str, Any] = inline(components[name])
    return schema


async def test_errors_answer_the_sdks_json_in_dbts_envelope(
    rest: httpx.AsyncClient, dbt_client: AsyncRunsClient, dbt_emulator: Emulator
) -> None:
    run_id = failed_run(dbt_emulator)
    response = await rest.get(f"/v1/accounts/1/runs/{run_id}/errors")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"]["code"] == 200
    assert body["status"]["is_success"] is True
    expected = as_json(await dbt_client.get_run_errors(run_id))
    assert body["data"] == json.loads(json.dumps(expected))
    (step,) = body["data"]["steps"]
    assert step["nodes"][0]["unique_id"] == "model.jaffle_shop.orders"
    jsonschema.validate(body, await resolved(rest, "RunErrorsEnvelope"))


async def test_errors_take_include_warnings_and_log_lines(
    rest: httpx.AsyncClient, dbt_client: AsyncRunsClient, dbt_emulator: Emulator
) -> None:
    run_id = failed_run(dbt_emulator)
    response = await rest.get(
        f"/v1/accounts/1/runs/{run_id}/errors", params={"include_warnings": "true", "log_lines": 0}
    )
    assert response.status_code == 200, response.text
    errors = await dbt_client.get_run_errors(run_id, include_warnings=True, log_lines=0)
    assert response.json()["data"] == json.loads(json.dumps(as_json(errors)))
    assert all(step["log_tail"] == [] for step in response.json()["data"]["steps"])
    jsonschema.validate(response.json(), await resolved(rest, "RunErrorsEnvelope"))


async def test_errors_of_a_run_that_succeeded_have_no_steps(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    run_id = dbt_emulator.trigger_run(1)
    dbt_emulator.clock.advance(3600)  # type: ignore[attr-defined]
    body = (await rest.get(f"/v1/accounts/1/runs/{run_id}/errors")).json()
    assert body["data"]["steps"] == []
    assert body["data"]["run"]["status"] == 10
    jsonschema.validate(body, await resolved(rest, "RunErrorsEnvelope"))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("include_warnings=yes", "include_warnings"),
        ("include_warnings=1", "include_warnings"),
        ("log_lines=1001", "log_lines"),
        ("log_lines=-1", "log_lines"),
        ("log_lines=ten", "log_lines"),
        ("compact=true", "compact"),
    ],
)
async def test_bad_errors_queries_are_400s_that_reach_nothing(
    rest: httpx.AsyncClient, dbt_emulator: Emulator, query: str, named: str
) -> None:
    dbt_emulator.clear_requests()
    body = assert_envelope(await rest.get(f"/v1/accounts/1/runs/5/errors?{query}"), 400)
    assert named in body["data"]
    assert dbt_emulator.requests == []


async def test_errors_of_a_missing_run_are_dbts_404(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    response = await rest.get("/v1/accounts/1/runs/999999/errors")
    assert response.status_code == 404
    assert response.json()["status"]["code"] == 404


async def test_retry_starts_a_run_and_a_second_retry_is_dbts_400(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    run_id = failed_run(dbt_emulator)
    first = await rest.post(f"/v1/accounts/1/runs/{run_id}/retry")
    assert first.status_code == 200, first.text
    assert first.json()["data"]["id"] > run_id
    before = dbt_emulator.run_count
    again = await rest.post(f"/v1/accounts/1/runs/{run_id}/retry")
    assert again.status_code == 400
    assert "RETRY_NOT_LATEST_RUN" in again.text
    assert dbt_emulator.run_count == before


async def test_list_jobs_filters_and_get_job(rest: httpx.AsyncClient) -> None:
    listed = await rest.get("/v1/accounts/1/jobs", params={"name__icontains": "SNAPSHOTS"})
    assert listed.status_code == 200, listed.text
    (job,) = listed.json()["data"]
    assert job["name"] == "Nightly snapshots"
    one = await rest.get(f"/v1/accounts/1/jobs/{job['id']}")
    assert one.json()["data"]["name"] == "Nightly snapshots"
    page = await rest.get("/v1/accounts/1/jobs", params={"limit": 2, "project_id__in": "[1]"})
    assert page.headers["link"].endswith('; rel="next"')
    assert "offset=2" in page.headers["link"]
    bad = assert_envelope(await rest.get("/v1/accounts/1/jobs?environment_id=0"), 400)
    assert "environment_id" in bad["data"]


async def test_job_artifact_is_the_latest_successful_runs(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    run_id = dbt_emulator.trigger_run(1)
    dbt_emulator.clock.advance(3600)  # type: ignore[attr-defined]
    direct = await rest.get(f"/v1/accounts/1/runs/{run_id}/artifacts/manifest.json")
    response = await rest.get("/v1/accounts/1/jobs/1/artifacts/manifest.json")
    assert response.status_code == 200
    assert response.content == direct.content
    assert response.headers["content-type"] == direct.headers["content-type"]
    missing = await rest.get("/v1/accounts/1/jobs/3/artifacts/nothing.json")
    assert missing.status_code == 404


# -- if_running ------------------------------------------------------------------------------


def busy_run(emulator: Emulator, job_id: int = 2) -> int:
    emulator.set_job_duration(job_id, 10_000)
    return emulator.trigger_run(job_id)


async def test_if_running_reuse_answers_the_run_going_with_the_reused_header(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    busy = busy_run(dbt_emulator)
    before = dbt_emulator.run_count
    response = await rest.post("/v1/accounts/1/jobs/2/run?if_running=reuse")
    assert response.status_code == 200, response.text
    assert response.headers["x-dbt-runs-reused"] == "true"
    assert response.json()["data"]["id"] == busy
    assert dbt_emulator.run_count == before


async def test_if_running_reuse_triggers_when_nothing_is_going(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    before = dbt_emulator.run_count
    response = await rest.post("/v1/accounts/1/jobs/2/run?if_running=reuse")
    assert response.status_code == 200, response.text
    assert "x-dbt-runs-reused" not in response.headers
    assert dbt_emulator.run_count == before + 1


async def test_if_running_fail_is_a_409_naming_the_run(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    busy = busy_run(dbt_emulator)
    before = dbt_emulator.run_count
    response = await rest.post(
        "/v1/accounts/1/jobs/2/run", params={"if_running": "fail"}, json={"cause": "x"}
    )
    body = assert_envelope(response, 409)
    assert body["data"] == {"run_id": busy}
    assert f"already has run {busy}" in body["status"]["user_message"]
    assert dbt_emulator.run_count == before


async def test_if_running_queue_queues_behind_the_run_going(
    rest: httpx.AsyncClient, dbt_emulator: Emulator
) -> None:
    busy = busy_run(dbt_emulator)
    response = await rest.post("/v1/accounts/1/jobs/2/run?if_running=queue")
    assert response.status_code == 200
    assert response.json()["data"]["id"] > busy


@pytest.mark.parametrize(
    "query", ["if_running=later", "if_running=", "if_running=reuse&if_running=fail"]
)
async def test_a_bad_if_running_is_a_400_that_triggers_nothing(
    rest: httpx.AsyncClient, dbt_emulator: Emulator, query: str
) -> None:
    dbt_emulator.clear_requests()
    body = assert_envelope(await rest.post(f"/v1/accounts/1/jobs/2/run?{query}"), 400)
    assert "if_running" in body["data"]
    assert dbt_emulator.requests == []


async def test_the_document_declares_if_running_the_reuse_header_and_the_409(
    rest: httpx.AsyncClient,
) -> None:
    document = (await rest.get("/openapi.json")).json()
    trigger = document["paths"]["/v1/accounts/{accountid}/jobs/{jobid}/run"]["post"]
    (param,) = [p for p in trigger["parameters"] if p["name"] == "if_running"]
    assert param["in"] == "query"
    assert param["schema"] == {"type": "string", "enum": ["queue", "reuse", "fail"]}
    assert "X-Dbt-Runs-Reused" in trigger["responses"]["200"]["headers"]
    assert "409" in trigger["responses"]
    errors = document["paths"]["/v1/accounts/{accountid}/runs/{runid}/errors"]["get"]
    assert {p["name"] for p in errors["parameters"] if p["in"] == "query"} == {
        "include_warnings",
        "log_lines",
    }
    schema = errors["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/RunErrorsEnvelope"}
    retry = document["paths"]["/v1/accounts/{accountid}/runs/{runid}/retry"]["post"]
    assert "409" not in retry["responses"]
    assert "X-Dbt-Runs-Reused" not in retry["responses"]["200"]["headers"]
