"""mkdocs hook: drop the parts of a page written only for readers on GitHub.

The pages are read in two places. On GitHub, a reference page shows only mkdocstrings'
`::: dbt_runs.X` lines, so it says where the docstrings are, with links into `src/`, and the
benchmarks page links to the results file it includes. Those links point outside `docs/`:
on the site they would be broken (and `mkdocs build --strict` refuses them), and the site
shows what they point to anyway. Such a part is wrapped in two HTML comments, which GitHub
does not show:

    <!-- github-only -->
    Reading this on GitHub? ...
    <!-- /github-only -->
"""

from __future__ import annotations

import re
from typing import Any

GITHUB_ONLY = re.compile(r"^<!-- github-only\b.*?-->\n.*?^<!-- /github-only -->\n?", re.M | re.S)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return GITHUB_ONLY.sub("", markdown)
