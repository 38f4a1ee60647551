"""dbt-runs: a typed async Python SDK for dbt Cloud job runs."""

from dbt_runs._version import __version__

__all__ = ["__version__"]
