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
from benchmarks._results import Row
from benchmarks._servers import ServerProcess
from benchmarks._sizes import Sizes

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def driver_args(op: str, server: ServerProcess, result: Path, **kw: Any) -> list[str]:
    """The arguments every driver takes: the operation, where the emulator is, where to write."""
    args = [
        op,
        "--base-url",
        server.base_url,
        "--token",
        TOKEN,
        "--account",
        str(server.seeded["account_id"]),
        "--result",
        str(result),
    ]
    for key, value in kw.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


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

    def peer_argv(
        self, peer: Peer, op: str, server: ServerProcess, *, result: Path | None = None, **kw: Any
    ) -> list[str]:
        """The command line running `peer`'s driver for `op` against `server`."""
        result = result or self.work_dir / f"{peer.name}-{op}.result.json"
        return peer.argv(*driver_args(op, server, result, **kw))

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


async def profile_into(ctx: Context, row: Row, name: str, fn: Callable[[], Awaitable[Any]]) -> None:
    """Run `fn` once more under pyinstrument; save the profile and note its hot spots on `row`.

    Used when a target is missed, so the results say what limits it.
    """
    if ctx.profile_dir is None:
        return
    try:
        from pyinstrument import Profiler
    except ImportError:
        row.notes.append("Not profiled: pyinstrument is not installed.")
        return
    ctx.profile_dir.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(async_mode="enabled", interval=0.0005)
    with profiler:
        await fn()
    path = ctx.profile_dir / f"{name}.txt"
    hot = hotspots(profiler)
    path.write_text(
        "Where the time goes (self time, top functions):\n"
        + "\n".join(f"  {share:5.1%}  {where}" for where, share in hot)
        + "\n\n"
        + profiler.output_text(unicode=False, color=False, show_all=False)
    )
    row.profile = path.name if not path.is_relative_to(ROOT) else str(path.relative_to(ROOT))
    row.notes.append(
        "Profile of dbt-runs (pyinstrument, self time): "
        + "; ".join(f"{where} {share:.0%}" for where, share in hot[:4])
        + "."
    )


def hotspots(profiler: Any, top: int = 8) -> list[tuple[str, float]]:
    """The functions with the most self time in a pyinstrument profile, with their share.

    Time spent awaiting I/O appears as pyinstrument's synthetic `[await]` frames, so a row
    that is bound by the network rather than by Python shows it here plainly.
    """
    session = profiler.last_session
    root = session.root_frame() if session else None
    if root is None:
        return []
    totals: dict[str, float] = {}
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        own = frame.time - sum(child.time for child in frame.children)
        if own <= 0:
            continue
        named = frame
        if frame.is_synthetic and frame.function == "[self]" and frame.parent is not None:
            named = frame.parent  # the parent's own time, split out by pyinstrument
        where = f"{named.function} ({named.file_path_short}:{named.line_no})"
        if named.is_synthetic:
            where = named.function
        totals[where] = totals.get(where, 0.0) + own
    whole = root.time or 1.0
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]
    return [(where, spent / whole) for where, spent in ranked]
