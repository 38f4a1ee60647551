"""The `dbt-runs` command.

Subcommands live in their own modules and are imported only when used, so that
`dbt-runs runs ...` never imports the server libraries (starlette, uvicorn, mcp)
and `--help` stays fast. Only click is needed (`pip install "dbt-runs[cli]"`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

_CLICK_MISSING = (
    "dbt-runs: the command line needs click; install it with: pip install 'dbt-runs[cli]'"
)

# name -> (module, attribute, one-line help shown in `dbt-runs --help`)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "runs": (
        "dbt_runs.cli.runs",
        "runs",
        "Trigger, list, get, wait for, cancel, retry and rerun runs; why one failed, its logs.",
    ),
    "jobs": ("dbt_runs.cli.jobs", "jobs", "List jobs: their ids, names and schedules."),
    "artifacts": (
        "dbt_runs.cli.artifacts",
        "artifacts",
        "Download the artifacts of a run, or of a job's latest successful run.",
    ),
    "serve": (
        "dbt_runs.cli.serve",
        "serve",
        "Serve the REST (8080) and MCP (9090) adapters.",
    ),
    "emulator": ("dbt_runs.cli.emulator", "emulator", "Run the local dbt Cloud emulator."),
    "webhooks": ("dbt_runs.cli.webhooks", "webhooks", "Verify or watch dbt Cloud's webhooks."),
}


def _build() -> Any:
    import click

    from dbt_runs._version import __version__

    class LazyGroup(click.Group):
        def list_commands(self, ctx: click.Context) -> list[str]:
            return sorted(SUBCOMMANDS)

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            spec = SUBCOMMANDS.get(cmd_name)
            if spec is None:
                return None
            module_name, attr, _ = spec
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @click.group(
        cls=LazyGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(__version__, prog_name="dbt-runs")
    @click.option(
        "--debug",
        is_flag=True,
        help="Show tracebacks and debug logs (secrets stay hidden); also DBT_RUNS_DEBUG=1.",
    )
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        """Drive dbt Cloud job runs from CI, serve them to tools and agents, or emulate dbt Cloud.

        \b
        Examples:
          dbt-runs serve --emulator            # REST on :8080 and MCP on :9090, no account needed
          dbt-runs runs trigger 42 --wait      # trigger job 42, wait, exit non-zero if it failed
          dbt-runs emulator --port 8000        # a local dbt Cloud for your own tests
        """
        # Subcommands are loaded lazily and own their flags; they read this from ctx.meta.
        ctx.meta["dbt_runs.debug"] = debug

    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `dbt-runs` console script."""
    try:
        import click  # noqa: F401
    except ImportError:
        print(_CLICK_MISSING, file=sys.stderr)
        raise SystemExit(2) from None
    _build()(args=argv, prog_name="dbt-runs")
