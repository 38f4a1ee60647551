"""What a step's dbt invocation did: one result per node it ran and per source it checked.

`run_results.json`, `sources.json` and the step's log are three views of these results, so
they always agree. A step that succeeds passes every node (or, in a run with `warnings`,
leaves one test at `warn`); the step a run fails at fails the way `Run.failure` says, on
the node dbt would report:

| failure | the node | its result |
|---|---|---|
| auto | `orders`, else a test of it | `Database Error in model ...`, or a failing test |
| database | a model (a test in a test-only step) | `Database Error in model|test ...` |
| compilation | likewise | `Compilation Error in model|test ...`, `compiled: false` |
| test | a test of the step | `fail`, `failures` > 0, `Got N results, configured to ...` |
| freshness | the step's sources | `sources.json` `error` (stale), and `runtime error` |
| memory | none: dbt Cloud stops the step | no artifact; the run's `status_message` |

A model that errors skips every node downstream of it; a failing test in `dbt build` skips
the models downstream of the model it tests. Which node fails and which of dbt's messages it
carries follow from the run id, so every run answers the same way every time. The message
texts are dbt's formats (dbt-core 1.9 `DbtDatabaseError`, `CompilationError`, `TestTask`)
with Snowflake's error codes, as a Snowflake-backed dbt Cloud job prints them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from dbt_runs.testing._project import (
    NODES,
    SOURCES,
    Node,
    Source,
    downstream_of,
    resource_dir,
    selected_nodes,
)
from dbt_runs.testing._state import ERROR, SUCCESS, Run, StepPlan, command_kind

__all__ = [
    "NodeResult",
    "SourceResult",
    "is_killed",
    "node_results",
    "schema_name",
    "source_results",
    "test_message",
]

# (code, text) of Snowflake errors, `{parent}` the relation of one of the node's parents.
_DATABASE_ERRORS: Final = (
    "100038 (22018): Numeric value 'N/A' is not recognized",
    "000904 (42000): SQL compilation error: error line 4 at position 11\n"
    "  invalid identifier 'ORDER_DATE'",
    "002003 (42S02): SQL compilation error:\n  Object '{parent}' does not exist or not authorized.",
    "100035 (22007): Timestamp '2024-02-30' is not recognized",
)
_COMPILATION_ERRORS: Final = (
    "'dbt_utils' is undefined. This can happen when calling a macro that does not exist. "
    'Check for typos and/or install package dependencies with "dbt deps".',
    "Required var 'start_date' not found in config:\n  Vars supplied to {name} = {{}}",
)
_SOURCE_RUNTIME_ERROR: Final = (
    "002003 (42S02): SQL compilation error:\n"
    "  Object 'RAW.{source}.{table}' does not exist or not authorized."
)
#: The test a run with warnings leaves at `warn` when the step runs it.
_WARNING_TEST: Final = "accepted_values_orders_status__placed__shipped__completed__returned"
_HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True)
class NodeResult:
    """How one node went in one step."""

    node: Node
    status: str  # success | error | skipped | pass | fail | warn
    #: dbt's `message`: the adapter's (`SUCCESS 1`, `INSERT 100`), a test's verdict or the
    #: error; None for a passing test and a skipped node.
    message: str | None
    started_at: float
    finished_at: float
    rows: int
    #: Rows a test returned (None for other nodes, and for a test that errored or was skipped).
    failures: int | None = None
    #: False for a node that did not compile (a compilation error) or never ran (skipped).
    compiled: bool = True
    #: Whether it reached dbt's "execute" phase (a compilation error stops at "compile").
    executed: bool = True


@dataclass(frozen=True, slots=True)
class SourceResult:
    """How one source's freshness check went in one `dbt source freshness` step."""

    source: Source
    status: str  # pass | warn | error | runtime error
    #: Seconds since the source's newest row (`max_loaded_at_time_ago_in_s`).
    age: float
    #: The error of a `runtime error` (the query failed), else None.
    error: str | None
    started_at: float
    finished_at: float


def schema_name(run: Run) -> str:
    """The schema a run builds into (`schema_override`, else the environment's)."""
    return run.trigger.schema_override or "analytics"


def _pick(run: Run, salt: str, choices: int) -> int:
    """A number below `choices`, fixed by the run's id and `salt`."""
    digest = hashlib.blake2b(f"{run.id}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % choices


def is_killed(run: Run, step: StepPlan) -> bool:
    """Whether dbt Cloud stopped this step at the memory limit (it then writes nothing)."""
    return step.status == ERROR and run.failure == "memory"


def test_message(failures: int, verdict: str) -> str:
    """dbt's message for a test that returned rows (`verdict`: "fail" or "warn")."""
    results = "1 result" if failures == 1 else f"{failures} results"
    return f"Got {results}, configured to {verdict} if != 0"


def _auto_culprit(nodes: tuple[Node, ...]) -> Node:
    """The node an "auto" failure fails on: `orders` if it runs, else a test of it, else
    the first node."""
    for node in nodes:
        if node.name == "orders":
            return node
    for node in nodes:
        if node.resource_type == "test" and "orders" in node.depends_on:
            return node
    return nodes[0]


def _path(node: Node) -> str:
    return f"{resource_dir(node)}/{node.path}"


def _database_error(run: Run, node: Node, project: str, *, varied: bool = True) -> str:
    """dbt's `DbtDatabaseError` text; `varied=False` for the one an "auto" failure always
    gives (the message the emulator always gave for `[fail]`)."""
    text = _DATABASE_ERRORS[_pick(run, "database", len(_DATABASE_ERRORS)) if varied else 0]
    parent = node.depends_on[0] if node.depends_on else node.name
    relation = f"ANALYTICS.{schema_name(run).upper()}.{parent.upper()}"
    target = _path(node)
    if node.resource_type == "test":
        target = f"{_path(node)}/{node.name}.sql"
    return (
        f"Database Error in {node.resource_type} {node.name} ({_path(node)})\n"
        f"  {text.format(parent=relation)}\n"
        f"  compiled code at target/run/{project}/{target}"
    )


def _compilation_error(run: Run, node: Node) -> str:
    text = _COMPILATION_ERRORS[_pick(run, "compilation", len(_COMPILATION_ERRORS))]
    return (
        f"Compilation Error in {node.resource_type} {node.name} ({_path(node)})\n"
        f"  {text.format(name=node.name)}"
    )


def _failure_at(run: Run, step: StepPlan, nodes: tuple[Node, ...]) -> str | None:
    """The failure kind this step fails with on its nodes, or None if it does not fail."""
    if step.status != ERROR or run.failure == "memory":
        return None
    failure = run.failure
    tests = any(n.resource_type == "test" for n in nodes)
    if failure == "freshness" or (failure == "test" and not tests):
        return "auto"  # a step that cannot fail that way fails the natural way
    return failure


def _culprit(run: Run, failure: str, nodes: tuple[Node, ...]) -> Node:
    if failure == "auto":
        return _auto_culprit(nodes)
    tests = [n for n in nodes if n.resource_type == "test"]
    models = [n for n in nodes if n.resource_type in {"model", "snapshot"}]
    pool = tests if failure == "test" else models or tests or list(nodes)
    return pool[_pick(run, "culprit", len(pool))]


def _skipped_by(culprit: Node, status: str, nodes: tuple[Node, ...]) -> set[str]:
    """Names of the step's nodes dbt skips after `culprit` ends with `status`."""
    if culprit.resource_type != "test":
        return downstream_of(culprit.name)
    if status != "fail" or not any(n.resource_type == "model" for n in nodes):
        return set()  # `dbt test` runs every test whatever its siblings did
    below = {
        name
        for parent in culprit.depends_on
        for name in downstream_of(parent)
        if next(n for n in NODES if n.name == name).resource_type != "test"
    }
    tests = {n.name for n in NODES if n.resource_type == "test" and set(n.depends_on) & below}
    return below | tests


def node_results(run: Run, step: StepPlan, project: str) -> list[NodeResult]:
    """The results a step's dbt invocation produced (empty for steps that run no nodes)."""
    if step.command is None:
        return []
    nodes = selected_nodes(step.command)
    if not nodes:
        return []
    end = step.finished_at if step.finished_at is not None else step.started_at
    k = 1.0 / run.speed  # the nominal seconds below shrink with the run's other phases
    span = max(0.5 * k, end - step.started_at - 2.0 * k)
    each = span / len(nodes)
    failure = _failure_at(run, step, nodes)
    culprit = _culprit(run, failure, nodes) if failure is not None else None
    warned: Node | None = None
    if culprit is None and run.warnings and step.status == SUCCESS:
        tests = [n for n in nodes if n.resource_type == "test"]
        warned = next((n for n in tests if n.name == _WARNING_TEST), tests[0] if tests else None)
    culprit_status = "error"
    if culprit is not None and culprit.resource_type == "test" and failure in {"auto", "test"}:
        culprit_status = "fail"
    skipped = _skipped_by(culprit, culprit_status, nodes) if culprit is not None else set()
    out: list[NodeResult] = []
    t = step.started_at + 1.5 * k
    for i, node in enumerate(nodes):
        rows = 50 + (run.id * 7 + i * 13) % 900
        # Nodes take their own time (35% to 95% of their share of the step), as real ones do.
        started = t
        finished = t + each * (0.35 + 0.6 * _pick(run, f"{step.index}:{i}", 1000) / 1000)
        t += each
        if node is culprit and culprit_status == "fail":
            failures = 3 if failure == "auto" else 1 + _pick(run, "failures", 40)
            out.append(
                NodeResult(
                    node, "fail", test_message(failures, "fail"), started, finished, rows, failures
                )
            )
        elif node is culprit and failure == "compilation":
            message = _compilation_error(run, node)
            done = started + min(0.05 * k, finished - started)
            out.append(NodeResult(node, "error", message, started, done, rows, None, False, False))
        elif node is culprit:
            message = _database_error(run, node, project, varied=failure != "auto")
            out.append(NodeResult(node, "error", message, started, finished, rows))
        elif node.name in skipped:
            out.append(NodeResult(node, "skipped", None, started, started, rows, None, False))
        elif node is warned:
            failures = 2 + _pick(run, "warn", 8)
            message = test_message(failures, "warn")
            out.append(NodeResult(node, "warn", message, started, finished, rows, failures))
        elif node.resource_type == "test":
            out.append(NodeResult(node, "pass", None, started, finished, rows, 0))
        elif node.resource_type == "seed":
            out.append(NodeResult(node, "success", f"INSERT {rows}", started, finished, rows))
        else:
            out.append(NodeResult(node, "success", "SUCCESS 1", started, finished, 1))
    return out


def source_results(run: Run, step: StepPlan) -> list[SourceResult]:
    """The freshness of each source as a `dbt source freshness` step found it (else empty).

    A failing step finds the first source stale (`error`) and the second passing, warning
    or failing to query (`runtime error`); a run with warnings finds the first one `warn`.
    """
    if step.command is None or command_kind(step.command) != "source":
        return []
    failing = step.status == ERROR and run.failure != "memory"
    end = step.finished_at if step.finished_at is not None else step.started_at
    k = 1.0 / run.speed
    each = max(0.2 * k, end - step.started_at - 1.5 * k) / len(SOURCES)
    out: list[SourceResult] = []
    t = step.started_at + 1.0 * k
    for i, source in enumerate(SOURCES):
        spread = _pick(run, f"age{i}", 3600) / 3600  # 0..1
        warn, error = source.warn_after_hours * _HOUR, source.error_after_hours * _HOUR
        fresh = (0.5 + spread * (source.warn_after_hours - 1)) * _HOUR
        status, age, message = "pass", fresh, None
        if failing and i == 0:
            status, age = "error", error + (2 + spread * 40) * _HOUR
        elif failing and _pick(run, "second", 3) == 2:
            status = "runtime error"
            message = (
                f"Database Error in source {source.name} (models/sources.yml)\n  "
                + _SOURCE_RUNTIME_ERROR.format(
                    source=source.source_name.upper(), table=source.name.upper()
                )
            )
        elif (failing and _pick(run, "second", 3) == 1) or (run.warnings and i == 0):
            status, age = "warn", warn + spread * (error - warn) * 0.9
        out.append(SourceResult(source, status, round(age, 3), message, t, t + each * 0.8))
        t += each
    return out
