"""Wait for a run: bounded, with progress callbacks and typed outcomes."""

import asyncio

from dbt_runs import AsyncRunsClient, Run, RunCancelledError, RunFailedError, WaitTimeoutError


def show(run: Run) -> None:
    print(f"  run {run.id}: {run.status_humanized}")


async def main() -> None:
    async with AsyncRunsClient() as client:
        run = await client.trigger_run(1, cause="Waiting guide")
        try:
            run = await client.wait_for_run(
                run,  # the queued run we hold counts as the first poll
                timeout=600,  # seconds; None waits forever, but only when you ask
                poll_interval=0.5,
                on_status_change=show,  # sync or async; also `on_poll` for every poll
                cancel_on_timeout=True,  # do not leave a run behind when we give up
            )
            print(f"Run {run.id} succeeded in {run.duration}")
        except RunFailedError as exc:
            print(f"Run failed: {exc.run.status_message if exc.run else exc}")
        except RunCancelledError as exc:
            print(f"Run was cancelled: {exc}")
        except WaitTimeoutError as exc:
            print(f"Gave up waiting (cancelled: {exc.cancelled}); last seen: {exc.run}")


asyncio.run(main())
