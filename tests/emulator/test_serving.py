"""The ways to reach the emulator: uvicorn in the loop, in a thread, the command, the plugin."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from emulator_support import API, HEADERS

from dbt_runs.testing import Emulator, ManualClock, RealClock

pytestmark = pytest.mark.anyio


async def test_serve_in_the_event_loop(emulator: Emulator) -> None:
    async with emulator.serve() as server:
        assert re.match(r"^http://127\.0\.0\.1:\d+/api/v2$", server.base_url)
        assert server.url + "/api/v2" == server.base_url
        async with httpx.AsyncClient(base_url=server.url, headers=HEADERS) as client:
            response = await client.get(f"{API}/runs/?limit=2")
            assert response.status_code == 200
            assert response.json()["data"][0]["href"].startswith(server.url + "/deploy/1/")
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(server.base_url)


def test_serve_in_a_thread_for_sync_code(emulator: Emulator) -> None:
    with emulator.serve_in_thread() as server:
        response = httpx.get(f"{server.url}{API}/jobs/1/", headers=HEADERS)
        assert response.status_code == 200
        run_id = httpx.post(
            f"{server.url}{API}/jobs/1/run/", json={"cause": "thread"}, headers=HEADERS
        ).json()["data"]["id"]
        emulator.clock.advance(120)
        run = httpx.get(f"{server.url}{API}/runs/{run_id}/", headers=HEADERS).json()["data"]
        assert run["status"] == 10


def test_a_fast_real_clock_finishes_runs_in_real_seconds() -> None:
    emulator = Emulator(runs=0, clock=RealClock(speed=1000))
    run_id = emulator.trigger_run(1)
    deadline = time.monotonic() + 10
    while not emulator.run(run_id).is_complete:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert emulator.run(run_id).status == 10


def test_clocks_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1)
    with pytest.raises(ValueError, match="speed"):
        RealClock(speed=0)


def _command() -> list[str]:
    script = shutil.which("dbt-runs", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "dbt_runs"]


@pytest.mark.slow
def test_the_emulator_command_serves_and_says_where() -> None:
    process = subprocess.Popen(
        [
            *_command(),
            "emulator",
            "--port",
            "0",
            "--runs",
            "25",
            "--token",
            "s3cret-token",
            "--latency-ms",
            "1",
            "--ambiguous-trigger-rate",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+/api/v2)", first)
        assert match, first
        base_url = match.group(1)
        banner = "".join(process.stdout.readline() for _ in range(3))
        assert "only that one is accepted" in banner
        assert "s3cret-token" not in first + banner
        ok = httpx.get(
            f"{base_url}/accounts/1/runs/", headers={"Authorization": "Token s3cret-token"}
        )
        assert ok.status_code == 200
        assert ok.json()["extra"]["pagination"]["total_count"] == 25
        denied = httpx.get(f"{base_url}/accounts/1/runs/", headers={"Authorization": "Token x"})
        assert denied.status_code == 401
        lost = httpx.post(
            f"{base_url}/accounts/1/jobs/1/run/",
            json={"cause": "ambiguous"},
            headers={"Authorization": "Token s3cret-token"},
        )
        assert lost.status_code == 502
        after = httpx.get(
            f"{base_url}/accounts/1/runs/", headers={"Authorization": "Token s3cret-token"}
        )
        assert after.json()["extra"]["pagination"]["total_count"] == 26
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--error-rate", "503"],
        ["--error-rate", "700=0.1"],
        ["--rate-limit", "abc"],
        ["--speed", "0"],
        ["--token", ""],
    ],
)
def test_the_emulator_command_rejects_bad_options(args: list[str]) -> None:
    from click.testing import CliRunner

    from dbt_runs.cli.emulator import emulator as command

    result = CliRunner().invoke(command, ["--port", "0", "--runs", "0", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_the_plugin_imports_no_server_library() -> None:
    code = (
        "import sys, dbt_runs.testing.pytest_plugin; "
        "print(','.join(m for m in ('starlette', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == ""


@pytest.mark.dbt_emulator(runs=3, token="fixture-token")
async def test_plugin_emulator_fixture_takes_the_marker(dbt_emulator: Emulator) -> None:
    assert dbt_emulator.run_count == 3
    assert isinstance(dbt_emulator.clock, ManualClock)
    transport = httpx.ASGITransport(app=dbt_emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        for token, status in (("fixture-token", 200), ("other", 401)):
            response = await http.get(f"{API}/jobs/", headers={"Authorization": f"Token {token}"})
            assert response.status_code == status, token


def test_plugin_server_fixture(dbt_emulator_server: object, dbt_emulator: Emulator) -> None:
    base_url = dbt_emulator_server.base_url  # type: ignore[attr-defined]
    response = httpx.get(f"{base_url}/accounts/1/jobs/", headers=HEADERS)
    assert response.status_code == 200
    assert dbt_emulator.requests[-1].path == "/api/v2/accounts/1/jobs/"


def test_public_names_are_sorted_and_resolve() -> None:
    import dbt_runs.testing as testing

    assert list(testing.__all__) == sorted(testing.__all__)
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    with pytest.raises(AttributeError):
        testing.Nothing  # noqa: B018


@pytest.mark.slow
def test_threads_hammering_a_served_emulator_keep_it_consistent(emulator: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from emulator_support import check_run

    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    triggered: list[int] = []

    def worker(n: int) -> None:
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as client:
            for i in range(15):
                run = client.post(f"{API}/jobs/{1 + (n + i) % 5}/run/", json={"cause": f"w{n}"})
                assert run.status_code == 200
                triggered.append(run.json()["data"]["id"])
                page = client.get(f"{API}/runs/", params={"order_by": "-id", "limit": 20})
                assert page.status_code == 200
                for data in page.json()["data"]:
                    check_run(data)
                if i % 4 == 0:
                    client.post(f"{API}/runs/{triggered[-1]}/cancel/")

    before = emulator.run_count
    with emulator.serve_in_thread() as server, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(worker, n) for n in range(4)]
        while not all(f.done() for f in futures):
            clock.advance(7)
            emulator.runs(status=3)
            time.sleep(0.005)
        for future in futures:
            future.result()
    assert emulator.run_count == before + len(triggered) == before + 60
    assert len(set(triggered)) == 60
    clock.advance(3 * 3600)
    for run_id in triggered:
        check_run(emulator.run_json(run_id))
        assert emulator.run(run_id).is_complete
