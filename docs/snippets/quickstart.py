"""Trigger a dbt Cloud job, wait for the run, then read its results."""

import asyncio

from dbt_runs import AsyncRunsClient, RunFailedError

JOB_ID = 1  # the id in your job's URL: .../deploy/<account>/projects/<project>/jobs/<JOB_ID>


async def main() -> None:
    # Configured from DBT_API_KEY, DBT_CLOUD_HOST (or DBT_CLOUD_BASE_URL), DBT_CLOUD_ACCOUNT_ID.
    async with AsyncRunsClient() as client:
        run = await client.trigger_run(JOB_ID, cause="Quickstart", git_branch="main")
        print(f"Triggered run {run.id}: {run.href}")

        try:
            run = await client.wait_for_run(
                run,  # the queued run we hold counts as the first poll
                timeout=600,  # seconds: the wait always ends
                poll_interval=2,  # seconds between two looks at the run
                on_status_change=lambda seen: print("  ", seen.status.humanized),
            )
        except RunFailedError as exc:
            raise SystemExit(f"run {exc.run.id} failed: {exc.run.status_message}") from None

        results = await client.get_run_artifact_json(run.id, "run_results.json")
        print(f"Run {run.id} took {run.duration}; {len(results['results'])} nodes ran")


asyncio.run(main())
