"""Configure the sync client: the same arguments and environment as the async one."""

import os

from dbt_runs import RetryPolicy, RunsClient, Timeout

# Nothing passed: DBT_API_KEY, DBT_CLOUD_BASE_URL (or DBT_CLOUD_HOST) and
# DBT_CLOUD_ACCOUNT_ID are read from the environment.
with RunsClient() as client:
    print(f"API root {client.base_url}, account {client.account_id}")
    page = client.list_runs(job_definition_id=1, limit=1).first_page()
    print(f"Job 1 has {page.total_count} runs")

# Every setting can be passed instead; an argument beats the environment.
with RunsClient(
    token=os.environ["DBT_API_KEY"],
    base_url=os.environ.get("DBT_CLOUD_BASE_URL"),  # None: DBT_CLOUD_HOST, then the default
    account_id=int(os.environ["DBT_CLOUD_ACCOUNT_ID"]),
    timeout=Timeout(connect=5, read=30, total=60),
    retry=RetryPolicy(max_retries=5),
    user_agent="nightly-orchestrator/1.0",
) as client:
    print(client)  # the token never appears in a repr
