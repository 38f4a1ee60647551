"""One RunsClient for a whole program: several threads at once, callbacks in your own thread."""

import threading
from concurrent.futures import ThreadPoolExecutor

from dbt_runs import Run, RunsClient

JOB_IDS = [1, 2, 3]


def report(run: Run) -> None:
    # Runs in the thread that called wait_for_run, between two polls.
    print(f"  [{threading.current_thread().name}] run {run.id}: {run.status_humanized}")


def build(client: RunsClient, job_id: int) -> Run:
    run = client.trigger_run(job_id, cause="Sync guide")
    return client.wait_for_run(
        run, poll_interval=0.5, on_status_change=report, raise_on_failure=False
    )


with RunsClient() as client:  # one connection pool for every thread; closed at the end
    with ThreadPoolExecutor(max_workers=len(JOB_IDS)) as pool:
        runs = list(pool.map(lambda job_id: build(client, job_id), JOB_IDS))
    for run in runs:
        print(f"Job {run.job_definition_id}: run {run.id} ended {run.status_humanized}")

    # Listing from synchronous code is as fast as from async code: pages are fetched a few
    # at a time in the client's own thread while this one reads them.
    print(f"{sum(1 for _ in client.list_runs())} runs in the account")
