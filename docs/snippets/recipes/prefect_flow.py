"""flows/dbt_cloud.py: a Prefect flow that runs dbt Cloud jobs as tasks, side by side."""

from prefect import flow, get_run_logger, task

from dbt_runs import RunFailedError, RunsClient


@task
def run_dbt_cloud_job(job_id: int) -> int:
    logger = get_run_logger()
    # DBT_API_KEY, DBT_CLOUD_HOST and DBT_CLOUD_ACCOUNT_ID come from the environment.
    with RunsClient() as client:
        run = client.trigger_run(job_id, cause="Prefect: nightly", if_running="reuse")
        logger.info("Triggered dbt Cloud run %s: %s", run.id, run.href)
        try:
            run = client.wait_for_run(
                run,
                timeout=2 * 3600,
                poll_interval=30,
                cancel_on_timeout=True,
                cancel_on_abort=True,  # an interrupted wait cancels its dbt run
                on_status_change=lambda seen: logger.info(
                    "dbt Cloud run %s: %s", seen.id, seen.status_humanized
                ),
            )
        except RunFailedError:
            for node in client.get_run_errors(run.id).nodes:
                logger.error("%s %s: %s", node.unique_id, node.status, node.message)
            raise  # the task fails, and so does the flow
    return run.id


@flow
def nightly(job_ids: tuple[int, ...] = (1, 2)) -> list[int]:
    # Submitted tasks run side by side, in threads: RunsClient is made for that.
    futures = [run_dbt_cloud_job.submit(job_id) for job_id in job_ids]
    return [future.result() for future in futures]


if __name__ == "__main__":
    nightly()
