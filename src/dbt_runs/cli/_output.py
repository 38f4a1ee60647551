"""What the `runs` and `artifacts` commands print, and how they end.

Kept apart from the commands so that the rules a CI pipeline depends on (exit codes, where
each kind of output goes, what a log line looks like, that the token never shows) live in one
place and are tested on their own.

Output goes to two places with two purposes:

* **stdout** carries the result (a run id and URL, a table, JSON), so `$(dbt-runs ...)` and
  `dbt-runs ... --json | jq` see only data;
* **stderr** carries progress and errors (the status line while waiting, the download bar,
  the one-line error), so a CI log shows them and a pipe does not.

A reader that stops reading (`| head -1`) ends the output, never the verdict: a command that
prints data stops and exits 0, a wait keeps waiting silently and exits with the run's outcome.
"""

from __future__ import annotations

import abc
import enum
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

import click

if TYPE_CHECKING:
    from dbt_runs.models import Job, Run, RunStep

__all__ = [
    "EXIT_CODES_HELP",
    "ExitCode",
    "ListFormat",
    "LiveStatusLine",
    "PlainStatusLines",
    "Redactor",
    "StatusReporter",
    "colour_wanted",
    "dump_json",
    "echo",
    "format_bytes",
    "format_seconds",
    "format_table",
    "is_interactive",
    "jobs_table",
    "print_listing",
    "run_summary",
    "run_view",
    "runs_table",
    "silence",
    "status_colour",
    "status_name",
    "steps_table",
]


class ExitCode(enum.IntEnum):
    """The exit status of every `runs` and `artifacts` command.

    A CI step needs to tell "the dbt run failed" (fix the models) from "we could not reach
    dbt Cloud" (fix the pipeline or retry later), so each has its own code.
    """

    SUCCESS = 0
    """The command did what was asked; for a waited run: the run succeeded."""
    RUN_FAILED = 1
    """The run finished with status Error (20)."""
    USAGE = 2
    """A bad flag, argument or configuration value (click's own code for usage errors)."""
    RUN_CANCELLED = 3
    """The run finished with status Cancelled (30): by a person, or by dbt's job timeout."""
    WAIT_TIMEOUT = 4
    """The run had not finished when `--timeout` ran out (also when `--cancel-on-timeout`
    then cancelled it: the wait's limit, not someone else, ended it)."""
    API_ERROR = 5
    """dbt Cloud refused or failed the request (auth, not found, rate limit, 5xx, network)."""
    RUN_IN_PROGRESS = 6
    """`--if-running fail`: the job already has a run queued or running; nothing was started."""
    INTERNAL = 70
    """A bug in dbt-runs; run again with `--debug` and report the traceback."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C, SIGTERM); the run goes on unless `--cancel-on-interrupt`."""


EXIT_CODES_HELP: Final = (
    "\b\nExit codes:\n"
    "  0    success (with --wait: the run succeeded)\n"
    "  1    the run failed (status Error)\n"
    "  2    usage error: bad flag, argument or configuration\n"
    "  3    the run was cancelled (status Cancelled: by a person, or dbt's own run timeout)\n"
    "  4    --timeout ran out before the run finished (even if --cancel-on-timeout\n"
    "       then cancelled it)\n"
    "  5    API or auth error: dbt Cloud refused or failed the request, or was unreachable\n"
    "  6    --if-running fail: the job already has a run in progress; nothing was triggered\n"
    "  70   internal error (run with --debug and report it)\n"
    "  130  interrupted (Ctrl-C, SIGTERM); the run goes on unless --cancel-on-interrupt"
)


class Redactor:
    """Removes secrets from text before it is printed.

    The SDK already keeps the token out of its messages; this is the last line of defence for
    everything the command prints itself, including `--debug` tracebacks and log records.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Very short values would blank out ordinary words; real tokens are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(s) for s in self._secrets)) if self._secrets else None
        )

    def __call__(self, text: str) -> str:
        """Return `text` with every secret replaced by `***`."""
        if self._pattern is None:
            return text
        return self._pattern.sub("***", text)


def is_interactive(stream: IO[Any]) -> bool:
    """Whether `stream` is a terminal a person is watching (not a CI log or a pipe)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def silence(stream: IO[Any]) -> None:
    """Point `stream`'s file descriptor at the null device: its reader has gone away.

    Later writes, and the flush at interpreter exit, then succeed instead of raising
    `BrokenPipeError` again (the recipe of Python's `signal` documentation).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no null device: nothing better to do
        return
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (click's test runner): there is no descriptor to redirect
    finally:
        os.close(devnull)


def echo(
    message: str = "",
    *,
    err: bool = False,
    file: IO[str] | None = None,
    nl: bool = True,
    color: bool | None = None,
) -> None:
    """`click.echo`, except that a closed pipe silences the stream instead of raising.

    For what is printed while the command must go on, or once its outcome is known (a wait):
    a reader that stopped reading must not turn a failed run into a crash or a success.
    """
    try:
        click.echo(message, file=file, err=err, nl=nl, color=color)
    except BrokenPipeError:
        silence(file if file is not None else sys.stderr if err else sys.stdout)


def dump_json(obj: Any, *, indent: int | None = 2) -> str:
    """JSON as the commands print it: dbt's own keys, order kept, non-ASCII kept readable."""
    return json.dumps(obj, indent=indent, ensure_ascii=False, default=str)


def format_seconds(seconds: float) -> str:
    """`75` -> `1m 15s`; `3725` -> `1h 02m 05s`: short enough for a status line."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_bytes(size: float) -> str:
    """`2048` -> `2.0 KiB`: sizes in the download summary."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def format_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    max_widths: Mapping[str, int] | None = None,
    styles: Sequence[Callable[[str], str] | None] | None = None,
) -> str:
    """Plain aligned columns, like `docker ps`: readable in a terminal and in a CI log.

    Args:
        headers: Column titles.
        rows: Cell text, one sequence per row.
        max_widths: Column title -> maximum width; longer cells end in `…`.
        styles: Per column, a function applied to each padded cell (colour); `None` for none.
            Padding is computed before styling so ANSI codes do not skew the columns.
    """
    limits = max_widths or {}
    cells = [
        [_truncate(str(c), limits.get(h, 10_000)) for h, c in zip(headers, row, strict=True)]
        for row in rows
    ]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        parts = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            padded = cell.ljust(width) if i < len(row) - 1 else cell
            style = styles[i] if styles is not None else None
            parts.append(style(padded) if style is not None else padded)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


class StatusReporter(abc.ABC):
    """Shows a run's progress while the command waits for it (written to stderr)."""

    @abc.abstractmethod
    def update(self, run_id: int, status: str, detail: str = "") -> None:
        """Called when the run's status changes."""

    def tick(self) -> None:  # noqa: B027 - optional hook: most reporters have nothing to redraw
        """Called about once a second between status changes (to refresh elapsed time)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once when waiting ends, however it ends."""


class PlainStatusLines(StatusReporter):
    """One timestamped line per status change, for CI logs and pipes.

    `2026-11-29T08:01:02Z run 123: Running`: greppable, no carriage returns or colours
    (a CI log keeps every byte).
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._stream = stream
        self._now = now

    def update(self, run_id: int, status: str, detail: str = "") -> None:
        """Print one line for the new status."""
        stamp = self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} run {run_id}: {status}"
        if detail:
            line += f" ({detail})"
        echo(line, file=self._stream or sys.stderr)


class LiveStatusLine(StatusReporter):
    """A single line rewritten in place, with the time spent waiting, for a terminal."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        colour: bool = True,
    ) -> None:
        self._stream = stream
        self._monotonic = monotonic
        self._colour = colour
        self._started = monotonic()
        self._text = ""
        self._drawn = False

    def _draw(self) -> None:
        elapsed = format_seconds(self._monotonic() - self._started)
        # \r + "erase line" so a shorter status does not leave the tail of a longer one.
        # color=True keeps the erase sequence: this reporter is only used on a terminal.
        echo(
            f"\r\x1b[2K{self._text}  [{elapsed}]",
            file=self._stream or sys.stderr,
            nl=False,
            color=True,
        )
        self._drawn = True

    def update(self, run_id: int, status: str, detail: str = "") -> None:
        """Redraw the line with the new status."""
        shown = click.style(status, fg=status_colour(status), bold=True) if self._colour else status
        self._text = f"run {run_id}: {shown}"
        if detail:
            self._text += f" ({detail})"
        self._draw()

    def tick(self) -> None:
        """Refresh the elapsed time."""
        if self._text:
            self._draw()

    def close(self) -> None:
        """End the line so the next output starts on its own."""
        if self._drawn:
            echo("", file=self._stream or sys.stderr)
            self._drawn = False


_STATUS_COLOURS: Final = {
    "Success": "green",
    "Error": "red",
    "Cancelled": "yellow",
    "Running": "blue",
    "Starting": "cyan",
    "Queued": "bright_black",
}


def status_colour(status: str) -> str | None:
    """The terminal colour of a dbt status name (`None` for one we do not know)."""
    return _STATUS_COLOURS.get(status)


def colour_wanted() -> bool:
    """Whether colour may be used at all (click already drops it when not on a terminal)."""
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    return not os.environ.get("NO_COLOR")


def _coloured_status(text: str) -> str:
    if not colour_wanted():
        return text
    return click.style(text, fg=status_colour(text.rstrip()))


def status_name(thing: Run | RunStep) -> str:
    """dbt's word for the status ("Success"); an undocumented code shows as "Unknown 40"."""
    if thing.status is not None:
        return thing.status.humanized
    return thing.status_humanized or "Unknown"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _duration(thing: Run | RunStep) -> str:
    if thing.duration is None:
        return "-"
    return format_seconds(thing.duration.total_seconds())


def _cause(run: Run) -> str:
    return (run.cause or "").replace("\n", " ")


def _job(run: Run) -> str:
    return str(run.job_definition_id if run.job_definition_id is not None else "-")


def runs_table(items: Sequence[Run]) -> str:
    """`runs list`: one row a run, the status coloured."""
    rows = [
        [
            str(run.id),
            _job(run),
            status_name(run),
            _when(run.created_at),
            _duration(run),
            _cause(run),
        ]
        for run in items
    ]
    return format_table(
        ["ID", "JOB", "STATUS", "CREATED", "DURATION", "CAUSE"],
        rows,
        max_widths={"CAUSE": 60},
        styles=[None, None, _coloured_status, None, None, None],
    )


def run_summary(run: Run) -> str:
    """One run as `runs get` and a finished wait show it: status, times, cause, URL."""
    lines = [
        f"run {run.id}  {_coloured_status(status_name(run))}",
        f"  job        {_job(run)}",
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


def _schedule(job: Job) -> str:
    # dbt keeps a job's cron even when its schedule trigger is off: only an active one counts.
    if not (job.triggers or {}).get("schedule"):
        return "-"
    cron = (job.schedule or {}).get("cron")
    return job.cron_humanized or (str(cron) if cron else "-")


def jobs_table(items: Sequence[Job]) -> str:
    """`jobs list`: one row a job."""
    rows = [
        [
            str(job.id if job.id is not None else "-"),
            job.name or "-",
            str(job.project_id if job.project_id is not None else "-"),
            str(job.environment_id if job.environment_id is not None else "-"),
            job.job_type or "-",
            _schedule(job),
        ]
        for job in items
    ]
    return format_table(
        ["ID", "NAME", "PROJECT", "ENVIRONMENT", "TYPE", "SCHEDULE"],
        rows,
        max_widths={"NAME": 50, "SCHEDULE": 40},
    )


ListFormat = Literal["table", "json", "jsonl"]
"""How a listing is printed: aligned columns, one JSON array, or one JSON object a line."""


class _Listed(Protocol):
    @property
    def raw(self) -> Mapping[str, Any]: ...


ListedT = TypeVar("ListedT", bound=_Listed)


async def print_listing(
    items: AsyncIterable[ListedT],
    fmt: ListFormat,
    *,
    table: Callable[[Sequence[ListedT]], str],
    nothing: str,
) -> int:
    """Print a listing (runs, jobs) as `fmt` asks; how many items it printed.

    `jsonl` prints each of dbt's objects as it arrives, so that a listing of 100,000 runs is
    never held in memory; a table or an array needs them all first. An empty table prints
    `nothing` on stderr instead, so that stdout stays empty.
    """
    shown: list[ListedT] = []
    count = 0
    async for item in items:
        count += 1
        if fmt == "jsonl":
            click.echo(dump_json(item.raw, indent=None))
        else:
            shown.append(item)
    if fmt == "json":
        click.echo(dump_json([item.raw for item in shown]))
    elif fmt == "table":
        click.echo(table(shown) if shown else nothing, err=not shown)
    return count


def run_view(run: Run, *, as_json: bool) -> str:
    """A run as `--json` asks: dbt's own object, or the summary."""
    return dump_json(run.raw) if as_json else run_summary(run)


def steps_table(run: Run) -> str:
    """`runs get --steps`: one row a step."""
    steps = run.run_steps or ()
    if not steps:
        return "  (no steps yet)"
    rows = [
        [
            str(step.index if step.index is not None else "-"),
            status_name(step),
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
