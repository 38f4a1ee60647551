"""One `RunsClient` from many threads at once, and from a thread that already runs an event
loop (as Jupyter's does)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dbt_runs import Run, RunsClient, RunStatus
from dbt_runs.testing import Emulator, EmulatorServer, Faults, RealClock

from .conftest import TOKEN, Arrivals, loop_threads

MakeClient = Callable[..., RunsClient]
THREADS = 8


def test_eight_threads_at_once(client: RunsClient, emulator: Emulator) -> None:
    start = threading.Barrier(THREADS)

    def work(index: int) -> dict[str, Any]:
        me = threading.current_thread().name
        start.wait(timeout=10)
        callers: set[str] = set()
        run = client.trigger_run(1, cause=f"thread {index}")
        done = client.wait_for_run(
            run,
            poll_interval=5,
            on_status_change=lambda r: callers.add(threading.current_thread().name),
        )
        listed = [r.id for r in client.list_runs(limit=20, max_items=60)]
        results = client.get_run_artifact_json(done.id, "run_results.json")
        with client.stream_run_artifact(done.id, "manifest.json") as stream:
            manifest = b"".join(stream)
        return {
            "me": me,
            "callers": callers,
            "run": done,
            "listed": listed,
            "results": len(results["results"]),
            "manifest": json.loads(manifest)["metadata"],
        }

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(work, range(THREADS)))

    runs = [o["run"] for o in outcomes]
    assert all(run.status is RunStatus.SUCCESS for run in runs)
    assert len({run.id for run in runs}) == THREADS
    assert {emulator.run(run.id).cause.split(" [")[0] for run in runs} == {
        f"thread {i}" for i in range(THREADS)
    }
    for outcome in outcomes:
        assert outcome["callers"] == {outcome["me"]}  # each thread ran its own callbacks
        assert len(outcome["listed"]) == 60
        assert outcome["results"] > 0
    assert len(loop_threads()) == 1  # one client, one loop


def test_calls_from_several_threads_run_at_the_same_time(
    make_client: MakeClient, emulator: Emulator
) -> None:
    latency = Emulator(runs=5, clock=RealClock(), faults=Faults(latency_ms=200))
    run_id = latency.runs()[0].id
    with latency.serve_in_thread() as served:
        client = make_client(base_url=served.base_url, token=TOKEN)
        client.get_run(run_id)  # connect once, outside the timing
        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            ids = list(pool.map(lambda _: client.get_run(run_id).id, range(THREADS)))
        elapsed = time.perf_counter() - started
    assert ids == [run_id] * THREADS
    # One after the other would take 8 x 0.2 s.
    assert elapsed < 4 * 0.2, f"{elapsed:.2f} s"


def test_one_pool_for_every_thread(emulator: Emulator, make_client: MakeClient) -> None:
    ports = Arrivals(emulator.app)
    emulator.app = ports
    with emulator.serve_in_thread() as served:
        client = make_client(base_url=served.base_url)
        run_id = emulator.runs()[0].id
        for _ in range(20):
            client.get_run(run_id)
        assert len(ports.ports) == 1  # one keep-alive connection, reused
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda _: [client.get_run(run_id) for _ in range(5)], range(THREADS)))
        assert len(ports.ports) <= THREADS


def test_a_slow_callback_holds_up_only_its_own_wait(client: RunsClient, emulator: Emulator) -> None:
    other_thread_done = threading.Event()
    waited: list[bool] = []

    def slow(run: Run) -> None:
        if not waited:  # the first status: block until another thread has been served
            waited.append(other_thread_done.wait(timeout=10))

    def other() -> None:
        client.get_run(emulator.runs()[0].id)
        client.list_runs(limit=5).first_page()
        other_thread_done.set()

    run = client.trigger_run(1, cause="slow callback")
    helper = threading.Thread(target=lambda: (time.sleep(0.05), other()))
    helper.start()
    client.wait_for_run(run, on_status_change=slow)
    helper.join(timeout=10)
    assert waited == [True], "another thread's calls were held up by this thread's callback"


def test_a_callback_may_call_the_client(client: RunsClient) -> None:
    fetched: list[int] = []
    run = client.trigger_run(1, cause="nested")
    client.wait_for_run(
        run,
        on_status_change=lambda r: fetched.append(client.get_run(r.id).id),
    )
    assert fetched
    assert set(fetched) == {run.id}


def test_from_inside_a_running_event_loop(client: RunsClient) -> None:
    async def notebook_cell() -> RunStatus | None:
        # Where `asyncio.run(...)` raises "cannot be called from a running event loop".
        asyncio.get_running_loop()
        run = client.trigger_run(1, cause="inside a loop")
        run = client.wait_for_run(run)
        assert len(list(client.list_runs(limit=50, max_items=120))) == 120
        return run.status

    assert asyncio.run(notebook_cell()) is RunStatus.SUCCESS


@pytest.fixture
def this_python_as_the_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Jupyter kernelspec running this interpreter, found first through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "dbt-runs-sync"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "dbt-runs sync tests", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "dbt-runs-sync"


@pytest.mark.slow
def test_in_a_jupyter_kernel(
    server: EmulatorServer, emulator: Emulator, this_python_as_the_kernel: str
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [
        "import asyncio\n"
        "from dbt_runs import RunsClient\n"
        f"client = RunsClient(token={TOKEN!r}, base_url={server.base_url!r}, account_id=1)\n"
        "asyncio.get_running_loop()  # the kernel's own loop runs in this thread",
        "run = client.trigger_run(1, cause='notebook')\n"
        "run = client.wait_for_run(run, poll_interval=0.05, timeout=30)\n"
        "print(run.status.humanized)",
        "print(sum(1 for _ in client.list_runs(max_items=150)))",
        "client.close()",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    emulator.set_job_duration(1, 0)
    # The kernel's client waits for real: the emulator's manual clock is moved meanwhile.
    moving = threading.Event()

    def advance() -> None:
        while not moving.wait(0.02):
            emulator.clock.advance(30)  # type: ignore[attr-defined]

    mover = threading.Thread(target=advance, daemon=True)
    mover.start()
    try:
        nbclient.NotebookClient(
            notebook, kernel_name=this_python_as_the_kernel, timeout=60
        ).execute()
    finally:
        moving.set()
        mover.join()
    outputs = ["".join(o.get("text", "") for o in cell.outputs) for cell in notebook.cells]
    assert outputs[1].strip() == "Success"
    assert outputs[2].strip() == "150"
