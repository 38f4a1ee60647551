"""What each step writes to `target/`: plausible dbt artifacts and logs, made on demand.

The emulated project is a small `jaffle_shop` (`_project`). A step that runs `dbt build`
writes `manifest.json`, a `run_results.json` with one entry per node it ran, as `_results`
decided them (a failing step has its failing node in error and what depends on it skipped),
`compiled/...` and `run/...` files; `dbt docs generate` writes `catalog.json`; `dbt source
freshness` writes `sources.json`; a step dbt Cloud stopped at the memory limit writes nothing.
Like dbt Cloud's `target/` directory, files persist across a run's steps: the artifact at step
N is the version written by the latest step at or before N.

The JSON follows the schemas the files name (`run-results/v6`, `sources/v3`, dbt 1.9), field
by field as dbt writes them: a seed's `compiled`, `compiled_code` and `relation_name` are null
(a seed is no compiled node), a skipped node has no timing and a null message, a passing test
a null message and `failures: 0`.

`manifest.json` can be padded to any size (`artifact_size`); it is then produced as a stream
of chunks with an exact `Content-Length`, so serving 200 MB keeps the emulator's memory flat.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from dbt_runs.testing._project import NODES, SOURCES, Node, resource_dir, sql, unique_id
from dbt_runs.testing._results import (
    NodeResult,
    SourceResult,
    is_killed,
    node_results,
    schema_name,
    source_results,
)
from dbt_runs.testing._state import CANCELLED, WRITES_ARTIFACTS, Run, StepPlan, command_kind
from dbt_runs.testing._wire import artifact_ts

DBT_VERSION: Final = "1.9.1"
#: Where dbt Cloud runs a job (only ever printed in logs and artifacts; nothing is written).
JOB_DIR: Final = "/tmp/jobs"  # noqa: S108

_RUN_RESULTS_KINDS: Final = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "retry", "docs", "clone", "show"}
)


# -- which files exist --------------------------------------------------------------------


def _paths_written(command: str, results: list[NodeResult], project: str) -> list[str]:
    kind = command_kind(command)
    if kind not in WRITES_ARTIFACTS:
        return []
    paths = ["manifest.json"]
    if kind in _RUN_RESULTS_KINDS:
        paths.append("run_results.json")
    if kind == "docs":
        paths.append("catalog.json")
    if kind == "source":
        paths.append("sources.json")
    for result in results:
        node = result.node
        if not result.compiled:
            continue  # skipped, or stopped at compilation: dbt wrote no SQL for it
        base = f"{project}/{resource_dir(node)}/{node.path}"
        if node.resource_type == "test":
            base = f"{project}/models/{node.path}/{node.name}.sql"
        if node.resource_type != "seed":
            paths.append(f"compiled/{base}")
        if kind not in {"compile", "docs"}:
            paths.append(f"run/{base}")
    if kind == "docs":
        for node in NODES:
            if node.resource_type == "model":
                paths.append(f"compiled/{project}/models/{node.path}")
    return paths


def artifact_index(run: Run, steps: list[StepPlan], project: str) -> dict[str, int]:
    """path -> index of the latest finished step that wrote it (cancelled steps write none)."""
    index: dict[str, int] = {}
    for step in steps:
        if step.finished_at is None or step.command is None or step.status == CANCELLED:
            continue
        if is_killed(run, step):
            continue  # the process died at the memory limit before dbt wrote anything
        for path in _paths_written(step.command, node_results(run, step, project), project):
            index[path] = step.index
    return index


def artifacts_at_step(
    run: Run, steps: list[StepPlan], project: str, step: int | None
) -> dict[str, int]:
    """The files visible when asking for `step` (None: the last step)."""
    if step is None:
        return artifact_index(run, steps, project)
    if step < 1 or step > len(steps):
        return {}
    target = steps[step - 1]
    if target.finished_at is None:
        return {}
    return artifact_index(run, steps[:step], project)


# -- contents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Artifact:
    """An artifact body: its media type, exact length, and chunks made on demand."""

    media_type: str
    length: int
    chunks: Any  # a callable returning an AsyncIterator[bytes]


def invocation_id(run: Run, step_index: int) -> str:
    """The dbt invocation id of a step (the same in its logs and its artifacts)."""
    return str(
        uuid.UUID(bytes=hashlib.blake2b(f"{run.id}:{step_index}".encode(), digest_size=16).digest())
    )


def _env(run: Run) -> dict[str, str]:
    return {
        "DBT_CLOUD_PROJECT_ID": str(run.job.project_id),
        "DBT_CLOUD_RUN_ID": str(run.id),
        "DBT_CLOUD_JOB_ID": str(run.job.id),
        "DBT_CLOUD_RUN_REASON": run.trigger.cause,
        "DBT_CLOUD_RUN_REASON_CATEGORY": run.trigger.cause_category,
    }


def _metadata(run: Run, step: StepPlan, schema: str, project: str) -> dict[str, Any]:
    generated = step.finished_at if step.finished_at is not None else step.started_at
    return {
        "dbt_schema_version": f"https://schemas.getdbt.com/dbt/{schema}",
        "dbt_version": DBT_VERSION,
        "generated_at": artifact_ts(generated),
        "invocation_id": invocation_id(run, step.index),
        "env": _env(run),
        **({"project_name": project, "adapter_type": "snowflake"} if "manifest" in schema else {}),
    }


def _node_json(run: Run, node: Node, project: str) -> dict[str, Any]:
    uid = unique_id(project, node)
    schema = schema_name(run)
    return {
        "database": "ANALYTICS",
        "schema": schema,
        "name": node.name,
        "resource_type": node.resource_type,
        "package_name": project,
        "path": node.path,
        "original_file_path": f"{resource_dir(node)}/{node.path}",
        "unique_id": uid,
        "fqn": [project, *node.path.removesuffix(".sql").removesuffix(".csv").split("/")],
        "alias": node.name,
        "config": {"enabled": True, "materialized": node.materialized},
        "tags": [],
        "description": "",
        "depends_on": {
            "macros": [],
            "nodes": [unique_id(project, n) for n in NODES if n.name in node.depends_on],
        },
        "relation_name": f"ANALYTICS.{schema.upper()}.{node.name.upper()}"
        if node.resource_type != "test"
        else None,
        "raw_code": sql(node),
    }


def manifest_parts(run: Run, step: StepPlan, project: str) -> tuple[str, list[str], str]:
    """(text before the node entries, node entries, text after them): JSON once joined."""
    head = json.dumps({"metadata": _metadata(run, step, "manifest/v12.json", project)})
    head = head[:-1] + ', "nodes": {'
    entries = [
        f"{json.dumps(unique_id(project, n))}: {json.dumps(_node_json(run, n, project))}"
        for n in NODES
    ]
    sources = {
        f"source.{project}.{s.source_name}.{s.name}": {
            "unique_id": f"source.{project}.{s.source_name}.{s.name}",
            "resource_type": "source",
            "source_name": s.source_name,
            "name": s.name,
            "loaded_at_field": "_loaded_at",
            "freshness": {
                "warn_after": {"count": s.warn_after_hours, "period": "hour"},
                "error_after": {"count": s.error_after_hours, "period": "hour"},
            },
        }
        for s in SOURCES
    }
    child_map: dict[str, list[str]] = {unique_id(project, n): [] for n in NODES}
    parent_map: dict[str, list[str]] = {}
    for n in NODES:
        parents = [unique_id(project, p) for p in NODES if p.name in n.depends_on]
        parent_map[unique_id(project, n)] = parents
        for p in parents:
            child_map[p].append(unique_id(project, n))
    tail_obj = {
        "sources": sources,
        "macros": {},
        "docs": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    }
    tail = "}, " + json.dumps(tail_obj)[1:]
    return head, entries, tail


_FILLER = (
    '"model.{p}.generated_%09d": {{"unique_id": "model.{p}.generated_%09d", '
    '"resource_type": "model", "name": "generated_%09d", "package_name": "{p}", '
    '"path": "generated/generated_%09d.sql", "config": {{"materialized": "view"}}, '
    '"depends_on": {{"macros": [], "nodes": []}}, "raw_code": "select %09d as id -- {pad}"}}'
)
_FILLER_TARGET_BYTES: Final = 4096
_CHUNK_ENTRIES: Final = 64


def manifest(run: Run, step: StepPlan, project: str, size: int | None) -> Artifact:
    """`manifest.json`, padded with generated models up to `size` bytes when given."""
    head, entries, tail = manifest_parts(run, step, project)
    natural = (head + ", ".join(entries) + tail).encode()
    if size is None or size <= len(natural):
        return _bytes_artifact(natural, "application/json")
    head_b = (head + ", ".join(entries)).encode()
    tail_b = tail.encode()
    probe = _FILLER.format(p=project, pad="") % (0, 0, 0, 0, 0)
    pad = "x" * max(0, _FILLER_TARGET_BYTES - len(probe.encode()))
    template = _FILLER.format(p=project, pad=pad)
    entry_len = len((template % (0, 0, 0, 0, 0)).encode()) + 2  # ", " before each entry
    count = max(0, -(-(size - len(head_b) - len(tail_b)) // entry_len))
    length = len(head_b) + count * entry_len + len(tail_b)

    async def chunks() -> AsyncIterator[bytes]:
        yield head_b
        for start in range(0, count, _CHUNK_ENTRIES):
            stop = min(count, start + _CHUNK_ENTRIES)
            yield "".join(", " + template % (i, i, i, i, i) for i in range(start, stop)).encode()
        yield tail_b

    return Artifact("application/json", length, chunks)


def _bytes_artifact(body: bytes, media_type: str) -> Artifact:
    async def chunks() -> AsyncIterator[bytes]:
        yield body

    return Artifact(media_type, len(body), chunks)


def _query_id(run: Run, step: StepPlan, position: int) -> str:
    """A Snowflake query id (`01b5d4c2-0000-7f1d-0000-2ab9000401f6`), fixed per node."""
    h = hashlib.blake2b(f"{run.id}:{step.index}:{position}".encode(), digest_size=16).hexdigest()
    return f"01{h[:6]}-0000-{h[6:10]}-0000-{h[10:22]}"


def _adapter_response(run: Run, step: StepPlan, position: int, r: NodeResult) -> dict[str, Any]:
    """dbt-snowflake's `adapter_response`: empty when the node ran no query to its end."""
    if r.status in {"skipped", "error"}:
        return {}
    if r.node.resource_type == "seed":
        message, code, rows = f"INSERT {r.rows}", "INSERT", r.rows
    else:
        message, code, rows = "SUCCESS 1", "SUCCESS", 1
    return {
        "_message": message,
        "code": code,
        "rows_affected": rows,
        "query_id": _query_id(run, step, position),
    }


def _timing(r: NodeResult) -> list[dict[str, str]]:
    """dbt's `timing`: compile then execute; only compile for a node that did not compile,
    nothing for a skipped one."""
    if r.status == "skipped":
        return []
    compile_end = min(r.started_at + 0.011, r.finished_at)
    out = [
        {
            "name": "compile",
            "started_at": artifact_ts(r.started_at),
            "completed_at": artifact_ts(compile_end),
        }
    ]
    if r.executed:
        out.append(
            {
                "name": "execute",
                "started_at": artifact_ts(min(r.started_at + 0.012, r.finished_at)),
                "completed_at": artifact_ts(r.finished_at),
            }
        )
    return out


def _result_json(
    run: Run, step: StepPlan, project: str, position: int, threads: int, r: NodeResult
) -> dict[str, Any]:
    """One `results[]` entry of `run_results.json` (`RunResultOutput`, run-results v6)."""
    node = r.node
    # dbt fills compiled, compiled_code and relation_name only for compiled node types, which
    # a seed is not (dbt-core 1.9 `process_run_result`); a test has no relation.
    compiled_type = node.resource_type != "seed"
    return {
        "status": r.status,
        "timing": _timing(r),
        "thread_id": f"Thread-{position % threads + 1} (worker)",
        "execution_time": 0.0 if r.status == "skipped" else round(r.finished_at - r.started_at, 6),
        "adapter_response": _adapter_response(run, step, position, r),
        "message": r.message,
        "failures": r.failures,
        "unique_id": unique_id(project, node),
        "compiled": r.compiled if compiled_type else None,
        "compiled_code": sql(node) if compiled_type and r.compiled else None,
        "relation_name": f"ANALYTICS.{schema_name(run).upper()}.{node.name.upper()}"
        if compiled_type and node.resource_type != "test"
        else None,
    }


def run_results(run: Run, step: StepPlan, project: str, threads: int) -> bytes:
    """`run_results.json` for the dbt invocation of `step`."""
    results = node_results(run, step, project)
    kind = command_kind(step.command or "")
    end = step.finished_at if step.finished_at is not None else step.started_at
    doc = {
        "metadata": _metadata(run, step, "run-results/v6.json", project),
        "results": [_result_json(run, step, project, i, threads, r) for i, r in enumerate(results)],
        "elapsed_time": round(end - step.started_at, 6),
        "args": {
            "which": "generate" if kind == "docs" else kind,
            "rpc_method": kind,
            "target": run.trigger.target_name_override or run.job.target_name,
            "threads": run.trigger.threads_override or threads,
            "write_json": True,
            "profiles_dir": f"{JOB_DIR}/{run.id}/.dbt",
            "invocation_command": step.command,
        },
    }
    return json.dumps(doc).encode()


def catalog(run: Run, step: StepPlan, project: str) -> bytes:
    """`catalog.json` from `dbt docs generate`."""
    nodes = {}
    for node in NODES:
        if node.resource_type not in {"model", "seed", "snapshot"}:
            continue
        uid = unique_id(project, node)
        nodes[uid] = {
            "metadata": {
                "type": "VIEW" if node.materialized == "view" else "BASE TABLE",
                "schema": schema_name(run).upper(),
                "name": node.name.upper(),
                "database": "ANALYTICS",
                "comment": None,
                "owner": "TRANSFORMER",
            },
            "columns": {
                "ID": {"type": "NUMBER", "index": 1, "name": "ID", "comment": None},
                "UPDATED_AT": {
                    "type": "TIMESTAMP_NTZ",
                    "index": 2,
                    "name": "UPDATED_AT",
                    "comment": None,
                },
            },
            "stats": {"has_stats": {"id": "has_stats", "value": False, "include": False}},
            "unique_id": uid,
        }
    doc = {
        "metadata": _metadata(run, step, "catalog/v1.json", project),
        "nodes": nodes,
        "sources": {},
        "errors": None,
    }
    return json.dumps(doc).encode()


def _freshness_ts(ts: float) -> str:
    """`max_loaded_at`/`snapshotted_at`: an aware ISO timestamp (`...+00:00`), as dbt-core's
    freshness tests expect them."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _source_json(run: Run, step: StepPlan, project: str, i: int, r: SourceResult) -> dict[str, Any]:
    """One `results[]` entry of `sources.json` (sources v3): `SourceFreshnessOutput`, or
    `SourceFreshnessRuntimeError` when the freshness query failed."""
    uid = f"source.{project}.{r.source.source_name}.{r.source.name}"
    if r.status == "runtime error":
        return {"unique_id": uid, "error": r.error, "status": r.status}
    snapshotted = r.finished_at
    return {
        "unique_id": uid,
        "max_loaded_at": _freshness_ts(snapshotted - r.age),
        "snapshotted_at": _freshness_ts(snapshotted),
        "max_loaded_at_time_ago_in_s": r.age,
        "status": r.status,
        "criteria": {
            "warn_after": {"count": r.source.warn_after_hours, "period": "hour"},
            "error_after": {"count": r.source.error_after_hours, "period": "hour"},
            "filter": None,
        },
        "adapter_response": {
            "_message": "SUCCESS 1",
            "code": "SUCCESS",
            "rows_affected": 1,
            "query_id": _query_id(run, step, i),
        },
        "timing": [
            {
                "name": "compile",
                "started_at": artifact_ts(r.started_at),
                "completed_at": artifact_ts(r.started_at + 0.002),
            },
            {
                "name": "execute",
                "started_at": artifact_ts(r.started_at + 0.003),
                "completed_at": artifact_ts(r.finished_at),
            },
        ],
        "thread_id": f"Thread-{i + 1} (worker)",
        "execution_time": round(r.finished_at - r.started_at, 6),
    }


def sources(run: Run, step: StepPlan, project: str) -> bytes:
    """`sources.json` from `dbt source freshness`."""
    at = step.finished_at if step.finished_at is not None else step.started_at
    doc = {
        "metadata": _metadata(run, step, "sources/v3.json", project),
        "results": [
            _source_json(run, step, project, i, r) for i, r in enumerate(source_results(run, step))
        ],
        "elapsed_time": round(at - step.started_at, 6),
    }
    return json.dumps(doc).encode()


def render(
    run: Run,
    step: StepPlan,
    path: str,
    project: str,
    *,
    threads: int,
    manifest_size: int | None,
) -> Artifact:
    """The body of `path` as written by `step`."""
    if path == "manifest.json":
        return manifest(run, step, project, manifest_size)
    if path == "run_results.json":
        return _bytes_artifact(run_results(run, step, project, threads), "application/json")
    if path == "catalog.json":
        return _bytes_artifact(catalog(run, step, project), "application/json")
    if path == "sources.json":
        return _bytes_artifact(sources(run, step, project), "application/json")
    name = path.rsplit("/", 1)[-1]
    node = next(
        (n for n in NODES if n.name == name.removesuffix(".sql").removesuffix(".csv")), None
    )
    if path.endswith(".csv"):
        body = "id,first_name,last_name\n1,Michael,P.\n2,Shawn,M.\n3,Kathleen,P.\n"
        return _bytes_artifact(body.encode(), "text/csv")
    text = sql(node) if node is not None else "select 1"
    if path.startswith("run/") and node is not None and node.resource_type == "model":
        schema = schema_name(run)
        kind = "view" if node.materialized == "view" else "table"
        text = f"create or replace {kind} ANALYTICS.{schema}.{node.name} as (\n{text}\n);\n"
    return _bytes_artifact(text.encode(), "text/plain; charset=utf-8")
