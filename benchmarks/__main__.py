"""`python -m benchmarks`: run the side-by-side benchmarks (see `--help`)."""

from benchmarks._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
