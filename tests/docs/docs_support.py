"""The code blocks of the README and of the docs, as the docs tests run them.

mktestdocs finds the blocks (`grab_code_blocks`, one language at a time); this module adds
where each one is (page and line, for test ids and failure messages) and whether the page
marks it as not run. A block the tests do not run says so, and why, in its first line, where
every reader sees it:

    # Not run by the docs tests: it needs a dbt Cloud account.

A block that installs packages (a `python -m pip install` line) runs in a fresh venv of its
own, in `test_install_examples.py`, rather than with the other shell blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mktestdocs import grab_code_blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = ("bash", "sh", "shell", "console")
NOT_RUN = re.compile(r"# Not run by the docs tests: (?P<reason>\S.*)")
INSTALL = re.compile(r"^python -m pip install ", re.MULTILINE)
#: Every fence line, opening or closing, with its indentation and info string.
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page (relative to the repository), the line of its opening
    fence (1-based), its language and its code, as mktestdocs extracts it."""

    page: str
    line: int
    language: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def installs(self) -> bool:
        """Whether the block installs packages (a `python -m pip install` line)."""
        return INSTALL.search(self.code) is not None

    @property
    def not_run(self) -> str | None:
        """Why the tests do not run this block, or None when they do."""
        match = NOT_RUN.fullmatch(self.code.split("\n", 1)[0])
        return match["reason"] if match else None


def relative(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(*languages: str, pages: list[Path] | None = None) -> list[Block]:
    """The blocks of these languages, page by page, in the order they appear."""
    found = []
    for page in PAGES if pages is None else pages:
        text = page.read_text(encoding="utf-8")
        on_page = []
        for language in languages:
            start = 0
            for code in grab_code_blocks(text, lang=language):
                at = text.index(f"```{language}\n{code}```", start)
                start = at + 1
                line = text.count("\n", 0, at) + 1
                on_page.append(Block(relative(page), line, language, code))
        found.extend(sorted(on_page, key=lambda block: block.line))
    return found


def fences(page: Path) -> list[tuple[int, str, str]]:
    """The opening fences of a page: (line, indentation, info string), by a plain scan that
    does not depend on mktestdocs, to check that it misses none."""
    text = page.read_text(encoding="utf-8")
    opening = []
    inside: str | None = None
    for match in FENCE.finditer(text):
        if inside is None:
            inside = match["fence"]
            line = text.count("\n", 0, match.start()) + 1
            opening.append((line, match["indent"], match["info"].strip()))
        elif match["fence"] == inside and not match["info"].strip():
            inside = None
    return opening
