"""`RunsClient.wait_for_runs` and `RunsClient.as_completed`: the async ones, from sync code."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from dbt_runs import RunFailedError, RunsClient, RunStatus
from dbt_runs.testing import Emulator

MakeClient = Callable[..., RunsClient]
CANCELLED = 30


def trigger(emulator: Emulator, count: int, *, seconds: float = 60.0) -> list[int]:
    job = emulator.add_job(f"CI {seconds:g}", job_type="ci", step_seconds=seconds)
    return [emulator.trigger_run(job, cause=f"fleet {i}") for i in range(count)]


def listed(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "GET" and r.path.endswith("/runs/"))


def test_wait_for_runs_runs_its_callbacks_in_the_calling_thread(
    client: RunsClient, emulator: Emulator
) -> None:
    ids = trigger(emulator, 5)
    threads: set[int] = set()
    changes: list[tuple[int, str | None]] = []

    def on_status_change(run: object) -> None:
        threads.add(threading.get_ident())
        changes.append((run.id, run.status_humanized))  # type: ignore[attr-defined]

    runs = client.wait_for_runs(ids, poll_interval=5, on_status_change=on_status_change)

    assert [run.id for run in runs] == ids
    assert {run.status for run in runs} == {RunStatus.SUCCESS}
    assert threads == {threading.get_ident()}
    assert {run_id for run_id, status in changes if status == "Success"} == set(ids)
    assert listed(emulator) >= 2  # the five runs were read together


def test_wait_for_runs_raises_the_group_of_errors(client: RunsClient, emulator: Emulator) -> None:
    job = emulator.add_job("Failing", job_type="ci", outcome="error")
    failing = emulator.trigger_run(job)
    (ok,) = trigger(emulator, 1)
    with pytest.raises(ExceptionGroup) as info:
        client.wait_for_runs([ok, failing], poll_interval=5)
    (error,) = info.value.exceptions
    assert isinstance(error, RunFailedError)
    assert error.run is not None
    assert error.run.id == failing


def test_as_completed_is_a_plain_iterator(client: RunsClient, emulator: Emulator) -> None:
    slow = trigger(emulator, 2, seconds=600)
    fast = trigger(emulator, 2, seconds=30)
    completed = client.as_completed(slow + fast, poll_interval=5)
    assert isinstance(completed, Iterator)
    order = [run.id for run in completed]
    assert sorted(order[:2]) == sorted(fast)
    assert sorted(order[2:]) == sorted(slow)


def test_leaving_the_loop_early_stops_the_other_waits(
    client: RunsClient, emulator: Emulator
) -> None:
    slow = trigger(emulator, 3, seconds=3600)
    (fast,) = trigger(emulator, 1, seconds=30)
    for run in client.as_completed([*slow, fast], poll_interval=5, cancel_on_abort=True):
        assert run.id == fast
        break
    # The waits left were stopped before the loop went on: their runs are cancelled.
    assert [emulator.run(run_id).status for run_id in slow] == [CANCELLED] * 3
    assert client.get_run(fast).id == fast  # the client is still usable


def test_bad_arguments_are_refused_in_the_calling_thread(client: RunsClient) -> None:
    from dbt_runs import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        client.as_completed("123")
    with pytest.raises(InvalidArgumentError):
        client.wait_for_runs([1], poll_interval=-1)
