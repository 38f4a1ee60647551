"""`GET runs/?pk__in=...`: many runs by id in one request, as `wait_for_runs` asks for them.

The filter is in dbt's document (reference section 3.2, with `pk` and `id__gt`); list filters
come as one parameter holding a JSON or Python-style list, comma-separated, or repeated.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_support import API, check_run

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def listing(http: httpx.AsyncClient, params: Any) -> dict[str, Any]:
    response = await http.get(f"{API}/runs/", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "encode",
    [
        lambda ids: {"pk__in": "[" + ",".join(map(str, ids)) + "]"},  # what the SDK sends
        lambda ids: {"pk__in": "[" + ", ".join(map(str, ids)) + "]"},
        lambda ids: {"pk__in": ",".join(map(str, ids))},
        lambda ids: [("pk__in", str(i)) for i in ids],
    ],
    ids=["json", "python-list", "comma-separated", "repeated"],
)
async def test_every_encoding_selects_the_same_runs(
    http: httpx.AsyncClient, emulator: Emulator, encode: Any
) -> None:
    wanted = [run.id for run in emulator.runs()[10:40:3]]
    body = await listing(http, encode(wanted))
    assert [run["id"] for run in body["data"]] == wanted
    assert body["extra"]["filters"]["pk__in"] == wanted
    assert body["extra"]["pagination"] == {"count": len(wanted), "total_count": len(wanted)}


async def test_a_hundred_live_runs_with_their_trigger_in_one_page(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job = emulator.add_job("Fleet", job_type="ci")
    live = [emulator.trigger_run(job, cause=f"fleet {i}") for i in range(100)]
    body = await listing(
        http, {"pk__in": "[" + ",".join(map(str, live)) + "]", "include_related": "trigger"}
    )
    assert [run["id"] for run in body["data"]] == live
    for run, run_id in zip(body["data"], live, strict=True):
        check_run(run)
        assert run["in_progress"] is True
        assert run["trigger"]["cause"] == f"fleet {run_id - live[0]}"


async def test_unknown_ids_are_left_out_not_refused(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    known = emulator.runs()[-1].id
    body = await listing(http, {"pk__in": f"[{known},{known + 10_000}]"})
    assert [run["id"] for run in body["data"]] == [known]


async def test_ids_combine_with_the_other_filters(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    runs = emulator.runs()[:50]
    succeeded = [run.id for run in runs if run.status == 10]
    ids = "[" + ",".join(str(run.id) for run in runs) + "]"
    body = await listing(http, {"pk__in": ids, "status": 10})
    assert [run["id"] for run in body["data"]] == succeeded


async def test_a_malformed_list_is_dbts_400(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/runs/", params={"pk__in": "[1, 'x']"})
    assert response.status_code == 400
    assert "pk__in" in response.json()["data"]
