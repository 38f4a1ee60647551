"""A step's `logs` and `debug_logs`, as dbt Cloud shows them, written as far as the step got.

Every line is `HH:MM:SS  <dbt's event message>`, with dbt-core 1.9's wording: a
`N of M START ... [RUN]` line and its verdict per node, padded with dots to 80 columns
(`format_fancy_output_line`), then the end of run summary (`print_run_end_messages`):
`Finished running ...`, `Completed with 1 error, 0 partial successes, and 0 warnings:`, each
error or warning with its message and compiled path, and `Done. PASS=... TOTAL=...`. The
results come from `_results`, so the log, `run_results.json` and `sources.json` of a step
always agree. A step dbt Cloud stopped at the memory limit just stops; a cancelled one ends
with dbt Cloud's `Cancelled by user.`.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from dbt_runs.testing._artifacts import DBT_VERSION, JOB_DIR, invocation_id
from dbt_runs.testing._project import SOURCES, Node, resource_dir
from dbt_runs.testing._results import (
    NodeResult,
    SourceResult,
    is_killed,
    node_results,
    schema_name,
    source_results,
)
from dbt_runs.testing._state import CANCELLED, ERROR, SUCCESS, Run, StepPlan, command_kind
from dbt_runs.testing._wire import run_ts

__all__ = ["step_logs"]

#: dbt pads each node's line with dots to this width (its default `printer_width`).
_WIDTH: Final = 80
#: How far into its nodes a step stopped at the memory limit got.
_KILLED_AT: Final = 0.6

Line = tuple[float, str]


def _clock(ts: float) -> str:
    return (run_ts(ts) or "")[11:19]


def _fancy(msg: str, status: str, index: int, total: int, seconds: float | None = None) -> str:
    """dbt's `format_fancy_output_line`: `1 of 5 START ... [RUN]`, dots to 80 columns."""
    justified = f"{index} of {total} {msg} ".ljust(_WIDTH, ".")
    timing = "" if seconds is None else f" in {seconds:0.2f}s"
    return f"{justified} [{status}{timing}]"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _relation(run: Run, node: Node) -> str:
    return f"{schema_name(run)}.{node.name}"


def _describe(run: Run, node: Node) -> str:
    """What dbt's START line calls a node."""
    if node.resource_type == "model":
        return f"sql {node.materialized} model {_relation(run, node)}"
    if node.resource_type == "seed":
        return f"seed file {_relation(run, node)}"
    if node.resource_type == "snapshot":
        return f"snapshot {_relation(run, node)}"
    return f"test {node.name}"


def _verdict(run: Run, r: NodeResult, index: int, total: int) -> str:
    """dbt's line for a node's result (LogModelResult, LogSeedResult, LogTestResult...)."""
    node, seconds = r.node, r.finished_at - r.started_at
    if r.status == "skipped":
        what = f"test {node.name}" if node.resource_type == "test" else _relation(run, node)
        prefix = "SKIP" if node.resource_type == "test" else "SKIP relation"
        return _fancy(f"{prefix} {what}", "SKIP", index, total)
    if node.resource_type == "test":
        word = {"pass": "PASS", "error": "ERROR"}.get(r.status, f"{r.status.upper()} {r.failures}")
        return _fancy(f"{word} {node.name}", word, index, total, seconds)
    error = r.status == "error"
    if node.resource_type == "seed":
        info = "ERROR loading" if error else "OK loaded"
        what = _describe(run, node)
    elif node.resource_type == "snapshot":
        info = "ERROR snapshotting" if error else "OK snapshotted"
        what = _relation(run, node)
    else:
        info = "ERROR creating" if error else "OK created"
        what = _describe(run, node)
    return _fancy(f"{info} {what}", "ERROR" if error else r.message or "OK", index, total, seconds)


def _counts(results: list[NodeResult]) -> str:
    """dbt's `get_counts`: `3 seeds, 1 snapshot, 2 table models, 6 data tests, ...`."""
    counts: dict[str, int] = {}
    for r in results:
        node = r.node
        key = f"{node.materialized} model" if node.resource_type == "model" else node.resource_type
        counts[key] = counts.get(key, 0) + 1
    parts = []
    for key, count in sorted(counts.items()):
        word = "data test" if key == "test" else key
        parts.append(_plural(count, word))
    return ", ".join(parts)


def _problem(project: str, r: NodeResult, warning: bool) -> list[str]:
    """dbt's `print_run_result_error` block for one error, failure or warning."""
    node = r.node
    if r.status in {"fail", "warn"}:
        path = f"{resource_dir(node)}/{node.path}"
        compiled = f"target/compiled/{project}/{path}/{node.name}.sql"
        return [
            "",
            f"{'Warning' if warning else 'Failure'} in {node.resource_type} {node.name} ({path})",
            f"  {r.message}",
            "",
            f"  compiled code at {compiled}",
        ]
    return ["", f"  {r.message}"]


def _summary(project: str, results: list[NodeResult], elapsed: float) -> list[str]:
    """The end of a run: what ran, the errors and warnings, the counts."""
    errors = [r for r in results if r.status in {"error", "fail"}]
    warnings = [r for r in results if r.status == "warn"]
    skipped = sum(r.status == "skipped" for r in results)
    lines = [
        "",
        f"Finished running {_counts(results)} in 0 hours {int(elapsed // 60)} minutes and "
        f"{elapsed % 60:0.2f} seconds ({elapsed:0.2f}s).",
        "",
    ]
    if errors:
        lines.append(
            f"Completed with {_plural(len(errors), 'error')}, 0 partial successes, "
            f"and {_plural(len(warnings), 'warning')}:"
        )
    elif warnings:
        lines.append(f"Completed with {_plural(len(warnings), 'warning')}:")
    else:
        lines.append("Completed successfully")
    for r in errors:
        lines += _problem(project, r, warning=False)
    for r in warnings:
        lines += _problem(project, r, warning=True)
    passed = len(results) - len(errors) - len(warnings) - skipped
    lines += [
        "",
        f"Done. PASS={passed} WARN={len(warnings)} ERROR={len(errors)} SKIP={skipped} "
        f"TOTAL={len(results)}",
    ]
    return lines


def _freshness_verdict(r: SourceResult, index: int, total: int) -> str:
    """dbt's LogFreshnessResult line."""
    word = {"runtime error": "ERROR", "error": "ERROR STALE", "warn": "WARN"}.get(r.status, "PASS")
    name = f"{r.source.source_name}.{r.source.name}"
    return _fancy(f"{word} freshness of {name}", word, index, total, r.finished_at - r.started_at)


def _freshness_lines(run: Run, step: StepPlan) -> list[Line]:
    results = source_results(run, step)
    total = len(results)
    lines: list[Line] = []
    for i, r in enumerate(results, 1):
        name = f"{r.source.source_name}.{r.source.name}"
        lines.append((r.started_at, _fancy(f"START freshness of {name}", "RUN", i, total)))
        lines.append((r.finished_at, _freshness_verdict(r, i, total)))
    end = max((r.finished_at for r in results), default=step.started_at) + 0.05 / run.speed
    # FreshnessTask.task_end_messages: only a source whose query failed has a message.
    for r in results:
        if r.error is not None:
            lines += [(end, ""), (end, f"  {r.error}")]
    lines += [(end, ""), (end, "Done.")]
    return lines


def _node_lines(run: Run, step: StepPlan, project: str, end: float) -> list[Line]:
    results = node_results(run, step, project)
    total = len(results)
    killed = is_killed(run, step)
    shown = results[: max(1, int(total * _KILLED_AT))] if killed else results
    lines: list[Line] = []
    for i, r in enumerate(shown, 1):
        if r.status != "skipped":
            lines.append((r.started_at, _fancy(f"START {_describe(run, r.node)}", "RUN", i, total)))
        if killed and i == len(shown):
            break  # the pod died while this node ran
        lines.append((r.finished_at, _verdict(run, r, i, total)))
    if killed or not results:
        return lines
    k = 1.0 / run.speed
    elapsed = max(0.0, end - step.started_at - 0.4 * k)
    summary = _summary(project, results, elapsed)
    return lines + [(end - 0.3 * k, text) for text in summary]


def _dbt_lines(run: Run, step: StepPlan, project: str) -> tuple[list[Line], list[Line]]:
    assert step.command is not None
    t0 = step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    kind = command_kind(step.command)
    lines: list[Line] = [
        (t0 + 0.1 * k, f"Running with dbt={DBT_VERSION}"),
        (t0 + 0.4 * k, "Registered adapter: snowflake=1.9.0"),
    ]
    debug: list[Line] = [
        (t0 + 0.05 * k, f"[debug] Sending event: invocation {invocation_id(run, step.index)}"),
        (t0 + 0.5 * k, "[debug] Acquiring new snowflake connection 'master'"),
    ]
    end = step.finished_at if step.finished_at is not None else t0
    if kind == "deps":
        done = step.finished_at or t0 + 5 * k
        lines += [
            (t0 + 1.0 * k, "Updating lock file in file path: package-lock.yml"),
            (t0 + 2.0 * k, "Installing dbt-labs/dbt_utils"),
            (done - 0.5 * k, "Installed from version 1.3.0"),
        ]
        return lines, debug
    target = run.trigger.target_name_override or run.job.target_name
    threads = run.trigger.threads_override or run.job.threads
    lines += [
        (
            t0 + 0.9 * k,
            f"Found 5 models, 3 seeds, 1 snapshot, 6 data tests, {len(SOURCES)} sources, "
            "611 macros",
        ),
        (t0 + 0.95 * k, ""),
        (t0 + 0.95 * k, f"Concurrency: {threads} threads (target='{target}')"),
        (t0 + 0.95 * k, ""),
    ]
    if kind == "source":
        lines += _freshness_lines(run, step)
    else:
        for r in node_results(run, step, project):
            debug.append((r.started_at + 0.01 * k, f"[debug] Began running node {r.node.name}"))
        lines += _node_lines(run, step, project, end)
    if kind == "docs":
        lines.append((end - 0.2 * k, f"Catalog written to {JOB_DIR}/{run.id}/target/catalog.json"))
    if step.status in (SUCCESS, ERROR) and not is_killed(run, step):
        debug.append((end, "[debug] Command end result"))
    return lines, debug


def step_logs(run: Run, step: StepPlan, now: float, project: str) -> tuple[str, str]:
    """(logs, debug_logs) of a step as far as it got at `now`."""
    lines: list[Line] = []
    debug: list[Line] = []
    t0 = step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    if step.command is None:
        if step.index == 1:
            lines = [
                (t0, f"Cloning into '{JOB_DIR}/{run.id}/target'..."),
                (t0 + 1.2 * k, "Successfully cloned repository."),
                (t0 + 1.3 * k, f"Checked out at {run.git_sha}."),
            ]
        else:
            lines = [(t0, f"Writing profile to {JOB_DIR}/{run.id}/.dbt/profiles.yml")]
    else:
        # Written from the step's plan, whatever its state now: a running step shows what
        # its plan holds up to `now`, so its log only grows, as dbt's does.
        planned = dataclasses.replace(
            step, finished_at=step.planned_end, status=step.planned_status
        )
        lines, debug = _dbt_lines(run, planned, project)
    if step.finished_at is None:
        cutoff = now
        lines = [(t, s) for t, s in lines if t <= cutoff]
        debug = [(t, s) for t, s in debug if t <= cutoff]
    elif step.status == CANCELLED:
        lines = [(t, s) for t, s in lines if t <= step.finished_at]
        lines.append((step.finished_at, "Cancelled by user."))
        debug = [(t, s) for t, s in debug if t <= step.finished_at]
    text = "\n".join(f"{_clock(t)}  {s}" for t, s in lines)
    merged = sorted(lines + debug, key=lambda x: x[0])
    debug_text = "\n".join(f"{_clock(t)}  {s}" for t, s in merged)
    return text, debug_text
