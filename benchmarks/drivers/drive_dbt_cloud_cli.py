"""Run dbt-cloud-cli's own ways (its `dbt-cloud` command) against the emulator; own venv.

dbt-cloud-cli builds every URL as `https://{dbt_cloud_host}/api/...`
(`DbtCloudCommand.api_url`); its documented host option (`--dbt-cloud-host`/`DBT_CLOUD_HOST`)
sets only the host. The emulator serves plain HTTP on loopback, so this driver swaps that one
property's scheme to `http` and then runs the real `dbt-cloud` click command with the same
arguments a user would type: `run list --paginate`, `job run --wait`, `run get-artifact -f`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import parse_args, per_call_summary, report, timed_runs


def _patch_scheme() -> None:
    from dbt_cloud.command.command import DbtCloudCommand

    DbtCloudCommand.api_url = property(
        lambda self: f"http://{self.dbt_cloud_host}/api/{self._api_version}"
    )


def _cli(argv: list[str]) -> None:
    from dbt_cloud.cli import dbt_cloud

    try:
        dbt_cloud.main(args=argv, prog_name="dbt-cloud", standalone_mode=False)
    except SystemExit as exc:  # `job run --wait` exits 1 on a failed run
        if exc.code:
            raise


def main() -> None:
    args = parse_args()
    import dbt_cloud.cli  # noqa: F401  (the import cost belongs to the no-op baseline too)

    _patch_scheme()
    common = [
        "--api-token",
        args.token,
        "--account-id",
        str(args.account),
        "--dbt-cloud-host",
        urlsplit(args.base_url).netloc,
    ]
    if args.op == "noop":
        report(args.result)
    elif args.op == "list":
        out = Path(args.dest)

        def list_all() -> None:
            # The command prints the merged pages as JSON, as a user would see them; into a
            # file, so that the harness counts the runs afterwards, outside the timing.
            with out.open("w") as f, contextlib.redirect_stdout(f):
                _cli(["run", "list", "--paginate", *common])

        timings, _ = timed_runs(args, list_all)
        report(
            args.result,
            count=len({run["id"] for run in json.loads(out.read_text())["data"]}),
            work_s=timings,
        )
    elif args.op == "get":
        # One `dbt-cloud run get` process per call would measure process start-up, not the
        # request; the command's own model object is the library way to make the same call.
        from dbt_cloud.command import DbtCloudRunGetCommand

        samples = []
        for _ in range(args.n):
            t = time.perf_counter()
            cmd = DbtCloudRunGetCommand(
                api_token=args.token,
                account_id=args.account,
                dbt_cloud_host=urlsplit(args.base_url).netloc,
                run_id=args.run_id,
            )
            body = cmd.execute().json()
            samples.append(time.perf_counter() - t)
            assert body["data"]["id"] == args.run_id
        report(args.result, count=args.n, **per_call_summary(samples))
    elif args.op == "trigger_wait":
        # The poll interval is fixed at 5 s in dbt-cloud-cli; `--poll` cannot change it.
        _cli(["job", "run", "--job-id", str(args.job_id), "--wait", "-f", args.dest, *common])
        report(args.result)
    elif args.op == "artifact":
        _cli(
            [
                "run",
                "get-artifact",
                "--run-id",
                str(args.run_id),
                "--path",
                args.path,
                "-f",
                args.dest,
                *common,
            ]
        )
        report(args.result)
    else:  # pragma: no cover
        sys.exit(f"unknown op {args.op}")


if __name__ == "__main__":
    main()
