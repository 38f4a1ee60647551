"""The emulated dbt project: a small `jaffle_shop`, its nodes, sources and node selection.

Every run of every job builds this project; what a step runs is the slice of it its dbt
command selects (`selected_nodes`): the subcommand decides the resource types (`dbt run`
models, `dbt test` tests, `dbt build` all of them) and `--select`/`--exclude` narrow them the
way dbt's node selection does for the forms jobs use (a node or folder name, `+` for its
ancestors or descendants, several selectors separated by spaces). Tests follow the models
they test (dbt's default "eager" indirect selection). Selector methods the emulator has no
state for (`state:modified+`, `tag:nightly`, ...) select everything.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from dbt_runs.testing._state import command_kind

__all__ = [
    "NODES",
    "SOURCES",
    "Node",
    "Source",
    "downstream_of",
    "resource_dir",
    "selected_nodes",
    "sql",
    "unique_id",
]


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the emulated project."""

    resource_type: str  # model | seed | test | snapshot
    name: str
    path: str  # relative to the project's resource directory
    depends_on: tuple[str, ...]  # names of parent nodes
    materialized: str


@dataclass(frozen=True, slots=True)
class Source:
    """One source table, with the freshness criteria of its `sources.yml`."""

    source_name: str
    name: str
    warn_after_hours: int = 12
    error_after_hours: int = 24


NODES: Final = (
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
SOURCES: Final = (Source("ecom", "raw_events"), Source("stripe", "payments"))

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
_ORDER: Final = {"seed": 0, "model": 1, "snapshot": 2, "test": 3}
_SELECT_FLAGS: Final = frozenset({"--select", "-s", "--models", "-m"})
_EXCLUDE_FLAGS: Final = frozenset({"--exclude"})


def unique_id(project: str, node: Node) -> str:
    """dbt's unique id: `model.jaffle_shop.orders`."""
    return f"{node.resource_type}.{project}.{node.name}"


def resource_dir(node: Node) -> str:
    """The project folder a node's file lives in."""
    return {"seed": "seeds", "snapshot": "snapshots"}.get(node.resource_type, "models")


def downstream_of(name: str) -> set[str]:
    """Names of every node that depends on `name`, directly or not."""
    out: set[str] = set()
    frontier = {name}
    while frontier:
        nxt = {n.name for n in NODES if frontier & set(n.depends_on)} - out
        out |= nxt
        frontier = nxt
    return out


def _upstream_of(name: str) -> set[str]:
    by_name = {n.name: n for n in NODES}
    out: set[str] = set()
    frontier = set(by_name[name].depends_on) if name in by_name else set()
    while frontier:
        out |= frontier
        frontier = {p for f in frontier for p in by_name[f].depends_on} - out
    return out


def _selector_args(command: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(`--select` selectors, `--exclude` selectors) of a dbt command."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    select: list[str] = []
    exclude: list[str] = []
    target: list[str] | None = None
    for word in words:
        if word.startswith("-"):
            flag, _, value = word.partition("=")
            target = (
                select if flag in _SELECT_FLAGS else exclude if flag in _EXCLUDE_FLAGS else None
            )
            if target is not None and value:
                target.append(value)
        elif target is not None:
            target.append(word)
    return tuple(select), tuple(exclude)


def _matching(selectors: tuple[str, ...]) -> set[str]:
    """Names of the nodes the selectors pick, tests of picked nodes included."""
    picked: set[str] = set()
    for selector in selectors:
        if ":" in selector:
            return {n.name for n in NODES}
        name = selector.strip("+")
        base = {
            n.name
            for n in NODES
            if n.name == name or n.path.startswith(f"{name}/") or n.path == f"{name}.sql"
        }
        picked |= base
        for found in base:
            if selector.endswith("+"):
                picked |= downstream_of(found)
            if selector.startswith("+"):
                picked |= _upstream_of(found)
    picked |= {n.name for n in NODES if n.resource_type == "test" and set(n.depends_on) & picked}
    return picked


@lru_cache(maxsize=256)
def selected_nodes(command: str) -> tuple[Node, ...]:
    """The nodes a dbt command runs, in execution order (seeds, models, snapshots, tests)."""
    types = _SELECTS.get(command_kind(command), ())
    select, exclude = _selector_args(command)
    keep = _matching(select) if select else None
    drop = _matching(exclude) if exclude else set()
    return tuple(
        sorted(
            (
                n
                for n in NODES
                if n.resource_type in types
                and (keep is None or n.name in keep)
                and n.name not in drop
            ),
            key=lambda n: _ORDER[n.resource_type],
        )
    )


# The SQL below is the text of emulated dbt models, never executed anywhere (S608).
def sql(node: Node) -> str:
    """A node's SQL as the emulator shows it (`raw_code`, `compiled_code`, `compiled/` files)."""
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
