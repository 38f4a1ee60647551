"""dbt_runs.webhooks: the signature, the event, replayed deliveries.

Every signature here is computed without the module under test: RFC 4231's published
HMAC-SHA256 vectors, a digest `openssl dgst` computed over dbt's documented example body, and
the standard library's `hmac` in the test itself. The example body is read from the copy of
the reference notes in tests/data/reference, not typed in here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import dbt_runs
from dbt_runs import (
    ConfigurationError,
    DbtRunsError,
    RunStatus,
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from dbt_runs.webhooks import (
    RUN_COMPLETED,
    RUN_ERRORED,
    RUN_STARTED,
    ReplayGuard,
    RunEvent,
    parse_event,
    secret_from_env,
    verify_signature,
)

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "dbt-cloud-webhooks.md"
SECRET = "wsu-secret-for-tests"


def example_body() -> bytes:
    """The `job.run.completed` example of the reference notes, byte for byte."""
    found = re.search(r"```json\n(.*?)```", REFERENCE.read_text(encoding="utf-8"), re.DOTALL)
    assert found is not None
    return found.group(1).encode("utf-8")


def sign(body: bytes, secret: str | bytes = SECRET) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def body_of(value: Any) -> bytes:
    return json.dumps(value).encode()


def event_json(**data: Any) -> dict[str, Any]:
    base = json.loads(example_body())
    base["data"].update(data)
    return base


# ---------------------------------------------------------------- the signature

# RFC 4231, section 4: test cases 1, 2 and 6 (a key longer than SHA-256's block).
RFC_4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


@pytest.mark.parametrize(("key", "body", "digest"), RFC_4231)
def test_the_published_hmac_sha256_vectors_verify(key: bytes, body: bytes, digest: str) -> None:
    verify_signature(body, digest, key)
    verify_signature(body, digest.upper(), key)  # hex is hex, whatever its case
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(body, flipped, key)


def test_the_documented_example_verifies_with_a_digest_openssl_computed() -> None:
    # openssl dgst -sha256 -hmac "wsu-secret-for-tests" < (the example body)
    digest = "b1fd1afaf1fb4c0b30b38dc0632e25bfe266e3f85c08c3d5f922596df9af746a"
    verify_signature(example_body(), digest, SECRET)
    assert sign(example_body()) == digest  # and the standard library agrees


def test_a_secret_is_its_utf8_bytes() -> None:
    body = b'{"eventId": "wev_1"}'
    secret = "clé-secrète"
    verify_signature(body, sign(body, secret.encode("utf-8")), secret)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no Authorization header"),
        ("", "no Authorization header"),
        ("   ", "no Authorization header"),
        ("not-a-digest", "not a hex HMAC-SHA256 digest"),
        ("ab" * 31, "64 hex digits"),  # 62 digits
        ("ab" * 33, "64 hex digits"),
        ("zz" * 32, "64 hex digits"),
        ("Bearer " + "ab" * 32, "starts with 'bearer'"),
        ("sha256=" + "ab" * 32, "starts with 'sha256='"),
        ("ab" * 16 + " " + "ab" * 16, "64 hex digits"),
    ],
)
def test_missing_and_garbled_headers_are_refused(header: str | None, message: str) -> None:
    with pytest.raises(WebhookSignatureError, match=message) as caught:
        verify_signature(b"{}", header, SECRET)
    assert SECRET not in str(caught.value)
    if header and header.strip():
        assert header.strip() not in str(caught.value)


def test_a_signature_of_other_bytes_or_another_secret_is_refused() -> None:
    body = example_body()
    reencoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    assert reencoded != body
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(reencoded, sign(body), SECRET)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(body, sign(body, "another secret"), SECRET)


def test_the_message_never_shows_the_secret_or_either_digest() -> None:
    body = example_body()
    presented = sign(body, "another secret")
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(body, presented, SECRET)
    text = f"{caught.value} {caught.value!r}"
    assert SECRET not in text
    assert presented not in text
    assert sign(body) not in text


def test_any_of_several_secrets_may_sign() -> None:
    body = example_body()
    verify_signature(body, sign(body, "new"), ["old", "new"])
    verify_signature(body, sign(body, b"old"), (b"old", "new"))
    with pytest.raises(WebhookSignatureError):
        verify_signature(body, sign(body, "other"), ["old", "new"])


@pytest.mark.parametrize("secret", ["", "  ", b"", []])
def test_an_empty_secret_is_a_configuration_error(secret: Any) -> None:
    body = b"{}"
    with pytest.raises(ConfigurationError):
        verify_signature(body, sign(body, "x"), secret)


def test_the_body_must_be_the_bytes_received() -> None:
    with pytest.raises(TypeError, match="bytes exactly as received"):
        verify_signature("{}", sign(b"{}"), SECRET)  # type: ignore[arg-type]
    verify_signature(bytearray(b"{}"), sign(b"{}"), SECRET)
    verify_signature(memoryview(b"{}"), sign(b"{}"), SECRET)


def test_the_secret_comes_from_its_environment_variable() -> None:
    assert secret_from_env({"DBT_WEBHOOK_SECRET": "  s3cret\n"}) == "s3cret"
    assert secret_from_env({"DBT_WEBHOOK_SECRET": "  "}) is None
    assert secret_from_env({}) is None


def test_the_errors_sit_in_the_tree() -> None:
    assert issubclass(WebhookSignatureError, WebhookError)
    assert issubclass(WebhookPayloadError, WebhookError)
    assert issubclass(WebhookPayloadError, ValueError)
    assert issubclass(WebhookError, DbtRunsError)
    assert "WebhookError" in (dbt_runs.errors.__doc__ or "")


# ---------------------------------------------------------------- the event


def test_the_documented_example_reads_into_a_typed_event() -> None:
    body = example_body()
    event = parse_event(body, authorization=sign(body), secret=SECRET)
    assert event.event_type == RUN_COMPLETED
    assert event.event_id == "wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD"
    assert event.webhook_id == "wsu_12345abcde"
    assert event.webhook_name == "test"
    assert (event.account_id, event.job_id, event.run_id) == (1, 123, 12345)
    assert (event.environment_id, event.project_id) == (1234, 167194)
    assert event.job_name == "Daily Job (dbt build)"
    assert event.environment_name == "Production"
    assert event.project_name == "Snowflake Github Demo"
    assert event.dbt_version == "1.0.0"
    assert event.status is RunStatus.SUCCESS
    assert event.status_humanized == "Success"
    assert event.status_message is None  # dbt's "None"
    assert event.reason == "Kicked off from UI by test@test.com"
    # Nanoseconds cut to microseconds.
    assert event.timestamp == datetime(2023, 1, 31, 19, 29, 35, 789265, tzinfo=UTC)
    assert event.started_at == datetime(2023, 1, 31, 19, 28, 7, tzinfo=UTC)
    assert event.finished_at == datetime(2023, 1, 31, 19, 29, 32, tzinfo=UTC)
    assert event.errored_at is None
    assert event.artifacts_ready
    assert event.ends_run
    assert event.raw == json.loads(body)
    assert "Success" not in repr(event)
    assert "run_id=12345" in repr(event)


def test_an_errored_event_is_not_the_one_that_says_artifacts_are_ready() -> None:
    value = event_json(runStatus="Errored", runStatusCode=20, runErroredAt="2023-01-31T19:29:30Z")
    value["eventType"] = RUN_ERRORED
    del value["data"]["runFinishedAt"]
    body = body_of(value)
    event = parse_event(body, authorization=sign(body), secret=SECRET)
    assert event.status is RunStatus.ERROR
    assert event.status_humanized == "Errored"
    assert event.errored_at == datetime(2023, 1, 31, 19, 29, 30, tzinfo=UTC)
    assert event.ends_run
    assert not event.artifacts_ready


def test_unknown_fields_event_types_and_status_codes_are_tolerated() -> None:
    value = event_json(runStatusCode=40, somethingNew={"nested": [1]}, dbtVersion="")
    value["eventType"] = "job.run.cancelled"
    value["payloadVersion"] = "v2"
    body = body_of(value)
    event = parse_event(body, authorization=sign(body), secret=SECRET)
    assert event.event_type == "job.run.cancelled"
    assert event.status is not None
    assert event.status.name == "UNKNOWN_40"
    assert event.dbt_version is None  # empty
    assert event.raw["payloadVersion"] == "v2"
    assert not event.ends_run


def test_ids_may_come_as_numbers_and_optional_fields_may_be_missing() -> None:
    body = body_of(
        {
            "accountId": 7,
            "eventId": "wev_x",
            "eventType": RUN_STARTED,
            "data": {"jobId": 3, "runId": "70403110257794"},
        }
    )
    event = parse_event(body, authorization=sign(body), secret=SECRET)
    assert (event.account_id, event.job_id, event.run_id) == (7, 3, 70403110257794)
    assert event.environment_id is None
    assert event.timestamp is None
    assert event.status is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda v: v.pop("eventId"), "eventId"),
        (lambda v: v.update(eventType=""), "eventType"),
        (lambda v: v.update(accountId="one"), "accountId"),
        (lambda v: v.update(accountId=True), "accountId"),
        (lambda v: v["data"].pop("runId"), "data.runId"),
        (lambda v: v["data"].update(jobId="12a"), "data.jobId"),
        (lambda v: v["data"].update(runId=-4), "data.runId"),
        (lambda v: v["data"].update(runId=2**63), "data.runId"),
        (lambda v: v["data"].update(projectId=1.5), "data.projectId"),
        (lambda v: v["data"].update(runStatus=10), "data.runStatus"),
        (lambda v: v["data"].update(runFinishedAt="yesterday"), "data.runFinishedAt"),
        (lambda v: v.update(data=[1]), "data"),
        (lambda v: v.pop("data"), "data"),
    ],
)
def test_a_signed_body_that_is_not_a_run_event_names_its_field(change: Any, field: str) -> None:
    value = json.loads(example_body())
    change(value)
    body = body_of(value)
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event(body, authorization=sign(body), secret=SECRET)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"[" * 100_000])
def test_a_signed_body_that_is_not_a_json_object_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event(body, authorization=sign(body), secret=SECRET)
    assert caught.value.field is None


def test_the_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(WebhookSignatureError):
        parse_event(b"not json", authorization=sign(b"other"), secret=SECRET)


def test_an_event_is_a_frozen_value() -> None:
    body = example_body()
    event = parse_event(body, authorization=sign(body), secret=SECRET)
    again = parse_event(body, authorization=sign(body), secret=SECRET)
    assert event == again
    with pytest.raises(AttributeError):
        event.run_id = 1  # type: ignore[misc]
    assert isinstance(event, RunEvent)


# ---------------------------------------------------------------- replayed deliveries


def test_the_guard_admits_an_event_id_once() -> None:
    guard = ReplayGuard()
    assert guard.admit("wev_1") is True
    # dbt retries each delivery five times.
    assert [guard.admit("wev_1") for _ in range(5)] == [False] * 5
    assert guard.admit("wev_2") is True
    assert "wev_1" in guard
    assert len(guard) == 2


def test_the_guard_forgets_the_oldest_id_first_and_keeps_a_retried_one() -> None:
    guard = ReplayGuard(max_events=3)
    for event_id in ("a", "b", "c"):
        guard.admit(event_id)
    assert guard.admit("a") is False  # retried: now the most recent
    guard.admit("d")  # forgets "b", the oldest
    assert "b" not in guard
    assert "a" in guard
    assert repr(guard) == "ReplayGuard(remembered=3, max_events=3)"
    with pytest.raises(ValueError, match="at least 1"):
        ReplayGuard(max_events=0)
