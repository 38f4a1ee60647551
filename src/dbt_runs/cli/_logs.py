"""A run's step logs on stdout: all at once (`runs logs`), or as they grow (`--follow`).

dbt keeps the last 1,000 lines of each step's log and sends them with the run's steps. Every
step's lines come under a header line naming it (`== step 4: Invoke dbt with `dbt build` ==`),
unless one step was asked for: then only its lines, as dbt wrote them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from dbt_runs.cli._common import CommandError
from dbt_runs.cli._output import ExitCode, echo, format_seconds, status_name

if TYPE_CHECKING:
    from dbt_runs._logs import LogLines
    from dbt_runs.models import Run, RunStep

__all__ = ["LINES_LOST", "LogPrinter", "print_logs", "step_header"]

LINES_LOST: Final = (
    "[lines lost: dbt keeps the last 1,000 lines of a step, and more appeared between two "
    "polls; a shorter --poll sees them all]"
)
"""Printed in place of the lines a follow could not see."""


def step_header(index: int | None, name: str | None, detail: str = "") -> str:
    """`== step 4: Invoke dbt with `dbt build` (Error, 35s) ==`: where a step's lines start."""
    about = f" ({detail})" if detail else ""
    return f"== step {index if index is not None else '?'}: {name or '-'}{about} =="


def _detail(step: RunStep) -> str:
    took = format_seconds(step.duration.total_seconds()) if step.duration is not None else ""
    return ", ".join(part for part in (status_name(step), took) if part)


def print_logs(run: Run, step: int | None) -> None:
    """Print the logs of `run` (fetched with its steps): every step's, or step `step`'s.

    Raises:
        CommandError: The run has no step `step` (yet).
    """
    steps = run.run_steps or ()
    if step is not None:
        chosen = [s for s in steps if s.index == step]
        if not chosen:
            have = f"steps 1 to {len(steps)}" if steps else "no steps yet"
            raise CommandError(ExitCode.USAGE, f"run {run.id} has no step {step} ({have})")
        _print_text(chosen[0].logs)
        return
    if not steps:
        click.echo(f"run {run.id} has no steps yet ({status_name(run)})", err=True)
        return
    for each in steps:
        click.echo(step_header(each.index, each.name, _detail(each)))
        _print_text(each.logs)


def _print_text(logs: str | None) -> None:
    text = (logs or "").rstrip("\n")
    if text:
        click.echo(text)


class LogPrinter:
    """`wait_for_run(on_log=...)`: prints each step's new lines as a follow sees them.

    Printed with the pipe-tolerant `echo`: a reader that went away must not stop the wait,
    whose exit code is the run's outcome.
    """

    def __init__(self, step: int | None = None) -> None:
        self._step = step
        self._current: int | None = None

    def __call__(self, chunk: LogLines) -> None:
        if self._step is not None and chunk.step_index != self._step:
            return
        if self._step is None and chunk.step_index != self._current:
            echo(step_header(chunk.step_index, chunk.step_name))
        self._current = chunk.step_index
        if chunk.gap:
            echo(LINES_LOST)
        if chunk.lines:
            echo("\n".join(chunk.lines))
