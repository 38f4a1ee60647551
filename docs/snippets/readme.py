import asyncio

from dbt_runs import AsyncRunsClient


async def main() -> None:
    async with AsyncRunsClient() as client:  # DBT_API_KEY, DBT_CLOUD_HOST, DBT_CLOUD_ACCOUNT_ID
        run = await client.trigger_run(1, cause="Nightly refresh", git_branch="main")
        run = await client.wait_for_run(run, timeout=3600)  # raises RunFailedError, ...
        results = await client.get_run_artifact_json(run.id, "run_results.json")
        print(run.status.humanized, run.href, len(results["results"]))


asyncio.run(main())
