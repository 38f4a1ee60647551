"""Installing as the docs say works before dbt-runs is on PyPI.

`pip install dbt-runs` (or `"dbt-runs[cli]"`) by name fails until the package is published,
so every page a new user reads installs from a checkout or a Git URL, and names the by-name
form only next to a word saying it waits for publishing. Python 3.10 users are told plainly
that they need 3.11 or later, before an old pip spends minutes resolving.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from docs_support import PAGES, ROOT, relative

NOTEBOOKS = sorted((ROOT / "docs").rglob("*.ipynb"))
WORKFLOWS = sorted((ROOT / ".github").rglob("*.y*ml")) if (ROOT / ".github").exists() else []
#: `pip install dbt-runs`, `pip install "dbt-runs[cli]"`; not `"dbt-runs[cli] @ git+https://..."`.
BY_NAME = re.compile(r"""pip install (?P<name>["']?dbt-runs[^\s`]*+)(?!\s*@)""")
#: What says the by-name form is for later.
LABEL = re.compile(r"PyPI|published", re.IGNORECASE)


def _text(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] != "code")
    return path.read_text(encoding="utf-8")


def _by_name(text: str) -> list[tuple[str, str]]:
    """Each by-name install, with its paragraph and the 3 lines up to it (a YAML comment)."""
    found = []
    for match in BY_NAME.finditer(text):
        start = text.rfind("\n\n", 0, match.start())
        end = text.find("\n\n", match.end())
        paragraph = text[max(start, 0) : end if end >= 0 else len(text)]
        above = "\n".join(text[: match.end()].splitlines()[-3:])
        found.append((match["name"], paragraph + "\n" + above))
    return found


def test_the_check_finds_an_unlabelled_install_and_passes_a_git_url() -> None:
    text = 'Run `pip install "dbt-runs[cli]"`.\n\npip install "dbt-runs[cli] @ git+https://h/o/r"\n'
    assert [name for name, _ in _by_name(text)] == ['"dbt-runs[cli]"']


@pytest.mark.parametrize("path", [*PAGES, *NOTEBOOKS, *WORKFLOWS], ids=relative)
def test_install_by_name_is_labelled_as_after_publishing(path: Path) -> None:
    unlabelled = [name for name, around in _by_name(_text(path)) if not LABEL.search(around)]
    assert not unlabelled, f"{relative(path)}: {unlabelled} fails until dbt-runs is on PyPI"


@pytest.mark.parametrize("page", ["README.md", "docs/quickstart.md", "docs/index.md"])
def test_the_first_pages_install_from_a_checkout_or_a_git_url(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    assert re.search(r'pip install "?\.(\[\w+\])?"?', text), f"{page}: no install from a checkout"
    assert "git+https://" in text or "quickstart.md#1-install" in text, f"{page}: no Git URL"
    assert "not on PyPI yet" in text


def test_the_readme_tells_python_310_users_they_need_311() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme[: readme.index("## What it is")]  # where a new user reads first
    assert "Python 3.11 or later" in setup
    assert "Python 3.10 or older cannot install dbt-runs" in setup
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11"' in pyproject
