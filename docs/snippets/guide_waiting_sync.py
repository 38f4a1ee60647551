"""Wait for a run, synchronously: bounded, with progress callbacks and typed outcomes."""

from dbt_runs import Run, RunCancelledError, RunFailedError, RunsClient, WaitTimeoutError


def show(run: Run) -> None:
    print(f"  run {run.id}: {run.status_humanized}")


with RunsClient() as client:
    run = client.trigger_run(1, cause="Waiting guide")
    try:
        run = client.wait_for_run(
            run,  # the queued run we hold counts as the first poll
            timeout=600,  # seconds; None waits forever, but only when you ask
            poll_interval=0.5,
            on_status_change=show,  # runs in this thread, between polls; also `on_poll`
            cancel_on_timeout=True,  # do not leave a run behind when we give up
            cancel_on_abort=True,  # nor when Ctrl-C (or a task timeout) stops the wait
        )
        print(f"Run {run.id} succeeded in {run.duration}")
    except RunFailedError as exc:
        print(f"Run failed: {exc.run.status_message if exc.run else exc}")
    except RunCancelledError as exc:
        print(f"Run was cancelled: {exc}")
    except WaitTimeoutError as exc:
        print(f"Gave up waiting (cancelled: {exc.cancelled}); last seen: {exc.run}")
