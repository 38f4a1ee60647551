"""Our own SDK against the emulator, in-process (`emulator.client()` and the plugin fixtures)."""

from __future__ import annotations

import pytest

from dbt_runs import AsyncRunsClient, RunFailedError
from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio


async def test_trigger_wait_and_artifacts(
    dbt_client: AsyncRunsClient, dbt_emulator: Emulator
) -> None:
    run = await dbt_client.trigger_run(1, cause="SDK on the emulator")
    finished = await dbt_client.wait_for_run(run.id, poll_interval=5)
    assert finished.status == 10
    assert dbt_emulator.run(run.id).status == 10
    paths = await dbt_client.list_run_artifacts(run.id)
    assert "run_results.json" in paths
    results = await dbt_client.get_run_artifact_json(run.id, "run_results.json")
    assert results["metadata"]["env"]["DBT_CLOUD_RUN_ID"] == str(run.id)


async def test_a_failing_run_raises(dbt_client: AsyncRunsClient) -> None:
    run = await dbt_client.trigger_run(3, cause="nightly")
    with pytest.raises(RunFailedError):
        await dbt_client.wait_for_run(run.id, poll_interval=10)


async def test_listing_every_run(dbt_client: AsyncRunsClient, dbt_emulator: Emulator) -> None:
    ids = [run.id async for run in dbt_client.list_runs(limit=50)]
    assert ids == [info.id for info in dbt_emulator.runs()]


async def test_no_second_run_after_an_ambiguous_trigger(dbt_emulator: Emulator) -> None:
    dbt_emulator.faults.fail_next_trigger_response(502)
    before = dbt_emulator.run_count
    async with dbt_emulator.client() as client:
        # The SDK reconciles: it finds the run the lost response was about.
        run = await client.trigger_run(1, cause="ambiguous from the SDK")
        assert run.id == dbt_emulator.runs()[-1].id
    assert dbt_emulator.run_count == before + 1


async def test_in_process_network_faults_reach_the_sdk_as_network_faults(
    dbt_client: AsyncRunsClient, dbt_emulator: Emulator
) -> None:
    run_id = dbt_emulator.runs()[-1].id
    dbt_emulator.faults.fail_next("reset", method="GET")
    dbt_emulator.faults.fail_next(503, method="GET")
    run = await dbt_client.get_run(run_id)
    assert run.id == run_id
    assert [r.outcome for r in dbt_emulator.requests[-3:]] == ["reset", 503, 200]
