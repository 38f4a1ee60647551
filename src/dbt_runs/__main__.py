"""`python -m dbt_runs` runs the `dbt-runs` command."""

from dbt_runs.cli import main

main()
