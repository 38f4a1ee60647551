"""dags/dbt_cloud_nightly.py: an Airflow task that runs a dbt Cloud job and fails as it did."""

import logging
from datetime import UTC, datetime, timedelta

from airflow.decorators import dag, task
from airflow.exceptions import AirflowFailException

from dbt_runs import LogLines, Run, RunFailedError, RunsClient

JOB_ID = 1  # the dbt Cloud job: .../deploy/<account>/projects/<project>/jobs/<JOB_ID>
log = logging.getLogger(__name__)


def log_status(run: Run) -> None:
    log.info("dbt Cloud run %s: %s", run.id, run.status_humanized)


def log_dbt_output(chunk: LogLines) -> None:
    for line in chunk.lines:
        log.info("[%s] %s", chunk.step_name, line)


@dag(schedule="0 4 * * *", start_date=datetime(2025, 1, 1, tzinfo=UTC), catchup=False)
def dbt_cloud_nightly() -> None:
    @task(retries=2, execution_timeout=timedelta(hours=3))
    def run_dbt_cloud_job() -> int:
        # Created in the task, so in the worker process that runs it. DBT_API_KEY,
        # DBT_CLOUD_HOST and DBT_CLOUD_ACCOUNT_ID come from the worker's environment.
        with RunsClient() as client:
            # A retried task picks up the run its first try left going, if any.
            run = client.trigger_run(JOB_ID, cause="Airflow: dbt_cloud_nightly", if_running="reuse")
            log.info("Triggered dbt Cloud run %s: %s", run.id, run.href)
            try:
                run = client.wait_for_run(
                    run,
                    timeout=2 * 3600,
                    poll_interval=30,
                    cancel_on_timeout=True,  # no run outlives a wait that gave up,
                    cancel_on_abort=True,  # nor a task that was stopped or timed out
                    on_status_change=log_status,  # runs in this task: its log, its context
                    on_log=log_dbt_output,  # dbt's own output, in the task's log
                )
            except RunFailedError as exc:
                for node in client.get_run_errors(run.id).nodes:
                    log.error("%s %s: %s", node.unique_id, node.status, node.message)
                # A build that failed fails again on retry: fail the task for good.
                raise AirflowFailException(f"dbt Cloud run {run.id} failed: {run.href}") from exc
        return run.id  # to XCom, for the tasks downstream

    run_dbt_cloud_job()


nightly = dbt_cloud_nightly()

if __name__ == "__main__":
    nightly.test()  # `python dags/dbt_cloud_nightly.py`: one local run, as `airflow dags test`
