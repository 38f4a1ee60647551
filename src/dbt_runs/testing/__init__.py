"""A faithful local dbt Cloud for tests, demos and benchmarks (being built)."""
