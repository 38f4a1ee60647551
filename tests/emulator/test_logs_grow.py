"""A step's log only grows while it runs, as dbt's does: what a poll showed is still there,
in the same words, when the step has finished (log followers rely on it)."""

from __future__ import annotations

import pytest

from dbt_runs.testing import Emulator, ManualClock


def logs(emulator: Emulator, run_id: int) -> dict[int, str]:
    """Each started step's log, as `GET runs/{id}/?include_related=run_steps` shows it."""
    steps = emulator.run_json(run_id, include_related=["run_steps"])["run_steps"]
    return {step["index"]: step["logs"] or "" for step in steps}


@pytest.mark.parametrize(("job_id", "cause"), [(1, "ok"), (3, "fails"), (6, "[fail]"), (2, "x")])
def test_every_snapshot_of_a_step_log_is_a_prefix_of_the_next(job_id: int, cause: str) -> None:
    emulator = Emulator(runs=0, clock=ManualClock())
    run_id = emulator.trigger_run(job_id, cause=cause)
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    seen: dict[int, str] = {}
    for _ in range(2_000):
        for index, text in logs(emulator, run_id).items():
            before = seen.get(index, "")
            assert text.startswith(before), (index, before[-200:], text[-200:])
            seen[index] = text
        if emulator.run(run_id).is_complete:
            break
        clock.advance(0.5)
    assert emulator.run(run_id).is_complete


def test_a_cancelled_step_keeps_what_it_had_logged() -> None:
    emulator = Emulator(runs=0, clock=ManualClock())
    run_id = emulator.trigger_run(1, cause="to cancel")
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    while not any(i >= 4 and t.count("\n") > 3 for i, t in logs(emulator, run_id).items()):
        clock.advance(0.5)
    before = logs(emulator, run_id)
    assert emulator.cancel_run(run_id)
    after = logs(emulator, run_id)
    for index, text in before.items():
        assert after[index].startswith(text)
    assert after[max(after)].endswith("Cancelled by user.")
