"""Triggering: validation before sending, and reconciliation after an ambiguous failure."""

from __future__ import annotations

import json
import re
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

from .fakes import FakeClock, Script, envelope, error_json, page_json, respond, run_json

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
        ({"cause": "a\x00b"}, "cause must not contain NUL"),
        ({"cause": "lone \ud800 surrogate"}, "cause must be valid Unicode"),
        ({"git_branch": ""}, "git_branch must not be empty"),
        ({"git_branch": "x" * 256}, "git_branch must be at most 255 characters"),
        ({"schema_override": 3}, "schema_override must be a string"),
        ({"threads_override": 0}, "threads_override must be a positive 64-bit integer"),
        ({"threads_override": 2**63}, "threads_override must be a positive 64-bit integer"),
        ({"threads_override": "4"}, "threads_override must be an integer"),
        ({"threads_override": True}, "threads_override must be an integer"),
        ({"threads_override": 4.5}, "threads_override must be an integer"),
        ({"timeout_seconds_override": -1}, "timeout_seconds_override must be >= 0"),
        ({"generate_docs_override": "yes"}, "generate_docs_override must be true or false"),
        ({"steps_override": "dbt build"}, "steps_override must be a list"),
        ({"steps_override": []}, "at least one dbt command"),
        ({"steps_override": ["dbt build", ""]}, "an entry must not be empty"),
        ({"steps_override": ["rm -rf /"]}, 'each starting with "dbt "'),
        ({"steps_override": ["dbt build"] * 51}, "at most 50 commands"),
        ({"github_pull_request_id": 0}, "github_pull_request_id must be a positive"),
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
    assert info.value.argument == next(iter(kwargs))
    assert isinstance(info.value, ValueError)
    assert script.requests == []


@pytest.mark.parametrize("job_id", [0, -1, "1", True, None, 2**63])
async def test_bad_job_id(client_for: ClientFor, job_id: Any) -> None:
    client = client_for(Script())
    with pytest.raises(InvalidArgumentError, match="job_id must be"):
        await client.trigger_run(job_id)


def sent_cause(script: Script, index: int = 0) -> str:
    cause = json.loads(script.requests[index].content)["cause"]
    assert isinstance(cause, str)
    return cause


MARKER = re.compile(r" \[dbt-runs:[0-9a-f]{12}\]$")


async def test_each_trigger_carries_its_own_marker_after_the_cause(client_for: ClientFor) -> None:
    script = Script(
        respond(envelope(triggered(1, "x"))),
        respond(envelope(triggered(2, "x"))),
        respond(envelope(triggered(3, "x"))),
    )
    client = client_for(script)
    await client.trigger_run(1, cause="Nightly refresh")
    await client.trigger_run(1)
    await client.trigger_run(1, cause="y" * 255)

    first, default, longest = (sent_cause(script, i) for i in range(3))
    assert MARKER.search(first)
    assert first.startswith("Nightly refresh [dbt-runs:")
    assert default.startswith("Triggered via dbt-runs [dbt-runs:")
    assert first.rsplit(" ", 1)[1] != default.rsplit(" ", 1)[1]
    # A cause of dbt's full 255 characters is shortened to make room for the marker.
    assert len(longest) == 255
    assert MARKER.search(longest)
    assert longest.startswith("y" * 200)
    assert "… [dbt-runs:" in longest


async def test_without_the_marker_the_cause_goes_unchanged(client_for: ClientFor) -> None:
    script = Script(respond(envelope(triggered(1, "x" * 255))))
    client = client_for(script, trigger_marker=False)
    await client.trigger_run(1, cause="x" * 255)
    assert sent_cause(script) == "x" * 255


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
    sent = json.loads(script.requests[0].content)
    assert MARKER.search(sent.pop("cause"))
    assert sent == {
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


def marked_run(script: Script, run_id: int, **trigger: Any) -> Callable[..., httpx.Response]:
    """A lookup answer holding the run this script's trigger POST created."""

    def answer(request: httpx.Request) -> httpx.Response:
        return listed(triggered(run_id, sent_cause(script), **trigger))

    return answer


async def test_read_timeout_is_reconciled_to_the_run_carrying_its_marker(
    client_for: ClientFor,
) -> None:
    script = Script(httpx.ReadTimeout("the response never came"))

    def lookup(request: httpx.Request) -> httpx.Response:
        # Another caller triggered the same job with the same cause at the same time: only
        # the marker tells the two runs apart.
        ours = triggered(42, sent_cause(script), git_branch="main")
        theirs = triggered(43, "nightly [dbt-runs:0123456789ab]")
        return listed(theirs, ours, triggered(41, "nightly"))

    script.extend([lookup])
    client = client_for(script)

    raw = await client.with_raw_response.trigger_run(1, cause="nightly", git_branch="main")

    run = raw.parse()
    assert run.id == 42
    assert raw.reconciled
    assert json.loads(raw.content)["data"]["id"] == 42
    assert json.loads(raw.content)["status"]["code"] == 200
    assert [r.method for r in script.requests] == ["POST", "GET"]
    lookup_url = script.requests[1].url
    assert lookup_url.path == "/api/v2/accounts/1/runs/"
    assert lookup_url.params["job_definition_id"] == "1"
    assert lookup_url.params["order_by"] == "-id"
    assert lookup_url.params["include_related"] == "trigger"
    since, until = json.loads(lookup_url.params["created_at__range"])
    # The fake wall clock reads 2026-01-01 12:00:00; the default skew is 120 s.
    assert since == "2026-01-01T11:58:00+00:00"
    assert until == "2026-01-01T12:02:00+00:00"


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_gateway_errors_after_sending_are_reconciled(
    client_for: ClientFor, status: int
) -> None:
    script = Script(respond(b"<html><title>Gateway Timeout</title></html>", status))
    script.extend([marked_run(script, 42)])
    client = client_for(script)
    run = await client.trigger_run(1, cause="nightly")
    assert run.id == 42


@pytest.mark.parametrize(
    "answer",
    [b'{"status": {"code": 200}, "data": {"id": 4', b"<html>OK</html>", b'{"data": "not a run"}'],
)
async def test_a_200_that_cannot_be_read_is_reconciled_not_reported_as_a_bad_body(
    client_for: ClientFor, answer: bytes
) -> None:
    # The run was created: a caller told "bad response" would trigger a second one.
    script = Script(respond(answer))
    script.extend([marked_run(script, 42)])
    client = client_for(script)
    raw = await client.with_raw_response.trigger_run(1, cause="nightly")
    assert raw.reconciled
    assert raw.parse().id == 42
    assert len([r for r in script.requests if r.method == "POST"]) == 1


async def test_the_search_keeps_looking_while_dbt_may_still_be_creating_the_run(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(httpx.ReadTimeout("slow"), listed(), listed(triggered(43, "nightly")))
    script.extend([marked_run(script, 44)])
    client = client_for(script)
    run = await client.trigger_run(1, cause="nightly")
    assert run.id == 44
    assert clock.sleeps == [0.5, 1.0]


async def test_nothing_found_raises_outcome_unknown(
    client_for: ClientFor, clock: FakeClock
) -> None:
    script = Script(httpx.ReadTimeout("slow"), *[listed(triggered(43, "nightly"))] * 5)
    client = client_for(script)

    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")

    error = info.value
    assert error.job_id == 1
    assert error.cause == sent_cause(script)
    assert error.marker is not None
    assert error.cause.endswith(error.marker)
    assert error.marker in str(error)
    assert error.candidate_run_ids == ()
    assert "list_runs(job_definition_id=1" in str(error)
    assert "may still appear" in str(error)
    assert len([r for r in script.requests if r.method == "POST"]) == 1
    assert len(script.requests) == 6  # the POST and five looks, 7.5 s apart in all
    assert clock.now == pytest.approx(7.5)


async def test_the_search_stays_within_the_calls_total_timeout(
    client_for: ClientFor, clock: FakeClock
) -> None:
    def slow_post(request: httpx.Request) -> httpx.Response:
        clock.now += 8.0  # the answer is lost after 8 of the call's 10 seconds
        raise httpx.ReadTimeout("slow")

    script = Script(slow_post, *[listed()] * 5)
    client = client_for(script, timeout=10.0)
    with pytest.raises(TriggerOutcomeUnknownError):
        await client.trigger_run(1, cause="nightly")
    assert clock.now <= 10.0
    assert 2 <= len(script.requests) < 6


async def test_several_runs_with_its_marker_are_not_guessed_between(
    client_for: ClientFor,
) -> None:
    script = Script(httpx.ReadTimeout("slow"))

    def lookup(request: httpx.Request) -> httpx.Response:
        return listed(triggered(44, sent_cause(script)), triggered(43, sent_cause(script)))

    script.extend([lookup])
    client = client_for(script)
    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")
    assert info.value.candidate_run_ids == (44, 43)


async def test_without_a_marker_a_matching_run_is_named_but_never_adopted(
    client_for: ClientFor,
) -> None:
    script = Script(
        httpx.ReadTimeout("slow"), listed(triggered(44, "nightly"), triggered(43, "other"))
    )
    client = client_for(script, trigger_marker=False)
    with pytest.raises(TriggerOutcomeUnknownError) as info:
        await client.trigger_run(1, cause="nightly")
    assert info.value.candidate_run_ids == (44,)
    assert "trigger_marker=False" in str(info.value)
    assert len(script.requests) == 2


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


async def test_retry_run_posts_once_and_never_adopts_a_run_it_cannot_prove(
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

    with pytest.raises(TriggerOutcomeUnknownError, match="retrying run 7") as info:
        await client.retry_run(7)

    # Run 9 retries run 7, but another client may have started it: named, not adopted.
    assert info.value.candidate_run_ids == (9,)
    assert [r.method for r in script.requests] == ["POST", "POST", "GET", "GET"]
    assert script.requests[3].url.params["job_definition_id"] == "1"


async def test_retry_run_without_a_match_is_unknown(client_for: ClientFor) -> None:
    script = Script(
        respond(b"<html>504</html>", 504),
        respond(envelope(run_json(7, 20))),
        listed(run_json(10, 1)),
    )
    client = client_for(script)
    with pytest.raises(TriggerOutcomeUnknownError, match="retrying run 7") as info:
        await client.retry_run(7)
    assert info.value.candidate_run_ids == ()
    assert len([r for r in script.requests if r.method == "POST"]) == 1
