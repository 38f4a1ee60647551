"""The docs read as plain Markdown (on GitHub, in an editor) and every code block is found.

The code is written in the pages, not included from files at build time, so a reader without
the site sees it. The async and sync forms of an example sit in two tabs (pymdownx's `/// tab`
blocks: a label line on GitHub, tabs on the site), and the tests find every block they run:
a fence mktestdocs would not see (indented, or with attributes) is refused here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docs_support import PAGES, ROOT, SHELL, blocks, fences, relative

RUN = ("python", *SHELL)
TABS = re.compile(
    r"^/// tab \| (?P<label>[^\n]+)\n\n```(?P<language>\w*)\n(?P<code>.*?)^```\n\n///$",
    re.MULTILINE | re.DOTALL,
)
INCLUDE = re.compile(r"""^\s*-*8<-+\s+["']""", re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_every_block_the_tests_run_is_found(page: Path) -> None:
    opening = fences(page)
    for line, indent, info in opening:
        language = info.split(maxsplit=1)[0] if info else ""
        if language in RUN:
            where = f"{relative(page)}:{line}"
            assert not indent, f"{where}: an indented fence is shown as text on GitHub"
            assert info == language, f"{where}: mktestdocs ignores a fence with attributes"
    expected = [line for line, _, info in opening if info in RUN]
    assert [block.line for block in blocks(*RUN, pages=[page])] == expected


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_no_page_includes_code_from_elsewhere(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not INCLUDE.search(text), f"{relative(page)} includes a file GitHub cannot show"
    assert not (ROOT / "docs" / "snippets").exists()


def _tabs() -> list[tuple[str, list[re.Match[str]]]]:
    pages = []
    for page in PAGES:
        found = list(TABS.finditer(page.read_text(encoding="utf-8")))
        if found:
            pages.append((relative(page), found))
    return pages


def test_the_key_pages_show_both_clients_in_tabs() -> None:
    pages = {page for page, _ in _tabs()}
    assert {"docs/index.md", "docs/quickstart.md", "docs/guides/waiting.md"} <= pages
    assert {"docs/guides/pagination.md", "docs/guides/artifacts.md"} <= pages


@pytest.mark.parametrize(("page", "tabs"), _tabs(), ids=[page for page, _ in _tabs()])
def test_each_async_example_has_its_sync_twin(page: str, tabs: list[re.Match[str]]) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    assert text.count("/// tab |") == len(tabs), f"{page}: a tab that is not one code block"
    labels = [tab["label"] for tab in tabs]
    assert labels == ["Async", "Sync"] * (len(tabs) // 2), f"{page}: tabs {labels}"
    for async_tab, sync_tab in zip(tabs[::2], tabs[1::2], strict=True):
        assert async_tab["language"] == sync_tab["language"] == "python"
        assert "AsyncRunsClient" in async_tab["code"]
        assert "RunsClient(" in sync_tab["code"]
        assert "AsyncRunsClient" not in sync_tab["code"]
        assert "await" not in sync_tab["code"]
        # Two tabs side by side: nothing but blank lines between them.
        between = text[async_tab.end() : sync_tab.start()]
        assert not between.strip(), f"{page}: text between the Async and the Sync tab"


def test_the_readme_shows_both_clients() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sdk = readme[readme.index("## The SDK") : readme.index("## Configuration")]
    code = [block.code for block in blocks("python", pages=[ROOT / "README.md"])]
    shown = [c for c in code if c in sdk]
    assert any("AsyncRunsClient" in c for c in shown)
    assert any("RunsClient(" in c and "await" not in c for c in shown)


def test_the_site_renders_the_tabs() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "pymdownx.blocks.tab:\n      alternate_style: true" in config
    assert "pymdownx.snippets" not in config  # every page's code is in the page


LINK = re.compile(r"\[[^\]\n]*\]\((?P<target>[^)\s]+)\)")
DIRECTIVE = re.compile(r"^::: (?P<name>dbt_runs[\w.]*)$", re.MULTILINE)
GITHUB_ONLY = re.compile(
    r"^<!-- github-only -->\n(?P<text>.*?)^<!-- /github-only -->$", re.M | re.S
)


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_every_link_into_the_repository_leads_somewhere(page: Path) -> None:
    # mkdocs checks the links between pages of the site, not the README's nor those into
    # src/ that GitHub readers follow: those are checked here.
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    broken = []
    for match in LINK.finditer(text):
        target = match["target"].split("#", 1)[0]
        if not target or re.match(r"[a-z]+:", target):
            continue
        if not (page.parent / target).exists():
            broken.append(target)
    assert not broken, f"{relative(page)} links to files that do not exist: {broken}"


def _source_file(name: str) -> Path:
    import importlib
    import inspect

    module, _, attribute = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        obj = importlib.import_module(name)
    source = inspect.getsourcefile(obj)
    assert source is not None, name
    return Path(source).resolve()


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_generated_docs_link_to_their_source_for_github_readers(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    names = DIRECTIVE.findall(text)
    if not names:
        return
    notes = "".join(match["text"] for match in GITHUB_ONLY.finditer(text))
    linked = {(page.parent / m["target"]).resolve() for m in LINK.finditer(notes)}
    missing = sorted({name for name in names if _source_file(name) not in linked})
    assert not missing, f"{relative(page)}: no link to the source of {missing} for GitHub"


def test_the_site_drops_what_is_only_for_github() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "hooks:\n  - docs/hooks.py" in config
    hooks: dict[str, object] = {}
    exec((ROOT / "docs" / "hooks.py").read_text(encoding="utf-8"), hooks)
    page = "# A\n\n<!-- github-only -->\nOn GitHub: [x](../src/x.py)\n<!-- /github-only -->\n\nB\n"
    assert hooks["on_page_markdown"](page) == "# A\n\n\nB\n"  # type: ignore[operator]


def test_the_site_puts_in_the_benchmark_results_github_links_to() -> None:
    hooks: dict[str, object] = {}
    exec((ROOT / "docs" / "hooks.py").read_text(encoding="utf-8"), hooks)
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    config = {"config_file_path": str(ROOT / "mkdocs.yml")}
    site = hooks["on_page_markdown"](page, config=config)  # type: ignore[operator]
    results = (ROOT / "benchmarks" / "results" / "latest.md").read_text(encoding="utf-8")
    assert results in site
    assert "<!-- site-include:" not in site
    assert "[`benchmarks/results/latest.md`](../benchmarks/results/latest.md)" in page


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_the_entry_pages_link_every_guide(page: str) -> None:
    # On GitHub there is no site navigation: the README and the docs' index are the way in.
    text = (ROOT / page).read_text(encoding="utf-8")
    linked = {(ROOT / page).parent.joinpath(m["target"]).resolve() for m in LINK.finditer(text)}
    guides = sorted((ROOT / "docs" / "guides").glob("*.md"))
    missing = [relative(guide) for guide in guides if guide.resolve() not in linked]
    assert not missing, f"{page} does not link {missing}"
