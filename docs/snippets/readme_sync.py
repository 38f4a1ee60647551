from dbt_runs import RunsClient

with RunsClient() as client:  # DBT_API_KEY, DBT_CLOUD_HOST, DBT_CLOUD_ACCOUNT_ID
    run = client.trigger_run(1, cause="Nightly refresh", git_branch="main")
    run = client.wait_for_run(run, timeout=3600)  # raises RunFailedError, ...
    results = client.get_run_artifact_json(run.id, "run_results.json")
    print(run.status.humanized, run.href, len(results["results"]))
