"""Why a run failed, in words: the report of `runs errors`, and the summary after a wait.

Both read a `RunErrors` (`AsyncRunsClient.get_run_errors`); the JSON of `runs errors --json`
is the SDK's own (`dbt_runs._diagnose.as_json`), the one shape every surface gives.

The summary is for a CI log that has just shown a failed wait: each failed step, its failing
nodes with the first line of their message, and the command that tells the rest. The report
is for a person asking why: every failing node and source with the first lines of its
message, the relation and compiled SQL it names, and then the step's own log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from dbt_runs.cli._output import format_seconds, status_name

if TYPE_CHECKING:
    from dbt_runs.models import FreshnessResult, NodeResult, RunErrors, StepFailure

__all__ = ["SUMMARY_LOG_LINES", "errors_report", "failure_summary", "more_command"]

_SUMMARY_NODES: Final = 10
"""Failing nodes the summary after a wait names, over all steps; `runs errors` has them all."""
SUMMARY_LOG_LINES: Final = 10
"""Log lines the summary shows for a step without node results (so: the most to ask for)."""
_MESSAGE_LINES: Final = 6
"""Lines of a node's message the report shows; `--json` has the whole message."""
_LINE: Final = 200
"""Characters of a message line the summary shows."""


def more_command(run_id: int) -> str:
    """The command that tells the rest, as the summary's last line names it."""
    return f"dbt-runs runs errors {run_id}"


def _about(step: StepFailure) -> str:
    from dbt_runs.models import RunStatus

    status = step.status.humanized if step.status is not None else "Unknown"
    verb = "failed" if step.status is RunStatus.ERROR else f"warned ({status})"
    took = f" ({format_seconds(step.duration.total_seconds())})" if step.duration else ""
    return f"step {step.index} {verb}: {step.name or '-'}{took}"


def _first_line(message: str | None) -> str:
    for line in (message or "").splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= _LINE else text[: _LINE - 1] + "…"
    return ""


def _node_line(node: NodeResult) -> str:
    first = _first_line(node.message)
    return f"{node.unique_id} ({node.status})" + (f": {first}" if first else "")


def _source_line(source: FreshnessResult) -> str:
    parts = [f"{source.unique_id} ({source.status})"]
    if source.age_seconds is not None:
        parts.append(f"newest row {format_seconds(source.age_seconds)} old")
    limits = _criteria(source.criteria)
    if limits:
        parts.append(limits)
    return ", ".join(parts)


def _criteria(criteria: Mapping[str, object] | None) -> str:
    # dbt's `{"warn_after": {"count": 12, "period": "hour"}, ...}` as "warn after 12 hour".
    said = []
    for key in ("warn_after", "error_after"):
        limit = (criteria or {}).get(key)
        if isinstance(limit, Mapping) and limit.get("count") is not None:
            said.append(f"{key.replace('_', ' ')} {limit['count']} {limit.get('period') or ''}")
    return ", ".join(part.rstrip() for part in said)


def _log_lines(step: StepFailure) -> tuple[str, Sequence[str]]:
    """What of its log a step without node results is explained by, and its title."""
    if step.error_lines:
        return "error lines of its log", step.error_lines
    return "end of its log", step.log_tail


def failure_summary(errors: RunErrors) -> list[str]:
    """A few lines for a CI log: what failed, and the command that tells the rest."""
    lines: list[str] = []
    shown = 0
    for step in errors.steps:
        lines.append(_about(step))
        found = [_node_line(node) for node in step.nodes]
        found += [_source_line(source) for source in step.freshness]
        if not found:
            _, log = _log_lines(step)
            lines.extend(f"  | {line}" for line in log[-SUMMARY_LOG_LINES:])
            continue
        room = max(_SUMMARY_NODES - shown, 0)
        lines.extend(f"  {line}" for line in found[:room])
        if len(found) > room:
            lines.append(f"  ... and {len(found) - room} more")
        shown += min(len(found), room)
    lines.append(f"more: {more_command(errors.run.id)}")
    return lines


def errors_report(errors: RunErrors, *, warnings: bool = False) -> str:
    """`runs errors`: the run, then each failed step with its nodes, sources and log (and,
    when `warnings` were asked for, each step with nodes that warned)."""
    run = errors.run
    job = run.job_definition_id if run.job_definition_id is not None else "-"
    head = [f"run {run.id}  {status_name(run)}  (job {job})"]
    if run.status_message:
        head.append(f"  message  {run.status_message}")
    if run.href:
        head.append(f"  url      {run.href}")
    if not errors.steps:
        head.append(_no_failed_step(errors, warnings))
        return "\n".join(head)
    blocks = ["\n".join(head), *("\n".join(_step_report(step)) for step in errors.steps)]
    return "\n\n".join(blocks)


def _no_failed_step(errors: RunErrors, warnings: bool) -> str:
    status = status_name(errors.run)
    if errors.failed:
        return (
            "No step says why it failed: see its message, or its steps "
            f"(dbt-runs runs get {errors.run.id} --steps)."
        )
    if status in ("Queued", "Starting", "Running"):
        return f"It has not failed: it is {status}, not finished."
    if status == "Cancelled":
        return "It did not fail: it was cancelled."
    return "It did not fail, and nothing warned." if warnings else "It did not fail."


def _step_report(step: StepFailure) -> list[str]:
    lines = [_about(step)]
    for node in step.nodes:
        lines.append(f"  {node.unique_id}  {node.status}" + _failures(node.failures))
        lines.extend(_message(node.message))
        if node.relation_name:
            lines.append(f"    relation  {node.relation_name}")
        if node.compiled_path:
            lines.append(f"    compiled  {node.compiled_path}")
    for source in step.freshness:
        lines.append(f"  {_source_line(source)}")
        lines.extend(_message(source.message))
    title, log = _log_lines(step) if step.source == "logs" else ("end of its log", step.log_tail)
    if log:
        lines.append(f"  {title} ({len(log)} lines):")
        lines.extend(f"    | {line}" for line in log)
    return lines


def _failures(count: int | None) -> str:
    if count is None:
        return ""
    return f"  {count} failing row" + ("" if count == 1 else "s")


def _message(message: str | None) -> Iterable[str]:
    text = [line.rstrip() for line in (message or "").strip("\n").splitlines()]
    yield from (f"    {line}" for line in text[:_MESSAGE_LINES])
    if len(text) > _MESSAGE_LINES:
        yield f"    ... {len(text) - _MESSAGE_LINES} more lines (--json has them all)"
