"""Jobs: `GET jobs/` with dbt's filters, `GET jobs/{id}/`, and `GET jobs/{id}/artifacts/...`.

The filters are those of "List Jobs" in dbt's OpenAPI document, and every answer is checked
against its response schema. The seed has two jobs named "Daily build" (job 1 in project 1,
job 8 in project 2), so that a client finding a job by name meets the ambiguity.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import API, example, validate

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

LIST = "/api/v2/accounts/{account_id}/jobs/"
ONE = "/api/v2/accounts/{account_id}/jobs/{id}/"


async def jobs(http: httpx.AsyncClient, query: str = "") -> dict[str, Any]:
    response = await http.get(f"{API}/jobs/{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate(body, LIST)
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [job["id"] for job in body["data"]]


async def test_two_jobs_share_a_name_in_different_projects(http: httpx.AsyncClient) -> None:
    named = await jobs(http, "?name__icontains=daily%20BUILD")
    assert ids(named) == [1, 8]
    assert [(j["project_id"], j["environment_id"]) for j in named["data"]] == [(1, 1), (2, 4)]
    assert {j["name"] for j in named["data"]} == {"Daily build"}
    assert named["extra"]["filters"]["name__icontains"] == "daily BUILD"
    assert ids(await jobs(http, "?name__icontains=daily%20build&project_id=2")) == [8]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("?project_id=1", [1, 2, 3, 4, 5, 6, 7]),
        ("?project_id=2", [8]),
        ("?project_id__in=[2]", [8]),
        ("?project_id__in=1,2", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("?project_id=1&project_id__in=[2]", []),
        ("?environment_id=4", [8]),
        ("?environment_id=2", [4]),
        ("?pk=6", [6]),
        ("?state=active", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("?state=1", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("?state=deleted", []),
        ("?state=all", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("?order_by=-id", [8, 7, 6, 5, 4, 3, 2, 1]),
        ("?order_by=name", [4, 1, 8, 5, 2, 6, 3, 7]),
        ("?order_by=-name&limit=2", [7, 3]),
        ("?limit=3&offset=6", [7, 8]),
    ],
)
async def test_filters_order_and_pages(
    http: httpx.AsyncClient, query: str, expected: list[int]
) -> None:
    body = await jobs(http, query)
    assert ids(body) == expected
    total = {"?limit=3&offset=6": 8, "?order_by=-name&limit=2": 8}.get(query, len(expected))
    assert body["extra"]["pagination"] == {"count": len(expected), "total_count": total}


async def test_the_echo_of_the_filters(http: httpx.AsyncClient) -> None:
    plain = await jobs(http)
    assert list(plain["extra"]) == list(
        example("open-metadata_OpenMetadata/list_runs_response.json")["extra"]
    )
    assert plain["extra"]["filters"] == {
        "limit": 100,
        "offset": 0,
        "state": "active",
        "account_id": 1,
    }
    assert plain["extra"]["order_by"] == "id"
    filtered = await jobs(http, "?project_id__in=[1]&environment_id=1&state=2&limit=5")
    assert filtered["extra"]["filters"] == {
        "limit": 5,
        "offset": 0,
        "state": "deleted",
        "account_id": 1,
        "environment_id": 1,
        "project_id__in": [1],
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?order_by=status", "order_by"),
        ("?state=gone", "state"),
        ("?limit=101", "limit"),
        ("?project_id__in=[x]", "project_id__in"),
        ("?environment_id=one", "environment_id"),
    ],
)
async def test_bad_values_are_dbts_400(http: httpx.AsyncClient, query: str, field: str) -> None:
    response = await http.get(f"{API}/jobs/{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == example("errors/400_invalid_status__in.json")["status"]
    assert list(body["data"]) == [field]


async def test_most_recent_runs_are_related_on_request(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    finished = (await http.post(f"{API}/jobs/1/run/", json={"cause": "done"})).json()["data"]
    emulator.clock.advance(600)
    queued = (await http.post(f"{API}/jobs/1/run/", json={"cause": "queued"})).json()["data"]
    related = "most_recent_run,most_recent_completed_run"
    body = await jobs(http, f"?include_related={related}")
    by_id = {job["id"]: job for job in body["data"]}
    assert by_id[1]["most_recent_run"]["id"] == queued["id"]
    assert by_id[1]["most_recent_completed_run"]["id"] == finished["id"]
    assert by_id[1]["most_recent_completed_run"]["is_complete"] is True
    assert by_id[7]["most_recent_run"] is None  # job 7 has no history
    # Python-style lists, as dbt-mcp sends include_related, work as well.
    listed = "['most_recent_run', 'most_recent_completed_run']"
    one = (await http.get(f"{API}/jobs/1/?include_related={listed}")).json()
    validate(one, ONE)
    assert one["data"]["most_recent_completed_run"]["id"] == finished["id"]
    assert "most_recent_run" not in (await http.get(f"{API}/jobs/1/")).json()["data"]


async def test_get_job(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{API}/jobs/8/?include_related=environment")).json()
    validate(body, ONE)
    job = body["data"]
    assert (job["name"], job["project_id"], job["environment_id"]) == ("Daily build", 2, 4)
    assert job["environment"]["project_id"] == 2
    assert (await http.get(f"{API}/jobs/6/")).json()["data"]["execute_steps"][1] == (
        "dbt source freshness"
    )


async def artifact_run_id(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["metadata"]["env"]["DBT_CLOUD_RUN_ID"])


async def test_a_job_artifact_is_the_latest_successful_runs(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    good = (await http.post(f"{API}/jobs/1/run/", json={"cause": "good"})).json()["data"]
    emulator.clock.advance(600)
    bad = (await http.post(f"{API}/jobs/1/run/", json={"cause": "bad [fail]"})).json()["data"]
    emulator.clock.advance(600)
    assert emulator.run(bad["id"]).status == 20
    path = f"{API}/jobs/1/artifacts/run_results.json"
    assert await artifact_run_id(await http.get(path)) == good["id"]
    results = (await http.get(path)).json()["results"]
    assert {r["status"] for r in results} <= {"success", "pass"}
    # dbt: "given a job id and a set of Run filters": a status filter picks other runs.
    assert await artifact_run_id(await http.get(f"{path}?status=20")) == bad["id"]
    assert await artifact_run_id(await http.get(f"{path}?status__in=[10,20]")) == bad["id"]


async def test_no_successful_run_is_a_404() -> None:
    emulator = Emulator(runs=0)
    transport = httpx.ASGITransport(app=emulator.app)
    headers = {"Authorization": "Token t"}
    async with httpx.AsyncClient(transport=transport, base_url="http://e", headers=headers) as http:
        path = f"{API}/jobs/7/artifacts/sources.json"
        missing = await http.get(path)
        assert missing.status_code == 404
        assert missing.json() == example("errors/404_not_found.json")
        await http.post(f"{API}/jobs/7/run/", json={"cause": "stale [fail]"})
        emulator.clock.advance(600)
        assert (await http.get(path)).status_code == 404, "a failed run is not a successful one"
        assert (await http.get(f"{path}?status=20")).status_code == 200
        ok = (await http.post(f"{API}/jobs/7/run/", json={"cause": "fresh"})).json()["data"]
        emulator.clock.advance(600)
        assert await artifact_run_id(await http.get(path)) == ok["id"]
