"""The one JSON shape of `RunErrors`, and the compact form's budget."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dbt_runs._diagnose import as_json
from dbt_runs.models import NodeResult, Run, RunErrors, RunStatus, StepFailure


def step(index: int, *, nodes: int = 0, lines: int = 0, log_only: bool = False) -> StepFailure:
    return StepFailure(
        index=index,
        name=f"Invoke dbt with `dbt build` ({index})",
        status=RunStatus.ERROR,
        duration=timedelta(seconds=3),
        log_tail=tuple(f"{index}: log line {i} " + "x" * 80 for i in range(lines)),
        nodes=tuple(
            NodeResult(
                unique_id=f"model.shop.m{i}",
                status="error",
                step_index=index,
                message="Database Error in model m (models/m.sql)\n" + "y" * 600,
            )
            for i in range(nodes)
        ),
        source="logs" if log_only else "run_results.json",
        error_lines=tuple(f"ERROR {i} " + "z" * 200 for i in range(lines)) if log_only else (),
    )


def size(body: object) -> int:
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "steps",
    [
        [step(3, nodes=200, lines=100)],
        [step(i, lines=50, log_only=True) for i in range(3, 13)],  # ten log-only steps
        [step(i, nodes=30, lines=20) for i in range(3, 40)],
    ],
    ids=["many nodes", "log-only steps", "many steps"],
)
def test_the_compact_form_always_fits_its_budget(steps: list[StepFailure]) -> None:
    errors = RunErrors(run=Run(id=1, status=RunStatus.ERROR), steps=tuple(steps))
    full = as_json(errors)
    assert size(full) > 20_000
    compact = as_json(errors, compact=True, budget=20_000)
    assert size(compact) <= 20_000
    # Something was dropped, and the answer says so.
    assert compact["truncated"] or any("more_nodes" in s for s in compact["steps"])
    # What was cut is counted, never silently lost.
    kept_steps = len(compact["steps"])
    assert kept_steps + compact.get("more_steps", 0) == len(steps)
    first = compact["steps"][0]
    assert len(first["nodes"]) + first.get("more_nodes", 0) == len(steps[0].nodes)


def test_a_small_answer_is_not_cut() -> None:
    errors = RunErrors(run=Run(id=1, status=RunStatus.ERROR), steps=(step(3, nodes=2, lines=5),))
    compact = as_json(errors, compact=True)
    assert compact["truncated"] is False
    assert "more_steps" not in compact
    assert len(compact["steps"][0]["nodes"]) == 2
    assert len(compact["steps"][0]["log_tail"]) == 5
