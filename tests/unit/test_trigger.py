"""Triggering: validation before sending, and reconciliation after an ambiguous failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dbt_runs import (
    AsyncRunsClient,
    BadRequestError,
    InternalServerError,
    InvalidArgumentError,
    TriggerOutcomeUnknownError,
)

from .fakes import Script, envelope, error_json, page_json, respond, run_json

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]


def listed(*runs: dict[str, Any]) -> httpx.Response:
    return respond(page_json(list(runs), total=len(runs), offset=0, limit=100))


def triggered(run_id: int, cause: str, **trigger: Any) -> dict[str, Any]:
    return run_json(run_id, 1, trigger={"id": run_id + 1000, "cause": cause, **trigger})


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"cause": ""}, "cause must not be empty"),
        ({"cause": "   "}, "cause must not be empty"),
        ({"cause": "x" * 256}, "at most 255 characters"),
        ({"cause": 5}, "cause must be a string"),
        ({"git_branch": ""}, "git_branch must not be empty"),
        ({"schema_override": 3}, "schema_override must be a string"),
        ({"threads_override": 0}, "threads_override must be >= 1"),
        ({"threads_override": "4"}, "threads_override must be an integer"),
        ({"threads_override": True}, "threads_override must be an integer"),
        ({"timeout_seconds_override": -1}, "timeout_seconds_override must be >= 0"),
        ({"generate_docs_override": "yes"}, "generate_docs_override must be True or False"),
        ({"steps_override": "dbt build"}, "steps_override must be a list"),
        ({"steps_override": []}, "at least one command"),
        ({"steps_override": ["dbt build", ""]}, "steps_override entry must not be empty"),
        ({"github_pull_request_id": 0}, "github_pull_request_id must be >= 1"),
    ],
)
async def test_bad_trigger_arguments_are_rejected_before_sending(
    client_for: ClientFor, kwargs: dict[str, Any], needle: str
) -> None:
    script = Script()
    client = client_for(script)
    with pytest.raises(InvalidArgumentError) as info:
        await client.trigger_run(1, **kwargs)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)
    assert script.requests == []


@pytest.mark.parametrize("job_id", [0, -1, "1", True, None])
async def test_bad_job_id(client_for: ClientFor, job_id: Any) -> None:
    client = client_for(Script())
    with pytest.raises(InvalidArgumentError, match="job_id must be a positive integer"):
        await client.trigger_run(job_id)


async def test_cause_of_255_characters_is_fine_and_default_cause_is_sent(
    client_for: ClientFor,
) -> None:
    script = Script(
        respond(envelope(triggered(1, "x" * 255))),
        respond(envelope(triggered(2, "Triggered via dbt-runs"))),
    )
    client = client_for(script)
    await client.trigger_run(1, cause="x" * 255)
    await client.trigger_run(1)
    assert json.loads(script.requests[1].content) == {"cause": "Triggered via dbt-runs"}


async def test_every_override_is_sent_with_its_type(client_for: ClientFor) -> None:
    script = Script(respond(envelope(triggered(1, "all"))))
    client = client_for(script)
    await client.trigger_run(
        7,
        cause="all",
        git_branch="main",
        git_sha="abc123",
        schema_override="pr_1",
        dbt_version_override="1.8.0-latest",
        threads_override=8,
        target_name_override="ci",
        generate_docs_override=False,
        timeout_seconds_override=0,
        steps_override=("dbt seed", "dbt build"),
        github_pull_request_id=12,
        gitlab_merge_request_id=13,
        azure_pull_request_id=14,
        non_native_pull_request_id=15,
    )
    assert json.loads(script.requests[0].content) == {
        "cause": "all",
        "git_branch": "main",
        "git_sha": "abc123",
        "schema_override": "pr_1",
        "dbt_version_override": "1.8.0-latest",
        "threads_override": 8,
        "target_name_override": "ci",
        "generate_docs_override": False,
        "timeout_seconds_override": 0,
        "steps_override": ["dbt seed", "dbt build"],
        "github_pull_request_id": 12,
        "gitlab_merge_request_id": 13,
        "azure_pull_request_id": 14,
        "non_native_pull_request_id": 15,
    }
    assert script.requests[0].headers["content-type"] == "application/json"


async def test_read_timeout_is_reconciled_to_the_run_it_created(client_for: ClientFor) -> None:
    ours = triggered(42, "nightly", git_branch="main")
    script = Script(
        httpx.ReadTimeout("the response never came"),
        listed(triggered(43, "someone else"), ours, triggered(41, "nightly", git_branch="dev")),
    )
    client = client_for(script)

    raw = await client.with_raw_response.trigger_run(1, cause="nightly", git_branch="main")

    run = raw.parse()
    assert run.id == 42
    assert raw.reconciled
    assert run.raw == ours
    assert json.loads(raw.content)["data"] == ours
    assert json.loads(raw.content)["status"]["code"] == 200
    assert [r.method for r in script.requests] == ["POST", "GET"]
    lookup = script.requests[1].url
    assert lookup.path == "/api/v2/accounts/1/runs/"
    assert lookup.params["job_definition_id"] == "1"
    assert lookup.params["order_by"] == "-id"
    assert lookup.params["include_related"] == "trigger"
    since, until = json.loads(lookup.params["created_at__range"])
    # The fake wall clock reads 2026-01-01 12:00:00; the default skew is 120 s.
    assert since == "2026-01-01T11:58:00+00:00"
    assert until == "2026-01-01T12:02:00+00:00"


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_gateway_errors_after_sending_are_reconciled(
    client_for: ClientFor, status: int
) -> None:
    script = Script(
        respond(b"<html><title>Gateway Timeout</title></html>", status),
        listed(triggered(42, "nightly")),
    )
    client = client_for(script)
    run = await client.trigger_run(1, cause="nightly")
    assert run.id == 42


async def test_nothing_found_raises_outcome_unknown(client_for: ClientFor) -> None:
    script = Script(httpx.ReadTimeout("slow"), listed(triggered(43, "someone else")))
    client = client_for(script)

    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")

    error = info.value
    assert error.job_id == 1
    assert error.cause == "nightly"
    assert error.candidate_run_ids == ()
    assert "list_runs(job_definition_id=1" in str(error)
    assert "may still appear" in str(error)
    assert len([r for r in script.requests if r.method == "POST"]) == 1


async def test_two_matching_runs_are_not_guessed_between(client_for: ClientFor) -> None:
    script = Script(
        httpx.ReadTimeout("slow"), listed(triggered(44, "nightly"), triggered(43, "nightly"))
    )
    client = client_for(script)
    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")
    assert info.value.candidate_run_ids == (44, 43)


async def test_a_run_this_client_already_returned_is_never_adopted(client_for: ClientFor) -> None:
    script = Script(
        respond(envelope(triggered(43, "nightly"))),
        httpx.ReadTimeout("slow"),
        listed(triggered(44, "nightly"), triggered(43, "nightly")),
    )
    client = client_for(script)
    first = await client.trigger_run(1, cause="nightly")
    second = await client.trigger_run(1, cause="nightly")
    assert (first.id, second.id) == (43, 44)


async def test_a_failed_lookup_raises_outcome_unknown_with_both_causes(
    client_for: ClientFor,
) -> None:
    script = Script(
        httpx.RemoteProtocolError("connection dropped"),
        *(respond(error_json(503, "down"), 503) for _ in range(4)),
    )
    client = client_for(script)
    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")
    assert "looking for the run failed too" in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


async def test_a_clear_rejection_is_raised_as_is(client_for: ClientFor) -> None:
    body = error_json(400, "The request was invalid.", {"cause": "too long"})
    script = Script(respond(body, 400))
    client = client_for(script)
    with pytest.raises(BadRequestError, match="cause: too long"):
        await client.trigger_run(1, cause="nightly")
    assert len(script.requests) == 1


async def test_503_is_not_ambiguous(client_for: ClientFor) -> None:
    script = Script(respond(error_json(503, "maintenance"), 503))
    client = client_for(script)
    with pytest.raises(InternalServerError):
        await client.trigger_run(1, cause="nightly")
    assert len(script.requests) == 1


async def test_retry_run_posts_once_and_is_never_repeated_after_ambiguity(
    client_for: ClientFor,
) -> None:
    script = Script(
        respond(envelope(run_json(8, 1))),
        httpx.ReadTimeout("slow"),
        respond(envelope(run_json(7, 20))),
        listed(run_json(10, 1), run_json(9, 1, retrying_run_id=7), run_json(8, 1)),
    )
    client = client_for(script)
    run = await client.retry_run(7)
    assert run.id == 8
    assert script.requests[0].url.path == "/api/v2/accounts/1/runs/7/retry/"

    raw = await client.with_raw_response.retry_run(7)

    assert raw.reconciled
    assert raw.parse().id == 9
    assert [r.method for r in script.requests] == ["POST", "POST", "GET", "GET"]
    assert script.requests[3].url.params["job_definition_id"] == "1"


async def test_retry_run_without_a_match_is_unknown(client_for: ClientFor) -> None:
    script = Script(
        respond(b"<html>504</html>", 504),
        respond(envelope(run_json(7, 20))),
        listed(run_json(10, 1)),
    )
    client = client_for(script)
    with pytest.raises(TriggerOutcomeUnknownError, match="retrying run 7"):
        await client.retry_run(7)
    assert len([r for r in script.requests if r.method == "POST"]) == 1
