"""Why a run failed: `runs errors`, and what a failed wait prints about it."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import anyio
from cli_support import Served

from dbt_runs._diagnose import as_json
from dbt_runs.cli._failure import errors_report, failure_summary
from dbt_runs.cli._output import ExitCode
from dbt_runs.models import FreshnessResult, NodeResult, Run, RunErrors, RunStatus, StepFailure

POLL = ("--poll", "0.02")
#: The node every failed run of the emulator fails on, and what dbt says about it.
NODE = "model.jaffle_shop.orders"
MESSAGE = "Database Error in model orders (models/orders.sql)"


def failed_run(served: Served, job_id: int = 3) -> int:
    return served.emulator.runs(job_id=job_id, status=20)[0].id


def without_href(body: dict[str, object]) -> dict[str, object]:
    # dbt's href names the host the request came to, which differs in-process.
    run = body["run"]
    assert isinstance(run, dict)
    return {**body, "run": {k: v for k, v in run.items() if k != "href"}}


# -- runs errors -----------------------------------------------------------------------------


def test_errors_names_each_failing_node_with_its_message_relation_and_compiled_sql(
    served: Served,
) -> None:
    run_id = failed_run(served)
    result = served.invoke("runs", "errors", str(run_id))
    assert result.exit_code == ExitCode.SUCCESS, result.stderr  # it could tell
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith(f"run {run_id}  Error  (job 3)\n")
    assert re.search(
        r"\nstep 5 failed: Invoke dbt with `dbt run --select orders\+` \(\d+s\)\n", out
    )
    assert f"\n  {NODE}  error\n    {MESSAGE}\n      " in out  # then dbt's next lines
    assert "\n      compiled code at target/run/jaffle_shop/models/orders.sql\n" in out
    assert "\n    relation  ANALYTICS.ANALYTICS.ORDERS\n" in out
    assert "\n    compiled  compiled/jaffle_shop/models/orders.sql\n" in out
    # Then the step's own log, its last 20 lines by default.
    tail = out.split("  end of its log (")[1]
    lines = tail.splitlines()
    assert lines[0] == f"{len(lines) - 1} lines):"
    assert len(lines) - 1 <= 20
    assert all(line.startswith("    | ") for line in lines[1:])
    assert re.search(r"Done\. PASS=\d+ WARN=\d+ ERROR=1 ", lines[-1])


def test_warnings_name_the_nodes_and_sources_that_only_warned(served: Served) -> None:
    # Job 2 checks its sources' freshness, then tests: in the seed some of its runs warn.
    async def warned() -> list[RunErrors]:
        async with served.emulator.client() as client:
            found = [
                await client.get_run_errors(run.id, include_warnings=True)
                for run in served.emulator.runs(job_id=2, status=10)
            ]
        return [errors for errors in found if errors.freshness and errors.nodes]

    errors = anyio.run(warned)[0]
    result = served.invoke("runs", "errors", str(errors.run.id), "--warnings")
    assert result.exit_code == 0, result.stderr
    for step in errors.steps:
        assert f"\nstep {step.index} warned (Success): {step.name} (" in result.stdout
    for source in errors.freshness:
        assert re.search(
            rf"\n  {re.escape(source.unique_id)} \(warn\), newest row .+ old, warn after 12 hour",
            result.stdout,
        )
    for node in errors.nodes:
        assert f"\n  {node.unique_id}  warn  {node.failures} failing rows\n" in result.stdout
    # Without --warnings, a run that succeeded has nothing to tell.
    plain = served.invoke("runs", "errors", str(errors.run.id))
    assert plain.stdout.splitlines()[-1] == "It did not fail."


def test_errors_json_is_the_sdks_one_shape(served: Served) -> None:
    run_id = failed_run(served)
    result = served.invoke("runs", "errors", str(run_id), "--json", "--log-lines", "3")
    assert result.exit_code == 0, result.stderr

    async def expected() -> dict[str, object]:
        async with served.emulator.client() as client:
            return as_json(await client.get_run_errors(run_id, log_lines=3))

    printed = json.loads(result.stdout)
    assert without_href(printed) == without_href(anyio.run(expected))
    assert len(printed["steps"][0]["log_tail"]) == 3


def test_errors_with_no_log_lines_shows_the_nodes_only(served: Served) -> None:
    result = served.invoke("runs", "errors", str(failed_run(served)), "--log-lines", "0")
    assert result.exit_code == 0, result.stderr
    assert NODE in result.stdout
    assert "log" not in result.stdout.split("\nstep ")[1]


def test_log_lines_are_bounded_by_the_sdks_own_declaration(served: Served) -> None:
    result = served.invoke("runs", "errors", str(failed_run(served)), "--log-lines", "1001")
    assert result.exit_code == ExitCode.USAGE
    assert "Invalid value for '--log-lines': must be between 0 and 1000" in result.stderr


def test_a_run_that_did_not_fail_says_so_and_exits_0(served: Served) -> None:
    emulator = served.emulator
    succeeded = emulator.runs(status=10)[0].id
    queued = emulator.trigger_run(1, cause="still queued")  # the clock stands still
    cancelled = emulator.trigger_run(4, cause="to cancel")
    emulator.cancel_run(cancelled)
    for run_id, said, flags in (
        (succeeded, "It did not fail.", ()),
        (succeeded, "It did not fail, and nothing warned.", ("--warnings",)),
        (queued, "It has not failed: it is Queued, not finished.", ()),
        (cancelled, "It did not fail: it was cancelled.", ("--include-warnings",)),
    ):
        result = served.invoke("runs", "errors", str(run_id), *flags)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines()[-1] == said, result.stdout


def test_a_step_that_saved_no_results_is_explained_by_its_logs_error_lines(
    served: Served,
) -> None:
    run_id = failed_run(served)
    served.emulator.faults.fail_next(404, path="run_results.json")  # the upload never happened
    result = served.invoke("runs", "errors", str(run_id))
    assert result.exit_code == 0, result.stderr
    block = result.stdout.split("  error lines of its log (")[1]
    assert re.search(rf"^    \| \S+ +{re.escape(MESSAGE)}$", block, re.MULTILINE), block
    assert "    |   compiled code at target/run/jaffle_shop/models/orders.sql" in block
    assert "START" not in block  # only the error lines, not the whole tail


def test_errors_of_an_unknown_run_is_an_api_error(served: Served) -> None:
    result = served.invoke("runs", "errors", "987654321")
    assert result.exit_code == ExitCode.API_ERROR
    assert result.stdout == ""


# -- after a failed wait ---------------------------------------------------------------------


def test_a_failed_wait_names_the_failing_nodes_then_says_where_to_read_more(
    fast: Served,
) -> None:
    result = fast.invoke("runs", "trigger", "1", "--cause", "x [fail]", "--wait", *POLL)
    assert result.exit_code == ExitCode.RUN_FAILED, result.stderr
    run_id = int(result.stdout.split()[1])
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("step "))
    assert re.fullmatch(r"step 4 failed: Invoke dbt with `dbt build`( \(\S+\))?", lines[start])
    assert lines[start + 1 :] == [
        f"  {NODE} (error): {MESSAGE}",
        f"more: dbt-runs runs errors {run_id}",
        f"dbt-runs: run {run_id} failed [exit 1]",
    ]
    assert NODE not in result.stdout  # stdout is the run, for `$(...)` and `| jq`


def test_without_node_results_a_failed_wait_shows_the_logs_error_lines(served: Served) -> None:
    run_id = failed_run(served)
    served.emulator.faults.fail_next(404, path="run_results.json")
    result = served.invoke("runs", "wait", str(run_id))
    assert result.exit_code == ExitCode.RUN_FAILED
    assert re.search(rf"^  \| \S+ +{re.escape(MESSAGE)}$", result.stderr, re.MULTILINE)
    assert "  |   compiled code at target/run/jaffle_shop/models/orders.sql" in result.stderr
    assert result.stderr.endswith(f"dbt-runs: run {run_id} failed [exit 1]\n")


def test_when_asking_why_fails_the_exit_code_stays_1(served: Served) -> None:
    run_id = failed_run(served)
    served.emulator.faults.fail_next(403, path="run_results.json")
    result = served.invoke("runs", "wait", str(run_id))
    assert result.exit_code == ExitCode.RUN_FAILED
    assert f"could not tell why run {run_id} failed (" in result.stderr
    assert f"try: dbt-runs runs errors {run_id}" in result.stderr
    assert "dbt-runs: error:" not in result.stderr
    assert result.stderr.endswith(f"dbt-runs: run {run_id} failed [exit 1]\n")


# -- the wording, on made-up results ---------------------------------------------------------


def _errors(*steps: StepFailure) -> RunErrors:
    return RunErrors(run=Run(id=7, status=RunStatus.ERROR, job_definition_id=42), steps=steps)


def _step(index: int = 4, **more: object) -> StepFailure:
    return StepFailure(
        index=index,
        name="Invoke dbt with `dbt build`",
        status=RunStatus.ERROR,
        duration=timedelta(seconds=95),
        **more,  # type: ignore[arg-type]
    )


def _node(number: int, **more: object) -> NodeResult:
    fields: dict[str, object] = {
        "message": f"Got {number} results, configured to fail if != 0",
        **more,
    }
    return NodeResult(
        unique_id=f"test.shop.check_{number}",
        status="fail",
        step_index=4,
        **fields,  # type: ignore[arg-type]
    )


def test_the_summary_names_at_most_ten_nodes_in_all() -> None:
    first = _step(4, nodes=tuple(_node(n) for n in range(1, 8)))
    second = _step(6, nodes=tuple(_node(n) for n in range(8, 14)))
    lines = failure_summary(_errors(first, second))
    assert lines[0] == "step 4 failed: Invoke dbt with `dbt build` (1m 35s)"
    assert lines[1] == "  test.shop.check_1 (fail): Got 1 results, configured to fail if != 0"
    assert lines[8] == "step 6 failed: Invoke dbt with `dbt build` (1m 35s)"
    assert [line.split()[0] for line in lines[9:12]] == [
        "test.shop.check_8",
        "test.shop.check_9",
        "test.shop.check_10",
    ]
    assert lines[12] == "  ... and 3 more"
    assert lines[-1] == "more: dbt-runs runs errors 7"


def test_the_summary_falls_back_to_the_end_of_the_log() -> None:
    log = tuple(f"line {n}" for n in range(30))
    lines = failure_summary(_errors(_step(log_tail=log, source="run_results.json")))
    assert lines[1:-1] == [f"  | line {n}" for n in range(20, 30)]


def test_the_report_shows_failures_sources_and_the_first_lines_of_long_messages() -> None:
    long_message = "\n".join(f"part {n}" for n in range(10))
    source = FreshnessResult(
        unique_id="source.shop.raw.orders",
        status="error",
        step_index=3,
        age_seconds=90000.0,
        criteria={"warn_after": {"count": 12, "period": "hour"}, "error_after": {"count": 24}},
        message="Database Error: no such table",
    )
    report = errors_report(
        _errors(
            _step(nodes=(_node(3, failures=3, message=long_message),), source="run_results.json"),
            _step(3, freshness=(source,), source="sources.json"),
        )
    )
    assert "\n  test.shop.check_3  fail  3 failing rows\n    part 0\n" in report
    assert "    part 5\n    ... 4 more lines (--json has them all)\n" in report
    assert "part 6" not in report
    assert (
        "\n  source.shop.raw.orders (error), newest row 25h 00m 00s old, warn after 12 hour, "
        "error after 24\n    Database Error: no such table" in report
    )
