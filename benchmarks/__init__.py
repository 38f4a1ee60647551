"""Side-by-side benchmarks of dbt-runs against its peers (`python -m benchmarks`).

Not part of the test suite: every figure is a ratio between two things measured in the same run
against the same emulator instance, because the machines this runs on are shared and noisy.
See docs/benchmarks.md for what each row measures and how to read it.
"""
