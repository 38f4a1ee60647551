"""What each step writes to `target/`: plausible dbt artifacts and logs, made on demand.

The emulated project is a small `jaffle_shop`. A step that runs `dbt build` writes
`manifest.json`, a `run_results.json` that matches the step's outcome (a failing step has the
`orders` model in error and its tests skipped), `compiled/...` and `run/...` files; `dbt docs
generate` writes `catalog.json`; `dbt source freshness` writes `sources.json`. Like dbt Cloud's
`target/` directory, files persist across a run's steps: the artifact at step N is the version
written by the latest step at or before N.

`manifest.json` can be padded to any size (`artifact_size`); it is then produced as a stream
of chunks with an exact `Content-Length`, so serving 200 MB keeps the emulator's memory flat.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from dbt_runs.testing._state import (
    CANCELLED,
    ERROR,
    SUCCESS,
    WRITES_ARTIFACTS,
    Run,
    StepPlan,
    command_kind,
)
from dbt_runs.testing._wire import artifact_ts, run_ts

DBT_VERSION: Final = "1.9.1"
#: Where dbt Cloud runs a job (only ever printed in logs and artifacts; nothing is written).
_JOB_DIR: Final = "/tmp/jobs"  # noqa: S108

_RUN_RESULTS_KINDS: Final = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "retry", "docs", "clone", "show"}
)
_SELECTS: Final = {
    "build": ("seed", "model", "snapshot", "test"),
    "run": ("model",),
    "test": ("test",),
    "seed": ("seed",),
    "snapshot": ("snapshot",),
    "compile": ("model", "test"),
    "retry": ("model", "test"),
    "clone": ("model",),
    "show": ("model",),
}


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the emulated project."""

    resource_type: str  # model | seed | test | snapshot
    name: str
    path: str  # relative to the project's resource directory
    depends_on: tuple[str, ...]  # names of parent nodes
    materialized: str


_NODES: Final = (
    Node("seed", "raw_customers", "raw_customers.csv", (), "seed"),
    Node("seed", "raw_orders", "raw_orders.csv", (), "seed"),
    Node("seed", "raw_payments", "raw_payments.csv", (), "seed"),
    Node("model", "stg_customers", "staging/stg_customers.sql", ("raw_customers",), "view"),
    Node("model", "stg_orders", "staging/stg_orders.sql", ("raw_orders",), "view"),
    Node("model", "stg_payments", "staging/stg_payments.sql", ("raw_payments",), "view"),
    Node(
        "model",
        "customers",
        "customers.sql",
        ("stg_customers", "stg_orders", "stg_payments"),
        "table",
    ),
    Node("model", "orders", "orders.sql", ("stg_orders", "stg_payments"), "table"),
    Node("snapshot", "orders_snapshot", "orders_snapshot.sql", ("stg_orders",), "snapshot"),
    Node("test", "unique_customers_customer_id", "schema.yml", ("customers",), "test"),
    Node("test", "not_null_customers_customer_id", "schema.yml", ("customers",), "test"),
    Node("test", "unique_orders_order_id", "schema.yml", ("orders",), "test"),
    Node("test", "not_null_orders_order_id", "schema.yml", ("orders",), "test"),
    Node(
        "test",
        "accepted_values_orders_status__placed__shipped__completed__returned",
        "schema.yml",
        ("orders",),
        "test",
    ),
    Node(
        "test",
        "relationships_orders_customer_id__customer_id__ref_customers_",
        "schema.yml",
        ("orders", "customers"),
        "test",
    ),
)
_SOURCES: Final = (("ecom", "raw_events"), ("stripe", "payments"))


def unique_id(project: str, node: Node) -> str:
    """dbt's unique id: `model.jaffle_shop.orders`."""
    return f"{node.resource_type}.{project}.{node.name}"


def _resource_dir(node: Node) -> str:
    return {"seed": "seeds", "snapshot": "snapshots"}.get(node.resource_type, "models")


@lru_cache(maxsize=64)
def selected_nodes(kind: str) -> tuple[Node, ...]:
    """The nodes a subcommand runs, in execution order."""
    types = _SELECTS.get(kind, ())
    order = {"seed": 0, "model": 1, "snapshot": 2, "test": 3}
    return tuple(
        sorted(
            (n for n in _NODES if n.resource_type in types),
            key=lambda n: order[n.resource_type],
        )
    )


@dataclass(frozen=True, slots=True)
class NodeResult:
    """How one node went in one step."""

    node: Node
    status: str  # success | error | skipped | pass | fail
    message: str
    started_at: float
    finished_at: float
    rows: int


def _downstream_of(name: str) -> set[str]:
    out: set[str] = set()
    frontier = {name}
    while frontier:
        nxt = {n.name for n in _NODES if frontier & set(n.depends_on)} - out
        out |= nxt
        frontier = nxt
    return out


def _culprit(nodes: tuple[Node, ...]) -> Node:
    """The node a failing step fails on: `orders` if it runs, else a test of it, else the
    first node."""
    for node in nodes:
        if node.name == "orders":
            return node
    for node in nodes:
        if node.resource_type == "test" and "orders" in node.depends_on:
            return node
    return nodes[0]


def node_results(run: Run, step: StepPlan, project: str) -> list[NodeResult]:
    """The results a step's dbt invocation produced (empty for steps that run no nodes)."""
    if step.command is None:
        return []
    nodes = selected_nodes(command_kind(step.command))
    if not nodes:
        return []
    end = step.finished_at if step.finished_at is not None else step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    span = max(0.5 * k, end - step.started_at - 2.0 * k)
    each = span / len(nodes)
    culprit = _culprit(nodes) if step.status == ERROR else None
    skipped = _downstream_of(culprit.name) if culprit and culprit.resource_type != "test" else set()
    out: list[NodeResult] = []
    t = step.started_at + 1.5 * k
    for i, node in enumerate(nodes):
        rows = 50 + (run.id * 7 + i * 13) % 900
        if node is culprit and node.resource_type == "test":
            status, message = "fail", "Got 3 results, configured to fail if != 0"
        elif node is culprit:
            path = f"{_resource_dir(node)}/{node.path}"
            status = "error"
            message = (
                f"Database Error in {node.resource_type} {node.name} ({path})\n"
                "  100038 (22018): Numeric value 'N/A' is not recognized\n"
                f"  compiled code at target/run/{project}/{path}"
            )
        elif node.name in skipped:
            status, message = "skipped", "SKIP"
        elif node.resource_type == "test":
            status, message = "pass", "PASS"
        elif node.resource_type == "seed":
            status, message = "success", f"INSERT {rows}"
        else:
            status, message = "success", "SUCCESS 1"
        out.append(NodeResult(node, status, message, t, t + each * 0.9, rows))
        t += each
    return out


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
        if result.status == "skipped":
            continue
        base = f"{project}/{_resource_dir(node)}/{node.path}"
        if node.resource_type == "test":
            base = f"{project}/models/{node.path}/{node.name}.sql"
        if node.resource_type != "seed":
            paths.append(f"compiled/{base}")
        if kind not in {"compile", "docs"}:
            paths.append(f"run/{base}")
    if kind == "docs":
        for node in _NODES:
            if node.resource_type == "model":
                paths.append(f"compiled/{project}/models/{node.path}")
    return paths


def artifact_index(run: Run, steps: list[StepPlan], project: str) -> dict[str, int]:
    """path -> index of the latest finished step that wrote it (cancelled steps write none)."""
    index: dict[str, int] = {}
    for step in steps:
        if step.finished_at is None or step.command is None or step.status == CANCELLED:
            continue
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


def _invocation_id(run: Run, step_index: int) -> str:
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
        "invocation_id": _invocation_id(run, step.index),
        "env": _env(run),
        **({"project_name": project, "adapter_type": "snowflake"} if "manifest" in schema else {}),
    }


def _schema_name(run: Run) -> str:
    return run.trigger.schema_override or "analytics"


def _node_json(run: Run, node: Node, project: str) -> dict[str, Any]:
    uid = unique_id(project, node)
    schema = _schema_name(run)
    return {
        "database": "ANALYTICS",
        "schema": schema,
        "name": node.name,
        "resource_type": node.resource_type,
        "package_name": project,
        "path": node.path,
        "original_file_path": f"{_resource_dir(node)}/{node.path}",
        "unique_id": uid,
        "fqn": [project, *node.path.removesuffix(".sql").removesuffix(".csv").split("/")],
        "alias": node.name,
        "config": {"enabled": True, "materialized": node.materialized},
        "tags": [],
        "description": "",
        "depends_on": {
            "macros": [],
            "nodes": [unique_id(project, n) for n in _NODES if n.name in node.depends_on],
        },
        "relation_name": f"ANALYTICS.{schema.upper()}.{node.name.upper()}"
        if node.resource_type != "test"
        else None,
        "raw_code": _sql(node),
    }


# The SQL below is the text of emulated dbt models, never executed anywhere (S608).
def _sql(node: Node) -> str:
    if node.resource_type == "seed":
        return ""
    if node.resource_type == "test":
        parent = node.depends_on[0]
        return f"-- test {node.name}\nselect * from {{{{ ref('{parent}') }}}} where 1=0"
    parents = " union all ".join(
        f"select * from {{{{ ref('{p}') }}}}"  # noqa: S608
        for p in node.depends_on
    )
    return f"with source as ({parents or 'select 1 as id'})\nselect * from source"  # noqa: S608


def manifest_parts(run: Run, step: StepPlan, project: str) -> tuple[str, list[str], str]:
    """(text before the node entries, node entries, text after them): JSON once joined."""
    head = json.dumps({"metadata": _metadata(run, step, "manifest/v12.json", project)})
    head = head[:-1] + ', "nodes": {'
    entries = [
        f"{json.dumps(unique_id(project, n))}: {json.dumps(_node_json(run, n, project))}"
        for n in _NODES
    ]
    sources = {
        f"source.{project}.{src}.{table}": {
            "unique_id": f"source.{project}.{src}.{table}",
            "resource_type": "source",
            "source_name": src,
            "name": table,
            "loaded_at_field": "_loaded_at",
            "freshness": {
                "warn_after": {"count": 12, "period": "hour"},
                "error_after": {"count": 24, "period": "hour"},
            },
        }
        for src, table in _SOURCES
    }
    child_map: dict[str, list[str]] = {unique_id(project, n): [] for n in _NODES}
    parent_map: dict[str, list[str]] = {}
    for n in _NODES:
        parents = [unique_id(project, p) for p in _NODES if p.name in n.depends_on]
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


def run_results(run: Run, step: StepPlan, project: str, threads: int) -> bytes:
    """`run_results.json` for the dbt invocation of `step`."""
    results = node_results(run, step, project)
    kind = command_kind(step.command or "")
    end = step.finished_at if step.finished_at is not None else step.started_at
    doc = {
        "metadata": _metadata(run, step, "run-results/v6.json", project),
        "results": [
            {
                "status": r.status,
                "timing": [
                    {
                        "name": "compile",
                        "started_at": artifact_ts(r.started_at),
                        "completed_at": artifact_ts(r.started_at + 0.011),
                    },
                    {
                        "name": "execute",
                        "started_at": artifact_ts(r.started_at + 0.012),
                        "completed_at": artifact_ts(r.finished_at),
                    },
                ],
                "thread_id": f"Thread-{i % threads + 1} (worker)",
                "execution_time": round(r.finished_at - r.started_at, 6),
                "adapter_response": {}
                if r.status == "skipped"
                else {"_message": r.message, "code": "SUCCESS", "rows_affected": r.rows},
                "message": r.message,
                "failures": {"pass": 0, "fail": 3}.get(r.status)
                if r.node.resource_type == "test"
                else None,
                "unique_id": unique_id(project, r.node),
                "compiled": r.node.resource_type != "seed",
                "compiled_code": _sql(r.node) if r.node.resource_type != "seed" else None,
                "relation_name": None
                if r.node.resource_type == "test"
                else f"ANALYTICS.{_schema_name(run).upper()}.{r.node.name.upper()}",
            }
            for i, r in enumerate(results)
        ],
        "elapsed_time": round(end - step.started_at, 6),
        "args": {
            "which": "generate" if kind == "docs" else kind,
            "rpc_method": kind,
            "target": run.trigger.target_name_override or run.job.target_name,
            "threads": run.trigger.threads_override or threads,
            "write_json": True,
            "profiles_dir": f"{_JOB_DIR}/{run.id}/.dbt",
            "invocation_command": step.command,
        },
    }
    return json.dumps(doc).encode()


def catalog(run: Run, step: StepPlan, project: str) -> bytes:
    """`catalog.json` from `dbt docs generate`."""
    nodes = {}
    for node in _NODES:
        if node.resource_type not in {"model", "seed", "snapshot"}:
            continue
        uid = unique_id(project, node)
        nodes[uid] = {
            "metadata": {
                "type": "VIEW" if node.materialized == "view" else "BASE TABLE",
                "schema": _schema_name(run).upper(),
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


def sources(run: Run, step: StepPlan, project: str) -> bytes:
    """`sources.json` from `dbt source freshness`."""
    at = step.finished_at if step.finished_at is not None else step.started_at
    results = []
    for i, (src, table) in enumerate(_SOURCES):
        age = 3600.0 * (i + 1) + (run.id % 600)
        results.append(
            {
                "unique_id": f"source.{project}.{src}.{table}",
                "max_loaded_at": artifact_ts(at - age),
                "snapshotted_at": artifact_ts(at),
                "max_loaded_at_time_ago_in_s": age,
                "status": "pass",
                "criteria": {
                    "warn_after": {"count": 12, "period": "hour"},
                    "error_after": {"count": 24, "period": "hour"},
                    "filter": None,
                },
                "adapter_response": {},
                "timing": [],
                "thread_id": f"Thread-{i + 1}",
                "execution_time": 0.41 + i / 10,
            }
        )
    doc = {
        "metadata": _metadata(run, step, "sources/v3.json", project),
        "results": results,
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
        (n for n in _NODES if n.name == name.removesuffix(".sql").removesuffix(".csv")), None
    )
    if path.endswith(".csv"):
        body = "id,first_name,last_name\n1,Michael,P.\n2,Shawn,M.\n3,Kathleen,P.\n"
        return _bytes_artifact(body.encode(), "text/csv")
    text = _sql(node) if node is not None else "select 1"
    if path.startswith("run/") and node is not None and node.resource_type == "model":
        schema = _schema_name(run)
        kind = "view" if node.materialized == "view" else "table"
        text = f"create or replace {kind} ANALYTICS.{schema}.{node.name} as (\n{text}\n);\n"
    return _bytes_artifact(text.encode(), "text/plain; charset=utf-8")


# -- logs -----------------------------------------------------------------------------------


def _clock(ts: float) -> str:
    return (run_ts(ts) or "")[11:19]


def step_logs(run: Run, step: StepPlan, now: float, project: str) -> tuple[str, str]:
    """(logs, debug_logs) of a step as far as it got at `now`."""
    lines: list[tuple[float, str]] = []
    debug: list[tuple[float, str]] = []
    t0 = step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    if step.command is None:
        if step.index == 1:
            lines = [
                (t0, f"Cloning into '{_JOB_DIR}/{run.id}/target'..."),
                (t0 + 1.2 * k, "Successfully cloned repository."),
                (t0 + 1.3 * k, f"Checked out at {run.git_sha}."),
            ]
        else:
            lines = [(t0, f"Writing profile to {_JOB_DIR}/{run.id}/.dbt/profiles.yml")]
    else:
        lines, debug = _dbt_lines(run, step, project)
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


def _dbt_lines(
    run: Run, step: StepPlan, project: str
) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    assert step.command is not None
    t0 = step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    kind = command_kind(step.command)
    lines = [
        (t0 + 0.1 * k, f"Running with dbt={DBT_VERSION}"),
        (t0 + 0.4 * k, "Registered adapter: snowflake=1.9.0"),
    ]
    debug = [
        (t0 + 0.05 * k, f"[debug] Sending event: invocation {_invocation_id(run, step.index)}"),
        (t0 + 0.5 * k, "[debug] Acquiring new snowflake connection 'master'"),
    ]
    if kind == "deps":
        end = step.finished_at or t0 + 5 * k
        lines += [
            (t0 + 1.0 * k, "Updating lock file in file path: package-lock.yml"),
            (t0 + 2.0 * k, "Installing dbt-labs/dbt_utils"),
            (end - 0.5 * k, "Installed from version 1.3.0"),
        ]
        return lines, debug
    results = node_results(run, step, project)
    lines.append(
        (
            t0 + 0.9 * k,
            "Found 5 models, 3 seeds, 1 snapshot, 6 data tests, 2 sources, 611 macros",
        )
    )
    total = len(results)
    for i, r in enumerate(results, 1):
        name = f"{_schema_name(run)}.{r.node.name}"
        what = {"model": "sql table model", "seed": "seed file", "test": "test"}.get(
            r.node.resource_type, "snapshot"
        )
        lines.append((r.started_at, f"{i} of {total} START {what} {name} [RUN]"))
        debug.append((r.started_at + 0.01 * k, f"[debug] Began running node {r.node.name}"))
        word = {"error": "ERROR", "fail": "FAIL", "skipped": "SKIP", "pass": "PASS"}.get(
            r.status, "OK"
        )
        secs = r.finished_at - r.started_at
        lines.append(
            (r.finished_at, f"{i} of {total} {word} {what} {name} [{word} in {secs:.2f}s]")
        )
    end = step.finished_at if step.finished_at is not None else t0
    errors = sum(r.status in ("error", "fail") for r in results)
    skips = sum(r.status == "skipped" for r in results)
    if kind == "docs":
        lines.append((end - 0.2 * k, f"Catalog written to {_JOB_DIR}/{run.id}/target/catalog.json"))
    elif kind == "source":
        lines.append((end - 0.2 * k, "Done."))
    elif results:
        lines.append((end - 0.3 * k, f"Finished running {total} nodes in {end - t0:.2f}s."))
        if errors:
            failing = next(r for r in results if r.status in ("error", "fail"))
            lines.append(
                (end - 0.2 * k, "Completed with 1 error, 0 partial successes, 0 warnings:")
            )
            lines.append((end - 0.2 * k, failing.message))
        else:
            lines.append((end - 0.2 * k, "Completed successfully"))
        passed = total - errors - skips
        lines.append(
            (
                end - 0.1 * k,
                f"Done. PASS={passed} WARN=0 ERROR={errors} SKIP={skips} NO-OP=0 TOTAL={total}",
            )
        )
    if step.status == SUCCESS or step.status == ERROR:
        debug.append((end, "[debug] Command end result"))
    return lines, debug
