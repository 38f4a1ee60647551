"""What every row shares: sizes, the peers, timing helpers and the profiler."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks._baselines import TOKEN
from benchmarks._peers import Peer
from benchmarks._procs import ProcResult, run_measured
from benchmarks._servers import ServerProcess
from benchmarks._sizes import Sizes

T = TypeVar("T")


@dataclass
class Context:
    """One benchmark run's settings and scratch space.

    Attributes:
        sizes: How big each row is.
        peers: Peers whose environments are ready.
        peer_notes: Why a peer is missing, when one is.
        work_dir: Scratch space (downloaded artifacts, peers' stdout).
        profile_dir: Where profiles of missed targets go (None: do not profile).
        log: Progress output.
    """

    sizes: Sizes
    peers: list[Peer]
    peer_notes: list[str]
    work_dir: Path
    profile_dir: Path | None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))

    def peer_argv(self, peer: Peer, op: str, server: ServerProcess, **kw: Any) -> list[str]:
        """The command line running `peer`'s driver for `op` against `server`."""
        args = [
            op,
            "--base-url",
            server.base_url,
            "--token",
            TOKEN,
            "--account",
            str(server.seeded["account_id"]),
            "--result",
            str(self.work_dir / f"{peer.name}-{op}.result.json"),
        ]
        for key, value in kw.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return peer.argv(*args)

    def run_peer(
        self, peer: Peer, op: str, server: ServerProcess, **kw: Any
    ) -> tuple[ProcResult, dict[str, Any], Path]:
        """Run one peer driver op; return its cost, its report and the file with its stdout."""
        result_path = self.work_dir / f"{peer.name}-{op}.result.json"
        result_path.unlink(missing_ok=True)
        stdout_path = self.work_dir / f"{peer.name}-{op}.stdout"
        proc = run_measured(self.peer_argv(peer, op, server, **kw), stdout_path=stdout_path)
        report = json.loads(result_path.read_text()) if result_path.exists() else {}
        return proc, report, stdout_path

    def startup(self, argv_for: Callable[[], list[str]], repeats: int = 3) -> ProcResult:
        """The fastest of `repeats` no-op runs: interpreter start-up plus imports, no work."""
        runs = [run_measured(argv_for()) for _ in range(max(1, repeats))]
        failed = [r for r in runs if not r.ok]
        if failed:
            raise RuntimeError(f"the no-op run failed: {failed[0].stderr_tail}")
        return min(runs, key=lambda r: r.wall_s)


def median(values: list[float]) -> float:
    """The median (the middle of repeated timings, robust to one noisy repeat)."""
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def timed(fn: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Run `fn()` once; return (seconds, result)."""
    start = time.perf_counter()
    result = await fn()
    return time.perf_counter() - start, result


def profile_async(
    ctx: Context, name: str, fn: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[str | None]]:
    """Wrap `fn` so that running it records a pyinstrument profile; returns the saved path."""

    async def run() -> str | None:
        if ctx.profile_dir is None:
            return None
        try:
            from pyinstrument import Profiler
        except ImportError:
            ctx.log("pyinstrument is not installed: no profile")
            return None
        ctx.profile_dir.mkdir(parents=True, exist_ok=True)
        profiler = Profiler(async_mode="enabled", interval=0.0005)
        with profiler:
            await fn()
        path = ctx.profile_dir / f"{name}.txt"
        path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        return str(path)

    return run
