"""Run dbtc's own ways (library calls) against the emulator; runs in dbtc's own venv.

dbtc builds every URL as `https://{host}/api/...` (`_Client._base_url`) and mounts its urllib3
`Retry` only on `https://`. The emulator serves plain HTTP on loopback, so this driver swaps the
scheme to `http` and mounts the very same retrying adapter on `http://`: every other line of
dbtc's request path (session, retries, JSON decoding, polling) runs unchanged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from _common import parse_args, per_call_summary, report, timed_runs


def _client(base_url: str, token: str):  # type: ignore[no-untyped-def]
    from dbtc import dbtCloudClient
    from dbtc.client.base import _Client

    _Client._base_url = property(lambda self: f"http://{self._host}{self._path}")
    client = dbtCloudClient(api_key=token, host=urlsplit(base_url).netloc)
    session = client.cloud.session
    session.mount("http://", session.get_adapter("https://cloud.getdbt.com"))
    return client


def main() -> None:
    args = parse_args()
    client = _client(args.base_url, args.token)
    cloud = client.cloud
    if args.op == "noop":
        report(args.result)
    elif args.op == "list":

        def list_all() -> list[dict[str, Any]]:
            # dbtc has no auto-pagination for the admin API: its documented way is
            # offset/limit.
            runs: list[dict[str, Any]] = []
            while True:
                page = cloud.list_runs(args.account, offset=len(runs), limit=100)
                runs.extend(page["data"])
                if not page["data"] or len(runs) >= page["extra"]["pagination"]["total_count"]:
                    return runs

        timings, runs = timed_runs(args, list_all)
        report(args.result, count=len({r["id"] for r in runs}), work_s=timings)
    elif args.op == "get":
        samples = []
        for _ in range(args.n):
            t = time.perf_counter()
            run = cloud.get_run(args.account, args.run_id)
            samples.append(time.perf_counter() - t)
            assert run["data"]["id"] == args.run_id
        report(args.result, count=args.n, **per_call_summary(samples))
    elif args.op == "trigger_wait":
        # dbtc's poll_interval is typed int but goes straight to time.sleep, so a float works.
        run = cloud.trigger_job(
            args.account,
            args.job_id,
            {"cause": "benchmark"},
            should_poll=True,
            poll_interval=args.poll,
        )
        report(args.result, run_id=run["data"]["id"], status=run["data"]["status"])
    elif args.op == "artifact":
        body = cloud.get_run_artifact(args.account, args.run_id, args.path)
        # A `.json` path comes back parsed (a dict), anything else as `str`: save it either way.
        with open(args.dest, "w") as f:
            if isinstance(body, str):
                f.write(body)
            else:
                json.dump(body, f)
        report(args.result, kind=type(body).__name__)
    else:  # pragma: no cover
        sys.exit(f"unknown op {args.op}")


if __name__ == "__main__":
    main()
