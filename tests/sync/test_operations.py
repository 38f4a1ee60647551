"""Every operation of `RunsClient`, synchronously, against the emulator over loopback HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dbt_runs import (
    APIConnectionError,
    ArtifactNotFoundError,
    ConfigurationError,
    InvalidArgumentError,
    Job,
    JobLookupError,
    LogLines,
    NotFoundError,
    RawResponse,
    RetryPolicy,
    Run,
    RunCancelledError,
    RunFailedError,
    RunInProgressError,
    RunPage,
    RunsClient,
    RunStatus,
    SyncArtifactStream,
    SyncJobPaginator,
    SyncRunPaginator,
    TriggerOutcomeUnknownError,
    WaitTimeoutError,
)
from dbt_runs.testing import Emulator, EmulatorServer

from .conftest import TOKEN

MakeClient = Callable[..., RunsClient]


def test_trigger_wait_and_read_results(client: RunsClient, emulator: Emulator) -> None:
    seen: list[tuple[RunStatus | None, str]] = []

    run = client.trigger_run(1, cause="sync", git_branch="main")
    assert run.status is RunStatus.QUEUED
    assert run.trigger is not None
    assert run.trigger.cause.startswith("sync [dbt-runs:")
    done = client.wait_for_run(
        run,
        poll_interval=5,
        on_status_change=lambda r: seen.append((r.status, threading.current_thread().name)),
    )

    assert done.status is RunStatus.SUCCESS
    assert emulator.run(run.id).status == 10
    assert seen[0][0] is RunStatus.QUEUED
    assert seen[-1][0] is RunStatus.SUCCESS
    # Callbacks run in the calling thread, never in the client's loop thread.
    assert {thread for _, thread in seen} == {threading.current_thread().name}
    assert {"manifest.json", "run_results.json"} <= set(client.list_run_artifacts(run.id))
    results = client.get_run_artifact_json(run.id, "run_results.json")
    assert results["results"]
    assert json.loads(client.get_run_artifact(run.id, "run_results.json")) == results
    assert client.get_run(run.id, include_related=["run_steps"]).run_steps


def test_wait_for_run_polls_and_streams_logs(client: RunsClient) -> None:
    polls: list[int] = []
    logs: list[LogLines] = []
    run = client.trigger_run(1, cause="logs")
    client.wait_for_run(
        run.id, poll_interval=5, on_poll=lambda r: polls.append(r.id), on_log=logs.append
    )
    assert len(polls) > 2
    assert set(polls) == {run.id}
    assert logs
    assert all(chunk.run_id == run.id for chunk in logs)


def test_an_async_callback_is_awaited_too(client: RunsClient) -> None:
    seen: list[RunStatus | None] = []

    async def record(run: Run) -> None:
        seen.append(run.status)

    client.wait_for_run(client.trigger_run(1, cause="async callback"), on_status_change=record)
    assert seen[-1] is RunStatus.SUCCESS


def test_a_callbacks_exception_ends_the_wait(client: RunsClient) -> None:
    class StopError(Exception):
        pass

    def stop(run: Run) -> None:
        raise StopError(run.id)

    run = client.trigger_run(1, cause="stop")
    with pytest.raises(StopError):
        client.wait_for_run(run, on_status_change=stop)
    # The client is still usable afterwards.
    assert client.get_run(run.id).id == run.id


def test_failed_cancelled_and_timed_out_runs(client: RunsClient, emulator: Emulator) -> None:
    failing = client.trigger_run(1, cause="sync [fail]")
    with pytest.raises(RunFailedError) as failed:
        client.wait_for_run(failing, poll_interval=5)
    assert failed.value.run is not None
    assert failed.value.run.id == failing.id
    errors = client.get_run_errors(failing.id)
    assert errors.steps

    emulator.set_job_duration(1, 10_000)
    slow = client.trigger_run(1, cause="slow")
    with pytest.raises(WaitTimeoutError) as timed_out:
        client.wait_for_run(slow, timeout=60, poll_interval=10, cancel_on_timeout=True)
    assert timed_out.value.cancelled
    assert emulator.run(slow.id).status == 30

    other = client.trigger_run(1, cause="cancel me")
    assert client.cancel_run(other.id).status is RunStatus.CANCELLED
    with pytest.raises(RunCancelledError):
        client.wait_for_run(other.id)
    assert client.wait_for_run(other.id, raise_on_failure=False).status is RunStatus.CANCELLED


def test_retry_and_rerun(client: RunsClient) -> None:
    failing = client.trigger_run(2, cause="retry me [fail]")
    client.wait_for_run(failing, raise_on_failure=False)
    retried = client.retry_run(failing.id)
    assert retried.retrying_run_id == failing.id
    client.wait_for_run(retried)
    rerun = client.rerun_job(2)
    assert rerun.job_definition_id == 2
    assert rerun.id not in {failing.id, retried.id}


def test_trigger_if_running(client: RunsClient) -> None:
    first = client.trigger_run(3, cause="first")
    assert client.trigger_run(3, cause="again", if_running="reuse").id == first.id
    with pytest.raises(RunInProgressError) as info:
        client.trigger_run(3, cause="again", if_running="fail")
    assert info.value.run is not None
    assert info.value.run.id == first.id


def test_list_runs_iterates_every_run_in_order(client: RunsClient, emulator: Emulator) -> None:
    pager = client.list_runs(order_by="id")
    assert isinstance(pager, SyncRunPaginator)
    assert pager.window == client.page_window
    ids = [run.id for run in pager]
    assert ids == [info.id for info in emulator.runs()]
    assert len(pager.to_list()) == emulator.run_count


def test_list_runs_first_page_pages_and_max_items(client: RunsClient, emulator: Emulator) -> None:
    pager = client.list_runs(job_definition_id=1, limit=10, max_items=35, page_window=2)
    first = pager.first_page()
    assert isinstance(first, RunPage)
    assert first.total_count == len(emulator.runs(job_id=1))
    assert pager.first_page() is first  # fetched once, reused
    assert [len(page) for page in pager.pages()] == [10, 10, 10, 5]
    assert len(list(pager)) == pager.max_items == 35
    assert all(run.job_definition_id == 1 for run in pager)


def test_leaving_a_listing_early_cancels_its_requests(
    client: RunsClient, emulator: Emulator
) -> None:
    emulator.clear_requests()
    for index, _run in enumerate(client.list_runs(limit=10)):
        if index == 15:
            break
    # The first page, then at most one window of pages; not all 25 pages.
    assert len(emulator.requests) <= 1 + client.page_window + 1
    assert len(emulator.requests) < emulator.run_count // 10


def test_list_arguments_are_checked_before_anything_is_sent(
    client: RunsClient, emulator: Emulator
) -> None:
    emulator.clear_requests()
    with pytest.raises(InvalidArgumentError):
        client.list_runs(limit=101)
    with pytest.raises(InvalidArgumentError):
        client.trigger_run(1, cause="")
    with pytest.raises(InvalidArgumentError):
        client.get_run("1")  # type: ignore[arg-type]
    assert emulator.requests == []


def test_jobs(client: RunsClient) -> None:
    pager = client.list_jobs(project_id=1)
    assert isinstance(pager, SyncJobPaginator)
    jobs = list(pager)
    assert jobs
    assert all(isinstance(job, Job) for job in jobs)
    assert client.get_job(1).id == 1
    assert client.find_job("daily build", project_id=1).id == 1
    with pytest.raises(JobLookupError):
        client.find_job("no such job")
    run = client.wait_for_run(client.trigger_run(1, cause="job artifact"))
    data = client.get_job_artifact(1, "manifest.json")
    assert json.loads(data)["metadata"]
    with client.stream_job_artifact(1, "manifest.json") as stream:
        assert (stream.job_id, stream.run_id) == (1, None)
        assert b"".join(stream) == data
    assert run.job_definition_id == 1


def test_artifacts_stream_download_and_missing(
    client: RunsClient, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.artifact_size = 1_500_000
    run = client.wait_for_run(client.trigger_run(1, cause="artifacts"))

    with client.stream_run_artifact(run.id, "manifest.json") as stream:
        assert isinstance(stream, SyncArtifactStream)
        assert stream.run_id == run.id
        assert stream.status_code == 200
        assert stream.content_type == "application/json"
        streamed = b"".join(stream)
    assert len(streamed) >= 1_500_000
    assert streamed == client.get_run_artifact(run.id, "manifest.json")

    with client.stream_run_artifact(run.id, "manifest.json") as stream:
        sizes = [len(chunk) for chunk in stream.iter_bytes(1000)]
    assert max(sizes) <= 1000
    assert sum(sizes) == len(streamed)

    path = client.download_run_artifact(run.id, "manifest.json", tmp_path)
    assert path == tmp_path / "manifest.json"
    assert path.read_bytes() == streamed

    with pytest.raises(ArtifactNotFoundError) as missing:
        client.get_run_artifact(run.id, "catalog.json")
    assert missing.value.path == "catalog.json"
    with pytest.raises(ArtifactNotFoundError), client.stream_run_artifact(run.id, "catalog.json"):
        pass


def test_leaving_a_stream_early_closes_it(client: RunsClient, emulator: Emulator) -> None:
    emulator.artifact_size = 5_000_000
    run = client.wait_for_run(client.trigger_run(1, cause="early"))

    with client.stream_run_artifact(run.id, "manifest.json") as stream:
        for _chunk in stream:
            break

    class EnoughError(Exception):
        pass

    def read_then_raise(error: BaseException) -> None:
        with client.stream_run_artifact(run.id, "manifest.json") as stream:
            next(iter(stream))
            raise error

    with pytest.raises(EnoughError):
        read_then_raise(EnoughError())
    # A KeyboardInterrupt never crosses into the loop (it would stop it): the stream is
    # closed as cancelled, and the interrupt propagates here.
    with pytest.raises(KeyboardInterrupt):
        read_then_raise(KeyboardInterrupt())
    # The connections went back to the pool (or were closed): the client goes on working.
    assert client.get_run(run.id).id == run.id


def test_a_cut_download_leaves_no_file(
    make_client: MakeClient, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.artifact_size = 1_000_000
    client = make_client(retry=RetryPolicy.disabled())
    run = client.wait_for_run(client.trigger_run(1, cause="cut"))
    emulator.faults.fail_next("truncate", path="/artifacts/")
    with pytest.raises(APIConnectionError):
        client.download_run_artifact(run.id, "manifest.json", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_raw_mode(client: RunsClient, emulator: Emulator) -> None:
    run_id = emulator.runs()[-1].id
    raw = client.with_raw_response.get_run(run_id)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert json.loads(raw.content)["data"]["id"] == run_id
    assert raw.parse().id == run_id

    page = client.with_raw_response.list_runs(limit=5)
    assert len(page.parse()) == 5
    assert client.with_raw_response.list_jobs().parse().items

    emulator.faults.fail_next(503, times=2, method="GET")
    assert client.with_raw_response.get_run(run_id).retries == 2

    emulator.faults.fail_next_trigger_response(502)
    trigger = client.with_raw_response.trigger_run(1, cause="lost answer")
    assert trigger.reconciled
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1


def test_a_lost_trigger_without_marker_is_unknown(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(trigger_marker=False)
    emulator.faults.fail_next_trigger_response(502)
    with pytest.raises(TriggerOutcomeUnknownError):
        client.trigger_run(1, cause="unknown")


def test_errors_are_the_async_clients(client: RunsClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_run(999_999_999)
    assert info.value.status_code == 404
    assert TOKEN not in str(info.value)


def test_the_same_configuration_from_the_environment(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_API_KEY", TOKEN)
    monkeypatch.setenv("DBT_CLOUD_BASE_URL", server.base_url)
    monkeypatch.setenv("DBT_CLOUD_ACCOUNT_ID", "1")
    with RunsClient(page_window=3) as client:
        assert client.base_url == server.base_url
        assert client.account_id == 1
        assert client.page_window == 3
        assert client.trigger_marker is True
        assert client.retry_policy == RetryPolicy()
        assert client.timeout.total == 120.0
        assert TOKEN not in repr(client)
        assert client.list_runs(limit=1).first_page().total_count == 250

    monkeypatch.delenv("DBT_API_KEY")
    with pytest.raises(ConfigurationError):
        RunsClient()
    with pytest.raises(InvalidArgumentError):
        RunsClient(token=TOKEN, page_window=0)
