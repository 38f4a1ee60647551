"""The sync client is documented beside the async one: the same pages, in tabs, and the README.

The snippets themselves run in `tests/docs/test_snippets.py` (every `docs/snippets/*.py`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
INCLUDE = re.compile(r"""--8<--\s+["']docs/snippets/([\w]+)\.py["']""")
TWINS = sorted(p.stem.removesuffix("_sync") for p in SNIPPETS.glob("*_sync.py"))


def _pages() -> dict[str, str]:
    return {
        str(page.relative_to(DOCS)): page.read_text(encoding="utf-8") for page in DOCS.rglob("*.md")
    }


def test_there_are_sync_snippets() -> None:
    assert {"quickstart", "readme", "guide_waiting", "guide_pagination"} <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_each_sync_snippet_has_its_async_twin(name: str) -> None:
    assert (SNIPPETS / f"{name}.py").exists()
    assert "AsyncRunsClient" in (SNIPPETS / f"{name}.py").read_text(encoding="utf-8")
    sync = (SNIPPETS / f"{name}_sync.py").read_text(encoding="utf-8")
    assert "RunsClient(" in sync
    assert "AsyncRunsClient" not in sync
    assert "await" not in sync


@pytest.mark.parametrize(("page", "text"), sorted(_pages().items()))
def test_async_and_sync_examples_sit_side_by_side_in_tabs(page: str, text: str) -> None:
    shown = INCLUDE.findall(text)
    for name in shown:
        if name in TWINS:  # an async snippet with a sync twin: both, as two tabs
            assert f"{name}_sync" in shown, f"{page} shows {name}.py without its sync twin"
            tabs = f'=== "Async"\n\n    ```python\n    --8<-- "docs/snippets/{name}.py"'
            sync = f'=== "Sync"\n\n    ```python\n    --8<-- "docs/snippets/{name}_sync.py"'
            assert tabs in text
            assert sync in text


def test_the_readme_shows_both_clients() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sdk = readme[readme.index("## The SDK") : readme.index("## Configuration")]
    for name in ("readme.py", "readme_sync.py"):
        snippet = (SNIPPETS / name).read_text(encoding="utf-8")
        assert f"```python\n{snippet}```" in sdk


def test_the_tabs_extension_is_enabled() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "pymdownx.tabbed:\n      alternate_style: true" in config
