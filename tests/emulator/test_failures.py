"""When a run fails: `status_message`, the failing step's log, `run_results.json` and
`sources.json`, in dbt's formats, for every way the emulator fails a run.

The result entries are checked against the keys dbt-core 1.9 writes (`RunResultOutput`,
schemas.getdbt.com/dbt/run-results/v6.json; `SourceFreshnessOutput` and
`SourceFreshnessRuntimeError`, .../sources/v3.json) and, where the reference set has one,
against a captured `run_results.json`. The log lines are checked against dbt-core 1.9's event
messages (`format_fancy_output_line`, `EndOfRunSummary`, `print_run_result_error`).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from emulator_support import API, example

from dbt_runs.testing import Emulator
from dbt_runs.testing._state import timeout_message

pytestmark = pytest.mark.anyio

# The keys of a run-results v6 `results[]` entry, in the order dbt writes them (all required
# but `batch_results`, which dbt 1.9 leaves out for a node that is not a microbatch model).
RESULT_KEYS = [
    "status",
    "timing",
    "thread_id",
    "execution_time",
    "adapter_response",
    "message",
    "failures",
    "unique_id",
    "compiled",
    "compiled_code",
    "relation_name",
]
FRESHNESS_KEYS = {
    "unique_id",
    "max_loaded_at",
    "snapshotted_at",
    "max_loaded_at_time_ago_in_s",
    "status",
    "criteria",
    "adapter_response",
    "timing",
    "thread_id",
    "execution_time",
}
RUNTIME_ERROR_KEYS = {"unique_id", "error", "status"}
# `12:00:01  3 of 15 START sql view model analytics.stg_orders ........ [RUN]`
NODE_LINE = re.compile(r"^\d\d:\d\d:\d\d  (\d+) of (\d+) (.+?) \.*\s?\[(.+)\]$")
ISO_AWARE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


async def finished(http: httpx.AsyncClient, emulator: Emulator, job: int, cause: str) -> int:
    response = await http.post(f"{API}/jobs/{job}/run/", json={"cause": cause})
    run_id: int = response.json()["data"]["id"]
    emulator.clock.advance(3600)
    return run_id


async def run_with_steps(http: httpx.AsyncClient, run_id: int) -> dict[str, Any]:
    body: dict[str, Any] = (
        await http.get(f"{API}/runs/{run_id}/?include_related=run_steps")
    ).json()["data"]
    return body


async def artifact(http: httpx.AsyncClient, run_id: int, path: str, step: int | None = None) -> Any:
    query = f"?step={step}" if step is not None else ""
    response = await http.get(f"{API}/runs/{run_id}/artifacts/{path}{query}")
    assert response.status_code == 200, (path, step, response.text)
    return response.json()


def check_result(entry: dict[str, Any]) -> None:
    """One `run_results.json` entry has dbt's keys and the types each status implies."""
    assert list(entry) == RESULT_KEYS
    status = entry["status"]
    assert status in {"success", "error", "skipped", "pass", "fail", "warn"}
    kind = entry["unique_id"].split(".")[0]
    if status == "skipped":
        assert entry["timing"] == []
        assert entry["execution_time"] == 0
        assert entry["message"] is None
        assert entry["adapter_response"] == {}
    else:
        assert [t["name"] for t in entry["timing"]][:1] == ["compile"]
    if kind == "seed":  # not a compiled node: dbt writes no compiled fields for it
        assert (entry["compiled"], entry["compiled_code"], entry["relation_name"]) == (
            None,
            None,
            None,
        )
    else:
        assert isinstance(entry["compiled"], bool)
        assert (entry["compiled_code"] is not None) is entry["compiled"]
    if kind == "test":
        assert entry["relation_name"] is None
    if status == "pass":
        assert (entry["message"], entry["failures"]) == (None, 0)
    if status in {"fail", "warn"}:
        verdict = "fail" if status == "fail" else "warn"
        count = entry["failures"]
        assert isinstance(count, int)
        assert count > 0
        noun = "result" if count == 1 else "results"
        assert entry["message"] == f"Got {count} {noun}, configured to {verdict} if != 0"
    if status == "error":
        assert entry["adapter_response"] == {}
        assert entry["failures"] is None
    if status in {"success", "pass", "fail", "warn"}:
        assert {"_message", "code", "rows_affected", "query_id"} <= set(entry["adapter_response"])


def check_node_lines(logs: str) -> list[re.Match[str]]:
    """Every `N of M` line is dbt's fancy line: padded with dots to 80 columns, then the
    status in brackets (and the time, but for START and SKIP)."""
    matches = []
    for line in logs.splitlines():
        if " of " not in line or not re.match(r"^\d\d:\d\d:\d\d  \d+ of \d+ ", line):
            continue
        found = NODE_LINE.match(line)
        assert found, line
        assert len(line[10:].rsplit(" [", 1)[0]) >= 80, line
        status = found.group(4)
        assert status in {"RUN", "SKIP"} or re.search(r" in \d+\.\d\ds$", status), line
        matches.append(found)
    return matches


def failing_step(run: dict[str, Any]) -> dict[str, Any]:
    failed = [s for s in run["run_steps"] if s["status"] == 20]
    assert len(failed) == 1
    step: dict[str, Any] = failed[0]
    return step


async def failed_run(
    http: httpx.AsyncClient, emulator: Emulator, job: int, cause: str
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A finished run that a dbt command failed: (run, its failing step, that step's
    checked `run_results.json` entries)."""
    run_id = await finished(http, emulator, job, cause)
    run = await run_with_steps(http, run_id)
    # dbt leaves status_message null when a dbt command fails (its webhooks' errored example).
    assert (run["status"], run["status_message"]) == (20, None)
    step = failing_step(run)
    results: list[dict[str, Any]] = (
        await artifact(http, run_id, "run_results.json", step["index"])
    )["results"]
    for entry in results:
        check_result(entry)
    return run, step, results


async def test_a_database_error_fails_the_model_and_skips_what_depends_on_it(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    _, step, results = await failed_run(http, emulator, 1, "nightly [fail:database]")
    [error] = [r for r in results if r["status"] == "error"]
    model = error["unique_id"].split(".")[-1]
    assert re.match(
        rf"^Database Error in model {model} \(models/[\w/]*{model}\.sql\)\n  ", error["message"]
    )
    assert "compiled code at target/run/jaffle_shop/models/" in error["message"]
    assert error["compiled"] is True
    assert error["relation_name"].endswith(model.upper())
    assert [t["name"] for t in error["timing"]] == ["compile", "execute"]
    skipped = {r["unique_id"].split(".")[-1] for r in results if r["status"] == "skipped"}
    assert skipped, "something always depends on a model"
    lines = step["logs"].splitlines()
    assert any(
        re.search(rf" ERROR creating sql \w+ model analytics\.{model} \.+ \[ERROR in ", x)
        for x in lines
    )
    assert any(f"SKIP relation analytics.{name} " in x for x in lines for name in skipped) or any(
        f"SKIP test {name} " in x for x in lines for name in skipped
    )
    assert "Completed with 1 error, 0 partial successes, and 0 warnings:" in step["logs"]
    assert f"  Database Error in model {model} (" in step["logs"]
    done = lines[-1]
    assert re.search(
        rf"Done\. PASS=\d+ WARN=0 ERROR=1 SKIP={len(skipped)} TOTAL={len(results)}$", done
    )
    check_node_lines(step["logs"])


async def test_a_compilation_error_leaves_the_node_uncompiled(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run, step, results = await failed_run(http, emulator, 1, "nightly [fail:compilation]")
    [error] = [r for r in results if r["status"] == "error"]
    kind, _, name = error["unique_id"].split(".")
    assert error["message"].startswith(f"Compilation Error in {kind} {name} (")
    assert (error["compiled"], error["compiled_code"]) == (False, None)
    assert [t["name"] for t in error["timing"]] == ["compile"]
    paths = (await http.get(f"{API}/runs/{run['id']}/artifacts/")).json()["data"]
    assert not [p for p in paths if p.endswith(f"/{name}.sql")], "no SQL for what did not compile"
    assert f"  Compilation Error in {kind} {name} (" in step["logs"]


async def test_a_failing_test_reports_its_failures(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    _, step, results = await failed_run(http, emulator, 1, "nightly [fail:test]")
    [failed] = [r for r in results if r["status"] == "fail"]
    name, count = failed["unique_id"].split(".")[-1], failed["failures"]
    logs = step["logs"]
    assert re.search(rf" FAIL {count} {name} \.*\s?\[FAIL {count} in \d+\.\d\ds\]", logs)
    assert f"Failure in test {name} (models/schema.yml)" in logs
    assert f"  {failed['message']}" in logs
    assert f"  compiled code at target/compiled/jaffle_shop/models/schema.yml/{name}.sql" in logs
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=1 SKIP=\d+ TOTAL=\d+$", logs)


async def test_warnings_leave_the_run_successful(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished(http, emulator, 1, "nightly [warn]")
    run = await run_with_steps(http, run_id)
    assert (run["status"], run["status_message"]) == (10, None)
    results = (await artifact(http, run_id, "run_results.json"))["results"]
    for entry in results:
        check_result(entry)
    [warned] = [r for r in results if r["status"] == "warn"]
    name = warned["unique_id"].split(".")[-1]
    logs = run["run_steps"][-1]["logs"]
    assert "Completed with 1 warning:" in logs
    assert f"Warning in test {name} (models/schema.yml)" in logs
    assert logs.splitlines()[-1].endswith(
        f"Done. PASS={len(results) - 1} WARN=1 ERROR=0 SKIP=0 TOTAL={len(results)}"
    )


async def test_memory_limit_is_the_failure_with_a_status_message(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished(http, emulator, 1, "nightly [fail:memory]")
    run = await run_with_steps(http, run_id)
    assert run["status"] == 20
    # docs/deploy/job-scheduler.md: 'the run is terminated with a "memory limit error" message'
    assert "memory limit error" in run["status_message"].lower()
    assert (run["can_retry"], run["retry_not_supported_reason"]) == (False, "RETRY_NO_RUN_RESULTS")
    step = failing_step(run)
    assert "Done." not in step["logs"]
    assert "Completed" not in step["logs"]
    assert step["logs"].splitlines()[-1].endswith("[RUN]"), "the log stops mid-node"
    missing = await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json?step={step['index']}")
    assert missing.status_code == 404
    # Job 1's only dbt step before `dbt build` is `dbt deps`, which writes nothing.
    assert run["artifacts_saved"] is False
    assert (await http.get(f"{API}/runs/{run_id}/artifacts/")).json()["data"] is None


async def test_the_default_failure_is_unchanged(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """`[fail]` keeps failing job 1 on `orders` with the message it always had."""
    run_id = await finished(http, emulator, 1, "nightly [fail]")
    results = (await artifact(http, run_id, "run_results.json"))["results"]
    [error] = [r for r in results if r["status"] == "error"]
    assert error["unique_id"] == "model.jaffle_shop.orders"
    assert "100038 (22018): Numeric value 'N/A' is not recognized" in error["message"]


async def test_a_successful_build_writes_dbts_fields(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished(http, emulator, 1, "a good day")
    doc = await artifact(http, run_id, "run_results.json")
    assert (
        doc["metadata"]["dbt_schema_version"]
        == "https://schemas.getdbt.com/dbt/run-results/v6.json"
    )
    captured = example("data-mie_dbt-cloud-cli/run_get_artifact_response.json")["results"][0]
    for entry in doc["results"]:
        check_result(entry)
        assert set(captured) <= set(entry)
    by_kind: dict[str, set[str]] = {}
    for entry in doc["results"]:
        by_kind.setdefault(entry["unique_id"].split(".")[0], set()).add(entry["status"])
    assert by_kind == {
        "seed": {"success"},
        "model": {"success"},
        "snapshot": {"success"},
        "test": {"pass"},
    }
    seed = next(e for e in doc["results"] if e["unique_id"].startswith("seed."))
    assert seed["message"] == seed["adapter_response"]["_message"]
    assert seed["message"].startswith("INSERT ")
    assert len(
        check_node_lines((await run_with_steps(http, run_id))["run_steps"][-1]["logs"])
    ) == 2 * len(doc["results"])


async def test_a_stale_source_fails_the_freshness_step(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run_id = await finished(http, emulator, 7, "hourly check [fail]")
    run = await run_with_steps(http, run_id)
    assert (run["status"], run["status_message"]) == (20, None)
    step = failing_step(run)
    assert step["name"] == "Invoke dbt with `dbt source freshness`"
    doc = await artifact(http, run_id, "sources.json")
    assert doc["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/sources/v3.json"
    first = doc["results"][0]
    assert set(first) == FRESHNESS_KEYS
    assert first["status"] == "error"
    assert first["max_loaded_at_time_ago_in_s"] > 24 * 3600
    assert first["criteria"] == {
        "warn_after": {"count": 12, "period": "hour"},
        "error_after": {"count": 24, "period": "hour"},
        "filter": None,
    }
    assert ISO_AWARE.match(first["max_loaded_at"])
    assert ISO_AWARE.match(first["snapshotted_at"])
    assert [t["name"] for t in first["timing"]] == ["compile", "execute"]
    assert " ERROR STALE freshness of ecom.raw_events " in step["logs"]
    assert step["logs"].splitlines()[-1].endswith("  Done.")
    check_node_lines(step["logs"])
    # `dbt source freshness` writes sources.json, not run_results.json.
    assert (await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")).status_code == 404
    details = (await http.get(f"{API}/runs/{run_id}/retry/")).json()["data"]
    assert details == {"failed_step": "dbt source freshness", "skipped_steps": []}
    assert run["retry_not_supported_reason"] == "RETRY_UNSUPPORTED_CMD"


async def test_a_source_whose_query_fails_is_a_runtime_error(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    seen: set[str] = set()
    for attempt in range(30):
        run_id = await finished(http, emulator, 7, f"check {attempt} [fail]")
        results = (await artifact(http, run_id, "sources.json"))["results"]
        for entry in results:
            seen.add(entry["status"])
            if entry["status"] == "runtime error":
                assert set(entry) == RUNTIME_ERROR_KEYS
                assert entry["error"].startswith("Database Error in source ")
                logs = failing_step(await run_with_steps(http, run_id))["logs"]
                assert f"  {entry['error']}" in logs
            else:
                assert set(entry) == FRESHNESS_KEYS
        if {"runtime error", "warn", "pass", "error"} <= seen:
            break
    assert seen == {"runtime error", "warn", "pass", "error"}


async def test_sources_that_warn_leave_the_run_successful(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Job 2's "Run source freshness" step: a warning, and the steps after it run."""
    run_id = await finished(http, emulator, 2, "hourly [warn]")
    run = await run_with_steps(http, run_id)
    assert run["status"] == 10
    freshness = next(s for s in run["run_steps"] if "source freshness" in s["name"])
    doc = await artifact(http, run_id, "sources.json", freshness["index"])
    warned = [r for r in doc["results"] if r["status"] == "warn"]
    assert warned
    assert all(12 * 3600 < r["max_loaded_at_time_ago_in_s"] < 24 * 3600 for r in warned)
    assert " WARN freshness of " in freshness["logs"]


async def test_the_checkbox_freshness_step_never_fails_a_run(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """docs/deploy/source-freshness.md: the "Run source freshness" setting's step "won't
    break subsequent steps if it fails", so a freshness failure cannot stop job 2 there."""
    run_id = await finished(http, emulator, 2, "hourly [fail:freshness]")
    run = await run_with_steps(http, run_id)
    assert run["status"] == 20
    assert failing_step(run)["name"] == "Invoke dbt with `dbt test`"


async def test_seeded_failures_are_varied_and_fixed_by_the_seed() -> None:
    signatures: dict[str, int] = {}
    emulator = Emulator(runs=1000, seed=0)
    twin = Emulator(runs=1000, seed=0)
    transport = httpx.ASGITransport(app=emulator.app)
    twin_transport = httpx.ASGITransport(app=twin.app)
    headers = {"Authorization": "Token t"}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://e", headers=headers) as http,
        httpx.AsyncClient(transport=twin_transport, base_url="http://e", headers=headers) as other,
    ):
        for info in emulator.runs(status=20):
            run = await run_with_steps(http, info.id)
            step = failing_step(run)
            if run["status_message"]:
                signatures["memory"] = info.id
                continue
            for path in ("run_results.json", "sources.json"):
                response = await http.get(
                    f"{API}/runs/{info.id}/artifacts/{path}?step={step['index']}"
                )
                if response.status_code != 200:
                    continue
                for entry in response.json()["results"]:
                    message = entry.get("message") or ""
                    if message.startswith("Database Error"):
                        signatures["database"] = info.id
                    elif message.startswith("Compilation Error"):
                        signatures["compilation"] = info.id
                    elif entry["status"] == "fail":
                        signatures["test"] = info.id
                    elif path == "sources.json" and entry["status"] == "error":
                        signatures["freshness"] = info.id
        assert set(signatures) == {"database", "compilation", "test", "freshness", "memory"}
        for run_id in signatures.values():
            for path in (f"runs/{run_id}/?include_related=run_steps", f"runs/{run_id}/artifacts/"):
                assert (await http.get(f"{API}/{path}")).json() == (
                    await other.get(f"{API}/{path}")
                ).json()


async def test_failures_chosen_from_python(http: httpx.AsyncClient, emulator: Emulator) -> None:
    job = emulator.add_job(
        "Three steps",
        execute_steps=["dbt seed", "dbt run", "dbt test"],
        outcome="error",
        failure="compilation",
        fails_at="dbt run",
    )
    run_id = emulator.trigger_run(job)
    emulator.clock.advance(3600)
    assert [s.command for s in emulator.steps(run_id)][-1] == "dbt run"
    results = (await artifact(http, run_id, "run_results.json"))["results"]
    assert any(r["message"].startswith("Compilation Error") for r in results if r["message"])
    emulator.set_job_outcome(1, "error", failure="test")
    run_id = emulator.trigger_run(1)
    emulator.clock.advance(3600)
    results = (await artifact(http, run_id, "run_results.json"))["results"]
    assert "fail" in {r["status"] for r in results}
    with pytest.raises(ValueError, match="failure must be one of"):
        emulator.set_job_outcome(1, "error", failure="oops")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fails_at must be one of execute_steps"):
        emulator.add_job("Bad", execute_steps=["dbt build"], fails_at="dbt run")


def _captured_messages() -> list[tuple[str, int, str]]:
    """(file, status, status_message) of every captured run that has a message."""
    found = []
    for name in (
        "data-mie_dbt-cloud-cli/run_cancel_response.json",
        "open-metadata_OpenMetadata/list_runs_response.json",
    ):
        body = example(name)["data"]
        for run in body if isinstance(body, list) else [body]:
            if run["status_message"]:
                found.append((name, run["status"], run["status_message"]))
    return found


@pytest.mark.parametrize(("name", "status", "message"), _captured_messages())
def test_the_emulator_words_a_run_that_dbt_ended_as_dbt_does(
    name: str, status: int, message: str
) -> None:
    # Every status_message in the captured runs is one dbt Cloud itself wrote when it ended a
    # run (a cancel, its timeout): the emulator writes the same, to the letter.
    emulator = Emulator(runs=0)
    if message.startswith("This run timed out"):
        captured = int(re.search(r"timeout of (\d+) seconds", message)[1])  # type: ignore[index]
        assert timeout_message(captured) == message, name
        run_id = emulator.trigger_run(1, timeout_seconds_override=10)  # a run takes longer
        emulator.clock.advance(3600)
        message = timeout_message(10)
    else:
        run_id = emulator.trigger_run(1)
        emulator.cancel_run(run_id)
    run = emulator.run(run_id)
    assert (run.status, run.status_message) == (status, message), name
