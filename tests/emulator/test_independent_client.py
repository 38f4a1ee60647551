"""A dbt Cloud client written from dbt's documentation alone (plain httpx, not our SDK),
pointed at the emulator over loopback HTTP, must not notice it is not dbt Cloud.

It follows docs.getdbt.com and the OpenAPI document: `Authorization: Token`, trailing slashes,
the envelope, `limit`/`offset` pagination until `offset + count >= total_count`, status codes
1/2/3/10/20/30, the raw artifact body, and the error envelope.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dbt_runs.testing import Emulator, ManualClock

pytestmark = pytest.mark.anyio

TERMINAL = {10, 20, 30}


class DocsClient:
    """What a careful engineer writes after reading the dbt Cloud API v2 docs."""

    def __init__(self, http: httpx.AsyncClient, account_id: int) -> None:
        self.http = http
        self.root = f"/api/v2/accounts/{account_id}"

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, self.root + path, **kwargs)
        body = response.json()
        if response.status_code >= 400:
            message = body.get("status", {}).get("user_message") or body.get("detail")
            raise RuntimeError(f"{response.status_code}: {message} {body.get('data')}")
        assert body["status"]["is_success"] is True
        return body

    async def trigger(self, job_id: int, cause: str, **overrides: Any) -> dict[str, Any]:
        body = await self._json("POST", f"/jobs/{job_id}/run/", json={"cause": cause, **overrides})
        run: dict[str, Any] = body["data"]
        return run

    async def get_run(self, run_id: int, include_related: str = "") -> dict[str, Any]:
        params = {"include_related": include_related} if include_related else None
        run: dict[str, Any] = (await self._json("GET", f"/runs/{run_id}/", params=params))["data"]
        return run

    async def list_runs(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            params = {**filters, "limit": 100, "offset": offset}
            body = await self._json("GET", "/runs/", params=params)
            for run in body["data"]:
                yield run
            pagination = body["extra"]["pagination"]
            offset += pagination["count"]
            if pagination["count"] == 0 or offset >= pagination["total_count"]:
                return

    async def wait(self, run_id: int, poll: Any) -> dict[str, Any]:
        for _ in range(1000):
            run = await self.get_run(run_id)
            if run["status"] in TERMINAL:
                return run
            await poll()
        raise AssertionError("run never finished")

    async def artifacts(self, run_id: int) -> list[str]:
        data: list[str] | None = (await self._json("GET", f"/runs/{run_id}/artifacts/"))["data"]
        return data or []

    async def download(self, run_id: int, path: str, step: int | None = None) -> bytes:
        params = {"step": step} if step is not None else None
        chunks = []
        async with self.http.stream(
            "GET",
            f"{self.root}/runs/{run_id}/artifacts/{path}",
            params=params,
            headers={"Accept": "*/*"},
        ) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
        return b"".join(chunks)

    async def cancel(self, run_id: int) -> dict[str, Any]:
        run: dict[str, Any] = (await self._json("POST", f"/runs/{run_id}/cancel/"))["data"]
        return run


@pytest.fixture
async def docs_client(emulator: Emulator) -> AsyncIterator[DocsClient]:
    async with (
        emulator.serve() as server,
        httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": "Token dbtc_abc123", "Accept": "application/json"},
            timeout=10,
        ) as http,
    ):
        yield DocsClient(http, account_id=1)


async def test_the_documented_workflow(docs_client: DocsClient, emulator: Emulator) -> None:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)

    async def poll() -> None:
        clock.advance(5)

    run = await docs_client.trigger(1, "Kicked off by a docs-only client", git_branch="main")
    assert run["status"] == 1
    assert run["trigger"]["cause"] == "Kicked off by a docs-only client"
    done = await docs_client.wait(run["id"], poll)
    assert done["status"] == 10
    assert done["is_success"] is True
    assert done["status_humanized"] == "Success"

    with_steps = await docs_client.get_run(run["id"], include_related="run_steps,trigger,job")
    assert [s["index"] for s in with_steps["run_steps"]] == [1, 2, 3, 4]
    build_step = with_steps["run_steps"][-1]["index"]

    paths = await docs_client.artifacts(run["id"])
    assert "manifest.json" in paths
    assert "run_results.json" in paths
    results = json.loads(await docs_client.download(run["id"], "run_results.json", build_step))
    assert {r["status"] for r in results["results"]} <= {"success", "pass"}
    manifest = json.loads(await docs_client.download(run["id"], "manifest.json"))
    assert "model.jaffle_shop.orders" in manifest["nodes"]

    failed = await docs_client.trigger(1, "Nightly [fail]")
    failed = await docs_client.wait(failed["id"], poll)
    assert failed["status"] == 20
    assert failed["is_error"] is True

    queued = await docs_client.trigger(1, "to be cancelled")
    blocked = await docs_client.trigger(1, "blocked")
    assert blocked["blocked_by"] == [queued["id"]]
    cancelled = await docs_client.cancel(queued["id"])
    assert cancelled["status"] == 30
    assert cancelled["status_message"] == "Cancelled by user."

    ids = [r["id"] async for r in docs_client.list_runs(job_definition_id=1, order_by="-id")]
    assert ids[:4] == [blocked["id"], queued["id"], failed["id"], run["id"]]
    assert len(ids) == len(emulator.runs(job_id=1))
    every = [r["id"] async for r in docs_client.list_runs()]
    assert every == sorted(every)
    assert len(every) == emulator.run_count
    statuses = [r["status"] async for r in docs_client.list_runs(status__in="[10,20]")]
    assert set(statuses) == {10, 20}


async def test_the_documented_errors(docs_client: DocsClient) -> None:
    http = docs_client.http
    unauthenticated = await http.get(f"{docs_client.root}/runs/", headers={"Authorization": ""})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["status"]["user_message"] == "Invalid token."
    other = await http.get("/api/v2/accounts/2/runs/")
    assert other.status_code == 403
    with pytest.raises(RuntimeError, match="404: The requested resource was not found"):
        await docs_client.get_run(1)
    with pytest.raises(RuntimeError, match=r"400: .*'cause': 'This field is required.'"):
        await docs_client._json("POST", "/jobs/1/run/", json={})
    with pytest.raises(RuntimeError, match=r"400: .*limit"):
        await docs_client._json("GET", "/runs/", params={"limit": 500})
    wrong = await http.get(f"{docs_client.root}/jobs/1/run/")
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": 'Method "GET" not allowed.'}
