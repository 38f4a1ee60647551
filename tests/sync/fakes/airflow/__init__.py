"""A stand-in for Airflow (see tests/sync/fakes/README.md)."""
