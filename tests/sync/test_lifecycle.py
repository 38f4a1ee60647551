"""Closing, Ctrl-C and garbage collection: a `RunsClient`'s thread always ends, cleanly."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

from dbt_runs import RunsClient
from dbt_runs.testing import Emulator, EmulatorServer, Faults, RealClock

from .conftest import TOKEN, Arrivals, loop_threads

MakeClient = Callable[..., RunsClient]
#: Real time: the client really sleeps between polls, and the emulator's clock stands still,
#: so a wait goes on until something stops it.
REAL_TIME = {"clock": None, "sleep": None, "wall_clock": None}
QUEUED = 1
CANCELLED = 30


def _polls(emulator: Emulator, run_id: int) -> int:
    return sum(1 for r in emulator.requests if r.method == "GET" and f"/runs/{run_id}/" in r.path)


@contextmanager
def signal_when(
    ready: Callable[[], bool], signum: int = signal.SIGINT
) -> Iterator[threading.Thread]:
    """Send `signum` to the main thread once `ready()` (as Ctrl-C or a CI runner would)."""

    def watch() -> None:
        deadline = time.monotonic() + 10
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.005)
        signal.pthread_kill(threading.main_thread().ident or 0, signum)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.join(timeout=10)


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX here")


def test_the_context_manager_closes_and_close_is_idempotent(make_client: MakeClient) -> None:
    with make_client() as client:
        assert not client.is_closed
        assert len(loop_threads()) == 1
    assert client.is_closed
    assert loop_threads() == set()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_run(1)
    with pytest.raises(RuntimeError, match="closed"):
        client.list_runs()
    with pytest.raises(RuntimeError, match="closed"), client.stream_run_artifact(1, "a.json"):
        pass


def test_close_cancels_calls_in_progress_in_other_threads(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(**REAL_TIME)
    run = client.trigger_run(1, cause="closed under it")
    failures: list[BaseException] = []

    def wait() -> None:
        try:
            client.wait_for_run(run, poll_interval=0.01, cancel_on_abort=True)
        except BaseException as exc:
            failures.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    while _polls(emulator, run.id) < 2:
        time.sleep(0.005)
    client.close()
    waiter.join(timeout=10)

    assert len(failures) == 1
    assert isinstance(failures[0], RuntimeError)
    assert "closed while this call was in progress" in str(failures[0])
    # The aborted wait cancelled its run before the connections closed.
    assert emulator.run(run.id).status == CANCELLED


@pytest.mark.parametrize(("cancel_on_abort", "status"), [(True, CANCELLED), (False, QUEUED)])
def test_ctrl_c_ends_the_wait_and_with_cancel_on_abort_the_run(
    make_client: MakeClient, emulator: Emulator, cancel_on_abort: bool, status: int
) -> None:
    client = make_client(**REAL_TIME)
    run = client.trigger_run(1, cause="interrupted")

    with signal_when(lambda: _polls(emulator, run.id) >= 2), pytest.raises(KeyboardInterrupt):
        client.wait_for_run(run, poll_interval=0.01, cancel_on_abort=cancel_on_abort)

    # Any cancel request went out before KeyboardInterrupt reached the caller.
    assert emulator.run(run.id).status == status
    polls = _polls(emulator, run.id)
    time.sleep(0.05)
    assert _polls(emulator, run.id) == polls  # the wait really ended in the loop too
    assert client.get_run(run.id).id == run.id  # the client is still usable


def test_an_exception_from_a_signal_handler_aborts_the_wait(
    make_client: MakeClient, emulator: Emulator
) -> None:
    # Airflow's execution_timeout raises from a SIGALRM handler; a CI runner sends SIGTERM.
    class TaskTimeoutError(Exception):
        pass

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TaskTimeoutError

    client = make_client(**REAL_TIME)
    run = client.trigger_run(1, cause="timed out task")
    previous = signal.signal(signal.SIGUSR1, on_alarm)
    try:
        with (
            signal_when(lambda: _polls(emulator, run.id) >= 2, signal.SIGUSR1),
            pytest.raises(TaskTimeoutError),
        ):
            client.wait_for_run(run, poll_interval=0.01, cancel_on_abort=True)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert emulator.run(run.id).status == CANCELLED


def test_ctrl_c_in_a_callback_aborts_the_wait(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client(**REAL_TIME)
    run = client.trigger_run(1, cause="callback interrupted")

    def interrupted(_run: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.wait_for_run(run, poll_interval=0.01, on_poll=interrupted, cancel_on_abort=True)
    assert emulator.run(run.id).status == CANCELLED


def test_ctrl_c_while_listing_stops_the_listing(make_client: MakeClient) -> None:
    # Real latency, so that Ctrl-C lands while the caller waits for pages in flight.
    slow = Emulator(runs=250, clock=RealClock(), faults=Faults(latency_ms=150))
    arrivals = Arrivals(slow.app)
    slow.app = arrivals
    with slow.serve_in_thread() as served:
        client = make_client(base_url=served.base_url, page_window=2, **REAL_TIME)
        listed: list[int] = []
        with signal_when(lambda: len(listed) >= 10), pytest.raises(KeyboardInterrupt):
            listed.extend(run.id for run in client.list_runs(limit=10))
        sent = arrivals.count
        time.sleep(0.2)
        assert arrivals.count == sent  # the window was cancelled, not refilled
        assert sent <= 1 + 2  # the first page and one window
        assert client.list_runs(limit=5).first_page().items  # still usable


def test_a_collected_client_closes_itself(server: EmulatorServer, emulator: Emulator) -> None:
    run_id = emulator.runs()[0].id
    client = RunsClient(token=TOKEN, base_url=server.base_url, account_id=1)
    assert client.get_run(run_id).id == run_id
    (thread,) = loop_threads()
    del client
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_what_a_client_returns_keeps_it_open(server: EmulatorServer, emulator: Emulator) -> None:
    # Nobody holds the client itself: its paginator, iterator and raw mode keep it open.
    def client() -> RunsClient:
        return RunsClient(token=TOKEN, base_url=server.base_url, account_id=1)

    ids = []
    for run in client().list_runs(limit=10, max_items=45):
        if len(ids) % 10 == 5:  # mid-page, between two trips to the loop
            gc.collect()
        ids.append(run.id)
    assert len(ids) == 45
    assert client().with_raw_response.get_run(ids[0]).parse().id == ids[0]
    gc.collect()


def test_an_unclosed_client_never_holds_up_the_exit(server: EmulatorServer) -> None:
    script = f"""
import threading
from dbt_runs import RunsClient

client = RunsClient(token={TOKEN!r}, base_url={server.base_url!r}, account_id=1)
run = client.trigger_run(1, cause="never closed")


def wait():
    try:
        client.wait_for_run(run, poll_interval=0.01)
    except RuntimeError:  # the client was closed at exit, under the wait
        pass


# A wait still running in a daemon thread when the interpreter exits.
threading.Thread(target=wait, daemon=True).start()
print(run.id, flush=True)
"""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("DBT_")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip().isdigit()
    assert time.monotonic() - started < 10


def test_the_loop_thread_cannot_call_its_own_client(
    make_client: MakeClient, emulator: Emulator
) -> None:
    refused: list[BaseException] = []
    holder: list[RunsClient] = []

    async def sleep(seconds: float) -> None:
        # Code that runs in the client's loop: the client's own sleep. Blocking there on the
        # loop would wait forever; the client refuses at once instead.
        await emulator.clock.sleep(seconds)
        try:
            holder[0].get_run(1)
        except RuntimeError as exc:
            refused.append(exc)

    client = make_client(sleep=sleep)
    holder.append(client)
    client.wait_for_run(client.trigger_run(1, cause="loop"))
    assert refused
    assert "own event loop thread" in str(refused[0])


def test_a_client_from_before_a_fork_says_so(make_client: MakeClient) -> None:
    client = make_client()
    client._portal._pid = -1  # as it would look in a child process after os.fork()
    with pytest.raises(RuntimeError, match="another process"):
        client.get_run(1)
    client._portal._pid = os.getpid()
