"""pytest fixtures for testing against the dbt Cloud emulator (being built)."""
