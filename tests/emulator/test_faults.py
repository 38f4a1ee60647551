"""Faults and limits, in-process and over a real loopback connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_support import API, HEADERS

from dbt_runs.testing import Emulator, Faults, ManualClock, RateLimit

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=HEADERS, timeout=5) as client,
    ):
        yield client


async def test_latency_advances_a_manual_clock_instead_of_waiting(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.latency_ms = 250
    before = emulator.clock.now()
    for _ in range(4):
        await http.get(f"{API}/runs/?limit=1")
    assert emulator.clock.now() - before == pytest.approx(1.0)
    emulator.faults.jitter_ms = 100
    before = emulator.clock.now()
    await http.get(f"{API}/runs/?limit=1")
    assert 0.25 <= emulator.clock.now() - before <= 0.35


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_come_as_html(
    http: httpx.AsyncClient, emulator: Emulator, status: int
) -> None:
    emulator.faults.fail_next(status)
    response = await http.get(f"{API}/runs/")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<title>{status} " in response.text
    assert (await http.get(f"{API}/runs/?limit=1")).status_code == 200


async def test_500_is_dbts_detail_body(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.fail_next(500)
    response = await http.get(f"{API}/runs/")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "There was a server error. Please contact support at support@getdbt.com."
    }


async def test_scripted_faults_match_method_and_path(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next(503, times=2, method="GET", path="/jobs/")
    assert (await http.get(f"{API}/runs/?limit=1")).status_code == 200
    assert (await http.get(f"{API}/jobs/")).status_code == 503
    assert (await http.get(f"{API}/jobs/1/")).status_code == 503
    assert (await http.get(f"{API}/jobs/1/")).status_code == 200
    assert emulator.faults.pending == 0
    outcomes = [record.outcome for record in emulator.requests[-4:]]
    assert outcomes == [200, 503, 503, 200]
    with pytest.raises(ValueError, match="unknown fault"):
        emulator.faults.fail_next("explode")  # type: ignore[arg-type]


async def test_error_rates_are_seeded_and_roughly_right() -> None:
    emulator = Emulator(runs=5, faults=Faults(error_rates={503: 0.3}, seed=3))
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e", headers=HEADERS) as c:
        codes = [(await c.get(f"{API}/jobs/1/")).status_code for _ in range(400)]
    assert set(codes) == {200, 503}
    assert 0.2 < codes.count(503) / len(codes) < 0.4


async def test_rate_limit_429_with_retry_after_and_cooldown(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    emulator.faults.rate_limit = RateLimit(requests=5, per_seconds=60, cooldown_seconds=300)
    codes = [(await http.get(f"{API}/jobs/1/")).status_code for _ in range(5)]
    assert codes == [200] * 5
    limited = await http.get(f"{API}/jobs/1/")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "300"
    assert limited.json()["status"]["code"] == 429
    assert limited.json()["status"]["is_success"] is False
    clock.advance(100)
    again = await http.get(f"{API}/jobs/1/")
    assert again.status_code == 429
    assert again.headers["retry-after"] == "200"
    clock.advance(200)
    assert (await http.get(f"{API}/jobs/1/")).status_code == 200


async def test_a_new_window_resets_the_count(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.rate_limit = RateLimit(requests=3, per_seconds=10, cooldown_seconds=5)
    for _ in range(3):
        assert (await http.get(f"{API}/jobs/1/")).status_code == 200
    emulator.clock.advance(10)
    assert (await http.get(f"{API}/jobs/1/")).status_code == 200


async def test_ambiguous_trigger_creates_the_run_then_fails(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next_trigger_response(502)
    before = emulator.run_count
    response = await http.post(f"{API}/jobs/1/run/", json={"cause": "ambiguous"})
    assert response.status_code == 502
    assert emulator.run_count == before + 1
    assert emulator.runs()[-1].cause == "ambiguous"
    # A careful client finds the run instead of triggering again.
    found = (await http.get(f"{API}/runs/?job_definition_id=1&order_by=-id&limit=1")).json()
    assert found["data"][0]["id"] == emulator.runs()[-1].id
    # Only triggers are hit: other POSTs and GETs pass.
    emulator.faults.fail_next_trigger_response(504)
    assert (await http.get(f"{API}/runs/?limit=1")).status_code == 200
    assert (await http.post(f"{API}/jobs/1/run/", json={"cause": "second"})).status_code == 504


async def test_in_process_faults_raise_what_a_network_client_sees(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next("reset")
    with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected"):
        await http.get(f"{API}/runs/")
    emulator.faults.fail_next("truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(f"{API}/runs/")
    emulator.faults.fail_next("hang")
    with pytest.raises(httpx.ReadTimeout):
        await http.get(f"{API}/runs/")
    emulator.faults.fail_next_trigger_response("reset")
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(f"{API}/jobs/1/run/", json={"cause": "lost"})
    assert emulator.runs()[-1].cause == "lost"
    assert (await http.get(f"{API}/runs/?limit=1")).status_code == 200


async def test_malformed_body_is_cut_json_with_status_200(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next("malformed")
    response = await http.get(f"{API}/runs/?limit=5")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError, match=r"(?i)expect|unterminated|delimiter"):
        response.json()


async def test_over_loopback_a_reset_drops_the_connection(
    served: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next("reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await served.get(f"{API}/runs/")
    assert (await served.get(f"{API}/runs/?limit=1")).status_code == 200


async def test_over_loopback_a_truncated_body_fails_mid_read(
    served: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next("truncate")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await served.get(f"{API}/runs/?limit=20")
    assert (await served.get(f"{API}/runs/?limit=1")).status_code == 200


async def test_over_loopback_an_ambiguous_trigger_reset(
    served: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next_trigger_response("reset")
    before = emulator.run_count
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await served.post(f"{API}/jobs/1/run/", json={"cause": "lost response"})
    assert emulator.run_count == before + 1


async def test_over_loopback_a_hang_trips_the_clients_read_timeout(
    served: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.hang_seconds = 5
    emulator.faults.fail_next("hang")
    with pytest.raises(httpx.ReadTimeout):
        await served.get(f"{API}/runs/?limit=1", timeout=0.2)


async def test_slow_body_arrives_in_pieces(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.slow_body_seconds = 4.0
    before = emulator.clock.now()
    response = await http.get(f"{API}/runs/?limit=10")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 10
    assert emulator.clock.now() - before == pytest.approx(4.0)


async def test_clear_removes_every_fault(http: httpx.AsyncClient, emulator: Emulator) -> None:
    faults = emulator.faults
    faults.latency_ms = 10
    faults.error_rates = {503: 1.0}
    faults.rate_limit = RateLimit(requests=1)
    faults.fail_next(502, times=3)
    faults.clear()
    for _ in range(3):
        assert (await http.get(f"{API}/jobs/1/")).status_code == 200


async def test_artifacts_can_lag_behind_the_finished_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.artifact_delay_seconds = 30
    run_id = emulator.trigger_run(1)
    emulator.clock.advance(56)
    assert emulator.run(run_id).status == 10
    assert (await http.get(f"{API}/runs/{run_id}/artifacts/")).json()["data"] is None
    missing = await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")
    assert missing.status_code == 404
    emulator.clock.advance(30)
    assert (await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")).status_code == 200


def test_a_real_clocks_rate_limit_counts_real_time() -> None:
    import time

    from dbt_runs.testing import RealClock

    emulator = Emulator(runs=0, clock=RealClock(speed=10_000))
    emulator.faults.rate_limit = RateLimit(requests=2, per_seconds=60, cooldown_seconds=300)
    with emulator.serve_in_thread() as server, httpx.Client(base_url=server.url) as client:
        codes = [client.get(f"{API}/jobs/", headers=HEADERS).status_code for _ in range(3)]
        time.sleep(0.05)  # 500 emulated seconds: a sped-up clock must not end the cooldown
        after = client.get(f"{API}/jobs/", headers=HEADERS)
    assert codes == [200, 200, 429]
    assert after.status_code == 429
    assert 299 <= int(after.headers["retry-after"]) <= 300


async def test_head_answers_like_get_without_a_body(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    response = await http.head(f"{API}/runs/?limit=1")
    assert response.status_code == 200
    assert response.content == b""
    run_id = emulator.runs(status=10)[-1].id
    artifact = await http.head(f"{API}/runs/{run_id}/artifacts/manifest.json")
    assert artifact.status_code == 200
    assert int(artifact.headers["content-length"]) > 1000
    assert artifact.content == b""


async def test_cutting_a_streamed_artifact(served: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.artifact_size = 2_000_000
    run_id = emulator.runs(status=10, job_id=1)[-1].id
    path = f"{API}/runs/{run_id}/artifacts/manifest.json"
    emulator.faults.fail_next("malformed", path="manifest")
    malformed = await served.get(path)
    assert malformed.status_code == 200
    assert 900_000 < len(malformed.content) < 1_100_000
    emulator.faults.fail_next("truncate", path="manifest")
    seen: list[int] = []

    async def read() -> None:
        async with served.stream("GET", path) as response:
            seen.append(int(response.headers["content-length"]))
            async for chunk in response.aiter_bytes():
                seen.append(len(chunk))

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await read()
    assert seen[0] >= 2_000_000
    assert 0 < sum(seen[1:]) < 2_000_000
    whole = await served.get(path)
    assert len(whole.content) == int(whole.headers["content-length"])


async def test_ambiguous_trigger_rate(http: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.ambiguous_trigger_rate = 1.0
    before = emulator.run_count
    for _ in range(3):
        response = await http.post(f"{API}/jobs/4/run/", json={"cause": "chaos"})
        assert response.status_code == 502
    assert emulator.run_count == before + 3
    assert (await http.get(f"{API}/runs/?limit=1")).status_code == 200
