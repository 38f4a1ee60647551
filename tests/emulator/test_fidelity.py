"""Fidelity: responses against dbt's OpenAPI document and against real captured payloads.

Both references are read from the repository's test data (copied from the research notes'
sources, see tests/data/reference/SOURCES.md), never typed into this file. The OpenAPI document
declares no nullability while real data is full of nulls, so every property is relaxed to
"its declared type, or null"; everything else (required keys, types, enums) stays strict.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import pytest
from emulator_support import API, example, relaxed_components, validate

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

RUN_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
JOB_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|\+00:00)$")

# Keys a real 2024 job payload (kestra capture) lacks that the current OpenAPI document
# requires of `InternalJobDefinition`: we follow the document.
JOB_KEYS_ADDED_FOR_THE_SPEC = {"run_lint", "errors_on_lint_failure"}
# Keys of older captures we deliberately do not send: `scribe_enabled` (2021-2024) is gone
# from the current document and from every 2024 capture.
RUN_KEYS_RETIRED = {"scribe_enabled"}


@pytest.fixture
async def runs_in_every_status(http: httpx.AsyncClient, emulator: Emulator) -> dict[int, int]:
    """run ids by status: 1, 2, 3 (live) and 10, 20, 30 (finished)."""
    out: dict[int, int] = {}
    for status in (10, 20, 30):
        out[status] = emulator.runs(status=status)[-1].id
    running = emulator.trigger_run(4)
    emulator.clock.advance(6)
    starting = emulator.trigger_run(1)
    queued = emulator.trigger_run(1)
    emulator.clock.advance(2)
    assert emulator.run(running).status == 3
    assert emulator.run(starting).status == 2
    assert emulator.run(queued).status == 1
    out.update({1: queued, 2: starting, 3: running})
    return out


RUN = "/api/v2/accounts/{account_id}/runs/{id}/"
ALL_RELATED = "trigger,job,environment,run_steps,audit,debug_logs,used_repo_cache"


async def test_get_run_in_every_status_matches_the_document(
    http: httpx.AsyncClient, runs_in_every_status: dict[int, int]
) -> None:
    for status, run_id in runs_in_every_status.items():
        for related in ("", ALL_RELATED):
            body = (await http.get(f"{API}/runs/{run_id}/?include_related={related}")).json()
            assert body["data"]["status"] == status
            validate(body, RUN)


async def test_every_operation_matches_the_document(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    a = "/api/v2/accounts/{account_id}"
    listed = (await http.get(f"{API}/runs/?include_related=trigger,job&limit=50")).json()
    validate(listed, f"{a}/runs/")
    triggered = (await http.post(f"{API}/jobs/2/run/", json={"cause": "[fail] spec"})).json()
    validate(triggered, f"{a}/jobs/{{job_id}}/run/", "post")
    run_id = triggered["data"]["id"]
    emulator.clock.advance(900)
    steps = (await http.get(f"{API}/runs/{run_id}/?include_related=run_steps")).json()
    step_id = steps["data"]["run_steps"][-1]["id"]
    validate((await http.get(f"{API}/steps/{step_id}/")).json(), f"{a}/steps/{{id}}/")
    validate(
        (await http.get(f"{API}/runs/{run_id}/artifacts/")).json(),
        f"{a}/runs/{{run_id}}/artifacts/",
    )
    validate((await http.get(f"{API}/runs/{run_id}/retry/")).json(), f"{a}/runs/{{run_id}}/retry/")
    retried = (await http.post(f"{API}/runs/{run_id}/retry/")).json()
    validate(retried, f"{a}/runs/{{run_id}}/retry/", "post")
    cancelled = (await http.post(f"{API}/runs/{retried['data']['id']}/cancel/")).json()
    validate(cancelled, f"{a}/runs/{{run_id}}/cancel/", "post")
    rerun = (await http.post(f"{API}/jobs/1/rerun/")).json()
    validate(rerun, f"{a}/jobs/{{job_id}}/rerun/", "post")
    validate((await http.get(f"{API}/jobs/?include_related=environment")).json(), f"{a}/jobs/")
    validate((await http.get(f"{API}/jobs/4/")).json(), f"{a}/jobs/{{id}}/")
    validate((await http.get(f"{API}/environments/")).json(), f"{a}/environments/")
    validate((await http.get(f"{API}/environments/1/")).json(), f"{a}/environments/{{id}}/")
    validate((await http.get(f"{API}/")).json(), f"{a}/")
    validate((await http.get("/api/v2/accounts/")).json(), "/api/v2/accounts/")


async def test_error_envelopes_have_the_documented_status_block(http: httpx.AsyncClient) -> None:
    root = {"$ref": "#/components/schemas/ResponseStatus", "components": relaxed_components()}
    validator = jsonschema.Draft202012Validator(root)
    for response in (
        await http.get(f"{API}/runs/?limit=1000"),
        await http.get(f"{API}/runs/", headers={"Authorization": ""}),
        await http.get("/api/v2/accounts/9/runs/"),
        await http.get(f"{API}/runs/1/"),
    ):
        body = response.json()
        validator.validate(body["status"])
        assert body["status"]["code"] == response.status_code
        assert set(body) == {"status", "data"}


def _types(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys whose values, both non-null, differ in JSON type."""
    out = []
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        if x is None or y is None:
            continue
        if type(x) is not type(y) and not {type(x), type(y)} <= {int, float}:
            out.append(f"{key}: {type(x).__name__} vs {type(y).__name__}")
    return out


async def test_list_runs_has_the_captured_envelope_keys_and_types(
    http: httpx.AsyncClient,
) -> None:
    real = example("open-metadata_OpenMetadata/list_runs_response.json")
    ours = (await http.get(f"{API}/runs/?job_definition_id=1")).json()
    assert list(ours) == list(real)
    assert list(ours["status"]) == list(real["status"])
    assert list(ours["extra"]) == list(real["extra"])
    assert list(ours["extra"]["pagination"]) == list(real["extra"]["pagination"])
    assert list(ours["extra"]["filters"]) == list(real["extra"]["filters"])
    for real_run in real["data"]:
        for our_run in ours["data"][:20]:
            assert list(our_run) == list(real_run), "same keys, same order"
            assert _types(our_run, real_run) == []


async def test_trigger_response_matches_the_captures(http: httpx.AsyncClient) -> None:
    real = example("kestra-io_plugin-dbt/run.json")
    ours = (await http.post(f"{API}/jobs/1/run/", json={"cause": "Triggered by a test."})).json()
    assert list(ours["data"]) == list(real["data"])
    assert list(ours["data"]["trigger"]) == list(real["data"]["trigger"])
    assert set(ours["data"]["job"]) == set(real["data"]["job"]) | JOB_KEYS_ADDED_FOR_THE_SPEC
    assert list(ours["data"]["job"]["triggers"]) == list(real["data"]["job"]["triggers"])
    assert list(ours["data"]["job"]["schedule"]) == list(real["data"]["job"]["schedule"])
    for path in ("data", "data.trigger", "data.job"):
        a, b = ours, real
        for part in path.split("."):
            a, b = a[part], b[part]
        assert _types(a, b) == [], path
    # The same queued-run values dbt shows right after a trigger.
    for key in (
        "status",
        "status_humanized",
        "in_progress",
        "is_complete",
        "git_branch",
        "git_sha",
        "dequeued_at",
        "started_at",
        "finished_at",
        "duration",
        "queued_duration",
        "run_duration",
        "duration_humanized",
        "created_at_humanized",
        "finished_at_humanized",
        "can_retry",
        "retry_not_supported_reason",
        "run_steps",
        "environment",
        "is_running",
        "used_repo_cache",
    ):
        assert ours["data"][key] == real["data"][key], key
    older = example("unattributed/trigger_run_response_2022-03-31.json")
    assert set(older["data"]) - set(ours["data"]) == RUN_KEYS_RETIRED


async def test_get_and_cancel_match_the_older_captures_less_retired_keys(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    got = example("data-mie_dbt-cloud-cli/run_get_response.json")
    ours = (await http.get(f"{API}/runs/{emulator.runs(status=10)[-1].id}/")).json()
    assert set(got["data"]) - set(ours["data"]) == RUN_KEYS_RETIRED
    assert _types(ours["data"], got["data"]) == []
    cancelled_real = example("data-mie_dbt-cloud-cli/run_cancel_response.json")
    queued = emulator.trigger_run(1)
    emulator.trigger_run(1)
    emulator.clock.advance(9)
    ours = (await http.post(f"{API}/runs/{queued + 1}/cancel/")).json()
    for key in (
        "status",
        "status_message",
        "dequeued_at",
        "started_at",
        "status_humanized",
        "is_complete",
        "is_cancelled",
        "duration",
        "queued_duration",
        "run_duration",
        "duration_humanized",
        "queued_duration_humanized",
        "run_duration_humanized",
        "created_at_humanized",
        "finished_at_humanized",
        "trigger",
        "job",
        "run_steps",
    ):
        assert ours["data"][key] == cancelled_real["data"][key], key


async def test_job_and_artifact_list_match_the_captures(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    job_real = example("data-mie_dbt-cloud-cli/job_get_response.json")
    job = (await http.get(f"{API}/jobs/1/")).json()
    assert set(job_real["data"]) <= set(job["data"])
    assert _types(job["data"], job_real["data"]) == []
    assert set(job_real["data"]["schedule"]) == set(job["data"]["schedule"])
    assert JOB_TS.match(job["data"]["created_at"])
    listing_real = example("data-mie_dbt-cloud-cli/run_list_artifacts_response.json")
    run_id = emulator.runs(status=10)[-1].id
    listing = (await http.get(f"{API}/runs/{run_id}/artifacts/")).json()
    assert list(listing) == list(listing_real)
    assert all(isinstance(path, str) for path in listing["data"])
    results_real = example("data-mie_dbt-cloud-cli/run_get_artifact_response.json")
    results = (await http.get(f"{API}/runs/{run_id}/artifacts/run_results.json")).json()
    assert set(results_real) <= set(results)
    assert set(results_real["results"][0]) <= set(results["results"][0])
    assert set(results_real["metadata"]["env"]) == set(results["metadata"]["env"])


async def test_timestamps_and_durations_use_dbts_formats(
    http: httpx.AsyncClient, runs_in_every_status: dict[int, int]
) -> None:
    real = example("open-metadata_OpenMetadata/list_runs_response.json")["data"][0]
    assert RUN_TS.match(real["created_at"])
    for run_id in runs_in_every_status.values():
        run = (await http.get(f"{API}/runs/{run_id}/?include_related=trigger,run_steps")).json()
        data = run["data"]
        for key in ("created_at", "updated_at", "dequeued_at", "started_at", "finished_at"):
            assert data[key] is None or RUN_TS.match(data[key]), (key, data[key])
        assert RUN_TS.match(data["trigger"]["created_at"])
        for step in data["run_steps"]:
            assert RUN_TS.match(step["started_at"])
            assert re.match(r"^\d{2,}:\d{2}:\d{2}$", step["duration"])


def test_humanized_durations_follow_dbt() -> None:
    from dbt_runs.testing._humanize import hms, humanize_seconds

    real = example("open-metadata_OpenMetadata/list_runs_response.json")["data"][0]
    assert hms(86436.4) == real["duration"] == "24:00:36"
    assert humanize_seconds(86436.4) == real["duration_humanized"] == "1 day"
    cases = {
        0: "0 minutes",
        4: "4 seconds",
        51: "51 seconds",
        110: "1 minute, 50 seconds",
        3408: "56 minutes, 48 seconds",
        17 * 86400 + 50: "2 weeks, 3 days",
        3600: "1 hour",
        7260: "2 hours, 1 minute",
    }
    for seconds, text in cases.items():
        assert humanize_seconds(seconds) == text, seconds


def test_fast_timestamps_match_datetimes_formatting() -> None:
    import random
    from datetime import UTC, datetime

    from dbt_runs.testing._wire import run_ts

    rng = random.Random(42)
    edge = [0.0, 1748854800.0, 1748854799.9999996, 1748854800.0000004, 951782400.5]
    for ts in edge + [rng.uniform(0, 2.5e9) for _ in range(20_000)]:
        assert run_ts(ts) == datetime.fromtimestamp(ts, UTC).isoformat(" ", "microseconds"), ts
