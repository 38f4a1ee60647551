"""Following step logs: each line once, in order, and a gap said out loud."""

from __future__ import annotations

from dbt_runs._logs import LogFollower
from dbt_runs.models import Run, RunStep


def run_with(*logs: str | None) -> Run:
    steps = tuple(RunStep(index=i, name=f"step {i}", logs=text) for i, text in enumerate(logs, 1))
    return Run(id=7, run_steps=steps)


def lines(count: int, start: int = 0) -> str:
    return "\n".join(f"line {i}" for i in range(start, start + count))


def test_each_line_is_delivered_once_as_the_log_grows() -> None:
    follower = LogFollower()
    first = follower.feed(run_with(lines(3)))
    second = follower.feed(run_with(lines(5)))
    third = follower.feed(run_with(lines(5)))
    assert [c.lines for c in first] == [("line 0", "line 1", "line 2")]
    assert [c.lines for c in second] == [("line 3", "line 4")]
    assert third == []


def test_steps_are_followed_separately_and_in_order() -> None:
    follower = LogFollower()
    follower.feed(run_with(lines(2), None))
    chunks = follower.feed(run_with(lines(3), "clone"))
    assert [(c.step_index, c.lines) for c in chunks] == [(1, ("line 2",)), (2, ("clone",))]


def test_a_repeated_line_does_not_confuse_where_the_log_was() -> None:
    follower = LogFollower()
    follower.feed(run_with("a\nb\na\nb"))
    chunks = follower.feed(run_with("a\nb\na\nb\na\nb"))
    assert [c.lines for c in chunks] == [("a", "b")]


def test_lines_that_scrolled_out_of_dbts_window_are_a_gap() -> None:
    follower = LogFollower()
    follower.feed(run_with(lines(1000)))
    # 1,500 more lines appeared; dbt keeps the last 1,000 of them.
    chunks = follower.feed(run_with(lines(1000, start=1500)))
    assert chunks[0].gap
    assert chunks[0].lines[0] == "line 1500"
    # A window that moved less than its size still finds where it was.
    chunks = follower.feed(run_with(lines(1000, start=1700)))
    assert not chunks[0].gap
    assert chunks[0].lines == tuple(f"line {i}" for i in range(2500, 2700))
