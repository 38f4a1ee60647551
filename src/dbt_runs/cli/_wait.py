"""Waiting for a run: the waiting flags, the progress on stderr, the outcome as an exit code.

Shared by `runs trigger --wait`, `runs retry --wait`, `runs rerun --wait`, `runs wait` and
`runs logs --follow`. Everything printed here goes through the pipe-tolerant `echo`: once a
run is being waited on, only its outcome decides the exit code, whoever stopped reading the
output.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import click

from dbt_runs._wait import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from dbt_runs.cli._common import Decorator, Seconds, option_group
from dbt_runs.cli._failure import SUMMARY_LOG_LINES, failure_summary, more_command
from dbt_runs.cli._output import (
    ExitCode,
    LiveStatusLine,
    PlainStatusLines,
    StatusReporter,
    colour_wanted,
    echo,
    is_interactive,
    run_view,
    status_name,
)

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient
    from dbt_runs._wait import LogCallback
    from dbt_runs.models import Run
    from dbt_runs.webhooks import EventHub

__all__ = [
    "WAIT_OPTIONS",
    "Outcome",
    "WaitOptions",
    "follow",
    "wait_for",
    "wait_options",
]

_TICK_SECONDS: Final = 1.0


@attrs.frozen
class WaitOptions:
    """The `--timeout`, `--poll`, `--cancel-on-timeout` and `--cancel-on-interrupt` flags."""

    timeout: float | None
    poll: float | None
    cancel_on_timeout: bool
    cancel_on_interrupt: bool = False


# In the order `--help` shows them; `WaitOptions` takes them by name.
WAIT_OPTIONS: Final[list[Decorator]] = [
    click.option(
        "--timeout",
        type=Seconds(),
        metavar="SECONDS",
        help=f"Give up waiting after this long and exit 4.  [default: {DEFAULT_WAIT_TIMEOUT:g}]",
    ),
    click.option(
        "--poll",
        type=Seconds(),
        metavar="SECONDS",
        help=f"Seconds between status checks.  [default: {DEFAULT_POLL_INTERVAL:g}]",
    ),
    click.option(
        "--cancel-on-timeout",
        is_flag=True,
        help="Cancel the run on dbt Cloud when --timeout runs out.",
    ),
    click.option(
        "--cancel-on-interrupt",
        is_flag=True,
        help="Cancel the run on dbt Cloud if this command is interrupted while waiting "
        "(Ctrl-C, or SIGTERM from a cancelled CI job).",
    ),
]

wait_options = option_group("wait_options", WAIT_OPTIONS, WaitOptions)
"""The waiting flags; the command receives a `WaitOptions` as `wait_options`."""


class _NoProgress(StatusReporter):
    """`--quiet`: the wait shows no progress."""

    def update(self, run_id: int, status: str, detail: str = "") -> None:
        """Show nothing."""


def _reporter(*, live: bool, progress: bool) -> StatusReporter:
    if not progress:
        return _NoProgress()
    if live and is_interactive(sys.stderr):
        return LiveStatusLine(colour=colour_wanted())
    return PlainStatusLines()


@attrs.frozen
class Outcome:
    """How a wait ended: the last run seen, the exit code it means, what to say about it."""

    run: Run
    code: ExitCode
    message: str = ""

    def report(self) -> ExitCode:
        """Print the last line of the wait on stderr (none for a success); the exit code."""
        run, code = self.run, self.code
        if code is ExitCode.RUN_FAILED:
            echo(f"dbt-runs: run {run.id} failed [exit {code.value}]", err=True)
        elif code is ExitCode.RUN_CANCELLED:
            reason = f": {run.status_message}" if run.status_message else ""
            echo(f"dbt-runs: run {run.id} was cancelled{reason} [exit {code.value}]", err=True)
        elif code is ExitCode.WAIT_TIMEOUT:
            echo(f"dbt-runs: {self.message} [exit {code.value}]", err=True)
        return code


async def follow(
    client: AsyncRunsClient,
    run: Run,
    options: WaitOptions,
    *,
    on_log: LogCallback | None = None,
    progress: bool = True,
    events: EventHub | None = None,
) -> Outcome:
    """Wait for `run`, showing its progress on stderr (and its new log lines to `on_log`).

    The status shows as a live line on a terminal, unless log lines are printed too: they
    would overwrite it, so each change then gets a line of its own. `progress=False`
    (`--quiet`) shows none.
    """
    from dbt_runs.errors import RunCancelledError, RunFailedError, WaitTimeoutError

    reporter = _reporter(live=on_log is None, progress=progress)
    shown_status = status_name(run)
    reporter.update(run.id, shown_status)

    def on_status_change(seen: Run) -> None:
        nonlocal shown_status
        # The SDK reports the first status it sees too, usually the one already shown.
        if status_name(seen) != shown_status:
            shown_status = status_name(seen)
            reporter.update(seen.id, shown_status)

    # The trigger carries the cause shown in the summary.
    kwargs: dict[str, Any] = {"on_status_change": on_status_change, "include_related": ["trigger"]}
    if on_log is not None:
        kwargs["on_log"] = on_log
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
    if options.poll is not None:
        kwargs["poll_interval"] = options.poll
    if options.cancel_on_timeout:
        kwargs["cancel_on_timeout"] = True
    if options.cancel_on_interrupt:
        kwargs["cancel_on_abort"] = True
    if events is not None:
        # The failure report that follows reads the run's logs: wait for `completed`.
        kwargs["events"] = events

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
                echo(f"run {run.id} keeps going on dbt Cloud{where}", err=True)
            raise
        finally:
            tasks.cancel_scope.cancel()
            reporter.close()
    return Outcome(final or run, code, message)


async def wait_for(
    client: AsyncRunsClient,
    run: Run,
    options: WaitOptions,
    as_json: bool,
    *,
    quiet: bool = False,
    events: EventHub | None = None,
) -> ExitCode:
    """Wait for `run`, show its progress on stderr, print the result, return the exit code.

    A failed run is explained on stderr (`_explain_failure`) before the last line. `quiet`
    shows no progress and prints no result (the caller printed the run id): only how a run
    that did not succeed ended. `events`: a webhook receiver's hub, which ends the wait on the
    run's `job.run.completed` (see `_receive`).
    """
    outcome = await follow(client, run, options, progress=not quiet, events=events)
    if not quiet:
        echo(run_view(outcome.run, as_json=as_json))
    if outcome.code is ExitCode.RUN_FAILED:
        await _explain_failure(client, outcome.run)
    return outcome.report()


async def _tick(reporter: StatusReporter) -> None:
    while True:
        await anyio.sleep(_TICK_SECONDS)
        reporter.tick()


async def _explain_failure(client: AsyncRunsClient, run: Run) -> None:
    """Name the failed steps and their failing nodes on stderr, so the CI log says what broke.

    Never raises: the exit code already says the run failed, and must stay 1 whatever goes
    wrong while asking why.
    """
    try:
        errors = await client.get_run_errors(run.id, log_lines=SUMMARY_LOG_LINES)
        lines = failure_summary(errors)
    except Exception as exc:  # a bonus that failed must not change the verdict
        reason = str(exc) or type(exc).__name__
        lines = [f"could not tell why run {run.id} failed ({reason}); try: {more_command(run.id)}"]
    for line in lines:
        echo(line, err=True)
