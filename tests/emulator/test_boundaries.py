"""The emulator's module boundaries, read from its source.

Two rules that review alone lets slip: no module of `dbt_runs.testing` reaches into another
object's private members (the state has a public API: `Account`), and none imports the client's
reading of dbt (its models, converter or parameter checks), so that one misreading of the API
cannot hide on both sides of the wire.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dbt_runs.testing

PACKAGE = Path(dbt_runs.testing.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
CLIENT_SIDE = ("dbt_runs.models", "dbt_runs._converter", "dbt_runs._params", "dbt_runs._fields")


def private_reaches(source: str) -> list[str]:
    """`x._name` where x is not `self`/`cls`, and `from module import _name`: each a place
    that uses what another object or module keeps to itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in {"self", "cls"}):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module != "dbt_runs.testing":
            # `from dbt_runs.testing import _wire` names a module of the package: allowed.
            found += [
                f"line {node.lineno}: import {a.name}" for a in node.names if _private(a.name)
            ]
    return found


def imported_modules(source: str) -> set[str]:
    """Every module a source imports, `from a import b` counted as both `a` and `a.b`."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_rule_sees_a_reach_into_the_emulator() -> None:
    # What the HTTP layer used to do, 68 times.
    source = "def f(self):\n    now = self._emu._now_ticked()\n    return emu._state, self._ok\n"
    assert private_reaches(source) == [
        "line 2: self._emu._now_ticked",
        "line 3: emu._state",
    ]
    assert private_reaches("from dbt_runs.testing._state import _main_index\n") == [
        "line 1: import _main_index"
    ]
    assert private_reaches("from dbt_runs.testing import _wire\n_wire.run_json\n") == []


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_no_module_reaches_into_another_objects_private_members(module: Path) -> None:
    assert private_reaches(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_the_emulator_keeps_its_own_reading_of_dbt(module: Path) -> None:
    imported = imported_modules(module.read_text(encoding="utf-8"))
    assert not {m for m in imported if m.startswith(CLIENT_SIDE)}


def test_routes_know_no_faults_and_the_asgi_entry_knows_no_endpoint() -> None:
    routes = imported_modules((PACKAGE / "_routes.py").read_text(encoding="utf-8"))
    asgi = imported_modules((PACKAGE / "_asgi.py").read_text(encoding="utf-8"))
    assert "dbt_runs.testing._faults" not in routes
    assert not asgi & {"dbt_runs.testing._wire", "dbt_runs.testing._state"}
