"""End to end against the emulator: in-process and over real loopback HTTP.

Every answer is compared byte for byte with what the upstream itself sent (recorded at the
client's transport), and with what the emulator answers when asked directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from dbt_runs import AsyncRunsClient, RetryPolicy, Timeout
from dbt_runs.expose.rest import create_app
from dbt_runs.testing import Emulator, ManualClock, RateLimit

from .conftest import RecordingTransport, assert_envelope, uvicorn_serving

pytestmark = pytest.mark.anyio

TOKEN = "emulator-t0ken"


@dataclass
class Stack:
    emulator: Emulator
    adapter: httpx.AsyncClient
    upstream: RecordingTransport
    direct: httpx.AsyncClient

    @property
    def last_upstream(self) -> tuple[int, bytes]:
        return self.upstream.bodies[-1]


@asynccontextmanager
async def in_process(emulator: Emulator, **client_options: object) -> AsyncIterator[Stack]:
    upstream = RecordingTransport(httpx.ASGITransport(app=emulator.app))
    async with (
        httpx.AsyncClient(transport=upstream, base_url="http://emulator.test") as http,
        AsyncRunsClient(
            token=TOKEN,
            base_url="http://emulator.test/api/v2",
            http_client=http,
            retry=client_options.pop("retry", RetryPolicy.disabled()),  # type: ignore[arg-type]
            **client_options,  # type: ignore[arg-type]
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client)), base_url="http://127.0.0.1"
        ) as adapter,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emulator.app),
            base_url="http://emulator.test/api/v2",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as direct,
    ):
        yield Stack(emulator, adapter, upstream, direct)


@asynccontextmanager
async def over_loopback(
    emulator: Emulator, *, record: bool = True, **client_options: object
) -> AsyncIterator[Stack]:
    async with emulator.serve() as server:
        upstream = RecordingTransport(httpx.AsyncHTTPTransport())
        # Recording reads every upstream body whole; a memory measurement must not.
        transport = upstream if record else upstream.inner
        async with (
            httpx.AsyncClient(transport=transport) as http,
            AsyncRunsClient(
                token=TOKEN,
                base_url=server.base_url,
                http_client=http,
                retry=client_options.pop("retry", RetryPolicy.disabled()),  # type: ignore[arg-type]
                **client_options,  # type: ignore[arg-type]
            ) as client,
            uvicorn_serving(create_app(client)) as adapter_url,
            httpx.AsyncClient(base_url=adapter_url, timeout=30) as adapter,
            httpx.AsyncClient(
                base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ) as direct,
        ):
            yield Stack(emulator, adapter, upstream, direct)


def new_emulator(**options: object) -> Emulator:
    return Emulator(token=TOKEN, runs=12, clock=ManualClock(), **options)  # type: ignore[arg-type]


def finished_run(emulator: Emulator) -> int:
    return emulator.runs(status=10)[0].id


@pytest.fixture(params=["in_process", "over_loopback"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stack_for(mode: str, emulator: Emulator, **options: object) -> object:
    return (in_process if mode == "in_process" else over_loopback)(emulator, **options)


async def test_every_route_passes_dbts_bytes(mode: str) -> None:
    emulator = new_emulator()
    run_id = finished_run(emulator)
    async with stack_for(mode, emulator) as stack:  # type: ignore[attr-defined]
        checks = [
            ("POST", "/v1/accounts/1/jobs/1/run", {"cause": "e2e", "git_branch": "main"}),
            ("GET", "/v1/accounts/1/runs?limit=3&order_by=-id&include_related=trigger", None),
            ("GET", f"/v1/accounts/1/runs/{run_id}?include_related=run_steps,job", None),
            ("GET", f"/v1/accounts/1/runs/{run_id}/artifacts", None),
            ("GET", f"/v1/accounts/1/runs/{run_id}/artifacts/run_results.json", None),
            ("GET", f"/v1/accounts/1/runs/{run_id}/artifacts/manifest.json?step=3", None),
            ("POST", f"/v1/accounts/1/runs/{run_id}/cancel", None),
        ]
        for method, path, body in checks:
            response = await stack.adapter.request(method, path, json=body)
            status, content = stack.last_upstream
            assert (response.status_code, response.content) == (status, content), path
            assert response.status_code in {200, 404}, (path, response.text)
        # The trigger reached the emulator with the fields given.
        triggered = json.loads(stack.upstream.bodies[0][1])["data"]
        assert triggered["trigger"]["cause"].startswith("e2e [dbt-runs:")
        assert triggered["git_branch"] in {None, "main"}


async def test_get_equals_the_emulators_direct_answer(mode: str) -> None:
    emulator = new_emulator()
    run_id = finished_run(emulator)
    async with stack_for(mode, emulator) as stack:  # type: ignore[attr-defined]
        for adapter_path, direct_path in [
            (f"/v1/accounts/1/runs/{run_id}", f"/accounts/1/runs/{run_id}/"),
            (f"/v1/accounts/1/runs/{run_id}/artifacts", f"/accounts/1/runs/{run_id}/artifacts/"),
            ("/v1/accounts/1/runs?limit=5", "/accounts/1/runs/?limit=5&offset=0"),
            ("/v1/accounts/1/runs/999999", "/accounts/1/runs/999999/"),
            ("/v1/accounts/2/runs/1", "/accounts/2/runs/1/"),
        ]:
            via = await stack.adapter.get(adapter_path)
            direct = await stack.direct.get(direct_path)
            assert via.status_code == direct.status_code, adapter_path
            assert via.content == direct.content, adapter_path


async def test_pages_follow_the_link_header(mode: str) -> None:
    emulator = new_emulator()
    async with stack_for(mode, emulator) as stack:  # type: ignore[attr-defined]
        seen: list[int] = []
        url: str | None = "/v1/accounts/1/runs?limit=5&order_by=id"
        pages = 0
        while url is not None:
            response = await stack.adapter.get(url)
            assert response.status_code == 200
            seen += [run["id"] for run in response.json()["data"]]
            link = response.headers.get("link")
            url = link.removeprefix("<").partition(">")[0] if link else None
            pages += 1
            assert pages <= 10
        total = response.json()["extra"]["pagination"]["total_count"]
        assert len(seen) == len(set(seen)) == total == emulator.run_count


async def test_large_artifact_streams_through(mode: str) -> None:
    emulator = new_emulator(artifact_size=3_000_000)
    run_id = finished_run(emulator)
    async with stack_for(mode, emulator) as stack:  # type: ignore[attr-defined]
        path = f"/v1/accounts/1/runs/{run_id}/artifacts/manifest.json"
        async with stack.adapter.stream("GET", path) as response:
            assert response.status_code == 200
            chunks = [chunk async for chunk in response.aiter_raw()]
        direct = await stack.direct.get(f"/accounts/1/runs/{run_id}/artifacts/manifest.json")
        assert b"".join(chunks) == direct.content
        assert len(direct.content) >= 3_000_000
        assert response.headers["content-type"] == direct.headers["content-type"]


async def test_gateway_failures_over_loopback() -> None:
    emulator = new_emulator()
    run_id = finished_run(emulator)
    emulator.faults.hang_seconds = 5
    options = {"timeout": Timeout(connect=5, read=0.2, write=5, pool=5, total=10)}
    async with over_loopback(emulator, **options) as stack:
        cases = [
            (502, 502, "not JSON"),
            ("reset", 502, "could not be reached"),
            ("hang", 504, "did not answer in time"),
            ("malformed", 502, "not a JSON object"),
        ]
        for fault, status, words in cases:
            emulator.faults.fail_next(fault, path=f"/runs/{run_id}/")
            body = assert_envelope(await stack.adapter.get(f"/v1/accounts/1/runs/{run_id}"), status)
            assert words in body["status"]["user_message"], fault
        # dbt's own 500 ({"detail": ...}) is JSON: passed through as it came.
        emulator.faults.fail_next(500, path=f"/runs/{run_id}/")
        response = await stack.adapter.get(f"/v1/accounts/1/runs/{run_id}")
        assert response.status_code == 500
        assert response.content == stack.last_upstream[1]
        assert "detail" in response.json()


async def test_rate_limit_passes_through_with_retry_after() -> None:
    emulator = new_emulator()
    emulator.faults.rate_limit = RateLimit(requests=1, per_seconds=60, cooldown_seconds=300)
    async with in_process(emulator) as stack:
        assert (await stack.adapter.get("/v1/accounts/1/runs?limit=1")).status_code == 200
        limited = await stack.adapter.get("/v1/accounts/1/runs?limit=1")
    assert limited.status_code == 429
    assert limited.content == stack.last_upstream[1]
    assert int(limited.headers["retry-after"]) > 0


async def test_lost_trigger_response_is_reconciled_not_resent() -> None:
    emulator = new_emulator()
    before = emulator.run_count
    emulator.faults.fail_next_trigger_response(502)
    # The client looks for the run in a window around *its* now: give it the emulator's.
    now = lambda: datetime.fromtimestamp(emulator.clock.now(), UTC)  # noqa: E731
    async with in_process(emulator, retry=RetryPolicy(max_retries=3), wall_clock=now) as stack:
        response = await stack.adapter.post("/v1/accounts/1/jobs/1/run", json={"cause": "once"})
    assert response.status_code == 200, response.text
    assert response.headers["x-dbt-runs-reconciled"] == "true"
    assert emulator.run_count == before + 1
    assert emulator.run(response.json()["data"]["id"]).cause.startswith("once [dbt-runs:")


async def test_read_only_adapter_never_changes_a_run() -> None:
    emulator = new_emulator()
    run_id = emulator.trigger_run(1, cause="stays queued")
    before = emulator.run_count
    async with (
        emulator.client() as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(client, read_only=True)),
            base_url="http://127.0.0.1",
        ) as read_only,
    ):
        assert_envelope(await read_only.post("/v1/accounts/1/jobs/1/run"), 404)
        assert_envelope(await read_only.post(f"/v1/accounts/1/runs/{run_id}/cancel"), 404)
        assert (await read_only.get(f"/v1/accounts/1/runs/{run_id}")).status_code == 200
    assert emulator.run_count == before
    assert emulator.run(run_id).status_humanized == "Queued"


@pytest.mark.slow
async def test_artifact_streams_in_constant_memory() -> None:
    import tracemalloc

    size = 40_000_000
    emulator = new_emulator(artifact_size=size)
    run_id = finished_run(emulator)
    async with over_loopback(emulator, record=False) as stack:
        path = f"/v1/accounts/1/runs/{run_id}/artifacts/manifest.json"
        tracemalloc.start()
        try:
            received = 0
            async with stack.adapter.stream("GET", path) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_raw():
                    received += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received >= size
    # Emulator, client, adapter and caller all run in this process: together they held a
    # small fraction of the artifact at any moment.
    assert peak < size // 8, f"peak {peak:,} bytes for a {received:,}-byte artifact"


BAD_REQUESTS = [
    ("GET", "/v1/accounts/0/runs/1", None, {}),
    ("GET", "/v1/accounts/1/runs?limit=500&job_id=3", None, {}),
    ("GET", "/v1/accounts/1/runs/1/artifacts/a/%2E%2E/b", None, {}),
    ("POST", "/v1/accounts/1/jobs/1/run", b'{"cause": "x" ', {"content-type": "application/json"}),
    ("POST", "/v1/accounts/1/jobs/1/run", b'{"cause": 1, "x": 2}', {}),
    ("POST", "/v1/accounts/1/jobs/1/run", b"<xml/>", {"content-type": "text/xml"}),
    ("POST", "/v1/accounts/1/jobs/1/run", b"{}" + b" " * 2_000_000, {}),
    ("GET", "/v1/accounts/1/runs/", None, {}),
    ("PATCH", "/v1/accounts/1/runs/1", None, {}),
    ("GET", "/v1/accounts/1/runs/999999/artifacts/manifest.json", None, {}),
]


async def test_error_answers_are_the_same_in_process_and_over_loopback() -> None:
    answers: dict[str, list[tuple[int, bytes]]] = {}
    for mode_name in ("in_process", "over_loopback"):
        emulator = new_emulator()
        async with stack_for(mode_name, emulator) as stack:  # type: ignore[attr-defined]
            answers[mode_name] = []
            for method, path, content, headers in BAD_REQUESTS:
                response = await stack.adapter.request(
                    method, path, content=content, headers=headers
                )
                assert 400 <= response.status_code < 500, (path, response.text)
                assert response.headers["content-type"] == "application/json"
                answers[mode_name].append((response.status_code, response.content))
    assert answers["in_process"] == answers["over_loopback"]
    assert [status for status, _ in answers["in_process"]] == [
        400, 400, 400, 400, 400, 415, 413, 404, 405, 404,
    ]  # fmt: skip


async def test_head_on_an_artifact_over_loopback() -> None:
    emulator = new_emulator()
    run_id = finished_run(emulator)
    async with over_loopback(emulator) as stack:
        path = f"/v1/accounts/1/runs/{run_id}/artifacts/run_results.json"
        head = await stack.adapter.head(path)
        get = await stack.adapter.get(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
