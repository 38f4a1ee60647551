"""List runs: the envelope's `extra`, pagination, ordering, and every filter encoding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from emulator_support import API, check_run

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def listing(http: httpx.AsyncClient, query: str = "", **params: Any) -> dict[str, Any]:
    response = await http.get(f"{API}/runs/{query}", params=params or None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_default_page_and_extra(http: httpx.AsyncClient, emulator: Emulator) -> None:
    body = await listing(http)
    assert body["status"]["code"] == 200
    assert len(body["data"]) == 100
    assert body["extra"] == {
        "filters": {"limit": 100, "offset": 0, "state": "all", "account_id": 1},
        "order_by": "id",
        "pagination": {"count": 100, "total_count": emulator.run_count},
    }
    ids = [run["id"] for run in body["data"]]
    assert ids == sorted(ids)
    for run in body["data"]:
        check_run(run)
        assert run["trigger"] is None
        assert run["job"] is None
        assert run["run_steps"] == []


async def test_pagination_walks_every_run_once(http: httpx.AsyncClient, emulator: Emulator) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        body = await listing(http, limit=37, offset=offset)
        page = body["extra"]["pagination"]
        seen += [run["id"] for run in body["data"]]
        assert page["count"] == len(body["data"])
        offset += page["count"]
        if offset >= page["total_count"]:
            break
    assert seen == [info.id for info in emulator.runs()]
    past_the_end = await listing(http, offset=emulator.run_count + 5)
    assert past_the_end["data"] == []
    assert past_the_end["extra"]["pagination"] == {"count": 0, "total_count": emulator.run_count}


@pytest.mark.parametrize(
    ("params", "error_field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"order_by": "status"}, "order_by"),
        ({"status__in": "queued"}, "status__in"),
        ({"status__in": "[1, 'x']"}, "status__in"),
        ({"status__in": "DbtCloudJobRunStatus.NON_TERMINAL_STATUSES"}, "status__in"),
        ({"job_definition_id": "abc"}, "job_definition_id"),
        ({"created_at__range": '["2024-01-01"]'}, "created_at__range"),
        ({"finished_at__range": '["yesterday", "today"]'}, "finished_at__range"),
        ({"has_docs_generated": "maybe"}, "has_docs_generated"),
        ({"state": "gone"}, "state"),
    ],
)
async def test_bad_parameters_are_a_400_naming_the_field(
    http: httpx.AsyncClient, params: dict[str, Any], error_field: str
) -> None:
    response = await http.get(f"{API}/runs/", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == {
        "code": 400,
        "is_success": False,
        "user_message": (
            "The request was invalid. Please double check the provided data and try again."
        ),
        "developer_message": "",
    }
    assert list(body["data"]) == [error_field]
    assert isinstance(body["data"][error_field], str)


async def test_invalid_status_in_uses_dbts_wording(http: httpx.AsyncClient) -> None:
    raw = "DbtCloudJobRunStatus.NON_TERMINAL_STATUSES"
    body = (await http.get(f"{API}/runs/", params={"status__in": raw})).json()
    assert body["data"] == {"status__in": f"'{raw}' is not valid under any of the given schemas"}


@pytest.mark.parametrize(
    "query",
    [
        "?status__in=[10, 20]",
        "?status__in=[10,20]",
        "?status__in=(10, 20)",
        "?status__in=['10', '20']",
        '?status__in=["10","20"]',
        "?status__in=10,20",
        "?status__in=10&status__in=20",
        "?status__in[]=10&status__in[]=20",
    ],
)
async def test_status_in_every_encoding(http: httpx.AsyncClient, query: str) -> None:
    body = await listing(http, query + "&limit=100")
    statuses = {run["status"] for run in body["data"]}
    assert statuses == {10, 20}
    assert body["extra"]["filters"]["status__in"] == [10, 20]
    total = body["extra"]["pagination"]["total_count"]
    only_10 = (await listing(http, status=10))["extra"]["pagination"]["total_count"]
    only_20 = (await listing(http, status=20))["extra"]["pagination"]["total_count"]
    assert total == only_10 + only_20


async def test_filters_by_job_environment_project_and_ids(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    body = await listing(http, job_definition_id=2, limit=100)
    assert {run["job_definition_id"] for run in body["data"]} == {2}
    assert body["extra"]["filters"]["job_definition_id"] == 2
    assert body["extra"]["pagination"]["total_count"] == len(emulator.runs(job_id=2))
    ci = await listing(http, environment_id=2)
    assert {run["environment_id"] for run in ci["data"]} == {2}
    jobs = (await http.get(f"{API}/jobs/?project_id=1")).json()["data"]
    in_project_1 = [i for i in emulator.runs() if i.job_id in {job["id"] for job in jobs}]
    for query in ("?project_id__in=[1]", "?project_id__in=1", "?project_id=1"):
        assert (await listing(http, query))["extra"]["pagination"]["total_count"] == (
            len(in_project_1)
        )
    assert (await listing(http, "?project_id__in=[3, 4]"))["data"] == []
    first = emulator.runs()[0].id
    gt = await listing(http, id__gt=first + 10)
    assert gt["data"][0]["id"] == first + 11
    picked = await listing(http, f"?pk__in=[{first}, {first + 2}]")
    assert [run["id"] for run in picked["data"]] == [first, first + 2]
    assert (await listing(http, pk=first))["data"][0]["id"] == first
    assert (await listing(http, state="deleted"))["data"] == []


async def test_order_by(http: httpx.AsyncClient, emulator: Emulator) -> None:
    newest = await listing(http, order_by="-id", limit=5)
    assert [run["id"] for run in newest["data"]] == [r.id for r in emulator.runs()[::-1][:5]]
    assert newest["extra"]["order_by"] == "-id"
    created = await listing(http, order_by="-created_at", limit=50)
    stamps = [run["created_at"] for run in created["data"]]
    assert stamps == sorted(stamps, reverse=True)
    # A run still in progress has no finished_at: it sorts last ascending, first descending.
    live = emulator.trigger_run(1)
    finished = await listing(http, order_by="finished_at", limit=100)
    stamps = [run["finished_at"] for run in finished["data"]]
    assert stamps == sorted(stamps)
    latest = await listing(http, order_by="-finished_at", limit=2)
    assert latest["data"][0]["id"] == live
    assert latest["data"][0]["finished_at"] is None


async def test_date_ranges_in_every_encoding(http: httpx.AsyncClient, emulator: Emulator) -> None:
    runs = emulator.runs()
    low, high = runs[10].created_at, runs[19].created_at
    iso = [low.isoformat(), high.isoformat()]
    queries = [
        {"created_at__range": f'["{iso[0]}", "{iso[1]}"]'},
        {"created_at__range": f"['{iso[0]}', '{iso[1]}']"},
        {"created_at__range": f"{iso[0]},{iso[1]}"},
        {"created_at__range": [iso[0], iso[1]]},
        {
            "created_at__range": [
                low.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                high.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"),
            ]
        },
    ]
    for params in queries:
        body = await listing(http, **params)
        assert [run["id"] for run in body["data"]] == [r.id for r in runs[10:20]], params
    finished = runs[5].finished_at
    assert finished is not None
    window = f'["{finished.isoformat()}", "{finished.isoformat()}"]'
    body = await listing(http, finished_at__range=window)
    assert [run["id"] for run in body["data"]] == [runs[5].id]


@pytest.mark.parametrize(
    "query",
    [
        "?include_related=trigger,job",
        "?include_related=trigger, job",
        '?include_related=["trigger","job"]',
        "?include_related=['trigger', 'job']",
        "?include_related=trigger&include_related=job",
        "?include_related[]=trigger&include_related[]=job",
    ],
)
async def test_include_related_in_every_form(http: httpx.AsyncClient, query: str) -> None:
    body = await listing(http, query + "&limit=3")
    for run in body["data"]:
        assert run["trigger"]["job_definition_id"] == run["job_definition_id"]
        assert run["job"]["id"] == run["job_definition_id"]
        assert run["run_steps"] == []


async def test_has_docs_generated_filter(http: httpx.AsyncClient) -> None:
    with_docs = await listing(http, has_docs_generated="true", limit=100)
    assert with_docs["data"]
    assert all(run["has_docs_generated"] for run in with_docs["data"])
    assert {run["job_definition_id"] for run in with_docs["data"]} == {2}
    without = await listing(http, has_docs_generated="False", limit=100)
    assert not any(run["has_docs_generated"] for run in without["data"])


async def test_seeded_history_has_a_realistic_mix(emulator: Emulator) -> None:
    infos = emulator.runs()
    statuses = {info.status for info in infos}
    assert statuses == {10, 20, 30}
    assert all(info.is_complete for info in infos)
    share_ok = sum(info.status == 10 for info in infos) / len(infos)
    assert 0.6 < share_ok < 0.95
    timeouts = [i for i in infos if i.status_message and "timed out" in i.status_message]
    assert timeouts
    assert {info.job_id for info in infos} == {1, 2, 3, 4, 5, 6, 8}  # job 7 has no history
    created = [info.created_at for info in infos]
    assert created == sorted(created)
    now = datetime.fromtimestamp(emulator.clock.now(), UTC)
    assert max(i.finished_at for i in infos if i.finished_at) < now


def test_ten_thousand_runs_are_cheap_to_create() -> None:
    import time

    start = time.perf_counter()
    emulator = Emulator(runs=10_000)
    elapsed = time.perf_counter() - start
    assert emulator.run_count == 10_000
    # Generous for a loaded CI machine; typically about 0.1 s.
    assert elapsed < 1.5


async def test_jobs_list_and_get(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{API}/jobs/")).json()
    assert [job["id"] for job in body["data"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert body["extra"]["filters"]["state"] == "active"
    assert body["extra"]["pagination"] == {"count": 8, "total_count": 8}
    ci = (await http.get(f"{API}/jobs/", params={"environment_id": 2})).json()
    assert [job["id"] for job in ci["data"]] == [4]
    named = (await http.get(f"{API}/jobs/?name__icontains=DOCS")).json()
    assert [job["id"] for job in named["data"]] == [2]
    job = (await http.get(f"{API}/jobs/1/?include_related=environment")).json()["data"]
    assert job["name"] == "Daily build"
    assert job["execute_steps"] == ["dbt build"]
    assert job["environment"]["id"] == 1
    assert job["created_at"].endswith("Z")
    assert "T" in job["created_at"]
    assert (await http.get(f"{API}/jobs/99/")).status_code == 404
