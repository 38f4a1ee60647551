"""Auth, unknown things, wrong methods, both slash forms, and trigger body validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import API, HEADERS, TOKEN

from dbt_runs.testing import Emulator

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "reference" / "examples" / "errors"


def captured(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Token"},
        {"Authorization": "Token   "},
        {"Authorization": "Basic abc"},
        {"Authorization": TOKEN},
    ],
)
async def test_missing_or_malformed_token_is_401(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    http.headers.pop("Authorization")
    response = await http.get(f"{API}/runs/", headers=headers)
    assert response.status_code == 401
    assert response.json() == captured("401_invalid_token.json")


async def test_token_and_bearer_are_both_accepted(http: httpx.AsyncClient) -> None:
    for scheme in ("Token", "Bearer", "bearer", "token"):
        response = await http.get(f"{API}/runs/?limit=1", headers={"Authorization": f"{scheme} x"})
        assert response.status_code == 200, scheme


async def test_only_the_configured_token_when_one_is_set() -> None:
    emulator = Emulator(runs=1, token=TOKEN)
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
        ok = await client.get(f"{API}/runs/", headers=HEADERS)
        assert ok.status_code == 200
        wrong = await client.get(f"{API}/runs/", headers={"Authorization": "Token other"})
        assert wrong.status_code == 401
        assert TOKEN not in wrong.text
    assert TOKEN not in repr(emulator)
    assert all(TOKEN not in repr(record) for record in emulator.requests)
    with pytest.raises(ValueError, match="non-empty"):
        Emulator(token=" ")


async def test_another_account_is_403(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v2/accounts/2/runs/")
    assert response.status_code == 403
    assert response.json() == captured("403_token_not_scoped_to_account.json")


async def test_unknown_run_job_and_path_are_the_404_envelope(http: httpx.AsyncClient) -> None:
    expected = captured("404_not_found.json")
    for path in (
        f"{API}/runs/999999999/",
        f"{API}/runs/999999999/artifacts/",
        f"{API}/runs/999999999/artifacts/manifest.json",
        f"{API}/jobs/42/",
        f"{API}/steps/1/",
        f"{API}/nothing-here/",
        "/api/v2/whatever",
        "/",
        "/api/v2/accounts/abc/runs/",
    ):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert response.json() == expected, path
    missing = await http.post(f"{API}/jobs/42/run/", json={"cause": "x"})
    assert missing.status_code == 404
    cancel = await http.post(f"{API}/runs/999999999/cancel/")
    assert cancel.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/jobs/1/run/"),
        ("GET", "/jobs/1/run"),
        ("GET", "/runs/{run}/cancel/"),
        ("DELETE", "/runs/{run}/"),
        ("POST", "/runs/"),
        ("PUT", "/jobs/1/"),
        ("PATCH", "/runs/{run}/artifacts/manifest.json"),
    ],
)
async def test_wrong_method_is_drfs_405(
    http: httpx.AsyncClient, emulator: Emulator, method: str, path: str
) -> None:
    run = emulator.runs()[0].id
    response = await http.request(method, API + path.format(run=run))
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    if method == "GET":
        assert response.json() == captured("405_missing_trailing_slash_2021.json")
    assert "Allow" in response.headers


async def test_401_and_403_come_before_405(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{API}/jobs/1/run/", headers={"Authorization": ""})).status_code == 401
    assert (await http.get("/api/v2/accounts/7/jobs/1/run/")).status_code == 403


async def test_every_route_answers_with_and_without_the_trailing_slash(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    run = emulator.runs(status=10)[-1].id
    failed = emulator.runs(status=20)[-1].id
    for path in (
        "/runs",
        f"/runs/{run}",
        f"/runs/{run}/artifacts",
        f"/runs/{failed}/retry",
        "/jobs",
        "/jobs/1",
        "/environments",
        "",
    ):
        for suffix in ("", "/"):
            response = await http.get(API + path + suffix)
            assert response.status_code in (200, 400), (path + suffix, response.status_code)
            assert response.headers["content-type"] == "application/json"
    for suffix in ("", "/"):
        posted = await http.post(f"{API}/jobs/1/run{suffix}", json={"cause": "slash test"})
        assert posted.status_code == 200
        cancelled = await http.post(f"{API}/runs/{posted.json()['data']['id']}/cancel{suffix}")
        assert cancelled.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "cause", "This field is required."),
        ({"cause": ""}, "cause", "This field may not be blank."),
        ({"cause": "   "}, "cause", "This field may not be blank."),
        ({"cause": None}, "cause", "This field may not be null."),
        ({"cause": 42}, "cause", "Not a valid string."),
        ({"cause": "x" * 256}, "cause", "Ensure this field has no more than 255 characters."),
        ({"cause": "ok", "git_branch": ""}, "git_branch", "This field may not be blank."),
        ({"cause": "ok", "git_sha": 12}, "git_sha", "Not a valid string."),
        ({"cause": "ok", "threads_override": "many"}, "threads_override", None),
        ({"cause": "ok", "threads_override": True}, "threads_override", None),
        ({"cause": "ok", "threads_override": 0}, "threads_override", None),
        ({"cause": "ok", "timeout_seconds_override": 1.5}, "timeout_seconds_override", None),
        ({"cause": "ok", "github_pull_request_id": []}, "github_pull_request_id", None),
        ({"cause": "ok", "generate_docs_override": "perhaps"}, "generate_docs_override", None),
        ({"cause": "ok", "steps_override": "dbt build"}, "steps_override", None),
        ({"cause": "ok", "steps_override": []}, "steps_override", None),
        ({"cause": "ok", "steps_override": ["dbt build", ""]}, "steps_override", None),
        ({"cause": "ok", "steps_override": ["rm -rf /"]}, "steps_override", None),
        ({"cause": "ok", "schema_override": ""}, "schema_override", None),
    ],
)
async def test_trigger_body_validation(
    http: httpx.AsyncClient, emulator: Emulator, body: dict[str, Any], field: str, message: str
) -> None:
    before = emulator.run_count
    response = await http.post(f"{API}/jobs/1/run/", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["status"]["code"] == 400
    assert payload["status"]["is_success"] is False
    assert field in payload["data"]
    if message is not None:
        assert payload["data"][field] == message
    assert emulator.run_count == before


async def test_every_bad_field_is_named_at_once(http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{API}/jobs/1/run/", json={"git_branch": "", "threads_override": "x"}
    )
    assert set(response.json()["data"]) == {"cause", "git_branch", "threads_override"}


async def test_nulls_mean_unset_as_clients_send_them(http: httpx.AsyncClient) -> None:
    # Airflow sends every key, with null for the ones not set.
    response = await http.post(
        f"{API}/jobs/1/run/",
        json={"cause": "from Airflow", "steps_override": None, "schema_override": None},
    )
    assert response.status_code == 200
    assert response.json()["data"]["trigger"]["steps_override"] is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'"cause"'],
)
async def test_a_body_that_is_not_an_object_is_a_400(
    http: httpx.AsyncClient, content: bytes
) -> None:
    response = await http.post(
        f"{API}/jobs/1/run/", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["data"]


async def test_form_encoded_and_multipart_bodies(http: httpx.AsyncClient) -> None:
    form = await http.post(
        f"{API}/jobs/1/run/",
        data={
            "cause": "from a form",
            "threads_override": "8",
            "steps_override": ["dbt seed", "dbt run"],
        },
    )
    assert form.status_code == 200, form.text
    trig = form.json()["data"]["trigger"]
    assert trig["threads_override"] == 8
    assert trig["steps_override"] == ["dbt seed", "dbt run"]
    multipart = await http.post(
        f"{API}/jobs/1/run/",
        data={"cause": "multipart", "generate_docs_override": "true"},
        files={"unused": ("a.txt", b"x")},
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["data"]["trigger"]["generate_docs_override"] is True


async def test_errors_from_our_side_are_never_500(http: httpx.AsyncClient) -> None:
    for path in (
        f"{API}/runs/?include_related=[",
        f"{API}/runs/?status__in=[[[[",
        f"{API}/runs/?created_at__range=[1,2]",
        f"{API}/runs/1/artifacts/x?step=abc",
        f"{API}/steps/0/",
        f"{API}/runs/{'9' * 30}/",
        f"{API}/environments/?limit=x",
        f"{API}/jobs/1/?include_related=[",
        f"{API}/steps/10000101/?include_related=(",
        f"{API}/jobs/?limit=-1",
        f"{API}/jobs/1/artifacts/manifest.json?step=two",
    ):
        response = await http.get(path)
        assert response.status_code in (400, 404), (path, response.status_code, response.text)


async def test_options_describes_the_route(http: httpx.AsyncClient) -> None:
    response = await http.options(f"{API}/runs/")
    assert response.status_code == 200
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["name"] == "List Runs"
    trigger = await http.options(f"{API}/jobs/1/run/")
    assert trigger.headers["allow"] == "POST, OPTIONS"


async def test_a_rejected_trigger_does_not_consume_the_ambiguous_fault(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next_trigger_response(502)
    assert (await http.post(f"{API}/jobs/1/run/", json={})).status_code == 400
    assert (await http.post(f"{API}/jobs/1/run/", json={"cause": "ok"})).status_code == 502


async def test_oversized_and_broken_bodies_are_400s(http: httpx.AsyncClient) -> None:
    huge = await http.post(f"{API}/jobs/1/run/", json={"cause": "x" * 2_000_000})
    assert huge.status_code == 400
    assert "exceeded" in huge.json()["data"]["non_field_errors"]
    broken = await http.post(
        f"{API}/jobs/1/run/",
        content=b"--nope\r\ngarbage",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert broken.status_code == 400
    assert (await http.post(f"{API}/jobs/1/run/", content=b"\xff\xfe\x00")).status_code == 400
