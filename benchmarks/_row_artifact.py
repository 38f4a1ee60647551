"""Row 4: download a large artifact: wall time and the peak memory of each whole process."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, driver_args, median, profile_into
from benchmarks._peers import DRIVERS_DIR
from benchmarks._procs import ProcResult, run_measured
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve

LOCAL = ("dbt-runs", "bare httpx stream")


def _local_argv(
    ctx: Context, who: str, op: str, *, server: ServerProcess, result: Path, **kw: Any
) -> list[str]:
    return [
        sys.executable,
        str(DRIVERS_DIR / "drive_local.py"),
        "dbt-runs" if who == "dbt-runs" else "httpx",
        *driver_args(op, server, result, **kw),
    ]


def _figures(
    startups: list[ProcResult],
    runs: list[tuple[ProcResult, dict[str, Any]]],
    idle: list[dict[str, Any]],
) -> dict[str, Any]:
    wall = median([proc.wall_s for proc, _ in runs])
    startup = min(p.wall_s for p in startups)
    return {
        "wall_s": wall,
        "startup_s": startup,
        "work_s": wall - startup,
        "peak_rss_mb": max(float(report["peak_rss_mb"]) for _, report in runs),
        "startup_rss_mb": min(float(report["peak_rss_mb"]) for report in idle),
    }


async def row_artifact(ctx: Context) -> Row:
    """Row 4: each contender downloads the same artifact to disk in its own fresh process."""
    s = ctx.sizes
    row = Row(
        4,
        "artifact",
        f"Download a {s.artifact_mb} MB artifact",
        "time: contender / bare httpx stream to disk",
        "peak RSS at most 1/5 of the best peer's; time within 1.25x of a bare httpx stream",
    )
    size = s.artifact_mb * 1024 * 1024
    with serve({"role": "emulator", "runs": 1, "artifact_bytes": size}) as server:
        run_id, path = server.seeded["run_ids"][0], server.seeded["artifact_path"]
        dest = ctx.work_dir / "artifact.out"
        result = ctx.work_dir / "artifact.result.json"
        contenders: dict[str, Callable[..., list[str]]] = {
            who: functools.partial(_local_argv, ctx, who, server=server) for who in LOCAL
        }
        for peer in ctx.peers:
            contenders[peer.name] = functools.partial(ctx.peer_argv, peer, server=server)
        startups: dict[str, list[ProcResult]] = {name: [] for name in contenders}
        idle: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
        runs: dict[str, list[tuple[ProcResult, dict[str, Any]]]] = {n: [] for n in contenders}
        failed: dict[str, str] = {}

        def once(name: str, op: str, **kw: Any) -> tuple[ProcResult, dict[str, Any]]:
            result.unlink(missing_ok=True)
            proc = run_measured(contenders[name](op, result=result, **kw))
            report = json.loads(result.read_text()) if result.exists() else {}
            return proc, report

        # Rounds interleave the contenders, so a burst of load on this shared machine lands
        # on all of them rather than on whoever happened to run during it.
        for round_no in range(s.repeats):
            for name in contenders:
                if name in failed:
                    continue
                ctx.log(f"  artifact: {name} (round {round_no + 1})")
                proc, report = once(name, "noop")
                if not proc.ok:
                    failed[name] = _last_line(proc.stderr_tail) or "its no-op run failed"
                    continue
                startups[name].append(proc)
                idle[name].append(report)
                dest.unlink(missing_ok=True)
                proc, report = once(name, "artifact", run_id=run_id, path=path, dest=dest)
                got = dest.stat().st_size if dest.exists() else 0
                if not proc.ok or got < size:
                    failed[name] = (
                        _last_line(proc.stderr_tail) or f"wrote {got:,} of {size:,} bytes"
                    )
                    continue
                runs[name].append((proc, report))
        for name in contenders:
            if name in failed:
                row.measurements.append(Measurement(name, ok=False, note=failed[name]))
            else:
                row.measurements.append(
                    Measurement(name, _figures(startups[name], runs[name], idle[name]))
                )
        _judge(ctx, row)
        if row.verdict.endswith("(time missed)"):
            target = ctx.work_dir / "artifact.profiled"
            await profile_into(
                ctx, row, "artifact", lambda: _download(server, run_id, path, target)
            )
            target.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
    return row


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


async def _download(server: ServerProcess, run_id: int, path: str, dest: Path) -> None:
    from dbt_runs import AsyncRunsClient

    async with AsyncRunsClient(
        token=TOKEN, base_url=server.base_url, account_id=server.seeded["account_id"]
    ) as client:
        await client.download_run_artifact(run_id, path, dest)


def _judge(ctx: Context, row: Row) -> None:
    by = {m.contender: m for m in row.measurements if m.ok}
    ours, bare = by.get("dbt-runs"), by.get("bare httpx stream")
    for m in row.measurements:
        if m.ok and bare:
            m.ratio = m.num("work_s") / bare.num("work_s")
    peers = [by[p.name] for p in ctx.peers if p.name in by]
    if ours is None or bare is None:
        row.met, row.verdict = False, "dbt-runs or the bare baseline did not complete"
        return
    time_ratio = ours.num("work_s") / bare.num("work_s")
    ours_rss = ours.num("peak_rss_mb")
    if peers:
        best = min(peers, key=lambda m: m.num("peak_rss_mb"))
        best_rss = best.num("peak_rss_mb")
        mem_ok = ours_rss <= best_rss / 5
        mem = (
            f"peak RSS {ours_rss:.0f} MiB vs {best.contender} {best_rss:.0f} MiB "
            f"(1/{best_rss / ours_rss:.1f})"
        )
    else:
        mem_ok, mem = None, f"peak RSS {ours_rss:.0f} MiB (no peer completed)"
    time_ok = time_ratio <= 1.25
    row.met = bool(mem_ok) and time_ok if mem_ok is not None else None
    row.verdict = (
        f"{mem}; time {time_ratio:.2f}x bare httpx ({'time ok' if time_ok else 'time missed'})"
    )
    row.notes.append(
        "Every contender runs in a fresh process, so its peak RSS includes its interpreter "
        "and imports; the start-up columns are an import-only run of "
        "the same command, for what the download itself adds. Memory is each process's own "
        "peak (`VmHWM`, reported by the process as it exits)."
    )
