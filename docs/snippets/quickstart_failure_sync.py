"""When a run fails: find the step that broke, its log, and its run_results.json."""

from dbt_runs import RunFailedError, RunsClient, RunStatus

JOB_ID = 1

with RunsClient() as client:
    # On the emulator, a cause containing "[fail]" makes the run end in Error.
    run = client.trigger_run(JOB_ID, cause="Nightly build [fail]")
    try:
        client.wait_for_run(run, timeout=600, poll_interval=2)
    except RunFailedError as exc:
        print(f"Run {exc.run.id} failed: {exc.run.status_message}")

    run = client.get_run(run.id, include_related=["run_steps"])
    step = next(s for s in run.run_steps if s.status is RunStatus.ERROR)
    print(f"Step {step.index} failed: {step.name}")
    print("\n".join(step.logs.splitlines()[-5:]))

    # Artifacts belong to a step; without `step=`, dbt serves the last step's.
    results = client.get_run_artifact_json(run.id, "run_results.json", step=step.index)
    for result in results["results"]:
        if result["status"] in ("error", "fail"):
            print(f"  {result['unique_id']}: {result.get('message')}")
