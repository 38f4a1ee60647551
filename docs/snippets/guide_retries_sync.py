"""Retries, synchronously: tune the policy, count a call's retries, handle an unknown outcome."""

from dbt_runs import RateLimitError, RetryPolicy, RunsClient, TriggerOutcomeUnknownError

# Up to 5 retries; sleep through a Retry-After of up to 5 minutes (dbt's cooldown).
policy = RetryPolicy(max_retries=5, max_retry_after=300)
with RunsClient(retry=policy) as client:
    raw = client.with_raw_response.list_runs(job_definition_id=1, limit=5)
    print(f"Listed runs after {raw.retries} retries")

    try:
        # The client adds a marker to the cause ([dbt-runs:...]): if the answer is lost,
        # it finds the run carrying it and returns that, never someone else's run.
        run = client.trigger_run(1, cause="Nightly build 2026-01-01 (retries guide)")
        print(f"Triggered run {run.id}")
    except TriggerOutcomeUnknownError as exc:
        # The POST may have started a run; it was not sent twice.
        print(f"Outcome unknown; look for {exc.marker} among the job's runs: {exc}")
    except RateLimitError as exc:
        print(f"Rate limited: try again in {exc.retry_after} s")
