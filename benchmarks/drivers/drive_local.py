"""dbt-runs and the bare httpx baseline as child processes, for the rows that need one.

Row 4 compares peak RSS, which is only comparable between whole processes: every contender,
dbt-runs included, downloads the artifact from its own fresh interpreter. Runs in the
dbt-runs environment (ours), unlike the peers' drivers.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _common import parse_args, report


async def _dbt_runs(args) -> None:  # type: ignore[no-untyped-def]
    from dbt_runs import AsyncRunsClient

    async with AsyncRunsClient(
        token=args.token, base_url=args.base_url, account_id=args.account
    ) as client:
        if args.op == "artifact":
            await client.download_run_artifact(args.run_id, args.path, Path(args.dest))


def _import(who: str) -> None:
    if who == "dbt-runs":
        # `import dbt_runs` alone loads nothing now (its names load on first use): import
        # the client, whose modules (httpx among them) the download needs.
        from dbt_runs import AsyncRunsClient  # noqa: F401
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        import benchmarks._baselines  # noqa: F401


async def _httpx(args) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from benchmarks._baselines import stream_to_disk

    async with httpx.AsyncClient(timeout=60) as client:
        if args.op == "artifact":
            await stream_to_disk(
                client, args.base_url, args.account, args.run_id, args.path, Path(args.dest)
            )


def main() -> None:
    who, rest = sys.argv[1], sys.argv[2:]
    args = parse_args(rest)
    # The no-op imports what the real op imports, so its start-up cost is the same.
    _import(who)
    if args.op != "noop":
        asyncio.run(_dbt_runs(args) if who == "dbt-runs" else _httpx(args))
    report(args.result)


if __name__ == "__main__":
    main()
