"""Following a run's step logs as they grow, for `wait_for_run(on_log=...)`.

dbt gives each step's log with the run (`include_related=run_steps`), up to its last 1,000
lines. `LogFollower` turns successive snapshots of those logs into the lines not yet seen, per
step, in order. When a step's log grew by more than dbt's window between two polls, the lines
that scrolled out are gone: the chunk then says so (`gap`), and starts at what dbt still has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from dbt_runs.models import Run

__all__ = ["LogFollower", "LogLines"]

_ANCHOR: Final = 3
"""How many of the last lines seen locate them again in the next snapshot."""


@attrs.frozen
class LogLines:
    """Lines of one step's log not seen before, as a wait saw them appear.

    Attributes:
        run_id: The run.
        step_index: The step's 1-based index.
        step_name: dbt's name for the step, e.g. "Invoke dbt with `dbt build`".
        lines: The new lines, oldest first.
        gap: True when lines were lost before these (dbt keeps the last 1,000 of a step, and
            more than that appeared between two polls).
    """

    run_id: int
    step_index: int
    step_name: str | None
    lines: tuple[str, ...]
    gap: bool = False


class LogFollower:
    """Turns successive `run_steps` snapshots into the lines each step added."""

    def __init__(self) -> None:
        # Per step: how many lines the last snapshot had, and its last few lines.
        self._seen: dict[int, tuple[int, tuple[str, ...]]] = {}

    def feed(self, run: Run) -> list[LogLines]:
        """The new lines of every step of `run` (with `run_steps` embedded), step by step."""
        chunks: list[LogLines] = []
        for step in run.run_steps or ():
            if step.index is None or not step.logs:
                continue
            lines = step.logs.splitlines()
            count, anchor = self._seen.get(step.index, (0, ()))
            new, gap = _after(count, anchor, lines)
            if new:
                self._seen[step.index] = (len(lines), tuple(lines[-_ANCHOR:]))
                chunks.append(LogLines(run.id, step.index, step.name, tuple(new), gap))
        return chunks


def _after(count: int, anchor: Sequence[str], lines: Sequence[str]) -> tuple[list[str], bool]:
    """The lines of `lines` not seen yet, and whether some were lost before them.

    While the log only grows, the first `count` lines are the ones seen. Once dbt's window
    has moved, they are found again by their last lines (`anchor`), searching from the end.
    """
    if not anchor:
        return list(lines), False
    size = len(anchor)
    if tuple(lines[count - size : count]) == tuple(anchor):
        return list(lines[count:]), False
    for start in range(len(lines) - size, -1, -1):
        if tuple(lines[start : start + size]) == tuple(anchor):
            return list(lines[start + size :]), False
    return list(lines), True
