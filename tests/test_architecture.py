"""The layering ARCHITECTURE.md states, checked on the source's imports.

- The core (`dbt_runs`, `dbt_runs._*`, `models`, `errors`, `pagination`) imports no adapter,
  no emulator and no command line module.
- The adapters (`dbt_runs.expose`) never import the emulator; `dbt-runs serve --emulator`
  wires it in at the command line.
- The emulator (`dbt_runs.testing`) never imports the client's models, converter or field
  rules: it builds dbt's JSON from its own state, so one misreading of dbt cannot hide on
  both sides of the wire. (`tests/emulator/test_boundaries.py` checks its inner layout.)
- Only `_http.py` imports httpx.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dbt_runs"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports, absolute, with its line (relative imports resolved)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _sources(*under: str) -> list[Path]:
    return sorted(p for part in under for p in (SRC / part).rglob("*.py"))


def _violations(files: list[Path], banned: tuple[str, ...]) -> list[str]:
    found: dict[str, str] = {}
    for path in files:
        for line, name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                found.setdefault(f"{path.relative_to(SRC)}:{line}", name)
    return [f"{where} imports {name}" for where, name in found.items()]


# `python -m dbt_runs` is the command line itself.
CORE = [p for p in SRC.glob("*.py") if p.name != "__main__.py"]


def test_the_core_imports_no_adapter_emulator_or_command_line() -> None:
    banned = ("dbt_runs.expose", "dbt_runs.testing", "dbt_runs.cli", "starlette", "mcp", "click")
    assert _violations(CORE, banned) == []


def test_the_adapters_never_import_the_emulator() -> None:
    assert _violations(_sources("expose"), ("dbt_runs.testing",)) == []


def test_the_emulator_never_imports_the_clients_models_or_rules() -> None:
    banned = (
        "dbt_runs.models",
        "dbt_runs._converter",
        "dbt_runs._fields",
        "dbt_runs._operations",
        "dbt_runs._parse",
    )
    assert _violations(_sources("testing"), banned) == []


def test_only_the_http_module_imports_httpx() -> None:
    files = [p for p in SRC.rglob("*.py") if p.name != "_http.py"]
    # The emulator serves HTTP; it may build on httpx's types for its in-process transport.
    files = [p for p in files if "testing" not in p.relative_to(SRC).parts]
    assert _violations(files, ("httpx",)) == []


@pytest.mark.parametrize(
    ("source", "banned", "expected"),
    [
        ("from dbt_runs.testing import Emulator\n", ("dbt_runs.testing",), 1),
        ("from ..testing import _state\n", ("dbt_runs.testing",), 1),
        ("import dbt_runs.models as m\n", ("dbt_runs.models",), 1),
        ("from dbt_runs import models\n", ("dbt_runs.models",), 1),
        ("from dbt_runs import errors\n", ("dbt_runs.models",), 0),
    ],
)
def test_the_checker_sees_every_form_of_import(
    tmp_path: Path, source: str, banned: tuple[str, ...], expected: int
) -> None:
    global SRC
    saved = SRC
    fake = tmp_path / "dbt_runs" / "expose" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    SRC = tmp_path / "dbt_runs"
    try:
        assert len(_violations([fake], banned)) == expected
    finally:
        SRC = saved
