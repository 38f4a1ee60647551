"""Timeouts, synchronously: every call is bounded; a wait is bounded too, by its own timeout."""

from dbt_runs import APITimeoutError, RunsClient, Timeout, WaitTimeoutError

# 5 s to connect, 30 s between two chunks of a response, 60 s for a whole call
# (its retries and back-off sleeps included).
with RunsClient(timeout=Timeout(connect=5, read=30, total=60)) as client:
    try:
        # Per call: a number bounds every phase and the total.
        page = client.list_runs(job_definition_id=1, limit=5, timeout=10).first_page()
        print(f"Listed {len(page)} runs within 10 s")
    except APITimeoutError as exc:
        print(f"Timed out: {exc}")

    run = client.trigger_run(1, cause="Timeouts guide")
    try:
        # A deliberately short wait: it checks once more at the deadline, then gives up.
        client.wait_for_run(run, timeout=0.01, poll_interval=0.005)
        print("The run was already finished")
    except WaitTimeoutError as exc:
        print(f"Still {exc.run.status_humanized if exc.run else 'unseen'} after 0.01 s")
    run = client.wait_for_run(run, timeout=600, poll_interval=0.5)
    print(f"Run {run.id} finished: {run.status_humanized}")
