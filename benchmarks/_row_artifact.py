"""Row 4: download a large artifact: wall time and the peak memory of each whole process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks._baselines import TOKEN
from benchmarks._harness import Context, median, profile_into
from benchmarks._peers import DRIVERS_DIR
from benchmarks._procs import ProcResult, run_measured
from benchmarks._results import Measurement, Row
from benchmarks._servers import ServerProcess, serve

LOCAL = ("dbt-runs", "bare httpx stream")


def _local_argv(ctx: Context, who: str, op: str, server: ServerProcess, **kw: Any) -> list[str]:
    args = [
        sys.executable,
        str(DRIVERS_DIR / "drive_local.py"),
        "dbt-runs" if who == "dbt-runs" else "httpx",
        op,
        "--base-url",
        server.base_url,
        "--token",
        TOKEN,
        "--account",
        str(server.seeded["account_id"]),
        "--result",
        str(ctx.work_dir / f"local-{op}.result.json"),
    ]
    for key, value in kw.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def _figures(startup: ProcResult, runs: list[ProcResult], size: int, got: int) -> dict[str, Any]:
    wall = median([r.wall_s for r in runs])
    return {
        "wall_s": wall,
        "startup_s": startup.wall_s,
        "work_s": wall - startup.wall_s,
        "peak_rss_mb": max(r.peak_rss_mb for r in runs),
        "startup_rss_mb": startup.peak_rss_mb,
    }


async def row_artifact(ctx: Context) -> Row:
    """Row 4: each contender downloads the same artifact to disk in its own fresh process."""
    s = ctx.sizes
    row = Row(
        4,
        "artifact",
        f"Download a {s.artifact_mb} MB artifact",
        "time: contender / bare httpx stream to disk; memory: contender / dbt-runs",
        "peak RSS at most 1/5 of the best peer's; time within 1.25x of a bare httpx stream",
    )
    size = s.artifact_mb * 1024 * 1024
    with serve({"role": "emulator", "runs": 1, "artifact_bytes": size}) as server:
        run_id, path = server.seeded["run_ids"][0], server.seeded["artifact_path"]
        dest = ctx.work_dir / "artifact.out"
        contenders: list[tuple[str, Any]] = [
            (who, lambda op, who=who, **kw: _local_argv(ctx, who, op, server, **kw))
            for who in LOCAL
        ] + [
            (peer.name, lambda op, peer=peer, **kw: ctx.peer_argv(peer, op, server, **kw))
            for peer in ctx.peers
        ]
        for name, argv in contenders:
            ctx.log(f"  artifact: {name}")
            startup = ctx.startup(lambda argv=argv: argv("noop"), repeats=s.repeats)
            runs: list[ProcResult] = []
            note = ""
            for _ in range(s.repeats):
                dest.unlink(missing_ok=True)
                proc = run_measured(argv("artifact", run_id=run_id, path=path, dest=dest))
                got = dest.stat().st_size if dest.exists() else 0
                if not proc.ok or got < size:
                    note = proc.stderr_tail.splitlines()[-1:] or [
                        f"wrote {got:,} of {size:,} bytes"
                    ]
                    note = note[0][:200]
                    break
                runs.append(proc)
            if not runs:
                row.measurements.append(Measurement(name, ok=False, note=note))
                continue
            row.measurements.append(Measurement(name, _figures(startup, runs, size, size)))
        _judge(ctx, row)
        if row.verdict.endswith("(time missed)"):
            target = ctx.work_dir / "artifact.profiled"
            await profile_into(
                ctx, row, "artifact", lambda: _download(server, run_id, path, target)
            )
            target.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
    return row


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
            m.ratio = float(m.figures["work_s"]) / float(bare.figures["work_s"])
    peers = [by[p.name] for p in ctx.peers if p.name in by]
    if ours is None or bare is None:
        row.met, row.verdict = False, "dbt-runs or the bare baseline did not complete"
        return
    time_ratio = float(ours.figures["work_s"]) / float(bare.figures["work_s"])
    ours_rss = float(ours.figures["peak_rss_mb"])
    if peers:
        best = min(peers, key=lambda m: float(m.figures["peak_rss_mb"]))
        best_rss = float(best.figures["peak_rss_mb"])
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
        "Every contender runs in a fresh process, so peak RSS (from the kernel, via wait4) "
        "includes its interpreter and imports; the start-up columns are an import-only run of "
        "the same command, for what the download itself adds."
    )
