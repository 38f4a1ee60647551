"""Artifacts, synchronously: list them, read one from the right step, stream one to disk."""

from pathlib import Path

from dbt_runs import ArtifactNotFoundError, RunsClient

with RunsClient() as client:
    run = client.trigger_run(1, cause="Artifacts guide")
    run = client.wait_for_run(run, poll_interval=0.5, include_related=["run_steps"])

    paths = client.list_run_artifacts(run.id)  # [] when the run saved none
    print(f"Run {run.id} saved {len(paths)} artifacts, e.g. {paths[:3]}")

    # Without step=, dbt serves the last step's files: pin the step that ran your build.
    build = next(s for s in run.run_steps or () if s.name and "dbt build" in s.name)
    results = client.get_run_artifact_json(run.id, "run_results.json", step=build.index)
    print(f"Step {build.index} ran {len(results['results'])} nodes")

    # Large files stream to disk; the file appears only once complete.
    manifest = client.download_run_artifact(run.id, "manifest.json", Path.cwd())
    print(f"Wrote {manifest.name}")

    # Or stream the bytes yourself.
    size = 0
    with client.stream_run_artifact(run.id, "manifest.json") as stream:
        for chunk in stream:
            size += len(chunk)
    print(f"Streamed {size} bytes ({stream.content_type})")

    try:
        client.get_run_artifact(run.id, "catalog.json")
    except ArtifactNotFoundError as exc:
        print(f"Not produced: {exc.path} (run {exc.run_id})")
