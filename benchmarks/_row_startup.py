"""Row 12: start-up: `import dbt_runs`, `dbt-runs --help` and `dbt-runs runs --help`.

Each command runs in a fresh interpreter, the commands alternating, and each figure is the
median run (the fastest is shown too). A bare `python -c pass` is the interpreter's own share.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from benchmarks._harness import Context, median
from benchmarks._procs import run_measured
from benchmarks._results import Measurement, Row

TARGET_S = 0.15
IMPORT = "python -c 'import dbt_runs'"


def _cli() -> list[str]:
    script = shutil.which("dbt-runs", path=str(Path(sys.executable).parent))
    # The console script is two lines: `from dbt_runs.cli import main` and `main()`.
    return [script] if script else [sys.executable, "-c", "from dbt_runs.cli import main; main()"]


def commands() -> dict[str, list[str]]:
    """What is timed, by the name shown in the table."""
    cli = _cli()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        IMPORT: [sys.executable, "-c", "import dbt_runs"],
        "python -c 'from dbt_runs import AsyncRunsClient'": [
            sys.executable,
            "-c",
            "from dbt_runs import AsyncRunsClient",
        ],
        "dbt-runs --help": [*cli, "--help"],
        "dbt-runs runs --help": [*cli, "runs", "--help"],
    }


async def row_startup(ctx: Context) -> Row:
    """Row 12: how long each command takes from a fresh process to its exit."""
    row = Row(
        12,
        "startup",
        "Start-up: a fresh process importing dbt-runs or asking the command for help",
        "median time / `python -c pass`",
        f"`dbt-runs runs --help` in at most {TARGET_S} s",
    )
    runs = commands()
    walls: dict[str, list[float]] = {name: [] for name in runs}
    failed: dict[str, str] = {}
    for name, argv in runs.items():  # one untimed run each: the page cache, compiled bytecode
        proc = run_measured(argv, env={"PYTHONDONTWRITEBYTECODE": "0"})
        if not proc.ok:
            failed[name] = proc.stderr_tail.splitlines()[-1] if proc.stderr_tail else "failed"
    for _ in range(ctx.sizes.startup_runs):
        for name, argv in runs.items():
            if name not in failed:
                walls[name].append(run_measured(argv).wall_s)
    base = median(walls["python -c pass"])
    for name in runs:
        if name in failed:
            row.measurements.append(Measurement(name, ok=False, note=failed[name]))
            continue
        value = median(walls[name])
        row.measurements.append(
            Measurement(name, {"median_s": value, "min_s": min(walls[name])}, value / base)
        )
    if "dbt-runs runs --help" in failed:
        row.met = False
        row.verdict = f"`dbt-runs runs --help` failed: {failed['dbt-runs runs --help']}"
    else:
        value = median(walls["dbt-runs runs --help"])
        row.met = value <= TARGET_S
        spread = walls["dbt-runs runs --help"]
        row.verdict = (
            f"`dbt-runs runs --help` {value:.3f} s (median of {len(spread)}, range "
            f"{min(spread):.3f}-{max(spread):.3f} s); `import dbt_runs` "
            f"{median(walls[IMPORT]):.3f} s; `dbt-runs --help` "
            f"{median(walls['dbt-runs --help']):.3f} s"
        )
    row.notes.append(
        f"Each command ran {ctx.sizes.startup_runs} times in a fresh interpreter, alternating "
        "with the others, after one untimed run each (which also compiles the bytecode); the "
        "time is from spawn to exit, interpreter start-up included."
    )
    return row
