"""`dbt-runs runs ...`: trigger, list, get, wait for, cancel and retry dbt Cloud runs.

These commands need only click and the core SDK (never the server extra). The flags they share
(connection, waiting) and the way they end (exit codes, the error line) live in `_common` and
`_wait`; what they print, in `_output`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dbt_runs.cli._common import CONTEXT, Settings, connection_options, execute
from dbt_runs.cli._output import (
    EXIT_CODES_HELP,
    ExitCode,
    dump_json,
    run_view,
    runs_table,
    status_name,
    steps_table,
)
from dbt_runs.cli._wait import WaitOptions, wait_for, wait_options

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.models import Run

__all__ = ["runs"]

T = TypeVar("T")

_STATUS_NAMES = ("queued", "starting", "running", "success", "error", "cancelled")


# The less common trigger fields: (flag, SDK argument, click type, help).
_MORE_OVERRIDES: list[tuple[str, str, Any, str]] = [
    ("--target-name-override", "target_name_override", str, "Use this dbt target name."),
    ("--dbt-version-override", "dbt_version_override", str, "Run with this dbt version."),
    ("--threads-override", "threads_override", click.IntRange(min=1), "Run with N threads."),
    (
        "--timeout-seconds-override",
        "timeout_seconds_override",
        click.IntRange(min=0),
        "dbt's own run timeout, in seconds (0: none).",
    ),
    (
        "--github-pull-request-id",
        "github_pull_request_id",
        click.IntRange(min=1),
        "The GitHub pull request this run is for.",
    ),
    (
        "--gitlab-merge-request-id",
        "gitlab_merge_request_id",
        click.IntRange(min=1),
        "The GitLab merge request this run is for.",
    ),
    (
        "--azure-pull-request-id",
        "azure_pull_request_id",
        click.IntRange(min=1),
        "The Azure DevOps pull request this run is for.",
    ),
    (
        "--non-native-pull-request-id",
        "non_native_pull_request_id",
        click.IntRange(min=1),
        "The pull request id of another git provider.",
    ),
]


def _more_overrides(func: Callable[..., T]) -> Callable[..., T]:
    """Add the less common trigger fields; the command receives them as `more_overrides`."""
    names = [name for _, name, _, _ in _MORE_OVERRIDES] + ["generate_docs_override"]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        more = {name: kwargs.pop(name) for name in names}
        return func(*args, more_overrides=more, **kwargs)

    decorated: Callable[..., T] = wrapper
    decorated = click.option(
        "--generate-docs-override/--no-generate-docs-override",
        "generate_docs_override",
        default=None,
        help="Generate the docs in this run, or not (default: as the job says).",
    )(decorated)
    for flag, name, kind, text in reversed(_MORE_OVERRIDES):
        metavar = "VERSION" if "version" in flag else "NAME" if kind is str else "N"
        decorated = click.option(flag, name, type=kind, metavar=metavar, help=text)(decorated)
    return decorated


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
def runs() -> None:
    """Trigger, list, get, wait for, cancel and retry dbt Cloud runs.

    Configuration comes from the environment, as for the SDK: DBT_API_KEY (the token; never
    taken on the command line), DBT_CLOUD_BASE_URL or DBT_CLOUD_HOST, and
    DBT_CLOUD_ACCOUNT_ID; every command takes --base-url, --host and --account-id to override
    them.

    \b
    Examples:
      dbt-runs runs trigger 42 --wait --timeout 3600   # the usual CI step
      dbt-runs runs list --job 42 --status error
    """


@runs.command(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("job_id", type=click.IntRange(min=1))
@click.option("--cause", help="Why the run was triggered (1-255 characters, shown in dbt Cloud).")
@click.option("--git-branch", metavar="BRANCH", help="Run the job on this git branch.")
@click.option("--git-sha", metavar="SHA", help="Run the job on this commit.")
@click.option("--schema-override", metavar="SCHEMA", help="Build into this schema.")
@click.option(
    "--steps-override",
    "steps_override",
    multiple=True,
    metavar="CMD",
    help="Replace the job's steps; repeat for several (e.g. --steps-override 'dbt build').",
)
@_more_overrides
@click.option("--wait", "wait", is_flag=True, help="Wait for the run to finish; exit by outcome.")
@wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the run as dbt's JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the run id (without --wait).")
@connection_options
def trigger(
    job_id: int,
    cause: str | None,
    git_branch: str | None,
    git_sha: str | None,
    schema_override: str | None,
    steps_override: tuple[str, ...],
    more_overrides: dict[str, Any],
    wait: bool,
    wait_options: WaitOptions,
    as_json: bool,
    quiet: bool,
    settings: Settings,
) -> None:
    """Trigger a run of JOB_ID; print its id and dbt Cloud URL.

    With --wait, follow the run until it finishes (a live status line on a terminal, one
    timestamped line per status change in a CI log) and exit 0 only if it succeeded.

    \b
    Examples:
      dbt-runs runs trigger 42 --cause "PR #7" --git-branch feature/x --wait
      RUN_ID=$(dbt-runs runs trigger 42 --quiet)
      dbt-runs runs trigger 42 --steps-override "dbt build -s tag:daily" --json
    """
    overrides: dict[str, Any] = {
        "git_branch": git_branch,
        "git_sha": git_sha,
        "schema_override": schema_override,
        "steps_override": list(steps_override) or None,
        **more_overrides,
    }
    if cause is not None:
        overrides["cause"] = cause

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.trigger_run(
            job_id, **{k: v for k, v in overrides.items() if v is not None}
        )
        return await _after_start(client, run, "Triggered", wait, wait_options, as_json, quiet)

    execute(settings, work)


async def _after_start(
    client: AsyncRunsClient,
    run: Run,
    verb: str,
    wait: bool,
    options: WaitOptions,
    as_json: bool,
    quiet: bool,
) -> ExitCode:
    if wait:
        if not as_json:
            click.echo(f"{verb} run {run.id}: {run.href or ''}".rstrip(), err=True)
        return await wait_for(client, run, options, as_json)
    if as_json:
        click.echo(dump_json(run.raw))
    elif quiet:
        click.echo(str(run.id))
    else:
        click.echo(f"{verb} run {run.id} (job {run.job_definition_id}): {run.href or ''}".rstrip())
    return ExitCode.SUCCESS


@runs.command("list", context_settings=CONTEXT)
@click.option("--job", "job_id", type=click.IntRange(min=1), metavar="ID", help="Only this job.")
@click.option(
    "--environment",
    "environment_id",
    type=click.IntRange(min=1),
    metavar="ID",
    help="Only this environment.",
)
@click.option(
    "--project", "project_id", type=click.IntRange(min=1), metavar="ID", help="Only this project."
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(_STATUS_NAMES, case_sensitive=False),
    help="Only runs with this status; repeat for several.",
)
@click.option(
    "--order-by",
    default="-id",
    show_default=True,
    type=click.Choice(["id", "-id", "created_at", "-created_at", "finished_at", "-finished_at"]),
    help="Sort order ('-' for descending).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many runs.",
)
@click.option("--all", "all_runs", is_flag=True, help="Show every matching run (ignores --limit).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of dbt's run objects.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one dbt run object per line.")
@connection_options
def list_runs(
    job_id: int | None,
    environment_id: int | None,
    project_id: int | None,
    statuses: tuple[str, ...],
    order_by: str,
    limit: int,
    all_runs: bool,
    as_json: bool,
    as_jsonl: bool,
    settings: Settings,
) -> None:
    """List runs, newest first, as a table (or JSON).

    \b
    Examples:
      dbt-runs runs list --job 42 --status error --status cancelled
      dbt-runs runs list --all --jsonl > runs.jsonl
    """
    if as_json and as_jsonl:
        raise click.UsageError("--json and --jsonl cannot be used together.")

    async def work(client: AsyncRunsClient) -> ExitCode:
        from dbt_runs.models import RunStatus

        filters: dict[str, Any] = {"order_by": order_by, "include_related": ["trigger"]}
        if job_id is not None:
            filters["job_definition_id"] = job_id
        if environment_id is not None:
            filters["environment_id"] = environment_id
        if project_id is not None:
            filters["project_id"] = project_id
        if statuses:
            wanted = [RunStatus[s.upper()] for s in dict.fromkeys(statuses)]
            filters["status"] = wanted[0] if len(wanted) == 1 else wanted
        if all_runs:
            pager = client.list_runs(**filters)
        else:
            pager = client.list_runs(**filters, limit=min(limit, 100), max_items=limit)
        shown: list[Run] = []
        async for run in pager:
            if as_jsonl:
                # Streamed as it arrives: `--all --jsonl` over 100k runs never buffers them.
                click.echo(dump_json(run.raw, indent=None))
            else:
                shown.append(run)
        total = (await pager).total_count  # the first page is cached: no extra request
        if as_json:
            click.echo(dump_json([r.raw for r in shown]))
        elif not as_jsonl:
            if not shown:
                click.echo("No runs match.", err=True)
                return ExitCode.SUCCESS
            click.echo(runs_table(shown))
            if total is not None and total > len(shown) and not all_runs:
                click.echo(
                    f"{len(shown)} of {total} runs; use --limit N or --all for more.", err=True
                )
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command(context_settings=CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--steps", is_flag=True, help="Also show the run's steps.")
@click.option("--json", "as_json", is_flag=True, help="Print dbt's run object.")
@connection_options
def get(run_id: int, steps: bool, as_json: bool, settings: Settings) -> None:
    """Show one run: status, times, cause, URL (and --steps).

    \b
    Examples:
      dbt-runs runs get 123 --steps
      dbt-runs runs get 123 --json | jq -r .status_humanized
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        if steps:
            run = await client.get_run(run_id, include_related=["run_steps", "trigger"])
        else:
            run = await client.get_run(run_id, include_related=["trigger"])
        click.echo(run_view(run, as_json=as_json))
        if steps and not as_json:
            click.echo(steps_table(run))
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command("wait", context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_id", type=click.IntRange(min=1))
@wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as dbt's JSON.")
@connection_options
def wait_command(run_id: int, wait_options: WaitOptions, as_json: bool, settings: Settings) -> None:
    """Wait for RUN_ID to finish; exit 0 only if it succeeded.

    \b
    Examples:
      dbt-runs runs wait 123 --timeout 1800 --cancel-on-timeout
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.get_run(run_id, include_related=["trigger"])
        return await wait_for(client, run, wait_options, as_json)

    execute(settings, work)


@runs.command(context_settings=CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the run as dbt's JSON object.")
@connection_options
def cancel(run_id: int, as_json: bool, settings: Settings) -> None:
    """Cancel RUN_ID (a run that already finished is left as it is).

    \b
    Examples:
      dbt-runs runs cancel 123
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.cancel_run(run_id)
        if as_json:
            click.echo(dump_json(run.raw))
        elif status_name(run) == "Cancelled":
            click.echo(f"run {run.id}: Cancelled")
        else:
            click.echo(f"run {run.id}: {status_name(run)} (already finished; nothing to cancel)")
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--wait", "wait", is_flag=True, help="Wait for the new run; exit by its outcome.")
@wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the new run as dbt's JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the new run's id.")
@connection_options
def retry(
    run_id: int,
    wait: bool,
    wait_options: WaitOptions,
    as_json: bool,
    quiet: bool,
    settings: Settings,
) -> None:
    """Retry the failed RUN_ID from its point of failure, as a new run.

    dbt allows this only for the latest run of a job that failed; otherwise dbt's reason is
    printed and the command exits 5.

    \b
    Examples:
      dbt-runs runs retry 123 --wait
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.retry_run(run_id)
        headline = f"Retrying run {run_id} as"
        return await _after_start(client, run, headline, wait, wait_options, as_json, quiet)

    execute(settings, work)
