"""What every driver shares: its command line and how it reports back.

Drivers run inside a peer's own virtual environment, so they import nothing from `benchmarks`
(or from dbt-runs, for the peers' drivers): only the standard library and the peer itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a driver's command line (the same flags for every driver)."""
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["noop", "list", "get", "trigger_wait", "artifact"])
    p.add_argument("--base-url", required=True, help="http://127.0.0.1:PORT (no /api/v2)")
    p.add_argument("--token", required=True)
    p.add_argument("--account", type=int, required=True)
    p.add_argument("--run-id", type=int)
    p.add_argument("--job-id", type=int)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--warmup", type=int, default=0, help="untimed runs of the op before the timed")
    p.add_argument("--reset-url", help="POSTed before every run of the op (resets the emulator)")
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--path")
    p.add_argument("--dest")
    p.add_argument("--result", required=True, help="JSON file the driver writes its report to")
    return p.parse_args(argv)


def peak_rss_mib() -> float:
    """This process's peak resident set since it was exec'd, in MiB.

    Linux's `VmHWM` belongs to the new program image only. The rusage `ru_maxrss` a parent
    gets from `wait4` does not: the kernel folds in the high-water mark of the image the child
    replaced at exec, i.e. the forked copy of the (large) harness process.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def report(path: str, **fields: Any) -> None:
    """Write the driver's report; `known_at` is when the driver had its answer (epoch seconds),
    `peak_rss_mb` the process's own peak memory."""
    fields.setdefault("known_at", time.time())
    fields.setdefault("peak_rss_mb", peak_rss_mib())
    with open(path, "w") as f:
        json.dump(fields, f)


def per_call_summary(samples: list[float]) -> dict[str, float]:
    """Mean and median of per-call seconds."""
    ordered = sorted(samples)
    return {
        "per_call_mean_s": sum(ordered) / len(ordered),
        "per_call_median_s": ordered[len(ordered) // 2],
    }


def timed_runs(args: argparse.Namespace, run: Callable[[], T]) -> tuple[list[float], T]:
    """Run the op `--warmup` times untimed, then `--n` times timed inside this process.

    Timing inside the peer's own process, after the same warm-up every contender gets, leaves
    out its interpreter start-up and imports without estimating them from another process.
    Before every run the emulator is reset through `--reset-url` (counters and the seeded
    fault sequence), so every timed run meets the same faults.
    """
    result: Any = None
    timings: list[float] = []
    for index in range(args.warmup + args.n):
        if args.reset_url:
            urllib.request.urlopen(urllib.request.Request(args.reset_url, method="POST")).read()
        start = time.perf_counter()
        result = run()
        if index >= args.warmup:
            timings.append(time.perf_counter() - start)
    return timings, result
