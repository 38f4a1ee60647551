"""Configure the client: from the environment, or argument by argument."""

import asyncio
import os

from dbt_runs import AsyncRunsClient, RetryPolicy, Timeout


async def main() -> None:
    # Nothing passed: DBT_API_KEY, DBT_CLOUD_BASE_URL (or DBT_CLOUD_HOST) and
    # DBT_CLOUD_ACCOUNT_ID are read from the environment.
    async with AsyncRunsClient() as client:
        print(f"API root {client.base_url}, account {client.account_id}")
        page = await client.list_runs(job_definition_id=1, limit=1)
        print(f"Job 1 has {page.total_count} runs")

    # Every setting can be passed instead; an argument beats the environment.
    async with AsyncRunsClient(
        token=os.environ["DBT_API_KEY"],
        base_url=os.environ.get("DBT_CLOUD_BASE_URL"),  # None: DBT_CLOUD_HOST, then the default
        account_id=int(os.environ["DBT_CLOUD_ACCOUNT_ID"]),
        timeout=Timeout(connect=5, read=30, total=60),
        retry=RetryPolicy(max_retries=5),
        user_agent="nightly-orchestrator/1.0",
    ) as client:
        print(client)  # the token never appears in a repr


asyncio.run(main())
