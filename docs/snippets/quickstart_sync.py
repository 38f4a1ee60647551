"""Trigger a dbt Cloud job, wait for the run, then read its results: synchronously."""

from dbt_runs import RunFailedError, RunsClient

JOB_ID = 1  # the id in your job's URL: .../deploy/<account>/projects/<project>/jobs/<JOB_ID>

# Configured from DBT_API_KEY, DBT_CLOUD_HOST (or DBT_CLOUD_BASE_URL), DBT_CLOUD_ACCOUNT_ID.
with RunsClient() as client:
    run = client.trigger_run(JOB_ID, cause="Quickstart", git_branch="main")
    print(f"Triggered run {run.id}: {run.href}")

    try:
        run = client.wait_for_run(
            run,  # the queued run we hold counts as the first poll
            timeout=600,  # seconds: the wait always ends
            poll_interval=2,  # seconds between two looks at the run
            on_status_change=lambda seen: print("  ", seen.status.humanized),
        )
    except RunFailedError as exc:
        raise SystemExit(f"run {exc.run.id} failed: {exc.run.status_message}") from None

    results = client.get_run_artifact_json(run.id, "run_results.json")
    print(f"Run {run.id} took {run.duration}; {len(results['results'])} nodes ran")
