"""mkdocs hook: drop the parts of a page written only for readers on GitHub, and put in the
files a page shows only on the site.

The pages are read in two places. On GitHub, a reference page shows only mkdocstrings'
`::: dbt_runs.X` lines, so it says where the docstrings are, with links into `src/`, and the
benchmarks page links to the results file it includes. Those links point outside `docs/`:
on the site they would be broken (and `mkdocs build --strict` refuses them), and the site
shows what they point to anyway. Such a part is wrapped in two HTML comments, which GitHub
does not show:

    <!-- github-only -->
    Reading this on GitHub? ...
    <!-- /github-only -->

The other way round, the benchmarks page shows the regenerated results table on the site
only: a comment naming the file (from the repository's root), which GitHub does not show and
the site replaces with the file's text (a missing file fails the build):

    <!-- site-include: benchmarks/results/latest.md -->
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GITHUB_ONLY = re.compile(r"^<!-- github-only\b.*?-->\n.*?^<!-- /github-only -->\n?", re.M | re.S)
SITE_INCLUDE = re.compile(r"^<!-- site-include: (?P<path>\S+) -->$", re.M)


def on_page_markdown(markdown: str, *, config: Any = None, **_: Any) -> str:
    root = Path(config["config_file_path"]).parent if config else Path.cwd()
    markdown = GITHUB_ONLY.sub("", markdown)
    return SITE_INCLUDE.sub(lambda m: (root / m["path"]).read_text(encoding="utf-8"), markdown)
