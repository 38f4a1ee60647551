"""Tests of the REST adapter (`dbt_runs.expose.rest`) and `dbt-runs serve`."""
