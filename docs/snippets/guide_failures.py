"""When a run fails: why (nodes, steps, logs), follow its logs, rerun it, reuse a busy job."""

import asyncio

from dbt_runs import AsyncRunsClient, LogLines, RunFailedError


def show(chunk: LogLines) -> None:
    for line in chunk.lines:
        print(f"  [step {chunk.step_index}] {line}")


async def main() -> None:
    async with AsyncRunsClient() as client:
        # Job 3 of the emulator always fails ("Nightly snapshots"): a run to diagnose.
        run = await client.trigger_run(3, cause="When a run fails guide", if_running="reuse")
        try:
            await client.wait_for_run(run, poll_interval=0.5, on_log=show)
        except RunFailedError:
            errors = await client.get_run_errors(run.id)
            for step in errors.steps:
                print(f"Step {step.index} failed: {step.name} ({step.duration})")
                for node in step.nodes:
                    print(f"  {node.status.upper()} {node.unique_id}")
                    print(f"    {(node.message or '').splitlines()[0]}")
                    print(f"    compiled SQL: {node.compiled_path}")
                if step.source == "logs":  # the step saved no run_results.json
                    print("\n".join(step.error_lines))
            # Retry from the point of failure (never sent twice: see the retries guide).
            rerun = await client.rerun_job(3)
            print(f"Rerunning as run {rerun.id}")


asyncio.run(main())
