"""definitions.py: a Dagster asset materialized by a dbt Cloud job run."""

from dagster import (
    AssetExecutionContext,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    materialize,
)

from dbt_runs import RunFailedError, RunsClient

JOB_ID = 1  # the dbt Cloud job that builds the warehouse tables


@asset
def dbt_cloud_nightly(context: AssetExecutionContext) -> MaterializeResult:
    # DBT_API_KEY, DBT_CLOUD_HOST and DBT_CLOUD_ACCOUNT_ID come from the environment.
    with RunsClient() as client:
        run = client.trigger_run(JOB_ID, cause=f"Dagster run {context.run_id}", if_running="reuse")
        context.log.info(f"Triggered dbt Cloud run {run.id}: {run.href}")
        try:
            run = client.wait_for_run(
                run,
                timeout=2 * 3600,
                poll_interval=30,
                cancel_on_timeout=True,
                cancel_on_abort=True,  # a terminated Dagster run cancels its dbt run
                on_status_change=lambda seen: context.log.info(
                    f"dbt Cloud run {seen.id}: {seen.status_humanized}"
                ),
            )
        except RunFailedError as exc:
            failed = [node.unique_id for node in client.get_run_errors(run.id).nodes]
            raise Failure(
                description=f"dbt Cloud run {run.id} failed: {', '.join(failed) or 'see the run'}",
                metadata={
                    "dbt Cloud run": MetadataValue.url(run.href or ""),
                    "failed nodes": MetadataValue.json(failed),
                },
            ) from exc
        results = client.get_run_artifact_json(run.id, "run_results.json")
    return MaterializeResult(
        metadata={
            "dbt Cloud run": MetadataValue.url(run.href or ""),
            "nodes": len(results["results"]),
            "duration (s)": run.duration.total_seconds() if run.duration else 0.0,
        }
    )


defs = Definitions(assets=[dbt_cloud_nightly])

if __name__ == "__main__":
    materialize([dbt_cloud_nightly])  # one local materialization, in this process
