"""List a job's latest runs, then count every failed run of the account: synchronously."""

from dbt_runs import RunsClient, RunStatus

JOB_ID = 1

with RunsClient() as client:
    # `.first_page()` gives the first page (one request) and the total.
    page = client.list_runs(job_definition_id=JOB_ID, order_by="-id", limit=5).first_page()
    print(f"Job {JOB_ID} has {page.total_count} runs; the latest {len(page)}:")
    for run in page:
        print(f"  {run.id:>6}  {run.status.humanized:<9}  {run.created_at:%Y-%m-%d %H:%M}")

    # `for` walks every page, fetching a few at a time.
    failed = [run.id for run in client.list_runs(status=RunStatus.ERROR)]
    print(f"{len(failed)} failed runs in the account")
