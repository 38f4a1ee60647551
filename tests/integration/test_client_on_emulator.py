"""The client end to end against the dbt Cloud emulator, in-process and over loopback HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dbt_runs import (
    APIConnectionError,
    ArtifactNotFoundError,
    AsyncRunsClient,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    Run,
    RunCancelledError,
    RunFailedError,
    RunStatus,
    Timeout,
    TriggerOutcomeUnknownError,
    WaitTimeoutError,
)
from dbt_runs._converter import structure
from dbt_runs.testing import Emulator, RateLimit

from .conftest import TOKEN

pytestmark = pytest.mark.anyio
MakeClient = Callable[..., AsyncRunsClient]


async def test_trigger_wait_and_read_results(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    changes: list[RunStatus | None] = []

    run = await client.trigger_run(1, cause="integration", git_branch="main")
    assert run.status is RunStatus.QUEUED
    assert run.trigger is not None
    assert run.trigger.cause.startswith("integration [dbt-runs:")
    assert run.trigger.git_branch == "main"
    assert run.job is not None
    assert run.job.id == 1

    done = await client.wait_for_run(
        run.id, poll_interval=5, on_status_change=lambda r: changes.append(r.status)
    )

    assert done.status is RunStatus.SUCCESS
    assert changes[0] is RunStatus.QUEUED
    assert changes[-1] is RunStatus.SUCCESS
    assert emulator.run(run.id).status == 10
    paths = await client.list_run_artifacts(run.id)
    assert {"manifest.json", "run_results.json"} <= set(paths)
    results = await client.get_run_artifact_json(run.id, "run_results.json")
    assert results["metadata"]["env"]["DBT_CLOUD_RUN_ID"] == str(run.id)


async def test_every_payload_the_emulator_sends_parses_strictly(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    run = await client.trigger_run(1, cause="strict")
    await client.wait_for_run(run.id, poll_interval=5)
    related = [
        "trigger",
        "job",
        "environment",
        "repository",
        "run_steps",
        "run_retries",
        "used_repo_cache",
        "repo_cache_restore",
        "audit",
        "debug_logs",
    ]
    raw = await client.with_raw_response.get_run(run.id, include_related=related)
    strict = structure(raw.json()["data"], Run, strict=True)
    assert strict.run_steps
    assert all(step.status is RunStatus.SUCCESS for step in strict.run_steps)
    page = await client.with_raw_response.list_runs(
        include_related=["trigger", "job"], order_by="-id", limit=100
    )
    for item in page.json()["data"]:
        structure(item, Run, strict=True)


async def test_listing_every_run_concurrently_matches_the_emulator(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(page_window=4)
    pager = client.list_runs(limit=30)
    first = await pager
    ids = [run.id async for run in pager]
    assert first.total_count == emulator.run_count
    assert ids == [info.id for info in emulator.runs()]


async def test_filters_are_understood_by_the_emulator(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    expected = [i.id for i in emulator.runs(job_id=1) if i.status in (20, 30)]
    found = [
        run.id
        async for run in client.list_runs(
            job_definition_id=1, status=[RunStatus.ERROR, "cancelled"], limit=50
        )
    ]
    assert sorted(found) == sorted(expected)
    newest = await client.list_runs(order_by="-id", limit=5)
    assert [r.id for r in newest.items] == sorted((i.id for i in emulator.runs()), reverse=True)[:5]
    oldest = min(i.created_at for i in emulator.runs())
    window = await client.list_runs(created_before=oldest, limit=100)
    assert [r.id for r in window.items] == [i.id for i in emulator.runs() if i.created_at <= oldest]


async def test_limit_over_100_never_reaches_dbt(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    emulator.clear_requests()
    with pytest.raises(ValueError, match="between 1 and 100"):
        client.list_runs(limit=500)
    assert emulator.requests == []


async def test_errors_from_the_emulator(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    with pytest.raises(NotFoundError):
        await client.get_run(999_999_999)
    run_id = emulator.runs()[0].id
    with pytest.raises(PermissionDeniedError, match="not scoped to account"):
        await client.get_run(run_id, account_id=2)
    bad = make_client(token="wrong-token")
    with pytest.raises(AuthenticationError, match="Invalid token"):
        await bad.get_run(run_id)
    with pytest.raises(NotFoundError):
        await client.trigger_run(999_999, cause="no such job")


async def test_a_failing_run_and_a_cancelled_run(make_client: MakeClient) -> None:
    client = make_client()
    failing = await client.trigger_run(1, cause="nightly [fail]")
    with pytest.raises(RunFailedError) as failed:
        await client.wait_for_run(failing.id, poll_interval=5)
    assert failed.value.run is not None
    assert failed.value.run.status is RunStatus.ERROR

    queued = await client.trigger_run(1, cause="to cancel")
    cancelled = await client.cancel_run(queued.id)
    assert cancelled.status is RunStatus.CANCELLED
    with pytest.raises(RunCancelledError):
        await client.wait_for_run(queued.id)


async def test_retry_a_failed_run(make_client: MakeClient) -> None:
    client = make_client()
    failing = await client.trigger_run(1, cause="retry me [fail]")
    with pytest.raises(RunFailedError):
        await client.wait_for_run(failing.id, poll_interval=5)
    retried = await client.retry_run(failing.id)
    assert retried.id != failing.id
    assert retried.retrying_run_id == failing.id


async def test_wait_times_out_and_cancels(make_client: MakeClient, emulator: Emulator) -> None:
    emulator.set_job_duration(1, 10_000)
    client = make_client()
    run = await client.trigger_run(1, cause="slow")
    with pytest.raises(WaitTimeoutError) as info:
        await client.wait_for_run(run.id, timeout=60, poll_interval=10, cancel_on_timeout=True)
    assert info.value.cancelled
    assert emulator.run(run.id).status == 30


@pytest.mark.parametrize("fault", [502, 504, 500, "reset"])
async def test_a_lost_trigger_response_never_becomes_a_second_run(
    make_client: MakeClient, emulator: Emulator, fault: int | str
) -> None:
    client = make_client()
    emulator.faults.fail_next_trigger_response(fault)
    before = emulator.run_count

    raw = await client.with_raw_response.trigger_run(1, cause=f"ambiguous {fault}")

    assert raw.reconciled
    assert emulator.run_count == before + 1
    assert raw.parse().id == emulator.runs()[-1].id
    assert json.loads(raw.content)["data"]["id"] == raw.parse().id
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 1


async def test_a_hanging_trigger_is_reconciled_after_the_timeout(
    make_client: MakeClient, emulator: Emulator
) -> None:
    emulator.faults.hang_seconds = 5
    client = make_client(timeout=Timeout(read=0.3, total=0.5))
    emulator.faults.fail_next_trigger_response("hang")
    run = await client.trigger_run(1, cause="hang then reconcile")
    assert run.id == emulator.runs()[-1].id
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1


async def test_a_lost_trigger_adopts_its_own_run_never_an_identical_one(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    theirs = emulator.trigger_run(1, cause="same cause")  # someone else, moments before
    emulator.faults.fail_next_trigger_response(502)
    raw = await client.with_raw_response.trigger_run(1, cause="same cause")
    assert raw.reconciled
    ours = raw.parse()
    assert ours.id != theirs
    assert emulator.run(ours.id).cause.startswith("same cause [dbt-runs:")


async def test_a_lost_trigger_without_marker_is_unknown_with_candidates(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(trigger_marker=False)
    emulator.trigger_run(1, cause="same cause")  # someone else, moments before
    emulator.faults.fail_next_trigger_response(502)
    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="same cause")
    assert len(info.value.candidate_run_ids) == 2


async def test_transient_faults_on_reads_are_retried(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    emulator.faults.fail_next(503, times=2, method="GET")
    run_id = emulator.runs()[0].id
    raw = await client.with_raw_response.get_run(run_id)
    assert raw.retries == 2
    emulator.faults.fail_next("truncate", method="GET")
    assert (await client.get_run(run_id)).id == run_id


async def test_rate_limit_cooldown_raises_with_retry_after(
    make_client: MakeClient, emulator: Emulator
) -> None:
    emulator.faults.rate_limit = RateLimit(requests=3, per_seconds=60, cooldown_seconds=300)
    client = make_client()
    run_id = emulator.runs()[0].id
    for _ in range(3):
        await client.get_run(run_id)
    with pytest.raises(RateLimitError) as info:
        await client.get_run(run_id)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 60


async def test_artifacts_step_and_missing(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client()
    run = await client.trigger_run(1, cause="artifacts")
    await client.wait_for_run(run.id, poll_interval=5)
    data = await client.get_run_artifact(run.id, "manifest.json", step=4)
    assert json.loads(data)["metadata"]
    with pytest.raises(ArtifactNotFoundError) as info:
        await client.get_run_artifact(run.id, "catalog.json")
    assert info.value.path == "catalog.json"
    with pytest.raises(ArtifactNotFoundError, match="step 1"):
        await client.get_run_artifact(run.id, "manifest.json", step=1)


async def test_download_streams_to_a_file(
    make_client: MakeClient, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.artifact_size = 3_000_000
    client = make_client()
    run = await client.trigger_run(1, cause="download")
    await client.wait_for_run(run.id, poll_interval=5)
    path = await client.download_run_artifact(run.id, "manifest.json", tmp_path)
    assert path == tmp_path / "manifest.json"
    written = path.read_bytes()
    assert len(written) >= 3_000_000
    assert written == await client.get_run_artifact(run.id, "manifest.json")
    json.loads(written)


async def test_a_cut_download_leaves_no_file(
    make_client: MakeClient, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.artifact_size = 1_000_000
    client = make_client(retry=RetryPolicy.disabled())
    run = await client.trigger_run(1, cause="cut")
    await client.wait_for_run(run.id, poll_interval=5)
    emulator.faults.fail_next("truncate", path="/artifacts/")
    with pytest.raises(APIConnectionError):
        await client.download_run_artifact(run.id, "manifest.json", tmp_path)
    assert os.listdir(tmp_path) == []


async def test_bad_trigger_is_rejected_by_the_client_not_dbt(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    emulator.clear_requests()
    with pytest.raises(ValueError, match="cause"):
        await client.trigger_run(1, cause="")
    assert emulator.requests == []


async def test_the_token_never_reaches_the_emulators_records(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    await client.get_run(emulator.runs()[0].id)
    assert TOKEN not in repr(emulator.requests)
    assert TOKEN not in repr(client)


async def test_a_large_download_over_loopback_keeps_memory_flat(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Over a real socket: httpx's ASGI transport would buffer the whole body in-process.
    import tracemalloc

    emulator.artifact_size = 30_000_000
    run_id = emulator.trigger_run(1, cause="big")
    emulator.clock.advance(3600)  # type: ignore[attr-defined]
    async with (
        emulator.serve() as server,
        AsyncRunsClient(
            token=TOKEN, base_url=server.base_url, account_id=emulator.account_id
        ) as client,
    ):
        await client.get_run(run_id)
        tracemalloc.start()
        try:
            path = await client.download_run_artifact(run_id, "manifest.json", tmp_path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert path.stat().st_size >= 30_000_000
    assert peak < 4_000_000, f"peak traced memory {peak} bytes"
