"""`dbt-runs runs ...` and `dbt-runs artifacts ...`: dbt Cloud runs from a shell or a CI job.

These commands need only click and the core SDK (never the server extra). Each one builds an
`AsyncRunsClient` from the same environment variables as the SDK (`DBT_API_KEY`,
`DBT_CLOUD_BASE_URL` or `DBT_CLOUD_HOST`, `DBT_CLOUD_ACCOUNT_ID`), with flags that override
all but the token: a token on the command line would land in shell history and process lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio
import attrs
import click

from dbt_runs._client import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from dbt_runs.cli._output import (
    EXIT_CODES_HELP,
    ExitCode,
    LiveStatusLine,
    PlainStatusLines,
    Redactor,
    StatusReporter,
    dump_json,
    format_bytes,
    format_seconds,
    format_table,
    is_interactive,
    status_colour,
)

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from dbt_runs import AsyncRunsClient
    from dbt_runs.models import Run, RunStep

__all__ = ["artifacts", "runs"]

T = TypeVar("T")

_TOKEN_ENV = "DBT_API_KEY"
_DEBUG_META = "dbt_runs.debug"
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_STATUS_NAMES = ("queued", "starting", "running", "success", "error", "cancelled")
_TICK_SECONDS = 1.0
_STEP_LOG_LINES = 20


# --------------------------------------------------------------------------------------------
# Configuration and the one place where errors become exit codes
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Settings:
    """What every command needs besides its own arguments (from flags; None: use the env)."""

    base_url: str | None = None
    host: str | None = None
    account_id: int | None = None
    request_timeout: float | None = None
    debug: bool = False

    def client(self) -> AsyncRunsClient:
        """A client configured from these flags, then the environment, then defaults."""
        from dbt_runs import AsyncRunsClient

        kwargs: dict[str, Any] = {}
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.host is not None:
            kwargs["host"] = self.host
        if self.account_id is not None:
            kwargs["account_id"] = self.account_id
        if self.request_timeout is not None:
            kwargs["timeout"] = self.request_timeout
        return AsyncRunsClient(**kwargs)


def _connection_options(func: Callable[..., T]) -> Callable[..., T]:
    """Add the shared flags to a command and hand it a `Settings` as `settings`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        base_url: str | None,
        host: str | None,
        account_id: int | None,
        request_timeout: float | None,
        debug: bool,
        **kwargs: Any,
    ) -> T:
        ctx = click.get_current_context()
        settings = Settings(
            base_url=base_url,
            host=host,
            account_id=account_id,
            request_timeout=request_timeout,
            debug=debug or bool(ctx.meta.get(_DEBUG_META)),
        )
        return func(*args, settings=settings, **kwargs)

    options = [
        click.option(
            "--debug",
            is_flag=True,
            envvar="DBT_RUNS_DEBUG",
            help="Show tracebacks and the SDK's debug log (the token stays hidden).",
        ),
        click.option(
            "--request-timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Timeout of each HTTP request (the SDK's default if not given).",
        ),
        click.option(
            "--account-id",
            type=click.IntRange(min=1),
            metavar="ID",
            help="dbt Cloud account id.  [default: $DBT_CLOUD_ACCOUNT_ID]",
        ),
        click.option(
            "--host",
            metavar="HOST",
            help="dbt Cloud host, e.g. emea.dbt.com or ab123.us1.dbt.com.  "
            "[default: $DBT_CLOUD_HOST]",
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="API root, e.g. https://cloud.getdbt.com/api/v2.  [default: $DBT_CLOUD_BASE_URL]",
        ),
    ]
    decorated: Callable[..., T] = wrapper
    for option in options:
        decorated = option(decorated)
    return decorated


class _DebugLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the SDK's log records to stderr with every secret removed."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(sys.stderr)
        self._redact = redact
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


@contextlib.contextmanager
def _debug_logging(enabled: bool, redact: Redactor) -> Iterator[None]:
    if not enabled:
        yield
        return
    logger = logging.getLogger("dbt_runs")
    handler = _DebugLogHandler(redact)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _fail(code: ExitCode, message: str, redact: Redactor) -> None:
    """The one readable error line: what went wrong and the exit code it ends with."""
    # One line even when a message spans several: CI logs and `grep` read lines.
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    click.echo(redact(f"dbt-runs: error: {line} [exit {code.value}]"), err=True)


def _execute(
    settings: Settings, work: Callable[[AsyncRunsClient], Awaitable[ExitCode]]
) -> NoReturn:
    """Run `work` with a client, print any error as one line and exit with its code."""
    from dbt_runs.errors import ConfigurationError, DbtRunsError, InvalidArgumentError

    redact = Redactor([os.environ.get(_TOKEN_ENV)])

    async def main() -> ExitCode:
        _cancel_on_sigterm()
        async with settings.client() as client:
            return await work(client)

    code: ExitCode
    try:
        with _debug_logging(settings.debug, redact):
            code = anyio.run(main)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C, or SIGTERM (see _cancel_on_sigterm): the SDK has already cancelled a run
        # waited on with --cancel-on-interrupt, and logged it.
        code = ExitCode.INTERRUPTED
        _fail(code, "interrupted", redact)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except (ConfigurationError, InvalidArgumentError) as exc:
        code = ExitCode.USAGE
        _report(exc, code, settings, redact)
    except DbtRunsError as exc:
        # APIError and anything else the SDK raises: dbt Cloud (or the way to it) said no.
        code = ExitCode.API_ERROR
        _report(exc, code, settings, redact)
    except Exception as exc:
        code = ExitCode.INTERNAL
        _report(exc, code, settings, redact, internal=True)
    raise SystemExit(int(code))


def _cancel_on_sigterm() -> None:
    """Turn SIGTERM into a cancellation of the command, as asyncio already does for SIGINT.

    CI systems stop a cancelled job with SIGTERM (GitHub Actions sends SIGINT first), and the
    default action would kill the process before `--cancel-on-interrupt` could cancel the run.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task here
        return
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Unsupported on Windows' event loops and outside the main thread (CliRunner in a
        # worker thread): SIGTERM then keeps its default action.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def _report(
    exc: BaseException,
    code: ExitCode,
    settings: Settings,
    redact: Redactor,
    *,
    internal: bool = False,
) -> None:
    if settings.debug:
        click.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)
    message = str(exc) or type(exc).__name__
    if internal:
        message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug"
    _fail(code, message, redact)


# --------------------------------------------------------------------------------------------
# How runs are shown
# --------------------------------------------------------------------------------------------


def _status_name(thing: Run | RunStep) -> str:
    """dbt's word for the status ("Success"); an undocumented code shows as "Unknown 40"."""
    if thing.status is not None:
        return thing.status.humanized
    return thing.status_humanized or "Unknown"


def _colour_wanted() -> bool:
    # https://no-color.org: any non-empty NO_COLOR turns colour off. click already drops
    # colour when the output is not a terminal.
    return not os.environ.get("NO_COLOR")


def _coloured_status(text: str) -> str:
    if not _colour_wanted():
        return text
    return click.style(text, fg=status_colour(text.rstrip()))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _duration(thing: Run | RunStep) -> str:
    if thing.duration is None:
        return "-"
    return format_seconds(thing.duration.total_seconds())


def _cause(run: Run) -> str:
    return (run.cause or "").replace("\n", " ")


def _runs_table(items: Sequence[Run]) -> str:
    headers = ["ID", "JOB", "STATUS", "CREATED", "DURATION", "CAUSE"]
    rows = [
        [
            str(run.id),
            str(run.job_definition_id if run.job_definition_id is not None else "-"),
            _status_name(run),
            _when(run.created_at),
            _duration(run),
            _cause(run),
        ]
        for run in items
    ]
    return format_table(
        headers,
        rows,
        max_widths={"CAUSE": 60},
        styles=[None, None, _coloured_status, None, None, None],
    )


def _run_summary(run: Run) -> str:
    lines = [
        f"run {run.id}  {_coloured_status(_status_name(run))}",
        f"  job        {run.job_definition_id if run.job_definition_id is not None else '-'}",
        f"  cause      {_cause(run) or '-'}",
        f"  created    {_when(run.created_at)}",
        f"  started    {_when(run.started_at)}",
        f"  finished   {_when(run.finished_at)}",
        f"  duration   {_duration(run)}",
    ]
    if run.git_branch or run.git_sha:
        lines.append(f"  git        {run.git_branch or '-'} @ {run.git_sha or '-'}")
    if run.status_message:
        lines.append(f"  message    {run.status_message}")
    if run.href:
        lines.append(f"  url        {run.href}")
    return "\n".join(lines)


def _steps_table(run: Run) -> str:
    steps = run.run_steps or ()
    if not steps:
        return "  (no steps yet)"
    rows = [
        [
            str(step.index if step.index is not None else "-"),
            _status_name(step),
            _duration(step),
            step.name or "-",
        ]
        for step in steps
    ]
    return format_table(
        ["STEP", "STATUS", "DURATION", "NAME"],
        rows,
        styles=[None, _coloured_status, None, None],
    )


def _emit_run(run: Run, as_json: bool) -> None:
    click.echo(dump_json(run.raw) if as_json else _run_summary(run))


# --------------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------------


@attrs.frozen
class WaitOptions:
    """The `--timeout`, `--poll`, `--cancel-on-timeout` and `--cancel-on-interrupt` flags."""

    timeout: float | None
    poll: float | None
    cancel_on_timeout: bool
    cancel_on_interrupt: bool = False


def _wait_options(func: Callable[..., T]) -> Callable[..., T]:
    """Add the waiting flags; the command receives a `WaitOptions` as `wait_options`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        timeout: float | None,
        poll: float | None,
        cancel_on_timeout: bool,
        cancel_on_interrupt: bool,
        **kwargs: Any,
    ) -> T:
        options = WaitOptions(
            timeout=timeout,
            poll=poll,
            cancel_on_timeout=cancel_on_timeout,
            cancel_on_interrupt=cancel_on_interrupt,
        )
        return func(*args, wait_options=options, **kwargs)

    decorated: Callable[..., T] = wrapper
    for option in [
        click.option(
            "--cancel-on-interrupt",
            is_flag=True,
            help="Cancel the run on dbt Cloud if this command is interrupted while waiting "
            "(Ctrl-C, or SIGTERM from a cancelled CI job).",
        ),
        click.option(
            "--cancel-on-timeout",
            is_flag=True,
            help="Cancel the run on dbt Cloud when --timeout runs out.",
        ),
        click.option(
            "--poll",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help=f"Seconds between status checks.  [default: {DEFAULT_POLL_INTERVAL:g}]",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Give up waiting after this long and exit 4.  "
            f"[default: {DEFAULT_WAIT_TIMEOUT:g}]",
        ),
    ]:
        decorated = option(decorated)
    return decorated


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


def _reporter() -> StatusReporter:
    if is_interactive(sys.stderr):
        return LiveStatusLine(colour=_colour_wanted())
    return PlainStatusLines()


async def _wait(client: AsyncRunsClient, run: Run, options: WaitOptions, as_json: bool) -> ExitCode:
    """Wait for `run`, show its progress on stderr, print the result, return the exit code."""
    from dbt_runs.errors import RunCancelledError, RunFailedError, WaitTimeoutError

    reporter = _reporter()
    shown_status = _status_name(run)
    reporter.update(run.id, shown_status)

    def on_status_change(seen: Run) -> None:
        nonlocal shown_status
        # The SDK reports the first status it sees too, usually the one already shown.
        if _status_name(seen) != shown_status:
            shown_status = _status_name(seen)
            reporter.update(seen.id, shown_status)

    # The trigger carries the cause shown in the summary.
    kwargs: dict[str, Any] = {"on_status_change": on_status_change, "include_related": ["trigger"]}
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
    if options.poll is not None:
        kwargs["poll_interval"] = options.poll
    if options.cancel_on_timeout:
        kwargs["cancel_on_timeout"] = True
    if options.cancel_on_interrupt:
        kwargs["cancel_on_abort"] = True

    final: Run | None
    code: ExitCode
    message = ""
    async with anyio.create_task_group() as tasks:
        if isinstance(reporter, LiveStatusLine):
            tasks.start_soon(_tick, reporter)
        try:
            final = await client.wait_for_run(run, **kwargs)
            code = ExitCode.SUCCESS
        except RunFailedError as exc:
            final, code = exc.run, ExitCode.RUN_FAILED
        except RunCancelledError as exc:
            final, code = exc.run, ExitCode.RUN_CANCELLED
        except WaitTimeoutError as exc:
            final, code = exc.run, ExitCode.WAIT_TIMEOUT
            message = str(exc)
        except asyncio.CancelledError:
            reporter.close()
            if not options.cancel_on_interrupt:
                # With --cancel-on-interrupt the SDK cancels the run and logs that it did.
                where = f": {run.href}" if run.href else ""
                click.echo(f"run {run.id} keeps going on dbt Cloud{where}", err=True)
            raise
        finally:
            tasks.cancel_scope.cancel()
            reporter.close()

    shown = final or run
    if as_json:
        click.echo(dump_json(shown.raw))
    else:
        click.echo(_run_summary(shown))
    if code is ExitCode.RUN_FAILED:
        await _explain_failure(client, shown)
        click.echo(f"dbt-runs: run {shown.id} failed [exit {code.value}]", err=True)
    elif code is ExitCode.RUN_CANCELLED:
        reason = f": {shown.status_message}" if shown.status_message else ""
        click.echo(f"dbt-runs: run {shown.id} was cancelled{reason} [exit {code.value}]", err=True)
    elif code is ExitCode.WAIT_TIMEOUT:
        click.echo(f"dbt-runs: {message} [exit {code.value}]", err=True)
    return code


async def _tick(reporter: StatusReporter) -> None:
    while True:
        await anyio.sleep(_TICK_SECONDS)
        reporter.tick()


async def _explain_failure(client: AsyncRunsClient, run: Run) -> None:
    """Name the failed step and show the end of its log, so the CI log says what broke."""
    from dbt_runs.errors import APIError
    from dbt_runs.models import RunStatus

    try:
        detailed = await client.get_run(run.id, include_related=["run_steps"])
    except APIError:
        return  # the exit code already says the run failed; details are a bonus
    failed = [s for s in detailed.run_steps or () if s.status is RunStatus.ERROR]
    for step in failed:
        click.echo(f"step {step.index} failed: {step.name}", err=True)
        logs = (step.logs or "").rstrip().splitlines()[-_STEP_LOG_LINES:]
        for line in logs:
            click.echo(f"  | {line}", err=True)


# --------------------------------------------------------------------------------------------
# `dbt-runs runs ...`
# --------------------------------------------------------------------------------------------


@click.group(context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
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


@runs.command(context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
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
@_wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the run as dbt's JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the run id (without --wait).")
@_connection_options
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

    _execute(settings, work)


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
        return await _wait(client, run, options, as_json)
    if as_json:
        click.echo(dump_json(run.raw))
    elif quiet:
        click.echo(str(run.id))
    else:
        click.echo(f"{verb} run {run.id} (job {run.job_definition_id}): {run.href or ''}".rstrip())
    return ExitCode.SUCCESS


@runs.command("list", context_settings=_CONTEXT)
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
@_connection_options
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
            click.echo(_runs_table(shown))
            if total is not None and total > len(shown) and not all_runs:
                click.echo(
                    f"{len(shown)} of {total} runs; use --limit N or --all for more.", err=True
                )
        return ExitCode.SUCCESS

    _execute(settings, work)


@runs.command(context_settings=_CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--steps", is_flag=True, help="Also show the run's steps.")
@click.option("--json", "as_json", is_flag=True, help="Print dbt's run object.")
@_connection_options
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
        _emit_run(run, as_json)
        if steps and not as_json:
            click.echo(_steps_table(run))
        return ExitCode.SUCCESS

    _execute(settings, work)


@runs.command("wait", context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_id", type=click.IntRange(min=1))
@_wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as dbt's JSON.")
@_connection_options
def wait_command(run_id: int, wait_options: WaitOptions, as_json: bool, settings: Settings) -> None:
    """Wait for RUN_ID to finish; exit 0 only if it succeeded.

    \b
    Examples:
      dbt-runs runs wait 123 --timeout 1800 --cancel-on-timeout
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.get_run(run_id, include_related=["trigger"])
        return await _wait(client, run, wait_options, as_json)

    _execute(settings, work)


@runs.command(context_settings=_CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the run as dbt's JSON object.")
@_connection_options
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
        elif _status_name(run) == "Cancelled":
            click.echo(f"run {run.id}: Cancelled")
        else:
            click.echo(f"run {run.id}: {_status_name(run)} (already finished; nothing to cancel)")
        return ExitCode.SUCCESS

    _execute(settings, work)


@runs.command(context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--wait", "wait", is_flag=True, help="Wait for the new run; exit by its outcome.")
@_wait_options
@click.option("--json", "as_json", is_flag=True, help="Print the new run as dbt's JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the new run's id.")
@_connection_options
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

    _execute(settings, work)


# --------------------------------------------------------------------------------------------
# `dbt-runs artifacts ...`
# --------------------------------------------------------------------------------------------


@click.group(context_settings=_CONTEXT, epilog=EXIT_CODES_HELP)
def artifacts() -> None:
    """List and download a run's artifacts (manifest.json, run_results.json, ...).

    \b
    Examples:
      dbt-runs artifacts list 123
      dbt-runs artifacts download 123 run_results.json --step 4 -o results.json
    """


@artifacts.command("list", context_settings=_CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of paths.")
@_connection_options
def list_artifacts(run_id: int, as_json: bool, settings: Settings) -> None:
    """List the artifact paths of RUN_ID (of its last step, as dbt lists them).

    \b
    Examples:
      dbt-runs artifacts list 123 | grep -v '^compiled/'
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        paths = await client.list_run_artifacts(run_id)
        if as_json:
            click.echo(dump_json(list(paths)))
        else:
            for path in paths:
                click.echo(path)
        return ExitCode.SUCCESS

    _execute(settings, work)


@artifacts.command(context_settings=_CONTEXT)
@click.argument("run_id", type=click.IntRange(min=1))
@click.argument("path")
@click.option(
    "--step",
    type=click.IntRange(min=1),
    metavar="N",
    help="The step whose artifact to fetch (1-based; dbt's default is the last step).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True, path_type=str),
    help="The file to write, a directory to write it into, or '-' for stdout.  "
    "[default: the file name of PATH, here]",
)
@_connection_options
def download(
    run_id: int, path: str, step: int | None, output: str | None, settings: Settings
) -> None:
    """Download the artifact PATH of RUN_ID, streaming it to disk.

    The file appears only once it is complete, so a failed download never leaves a
    truncated file behind. A progress bar shows on a terminal.

    \b
    Examples:
      dbt-runs artifacts download 123 manifest.json
      dbt-runs artifacts download 123 run_results.json --step 4 -o - | jq .results
    """
    name = "" if path.endswith("/") else PurePosixPath(path).name
    destination = output if output is not None else name
    if output is not None and output != "-" and (output.endswith(os.sep) or Path(output).is_dir()):
        destination = os.path.join(output, name) if name else ""
    if not destination:
        raise click.BadParameter("cannot name a file after it; give -o FILE.", param_hint="PATH")

    async def work(client: AsyncRunsClient) -> ExitCode:
        async with client.stream_run_artifact(run_id, path, step=step) as stream:
            total = stream.content_length
            if destination == "-":
                written = await _copy(stream, sys.stdout.buffer, total, show=False)
            else:
                written = await _save(stream, Path(destination), total)
        if destination != "-":
            where = f" (step {step})" if step is not None else ""
            click.echo(
                f"Saved {destination} ({format_bytes(written)}) from run {run_id}{where}", err=True
            )
        return ExitCode.SUCCESS

    _execute(settings, work)


async def _save(stream: Any, dest: Path, total: int | None) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            written = await _copy(stream, handle, total, show=is_interactive(sys.stderr))
        await anyio.Path(tmp).replace(dest)
    except BaseException:
        await anyio.Path(tmp).unlink(missing_ok=True)
        raise
    return written


async def _copy(stream: Any, handle: IO[bytes], total: int | None, *, show: bool) -> int:
    written = 0
    if not show:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
        return written
    bar: ProgressBar[int]
    with click.progressbar(
        length=total,
        label="Downloading",
        file=sys.stderr,
        show_eta=total is not None,
        show_percent=total is not None,
    ) as bar:
        async for chunk in stream:
            handle.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written
