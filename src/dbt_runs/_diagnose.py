"""Why a run failed: its failed steps, their failing nodes and sources, their logs.

`diagnose` reads what dbt keeps of a run: the run with its steps (`include_related=run_steps`:
status, duration and the last 1,000 log lines of each), then, for each failed step, that
step's own `run_results.json` (or `sources.json` for `dbt source freshness`), asked for with
`step=` so that a later `dbt docs generate` step cannot hide it. A step that saved no artifact
(it failed before dbt ran, or uploading failed) is explained by the error lines of its log.

`as_json` is the one JSON shape of the result, for the REST adapter, the MCP server and the
command line; `compact=True` cuts it to fit a model's context.
"""

# `timeout=` is the client's per-call timeout, passed on to each request it makes.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from dbt_runs._converter import parse_timestamp
from dbt_runs.errors import APIResponseValidationError, ArtifactNotFoundError
from dbt_runs.models import (
    FreshnessResult,
    NodeResult,
    Run,
    RunErrors,
    RunStatus,
    RunStep,
    StepFailure,
)

if TYPE_CHECKING:
    from dbt_runs._client import AsyncRunsClient

__all__ = ["DEFAULT_LOG_LINES", "as_json", "diagnose"]

DEFAULT_LOG_LINES: Final = 20
"""How many of a failed step's last log lines `get_run_errors` keeps."""

_FAILED: Final = frozenset({"error", "fail", "runtime error"})
_WARNED: Final = frozenset({"warn"})
_MAX_LINE: Final = 500
_CONCURRENT_ARTIFACTS: Final = 4
# A line where dbt reports an error, and dbt's indented continuation lines after it.
_ERROR_LINE: Final = re.compile(
    r"\b(ERROR|FAIL)\b|(Database|Compilation|Runtime|Parsing|Dependency) Error|"
    r"Completed with \d+ errors?|Encountered an error|Error:"
)
# "Database Error in model orders (models/orders.sql)": the node's file, as dbt names it.
_NODE_FILE: Final = re.compile(r"\(([^()\s]+\.(?:sql|py))\)")


async def diagnose(
    client: AsyncRunsClient,
    run_id: int,
    *,
    account_id: int | None,
    include_warnings: bool,
    log_lines: int,
    timeout: Any,
) -> RunErrors:
    """The `RunErrors` of a run (see `AsyncRunsClient.get_run_errors`)."""
    run = await client.get_run(
        run_id, account_id=account_id, include_related=["run_steps"], timeout=timeout
    )
    steps = run.run_steps or ()
    wanted = [
        step
        for step in steps
        if step.status is RunStatus.ERROR
        or (include_warnings and step.status is RunStatus.SUCCESS and _invokes_dbt(step))
    ]
    limit = asyncio.Semaphore(_CONCURRENT_ARTIFACTS)

    async def one(step: RunStep) -> StepFailure:
        async with limit:
            return await _step(client, run, step, account_id, include_warnings, log_lines, timeout)

    found = await asyncio.gather(*(one(step) for step in wanted))
    kept = tuple(
        step for step in found if step.status is RunStatus.ERROR or step.nodes or step.freshness
    )
    return RunErrors(run=run, steps=kept)


def _invokes_dbt(step: RunStep) -> bool:
    return "dbt " in (step.name or "")


async def _step(
    client: AsyncRunsClient,
    run: Run,
    step: RunStep,
    account_id: int | None,
    include_warnings: bool,
    log_lines: int,
    timeout: Any,
) -> StepFailure:
    index = step.index if step.index is not None else 0
    logs = (step.logs or "").splitlines()
    base = StepFailure(
        index=index,
        name=step.name,
        status=step.status,
        duration=step.duration,
        log_tail=tuple(_line(line) for line in logs[-log_lines:]) if log_lines else (),
    )
    if not _invokes_dbt(step):
        return _from_logs(base, logs)
    freshness = "source freshness" in (step.name or "")
    path = "sources.json" if freshness else "run_results.json"
    try:
        document = await client.get_run_artifact_json(
            run.id, path, step=index, account_id=account_id, timeout=timeout
        )
    except (ArtifactNotFoundError, APIResponseValidationError):
        return _from_logs(base, logs)
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, list):
        return _from_logs(base, logs)
    statuses = _FAILED | (_WARNED if include_warnings else frozenset())
    chosen = [r for r in results if isinstance(r, Mapping) and r.get("status") in statuses]
    if freshness:
        return attrs.evolve(base, source=path, freshness=tuple(_source(r, index) for r in chosen))
    return attrs.evolve(base, source=path, nodes=tuple(_node(r, index) for r in chosen))


def _from_logs(base: StepFailure, logs: Sequence[str]) -> StepFailure:
    errors: list[str] = []
    following = False
    for line in logs:
        if _ERROR_LINE.search(line):
            errors.append(_line(line))
            following = True
        elif following and line.startswith("  ") and line.strip():
            # dbt indents the lines that continue an error (the database's own message).
            errors.append(_line(line))
        else:
            following = False
    return attrs.evolve(base, source="logs", error_lines=tuple(errors[-50:]))


def _line(text: str) -> str:
    return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 1] + "…"


def _node(result: Mapping[str, Any], step_index: int) -> NodeResult:
    unique_id = str(result.get("unique_id") or "")
    message = result.get("message")
    message = message if isinstance(message, str) else None
    execute = _timing(result, "execute")
    failures = result.get("failures")
    execution_time = result.get("execution_time")
    relation = result.get("relation_name")
    return NodeResult(
        unique_id=unique_id,
        status=str(result.get("status")),
        step_index=step_index,
        resource_type=unique_id.split(".", 1)[0] or None,
        message=message,
        failures=failures if isinstance(failures, int) and not isinstance(failures, bool) else None,
        relation_name=relation if isinstance(relation, str) else None,
        compiled_path=_compiled_path(unique_id, message),
        execution_time=float(execution_time)
        if isinstance(execution_time, int | float) and not isinstance(execution_time, bool)
        else None,
        started_at=_when(execute.get("started_at")),
        completed_at=_when(execute.get("completed_at")),
    )


def _compiled_path(unique_id: str, message: str | None) -> str | None:
    found = _NODE_FILE.search(message or "")
    parts = unique_id.split(".")
    if found is None or len(parts) < 3:
        return None
    return f"compiled/{parts[1]}/{found.group(1)}"


def _timing(result: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for entry in result.get("timing") or ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return {}


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError):
        return None


def _source(result: Mapping[str, Any], step_index: int) -> FreshnessResult:
    age = result.get("max_loaded_at_time_ago_in_s")
    criteria = result.get("criteria")
    error = result.get("error") or result.get("message")
    return FreshnessResult(
        unique_id=str(result.get("unique_id") or ""),
        status=str(result.get("status")),
        step_index=step_index,
        max_loaded_at=_when(result.get("max_loaded_at")),
        snapshotted_at=_when(result.get("snapshotted_at")),
        age_seconds=float(age)
        if isinstance(age, int | float) and not isinstance(age, bool)
        else None,
        criteria=criteria if isinstance(criteria, Mapping) else None,
        message=error if isinstance(error, str) else None,
    )


# -- the one JSON shape --------------------------------------------------------------------

_COMPACT_MESSAGE: Final = 300
_COMPACT_NODES: Final = 20
_COMPACT_LOG_LINES: Final = 10
DEFAULT_BUDGET: Final = 20_000
"""Bytes of JSON `as_json(compact=True)` stays within (about 5,000 tokens)."""


def as_json(
    errors: RunErrors, *, compact: bool = False, budget: int = DEFAULT_BUDGET
) -> dict[str, Any]:
    """`errors` as JSON: the run's outcome, then each failed step with its nodes and logs.

    `compact` shortens messages, keeps at most 20 nodes and 10 log lines a step, and then, if
    the whole is still over `budget` bytes, drops the log tails and the nodes beyond the
    first of each step, saying so in `truncated`.
    """
    run = errors.run
    body: dict[str, Any] = {
        "run": {
            "id": run.id,
            "job_definition_id": run.job_definition_id,
            "status": int(run.status) if run.status is not None else None,
            "status_humanized": run.status.humanized if run.status is not None else None,
            "status_message": run.status_message,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "href": run.href,
        },
        "steps": [_step_json(step, compact) for step in errors.steps],
        "truncated": False,
    }
    if compact:
        _fit(body, budget)
    return body


def _fit(body: dict[str, Any], budget: int) -> None:
    """Cut `body` until it fits `budget` bytes, least useful first, saying so in `truncated`:
    the log tails, then all but each step's first node, error line and source, then whole
    steps from the end (counted in `more_steps`)."""
    steps: list[dict[str, Any]] = body["steps"]
    if _size(body) <= budget:
        return
    body["truncated"] = True
    for step in steps:
        step["log_tail"] = step["log_tail"][-3:]
        step["error_lines"] = step["error_lines"][-3:]
    if _size(body) <= budget:
        return
    for step in steps:
        step["log_tail"] = []
        for key, more in (("nodes", "more_nodes"), ("freshness", "more_freshness")):
            extra = len(step[key]) - 1
            if extra > 0:
                step[key] = step[key][:1]
                step[more] = step.get(more, 0) + extra
        step["error_lines"] = step["error_lines"][-1:]
    while len(steps) > 1 and _size(body) > budget:
        steps.pop()
        body["more_steps"] = body.get("more_steps", 0) + 1


def _step_json(step: StepFailure, compact: bool) -> dict[str, Any]:
    nodes = [_node_json(node, compact) for node in step.nodes]
    log_tail = list(step.log_tail)
    entry: dict[str, Any] = {
        "index": step.index,
        "name": step.name,
        "status": int(step.status) if step.status is not None else None,
        "status_humanized": step.status.humanized if step.status is not None else None,
        "duration_seconds": step.duration.total_seconds() if step.duration else None,
        "source": step.source,
        "nodes": nodes,
        "freshness": [_freshness_json(source) for source in step.freshness],
        "error_lines": list(step.error_lines),
        "log_tail": log_tail,
    }
    if compact:
        if len(nodes) > _COMPACT_NODES:
            entry["nodes"] = nodes[:_COMPACT_NODES]
            entry["more_nodes"] = len(nodes) - _COMPACT_NODES
        entry["log_tail"] = log_tail[-_COMPACT_LOG_LINES:]
        entry["error_lines"] = entry["error_lines"][-_COMPACT_LOG_LINES:]
    return entry


def _node_json(node: NodeResult, compact: bool) -> dict[str, Any]:
    message = node.message
    if compact and message is not None and len(message) > _COMPACT_MESSAGE:
        message = message[: _COMPACT_MESSAGE - 1] + "…"
    return {
        "unique_id": node.unique_id,
        "resource_type": node.resource_type,
        "status": node.status,
        "message": message,
        "failures": node.failures,
        "relation_name": node.relation_name,
        "compiled_path": node.compiled_path,
        "execution_time": node.execution_time,
        "started_at": node.started_at.isoformat() if node.started_at else None,
        "completed_at": node.completed_at.isoformat() if node.completed_at else None,
    }


def _freshness_json(source: FreshnessResult) -> dict[str, Any]:
    return {
        "unique_id": source.unique_id,
        "status": source.status,
        "max_loaded_at": source.max_loaded_at.isoformat() if source.max_loaded_at else None,
        "snapshotted_at": source.snapshotted_at.isoformat() if source.snapshotted_at else None,
        "age_seconds": source.age_seconds,
        "criteria": dict(source.criteria) if source.criteria is not None else None,
        "message": source.message,
    }


def _size(body: Mapping[str, Any]) -> int:
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
