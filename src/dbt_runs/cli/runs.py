"""`dbt-runs runs ...`: trigger, list, get, wait for, cancel, retry and rerun dbt Cloud runs,
and tell why one failed (`errors`) or what it logged (`logs`).

These commands need only click and the core SDK (never the server extra). The flags they share
(connection, waiting) and the way they end (exit codes, the error line) live in `_common` and
`_wait`; what they print, in `_output`, `_failure` and `_logs`; how a job is named, in
`_job_ref`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import click

from dbt_runs import _fields
from dbt_runs._diagnose import DEFAULT_LOG_LINES
from dbt_runs._diagnose import as_json as as_errors_json
from dbt_runs.cli._common import (
    CONTEXT,
    CommandError,
    Decorator,
    Settings,
    connection_options,
    execute,
    field_option,
    given,
    listing_options,
    option_group,
)
from dbt_runs.cli._failure import errors_report, more_command
from dbt_runs.cli._job_ref import JobLookup, JobRef, lookup_options
from dbt_runs.cli._logs import LogPrinter, print_logs
from dbt_runs.cli._output import (
    EXIT_CODES_HELP,
    ExitCode,
    ListFormat,
    dump_json,
    echo,
    print_listing,
    run_view,
    runs_table,
    status_name,
    steps_table,
)
from dbt_runs.cli._receive import RECEIVE_OPTIONS, Receiver, events_of, serving
from dbt_runs.cli._wait import WAIT_OPTIONS, Outcome, WaitOptions, wait_for, wait_options
from dbt_runs.cli._wait import follow as follow_run

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs.models import Run
    from dbt_runs.webhooks import EventHub

__all__ = ["runs"]

T = TypeVar("T")

_ID: Final = click.IntRange(min=1)
_JOB: Final = JobRef(_fields.JOB_ID)

# Every field of a trigger and every list filter: their flags, help and rules come from their
# one declaration in `dbt_runs._fields`, as the SDK, the REST adapter and the MCP server's do.
_TRIGGER_FIELDS: Final = [
    *(field_option(field) for field in _fields.TRIGGER_FIELDS),
    field_option(_fields.IF_RUNNING),
]


def _list_filter(field: _fields.Field[Any]) -> Decorator:
    if field is _fields.ORDER_BY:  # newest first
        return field_option(field, default="-id", show_default=True)
    if field.name == "job_definition_id":  # an id, or a name to look up
        return field_option(
            field,
            type=JobRef(field),
            metavar="JOB",
            help=f"{field.doc} A job id, or its name (looked up within --project and "
            "--environment).",
        )
    return field_option(field)


# `runs list` embeds each run's trigger itself (for the cause column).
_LIST_FILTERS: Final = [
    _list_filter(field)
    for field in _fields.LIST_FILTERS
    if field is not _fields.INCLUDE_RELATED_LIST
]


_trigger_fields = option_group("fields", _TRIGGER_FIELDS, given)
_list_filters = option_group("filters", _LIST_FILTERS, given)


@attrs.frozen
class _Start:
    """What `trigger`, `retry` and `rerun` do once the run has started: wait for it, or print
    it."""

    wait: bool
    waiting: WaitOptions
    as_json: bool
    quiet: bool
    receiver: Receiver | None = None

    @classmethod
    def from_flags(
        cls,
        wait: bool,
        as_json: bool,
        quiet: bool,
        webhook_port: int | None,
        webhook_host: str,
        **waiting: Any,
    ) -> _Start:
        if quiet and as_json:
            # Two answers to "what goes to stdout": refuse rather than pick one silently.
            raise click.UsageError(
                "--quiet and --json cannot be used together: --quiet prints only the run id, "
                "--json the whole run.",
                click.get_current_context(silent=True),
            )
        receiver = Receiver.from_flags(webhook_port, webhook_host, wait=wait, quiet=quiet)
        return cls(wait, WaitOptions(**waiting), as_json, quiet, receiver)

    async def report(
        self, client: AsyncRunsClient, run: Run, verb: str, *, reused: bool = False
    ) -> ExitCode:
        """Print the started (or `reused`) run, or wait for it; the command's exit code."""
        # A reused run may be well under way: its status says how far.
        about = f"job {run.job_definition_id}" + (f", {status_name(run)}" if reused else "")
        if self.wait:
            if self.quiet:
                # First, so that `RUN_ID=$(... --quiet --wait)` has it however the run ends.
                echo(str(run.id))
            elif not self.as_json:
                shown = f" ({about})" if reused else ""
                echo(f"{verb} run {run.id}{shown}: {run.href or ''}".rstrip(), err=True)
            return await wait_for(
                client,
                run,
                self.waiting,
                self.as_json,
                quiet=self.quiet,
                events=events_of(self.receiver),
            )
        if self.as_json:
            click.echo(dump_json(run.raw))
        elif self.quiet:
            click.echo(str(run.id))
        else:
            click.echo(f"{verb} run {run.id} ({about}): {run.href or ''}".rstrip())
        return ExitCode.SUCCESS


@contextlib.contextmanager
def _refusal(what: str) -> Iterator[None]:
    """Say what dbt Cloud refused to do, before its own reason (exit 5, as any API error)."""
    from dbt_runs.errors import BadRequestError, ConflictError, UnprocessableEntityError

    try:
        yield
    except (BadRequestError, ConflictError, UnprocessableEntityError) as exc:
        raise CommandError(ExitCode.API_ERROR, f"dbt Cloud refused to {what}: {exc}") from exc


def _start_options(
    wait: str, as_json: str, quiet: str
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """`--wait`, the waiting flags, `--json` and `--quiet`, with these help texts."""
    return option_group(
        "start",
        [
            click.option("--wait", is_flag=True, help=wait),
            *WAIT_OPTIONS,
            *RECEIVE_OPTIONS,
            click.option("--json", "as_json", is_flag=True, help=as_json),
            click.option(
                "-q",
                "--quiet",
                is_flag=True,
                help=f"{quiet} With --wait: the id first, then no progress, only how a run "
                "that did not succeed ended.",
            ),
        ],
        _Start.from_flags,
    )


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
def runs() -> None:
    """Trigger, list, get, wait for, cancel, retry and rerun dbt Cloud runs; tell why one
    failed and show its logs.

    Configuration comes from the environment, as for the SDK: DBT_API_KEY (the token; never
    taken on the command line), DBT_CLOUD_BASE_URL or DBT_CLOUD_HOST, and
    DBT_CLOUD_ACCOUNT_ID; every command takes --base-url, --host and --account-id to override
    them. A job is given by its id or by its name.

    \b
    Examples:
      dbt-runs runs trigger 42 --wait --timeout 3600   # the usual CI step
      dbt-runs runs list --job "Nightly snapshots" --status error
      dbt-runs runs errors 70403                      # why it failed
    """


@runs.command(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("job", type=_JOB)
@_trigger_fields
@lookup_options
@_start_options(
    wait="Wait for the run to finish; exit by outcome.",
    as_json="Print the run as dbt's JSON object.",
    quiet="Print only the run id.",
)
@connection_options
def trigger(
    job: int | str, fields: dict[str, Any], lookup: JobLookup, start: _Start, settings: Settings
) -> None:
    """Trigger a run of JOB (its id, or its name); print the run's id and dbt Cloud URL.

    With --wait, follow the run until it finishes (a live status line on a terminal, one
    timestamped line per status change in a CI log) and exit 0 only if it succeeded; if it
    failed, its failing nodes are named.

    With --if-running reuse, a run of the job already queued or running is used instead of
    starting another; with --if-running fail, the command exits 6 naming it.

    \b
    Examples:
      dbt-runs runs trigger 42 --cause "PR #7" --git-branch feature/x --wait
      RUN_ID=$(dbt-runs runs trigger 42 --quiet)
      dbt-runs runs trigger "Full refresh" --if-running reuse --wait
      dbt-runs runs trigger 42 --steps-override "dbt build -s tag:daily" --json
    """
    lookup.check(job)

    async def work(client: AsyncRunsClient) -> ExitCode:
        job_id = await lookup.job_id(client, job)
        with _refusal(f"trigger job {job_id}"):
            raw = await client.with_raw_response.trigger_run(job_id, **fields)
        if raw.reused:
            return await start.report(client, raw.parse(), "Reusing", reused=True)
        return await start.report(client, raw.parse(), "Triggered")

    execute(settings, serving(start.receiver, work))


@runs.command("list", context_settings=CONTEXT)
@_list_filters
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many runs.",
)
@click.option("--all", "all_runs", is_flag=True, help="Show every matching run (ignores --limit).")
@listing_options("run")
@connection_options
def list_runs(
    filters: dict[str, Any], limit: int, all_runs: bool, fmt: ListFormat, settings: Settings
) -> None:
    """List runs, newest first, as a table (or JSON).

    \b
    Examples:
      dbt-runs runs list --job 42 --status error --status cancelled
      dbt-runs runs list --job "Daily build" --project 1 --limit 5
      dbt-runs runs list --all --jsonl > runs.jsonl
    """
    paging: dict[str, Any] = {} if all_runs else {"limit": min(limit, 100), "max_items": limit}
    job = filters.get("job_definition_id")
    lookup = JobLookup(filters.get("project_id"), filters.get("environment_id"))
    lookup.check(job, filters=True)

    async def work(client: AsyncRunsClient) -> ExitCode:
        if job is not None:
            filters["job_definition_id"] = await lookup.job_id(client, job)
        pager = client.list_runs(**filters, include_related=["trigger"], **paging)
        # Streamed as they arrive with --jsonl: `--all --jsonl` over 100k runs never buffers.
        shown = await print_listing(pager, fmt, table=runs_table, nothing="No runs match.")
        total = (await pager).total_count  # the first page is cached: no extra request
        if fmt == "table" and shown and total is not None and total > shown and not all_runs:
            click.echo(f"{shown} of {total} runs; use --limit N or --all for more.", err=True)
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command(context_settings=CONTEXT)
@click.argument("run_id", type=_ID)
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
    related = ["run_steps", "trigger"] if steps else ["trigger"]

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.get_run(run_id, include_related=related)
        click.echo(run_view(run, as_json=as_json))
        if steps and not as_json:
            click.echo(steps_table(run))
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command("wait", context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_ids", metavar="RUN_ID...", nargs=-1, required=True, type=_ID)
@wait_options
@option_group("receiver", RECEIVE_OPTIONS, Receiver.for_waiting)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the finished run as dbt's JSON (several runs: one object a line).",
)
@connection_options
def wait_command(
    run_ids: tuple[int, ...],
    wait_options: WaitOptions,
    receiver: Receiver | None,
    as_json: bool,
    settings: Settings,
) -> None:
    """Wait for RUN_ID to finish; exit 0 only if it succeeded.

    If it failed, its failing nodes are named on stderr (given several runs, the command
    that names them).

    Given several runs, wait for them all at once (their polls shared: one request per 100
    runs), print each as it finishes, and exit with the worst outcome: 5 if a run could not
    be read, else 1 if one failed, else 3 if one was cancelled, else 4 if one had not
    finished by --timeout, else 0.

    With --webhook-port, the waits also end on dbt Cloud's job.run.completed events, which
    the command receives while it runs (a run that ended before is found by the first poll).

    \b
    Examples:
      dbt-runs runs wait 123 --timeout 1800 --cancel-on-timeout
      dbt-runs runs wait 123 124 125 --json > finished.jsonl
      DBT_WEBHOOK_SECRET=... dbt-runs runs wait 123 --webhook-port 8081
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        events = events_of(receiver)
        if len(run_ids) > 1:
            return await _wait_for_several(client, run_ids, wait_options, as_json, events)
        run = await client.get_run(run_ids[0], include_related=["trigger"])
        return await wait_for(client, run, wait_options, as_json, events=events)

    execute(settings, serving(receiver, work))


#: The exit code of several waits: the first of these that any run ended with.
_WORST_FIRST: Final = (
    ExitCode.API_ERROR,
    ExitCode.RUN_FAILED,
    ExitCode.RUN_CANCELLED,
    ExitCode.WAIT_TIMEOUT,
    ExitCode.SUCCESS,
)


async def _wait_for_several(
    client: AsyncRunsClient,
    run_ids: tuple[int, ...],
    options: WaitOptions,
    as_json: bool,
    events: EventHub | None = None,
) -> ExitCode:
    """`runs wait` with several runs: each printed as it finishes; the worst outcome."""
    from dbt_runs import Run
    from dbt_runs.errors import (
        APIError,
        RunCancelledError,
        RunFailedError,
        WaitError,
        WaitTimeoutError,
    )

    wait_codes = (
        (RunFailedError, ExitCode.RUN_FAILED),
        (RunCancelledError, ExitCode.RUN_CANCELLED),
        (WaitTimeoutError, ExitCode.WAIT_TIMEOUT),
    )
    distinct = list(dict.fromkeys(run_ids))
    echo(f"Waiting for {len(distinct)} runs", err=True)
    flags: dict[str, Any] = {
        "cancel_on_timeout": options.cancel_on_timeout,
        "cancel_on_abort": options.cancel_on_interrupt,
    }
    if options.timeout is not None:
        flags["timeout"] = options.timeout
    if options.poll is not None:
        flags["poll_interval"] = options.poll
    codes: list[ExitCode] = []
    outcomes = client.as_completed(
        distinct, include_related=["trigger"], return_exceptions=True, events=events, **flags
    )
    async for outcome in outcomes:
        if isinstance(outcome, APIError):
            codes.append(ExitCode.API_ERROR)
            echo(f"dbt-runs: {outcome} [exit {ExitCode.API_ERROR.value}]", err=True)
            continue
        if not isinstance(outcome, Run | WaitError):
            raise outcome
        run = outcome if isinstance(outcome, Run) else outcome.run
        code = ExitCode.SUCCESS
        if isinstance(outcome, WaitError):
            code = next(c for kind, c in wait_codes if isinstance(outcome, kind))
        codes.append(code)
        if run is None:  # timed out without ever seeing the run
            echo(f"dbt-runs: {outcome} [exit {code.value}]", err=True)
            continue
        echo(dump_json(run.raw, indent=None) if as_json else run_view(run, as_json=False))
        if code is ExitCode.RUN_FAILED:
            # Not asked here: a hundred failed runs would be a hundred more requests.
            echo(f"run {run.id}: its failing nodes: {more_command(run.id)}", err=True)
        if code is not ExitCode.SUCCESS:
            Outcome(run, code, str(outcome)).report()
    return min(codes, key=_WORST_FIRST.index, default=ExitCode.SUCCESS)


@runs.command(context_settings=CONTEXT)
@click.argument("run_id", type=_ID)
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
@click.argument("run_id", type=_ID)
@_start_options(
    wait="Wait for the new run; exit by its outcome.",
    as_json="Print the new run as dbt's JSON object.",
    quiet="Print only the new run's id.",
)
@connection_options
def retry(run_id: int, start: _Start, settings: Settings) -> None:
    """Retry the failed RUN_ID from its point of failure, as a new run.

    dbt allows this only for the latest run of a job that failed; otherwise dbt's reason is
    printed and the command exits 5.

    \b
    Examples:
      dbt-runs runs retry 123 --wait
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        with _refusal(f"retry run {run_id}"):
            run = await client.retry_run(run_id)
        return await start.report(client, run, f"Retrying run {run_id} as")

    execute(settings, serving(start.receiver, work))


@runs.command(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("job", type=_JOB)
@lookup_options
@_start_options(
    wait="Wait for the run; exit by its outcome.",
    as_json="Print the run as dbt's JSON object.",
    quiet="Print only the run's id.",
)
@connection_options
def rerun(job: int | str, lookup: JobLookup, start: _Start, settings: Settings) -> None:
    """Rerun JOB (its id, or its name): retry its latest run from the point of failure if
    that run failed, else start a new run of it.

    When dbt refuses, its reason is printed and the command exits 5.

    \b
    Examples:
      dbt-runs runs rerun 42 --wait
      dbt-runs runs rerun "Nightly snapshots" -q
    """
    lookup.check(job)

    async def work(client: AsyncRunsClient) -> ExitCode:
        job_id = await lookup.job_id(client, job)
        with _refusal(f"rerun job {job_id}"):
            run = await client.rerun_job(job_id)
        if run.retrying_run_id is not None:
            return await start.report(client, run, f"Retrying run {run.retrying_run_id} as")
        return await start.report(client, run, "Triggered")

    execute(settings, serving(start.receiver, work))


@runs.command(context_settings=CONTEXT)
@click.argument("run_id", type=_ID)
@field_option(_fields.INCLUDE_WARNINGS, "--warnings")
@field_option(_fields.LOG_LINES, help=f"{_fields.LOG_LINES.doc}  [default: {DEFAULT_LOG_LINES}]")
@click.option("--json", "as_json", is_flag=True, help="Print the errors as JSON.")
@connection_options
def errors(
    run_id: int,
    include_warnings: bool | None,
    log_lines: int | None,
    as_json: bool,
    settings: Settings,
) -> None:
    """Tell why RUN_ID failed: each failed step, its failing nodes and sources, its log.

    Each node comes with the first lines of dbt's message, the relation it built and its
    compiled SQL (an artifact of the step: `dbt-runs artifacts download RUN_ID PATH --step N`).
    A step that saved no results is explained by its log's error lines. Exits 0 whenever it
    could tell, for a failed run too; a run that did not fail says so.

    \b
    Examples:
      dbt-runs runs errors 123
      dbt-runs runs errors 123 --warnings --log-lines 0
      dbt-runs runs errors 123 --json | jq -r '.steps[].nodes[].unique_id'
    """
    asked: dict[str, Any] = given(include_warnings=include_warnings, log_lines=log_lines)

    async def work(client: AsyncRunsClient) -> ExitCode:
        found = await client.get_run_errors(run_id, **asked)
        if as_json:
            click.echo(dump_json(as_errors_json(found)))
        else:
            click.echo(errors_report(found, warnings=bool(include_warnings)))
        return ExitCode.SUCCESS

    execute(settings, work)


@runs.command(context_settings=CONTEXT, epilog=EXIT_CODES_HELP)
@click.argument("run_id", type=_ID)
@click.option(
    "--step",
    type=_ID,
    metavar="N",
    help="Only this step's log (1-based), without a header line.",
)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Print new lines as the run goes on, until it finishes; exit by its outcome.",
)
@wait_options
@connection_options
def logs(
    run_id: int, step: int | None, follow: bool, wait_options: WaitOptions, settings: Settings
) -> None:
    """Print the logs of RUN_ID's steps (dbt keeps the last 1,000 lines of each).

    Each step's lines come under a header line (`== step 4: ... ==`), or only step N's with
    --step. With --follow, new lines are printed as they appear, the status goes to stderr,
    and the command exits as `runs wait` does (0 success, 1 error, 3 cancelled, 4 timeout);
    the waiting flags apply.

    \b
    Examples:
      dbt-runs runs logs 123
      dbt-runs runs logs 123 --step 4 | grep -i error
      dbt-runs runs logs 123 --follow --timeout 3600
    """

    async def work(client: AsyncRunsClient) -> ExitCode:
        run = await client.get_run(run_id, include_related=["run_steps", "trigger"])
        if not follow:
            print_logs(run, step)
            return ExitCode.SUCCESS
        outcome = await follow_run(client, run, wait_options, on_log=LogPrinter(step))
        if outcome.code is ExitCode.RUN_FAILED:
            echo(f"why: dbt-runs runs errors {run.id}", err=True)
        return outcome.report()

    execute(settings, work)
