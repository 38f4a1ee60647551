"""The command line: `python -m benchmarks [--smoke] [--only ROW ...] [--out DIR]`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks import _results
from benchmarks._harness import Context
from benchmarks._peers import PEERS, ensure_peer
from benchmarks._results import Measurement, Row
from benchmarks._sizes import FULL, SMOKE

RESULTS = Path(__file__).resolve().parent / "results"


def _rows() -> dict[str, Callable[[Context], Coroutine[Any, Any, Row]]]:
    from benchmarks._row_adapters import row_adapters
    from benchmarks._row_artifact import row_artifact
    from benchmarks._row_fleet import row_fleet
    from benchmarks._row_get import row_get
    from benchmarks._row_list import row_faults, row_list, row_list_floor
    from benchmarks._row_startup import row_startup
    from benchmarks._row_sync import row_sync_get, row_sync_list
    from benchmarks._row_wait import row_wait
    from benchmarks._row_webhooks import row_webhooks

    return {
        "list": row_list,
        "get": row_get,
        "wait": row_wait,
        "artifact": row_artifact,
        "adapters": row_adapters,
        "faults": row_faults,
        "sync-get": row_sync_get,
        "sync-list": row_sync_list,
        "webhooks": row_webhooks,
        "fleet": row_fleet,
        "list-floor": row_list_floor,
        "startup": row_startup,
    }


ROW_NAMES = (
    "list",
    "get",
    "wait",
    "artifact",
    "adapters",
    "faults",
    "sync-get",
    "sync-list",
    "webhooks",
    "fleet",
    "list-floor",
    "startup",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run dbt-runs side by side with its peers against one emulator; "
        "write latest.json and latest.md.",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes that only prove the harness works (written to results/smoke/)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="ROW",
        help=f"run only this row (repeatable): a number 1-{len(ROW_NAMES)} or one of "
        f"{', '.join(ROW_NAMES)}",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="merge the rows run into the output directory's latest results (default "
        "results/), replacing those rows and keeping the others with the date of their run",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="output directory (default: results/ for a full run of every row or --merge, "
        "results/smoke/ for --smoke, results/partial/ for --only)",
    )
    p.add_argument("--no-peers", action="store_true", help="skip the peers (dbt-runs only)")
    p.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    return p.parse_args(argv)


def _selected(only: list[str] | None) -> list[str]:
    if not only:
        return list(ROW_NAMES)
    chosen = []
    for item in only:
        count = len(ROW_NAMES)
        name = ROW_NAMES[int(item) - 1] if item.isdigit() and 1 <= int(item) <= count else item
        if name not in ROW_NAMES:
            raise SystemExit(
                f"--only: unknown row {item!r} (use 1-{count} or {', '.join(ROW_NAMES)})"
            )
        chosen.append(name)
    return [name for name in ROW_NAMES if name in chosen]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the exit status (1 when a row crashed)."""
    args = _parse(argv)
    names = _selected(args.only)
    sizes = SMOKE if args.smoke else FULL
    if args.out is not None:
        out_dir = args.out
    elif args.smoke:
        out_dir = RESULTS / "smoke"
    elif args.merge:
        out_dir = RESULTS
    elif args.only:
        out_dir = RESULTS / "partial"
    else:
        out_dir = RESULTS

    def log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    peer_notes: list[str] = []
    peers = []
    if not args.no_peers:
        for spec in PEERS:
            log(f"preparing {spec.name}'s environment")
            peer = ensure_peer(spec, log=peer_notes)
            if peer:
                peers.append(peer)
    else:
        peer_notes.append("Peers skipped (--no-peers).")
    for note in peer_notes:
        log(note)
    env = _results.environment(smoke=args.smoke, peer_versions={p.name: p.version for p in peers})
    rows: list[Row] = []
    failed = False
    # A profile is written only for a missed target: stale ones must not outlive their miss
    # (when merging, only those of the rows run here are stale).
    for stale in (out_dir / "profiles").glob("*.txt"):
        if not args.merge or stale.stem in names:
            stale.unlink()
    with tempfile.TemporaryDirectory(prefix="dbt-runs-bench-") as work:
        ctx = Context(
            sizes=sizes,
            peers=peers,
            peer_notes=peer_notes,
            work_dir=Path(work),
            profile_dir=None if args.no_profile else out_dir / "profiles",
            log=log,
        )
        table = _rows()
        for name in names:
            log(f"row {name}")
            # What the harness holds (every row's imports, earlier rows' figures) is not the
            # measured code's: frozen, the collector sees only what the row allocates, as in
            # a peer's own fresh process. Left in, each full collection scanned some 100,000
            # harness objects: about 12% more CPU for an in-process listing of 10,000 runs.
            gc.collect()
            gc.freeze()
            started = time.perf_counter()
            try:
                row = asyncio.run(table[name](ctx))
            except Exception as exc:  # one broken row must not lose the others' figures
                failed = True
                log(f"row {name} crashed: {type(exc).__name__}: {exc}")
                row = Row(
                    ROW_NAMES.index(name) + 1,
                    name,
                    name,
                    "-",
                    None,
                    met=None,
                    verdict=f"crashed: {type(exc).__name__}: {exc}"[:300],
                    measurements=[Measurement("harness", ok=False, note=str(exc)[:200])],
                )
            log(f"row {name} done in {time.perf_counter() - started:.1f} s")
            rows.append(row)
    if args.merge:
        json_path, md_path = _results.merge(out_dir, env, rows)
    else:
        json_path, md_path = _results.write(out_dir, env, rows)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path}")
    # A peer failing (say, without retries under faults) is a result; dbt-runs failing is a
    # broken harness or a broken client, and a smoke run in CI must say so.
    broken = [
        f"row {row.number}: {m.contender}: {m.note}"
        for row in rows
        for m in row.measurements
        if m.contender.startswith("dbt-runs") and not m.ok
    ]
    for line in broken:
        log(f"dbt-runs failed: {line}")
    return 1 if failed or broken else 0
