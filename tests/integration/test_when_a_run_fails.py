"""When a run fails, against the emulator: why (errors), its logs, rerun, reuse, jobs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbt_runs import (
    ArtifactNotFoundError,
    AsyncRunsClient,
    JobLookupError,
    LogLines,
    RunFailedError,
    RunInProgressError,
    RunStatus,
)
from dbt_runs._diagnose import as_json
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio
MakeClient = Callable[..., AsyncRunsClient]


async def test_errors_name_the_failed_step_and_its_failing_node(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    failed = next(r for r in emulator.runs(status=20) if r.job_id == 3)
    errors = await client.get_run_errors(failed.id)
    assert errors.failed
    [step] = errors.steps
    assert step.status is RunStatus.ERROR
    assert step.source == "run_results.json"
    assert step.name is not None
    assert "dbt run" in step.name
    [node] = errors.nodes
    assert node.status == "error"
    assert node.unique_id.startswith("model.")
    assert node.message is not None
    assert "Database Error" in node.message
    assert node.compiled_path is not None
    assert node.compiled_path.startswith("compiled/")
    assert node.step_index == step.index
    assert step.log_tail
    assert any("Completed with 1 error" in line for line in step.log_tail)
    # The compiled SQL it names is an artifact of that step.
    assert node.compiled_path in await client.list_run_artifacts(failed.id)


async def test_a_run_that_succeeded_has_no_errors(
    make_client: MakeClient, emulator: Emulator
) -> None:
    ok = emulator.runs(status=10)[0]
    errors = await make_client().get_run_errors(ok.id)
    assert errors.steps == ()
    assert not errors.failed


async def test_the_json_shape_stays_within_its_budget(
    make_client: MakeClient, emulator: Emulator
) -> None:
    failed = emulator.runs(status=20)[0]
    errors = await make_client().get_run_errors(failed.id, log_lines=1000)
    full = as_json(errors)
    compact = as_json(errors, compact=True, budget=800)
    assert full["steps"][0]["nodes"]
    assert compact["truncated"] is True
    assert compact["steps"][0]["log_tail"] == []
    assert compact["steps"][0]["nodes"][0]["unique_id"] == full["steps"][0]["nodes"][0]["unique_id"]


async def test_waiting_streams_each_log_line_once_in_order(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    run = await client.trigger_run(1, cause="follow the logs")
    seen: dict[int, list[str]] = {}

    def collect(chunk: LogLines) -> None:
        assert not chunk.gap
        seen.setdefault(chunk.step_index, []).extend(chunk.lines)

    finished = await client.wait_for_run(run, poll_interval=3, on_log=collect)
    final = await client.get_run(finished.id, include_related=["run_steps"])
    assert final.run_steps
    for step in final.run_steps:
        assert step.index is not None
        assert seen.get(step.index, []) == (step.logs or "").splitlines(), step.name
    assert len(seen) == len(final.run_steps)


async def test_a_failed_run_is_rerun_from_its_point_of_failure(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    run = await client.trigger_run(3, cause="will fail")
    with pytest.raises(RunFailedError):
        await client.wait_for_run(run)
    rerun = await client.rerun_job(3)
    assert rerun.id != run.id
    assert emulator.run(rerun.id).status in (1, 2, 3)


async def test_if_running_reuses_or_refuses_the_jobs_active_run(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    first = await client.trigger_run(2, cause="first")
    before = emulator.run_count
    raw = await client.with_raw_response.trigger_run(2, cause="second", if_running="reuse")
    assert raw.reused
    assert raw.parse().id == first.id
    with pytest.raises(RunInProgressError) as info:
        await client.trigger_run(2, cause="third", if_running="fail")
    assert info.value.run.id == first.id
    assert str(first.id) in str(info.value)
    assert emulator.run_count == before
    queued = await client.trigger_run(2, cause="fourth", if_running="queue")
    assert queued.id != first.id


async def test_jobs_are_listed_got_and_found_by_name(make_client: MakeClient) -> None:
    client = make_client()
    jobs = await client.list_jobs().to_list()
    snapshots = next(job for job in jobs if job.name == "Nightly snapshots")
    assert snapshots.id is not None
    assert (await client.get_job(snapshots.id)).name == "Nightly snapshots"
    assert (await client.find_job("Nightly snapshots")).id == snapshots.id
    assert (await client.find_job("nightly SNAPSHOTS")).id == snapshots.id
    with pytest.raises(JobLookupError, match="no job is called") as info:
        await client.find_job("no such job anywhere")
    assert info.value.job_ids == ()
    # Two projects each have a "Daily build": named, not guessed between.
    with pytest.raises(JobLookupError, match="2 jobs are called 'Daily build'") as info:
        await client.find_job("Daily build")
    assert len(info.value.job_ids) == 2
    assert (await client.find_job("Daily build", project_id=1)).id == 1


async def test_a_jobs_artifact_comes_from_its_latest_successful_run(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    manifest = await client.get_job_artifact(1, "manifest.json")
    assert manifest.startswith(b"{")
    with pytest.raises(ArtifactNotFoundError, match="job 1 has no successful run") as info:
        await client.get_job_artifact(1, "no_such_artifact.json")
    assert info.value.job_id == 1
