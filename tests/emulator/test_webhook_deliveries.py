"""The emulator's webhooks: dbt's v3 subscription API, signed deliveries, retries and faults.

Every delivery is checked with `dbt_runs.webhooks.verify_signature`, which the emulator does
not use: its signing is its own, so one misreading of dbt's signature would show here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import anyio
import httpx
import pytest
from emulator_support import HEADERS
from webhook_support import Delivery, closed_port_url, endpoint

from dbt_runs import RunStatus, WebhookSignatureError
from dbt_runs.testing import Emulator, Faults, RealClock
from dbt_runs.webhooks import RUN_COMPLETED, RUN_ERRORED, RUN_STARTED, RunEvent, parse_event

pytestmark = pytest.mark.anyio

V3 = "/api/v3/accounts/1/webhooks"


def create_body(url: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "orchestrator",
        "client_url": url,
        "event_types": [RUN_STARTED, RUN_COMPLETED, RUN_ERRORED],
        "job_ids": [],
        "active": True,
        "description": "wake the waiters",
    }
    body.update(overrides)
    return body


def read(delivery: Delivery, secret: str) -> RunEvent:
    return parse_event(delivery.body, authorization=delivery.authorization, secret=secret)


# ---------------------------------------------------------------- the subscription API


async def test_create_answers_201_with_the_secret_once(
    emulator: Emulator, http: httpx.AsyncClient
) -> None:
    answer = await http.post(f"{V3}/subscriptions", json=create_body("https://example.com/h"))
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"]["code"] == 201
    assert body["status"]["is_success"] is True
    data = body["data"]
    assert data["id"].startswith("wsu_")
    assert isinstance(data["hmac_secret"], str)
    assert len(data["hmac_secret"]) >= 32
    assert data["job_ids"] == []
    assert data["event_types"] == [RUN_STARTED, RUN_COMPLETED, RUN_ERRORED]
    assert data["account_id"] == "1"
    assert data["account_identifier"].startswith("act_")
    assert data["http_status_code"] == "0"  # never delivered
    assert data["dispatched_at"] is None
    assert data["created_at"].isdigit()  # microseconds since the epoch, as a string
    assert int(data["created_at"]) == int(emulator.clock.now() * 1_000_000)

    # The singular `subscription/{id}` path; the secret is never shown again.
    got = (await http.get(f"{V3}/subscription/{data['id']}")).json()["data"]
    assert "hmac_secret" not in got
    assert got == {k: v for k, v in data.items() if k != "hmac_secret"}
    listed = (await http.get(f"{V3}/subscriptions")).json()
    assert listed["data"] == [got]
    assert listed["extra"] == {
        "filters": {"offset": 0, "limit": 100},
        "pagination": {"count": 1, "total_count": 1},
    }
    assert data["hmac_secret"] not in repr(emulator.webhooks.subscriptions())


async def test_job_ids_go_in_as_numbers_and_come_back_as_strings(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        f"{V3}/subscriptions", json=create_body("http://127.0.0.1:9/h", job_ids=[3, 1, 3])
    )
    assert answer.json()["data"]["job_ids"] == ["3", "1"]


async def test_list_pages_with_limit_and_offset(http: httpx.AsyncClient) -> None:
    for n in range(3):
        await http.post(f"{V3}/subscriptions", json=create_body(f"https://e.com/{n}", name=str(n)))
    page = (await http.get(f"{V3}/subscriptions", params={"limit": 2, "offset": 1})).json()
    assert [s["name"] for s in page["data"]] == ["1", "2"]
    assert page["extra"]["pagination"] == {"count": 2, "total_count": 3}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"client_url": "not a url"}, "client_url"),
        ({"client_url": "ftp://e.com/h"}, "client_url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["job.run.finished"]}, "event_types"),
        ({"job_ids": ["1"]}, "job_ids"),
        ({"job_ids": [True]}, "job_ids"),
        ({"active": "yes"}, "active"),
    ],
)
async def test_a_bad_body_is_dbts_400_naming_the_field(
    http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    answer = await http.post(f"{V3}/subscriptions", json=create_body("https://e.com/h") | change)
    assert answer.status_code == 400
    assert list(answer.json()["data"]) == [field]


async def test_update_keeps_the_id_and_the_secret(
    emulator: Emulator, http: httpx.AsyncClient
) -> None:
    async with endpoint() as receiver:
        created = (
            await http.post(f"{V3}/subscriptions", json=create_body("https://e.com/h"))
        ).json()["data"]
        changed = create_body(receiver.url, name="renamed", event_types=[RUN_COMPLETED])
        emulator.clock.advance(5)
        answer = await http.put(f"{V3}/subscription/{created['id']}", json=changed)
        assert answer.status_code == 200
        data = answer.json()["data"]
        assert data["name"] == "renamed"
        assert data["client_url"] == receiver.url
        assert "hmac_secret" not in data
        assert int(data["updated_at"]) > int(data["created_at"])
        # Deliveries now go to the new URL, still signed with the secret made at creation.
        emulator.trigger_run(1)
        emulator.clock.advance(300)
        await emulator.webhooks.deliver_due()
        (delivery,) = receiver.deliveries
        assert read(delivery, created["hmac_secret"]).event_type == RUN_COMPLETED


async def test_delete_answers_the_id_then_404(http: httpx.AsyncClient) -> None:
    created = (await http.post(f"{V3}/subscriptions", json=create_body("https://e.com/h"))).json()
    webhook_id = created["data"]["id"]
    answer = await http.delete(f"{V3}/subscription/{webhook_id}")
    assert answer.status_code == 200
    assert answer.json()["data"] == {"id": webhook_id}
    for method in ("GET", "DELETE"):
        assert (await http.request(method, f"{V3}/subscription/{webhook_id}")).status_code == 404
    assert (await http.put(f"{V3}/subscription/{webhook_id}", json=created)).status_code == 404
    assert (await http.get(f"{V3}/subscription/{webhook_id}/test")).status_code == 404


async def test_the_api_authenticates_like_v2(http: httpx.AsyncClient) -> None:
    emulator = Emulator(runs=0, token="only-this")
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://e.test") as client:
        assert (await client.get(f"{V3}/subscriptions")).status_code == 401
        headers = {"Authorization": "Token only-this"}
        other = "/api/v3/accounts/2/webhooks/subscriptions"
        assert (await client.get(other, headers=headers)).status_code == 403
        wrong = await client.patch(f"{V3}/subscriptions", headers=headers)
        assert wrong.status_code == 405
        assert "GET" in wrong.headers["allow"]


async def test_the_test_call_sends_one_signed_delivery(http: httpx.AsyncClient) -> None:
    async with endpoint([503]) as receiver:
        created = (await http.post(f"{V3}/subscriptions", json=create_body(receiver.url))).json()
        webhook_id, secret = created["data"]["id"], created["data"]["hmac_secret"]
        failed = (await http.get(f"{V3}/subscription/{webhook_id}/test")).json()["data"]
        assert failed["verification_status_code"] == "503"
        assert "503" in failed["verification_error"]
        passed = (await http.get(f"{V3}/subscription/{webhook_id}/test")).json()["data"]
        assert passed == {"verification_error": None, "verification_status_code": "200"}
        assert len(receiver.deliveries) == 2  # no retry of the failed test
        event = read(receiver.deliveries[1], secret)
        assert event.webhook_id == webhook_id
        assert event.account_id == 1
        got = (await http.get(f"{V3}/subscription/{webhook_id}")).json()["data"]
        assert got["http_status_code"] == "200"
        assert got["dispatched_at"] is not None


async def test_the_test_call_reports_an_unreachable_endpoint(http: httpx.AsyncClient) -> None:
    created = (await http.post(f"{V3}/subscriptions", json=create_body(closed_port_url()))).json()
    answer = await http.get(f"{V3}/subscription/{created['data']['id']}/test")
    data = answer.json()["data"]
    assert data["verification_status_code"] == "0"
    assert "could not be reached" in data["verification_error"]


# ---------------------------------------------------------------- deliveries


async def test_a_successful_run_sends_started_then_completed(emulator: Emulator) -> None:
    async with endpoint() as receiver:
        subscription = emulator.webhooks.subscribe(receiver.url)
        assert subscription.secret is not None
        run_id = emulator.trigger_run(1, cause="Nightly")
        emulator.clock.advance(10)  # queued 1 s, starting 4 s: running now
        (started,) = await emulator.webhooks.deliver_due()
        assert started.event_type == RUN_STARTED
        assert started.delivered
        emulator.clock.advance(300)
        records = await emulator.webhooks.deliver_due()
        assert [r.event_type for r in records] == [RUN_COMPLETED]

        events = [read(d, subscription.secret) for d in receiver.deliveries]
    info = emulator.run(run_id)
    assert [e.event_type for e in events] == [RUN_STARTED, RUN_COMPLETED]
    first, last = events
    assert first.status is RunStatus.RUNNING
    assert first.status_humanized == "Running"
    assert first.started_at == info.started_at.replace(microsecond=0)  # type: ignore[union-attr]
    assert first.timestamp == info.started_at
    assert last.status is RunStatus.SUCCESS
    assert last.finished_at == info.finished_at.replace(microsecond=0)  # type: ignore[union-attr]
    assert (last.run_id, last.job_id, last.account_id) == (run_id, 1, 1)
    assert (last.environment_id, last.project_id) == (1, 1)
    assert last.environment_name == "Production"
    assert last.job_name == "Daily build"
    assert last.reason == "Nightly"
    assert last.webhook_id == subscription.id
    assert last.webhook_name == "emulator"
    assert first.event_id != last.event_id
    assert all(d.headers["content-type"] == "application/json" for d in receiver.deliveries)
    assert all(d.method == "POST" and d.path == "/hook" for d in receiver.deliveries)


async def test_signatures_match_the_documented_recipe(emulator: Emulator) -> None:
    async with endpoint() as receiver:
        subscription = emulator.webhooks.subscribe(receiver.url)
        emulator.trigger_run(1)
        emulator.clock.advance(300)
        await emulator.webhooks.deliver_due()
    assert subscription.secret is not None
    for delivery in receiver.deliveries:
        # The hex HMAC-SHA256 of the raw body, keyed with the secret, and nothing else.
        expected = hmac.new(subscription.secret.encode(), delivery.body, hashlib.sha256)
        assert delivery.authorization == expected.hexdigest()
        with pytest.raises(WebhookSignatureError):
            parse_event(delivery.body, authorization=delivery.authorization, secret="other")


async def test_a_failed_run_sends_errored_at_once_and_completed_with_its_artifacts() -> None:
    emulator = Emulator(runs=0, faults=Faults(artifact_delay_seconds=30))
    async with endpoint() as receiver:
        subscription = emulator.webhooks.subscribe(receiver.url)
        run_id = emulator.trigger_run(3)  # job 3 fails at its last command
        emulator.clock.advance(10)
        assert [r.event_type for r in await emulator.webhooks.deliver_due()] == [RUN_STARTED]
        while emulator.run(run_id).status != 20:
            emulator.clock.advance(1)
        assert emulator.artifact_paths(run_id) == []  # still being uploaded
        records = await emulator.webhooks.deliver_due()
        assert [r.event_type for r in records] == [RUN_ERRORED]
        emulator.clock.advance(29)
        assert await emulator.webhooks.deliver_due() == []
        emulator.clock.advance(1)
        assert emulator.artifact_paths(run_id) != []
        (completed,) = await emulator.webhooks.deliver_due()
        assert completed.event_type == RUN_COMPLETED
        assert subscription.secret is not None
        errored, done = (read(d, subscription.secret) for d in receiver.deliveries[1:])
    assert errored.status is RunStatus.ERROR
    assert errored.status_humanized == "Errored"
    assert errored.errored_at is not None
    assert errored.finished_at is None
    assert done.status is RunStatus.ERROR
    assert done.finished_at == errored.errored_at
    assert done.timestamp is not None
    assert errored.timestamp is not None
    assert (done.timestamp - errored.timestamp).total_seconds() == pytest.approx(30)


async def test_a_cancelled_run_completes_with_status_30(emulator: Emulator) -> None:
    async with endpoint() as receiver:
        subscription = emulator.webhooks.subscribe(receiver.url, event_types=[RUN_COMPLETED])
        run_id = emulator.trigger_run(1)
        emulator.clock.advance(2)
        emulator.cancel_run(run_id)  # cancelled while starting: never started
        await emulator.webhooks.deliver_due()
    assert subscription.secret is not None
    (event,) = (read(d, subscription.secret) for d in receiver.deliveries)
    assert event.status is RunStatus.CANCELLED
    assert event.status_humanized == "Cancelled"
    assert event.status_message == "Cancelled by user."


async def test_subscriptions_get_only_their_event_types_and_jobs(emulator: Emulator) -> None:
    async with endpoint() as everything, endpoint() as narrow:
        emulator.webhooks.subscribe(everything.url)
        only = emulator.webhooks.subscribe(narrow.url, event_types=[RUN_ERRORED], job_ids=[3])
        emulator.trigger_run(1)
        emulator.trigger_run(3)
        emulator.clock.advance(300)
        await emulator.webhooks.deliver_due()
    assert len(everything.deliveries) == 5  # 2 for job 1, 3 for job 3
    assert only.secret is not None
    (errored,) = (read(d, only.secret) for d in narrow.deliveries)
    assert (errored.event_type, errored.job_id) == (RUN_ERRORED, 3)


async def test_events_before_a_subscription_and_seeded_runs_are_not_sent(
    emulator: Emulator,
) -> None:
    async with endpoint() as receiver:
        run_id = emulator.trigger_run(1)
        emulator.clock.advance(10)  # started before anyone subscribed
        subscription = emulator.webhooks.subscribe(receiver.url)
        emulator.clock.advance(300)
        await emulator.webhooks.deliver_due()
        inactive = emulator.webhooks.subscribe(receiver.url, active=False)
        emulator.trigger_run(1)
        emulator.clock.advance(300)
        await emulator.webhooks.deliver_due()
    events = [read(d, subscription.secret or "") for d in receiver.deliveries]
    assert (events[0].event_type, events[0].run_id) == (RUN_COMPLETED, run_id)
    assert all(e.webhook_id == subscription.id for e in events)
    assert all(e.run_id >= run_id for e in events)  # the 300 seeded runs sent nothing
    assert inactive.id not in {r.subscription_id for r in emulator.webhooks.deliveries}


# ---------------------------------------------------------------- retries and faults


async def test_a_failed_delivery_is_retried_with_the_same_body(emulator: Emulator) -> None:
    emulator.webhooks.retry_delays = (10.0, 20.0, 30.0, 40.0, 50.0)
    async with endpoint([500, 502]) as receiver:
        subscription = emulator.webhooks.subscribe(receiver.url, event_types=[RUN_COMPLETED])
        emulator.trigger_run(1)
        emulator.clock.advance(300)
        assert [r.outcome for r in await emulator.webhooks.deliver_due()] == [500]
        assert await emulator.webhooks.deliver_due() == []  # the retry is due in 10 s
        emulator.clock.advance(10)
        assert [r.outcome for r in await emulator.webhooks.deliver_due()] == [502]
        emulator.clock.advance(20)
        (third,) = await emulator.webhooks.deliver_due()
    assert (third.attempt, third.outcome, third.delivered) == (3, 200, True)
    bodies = {d.body for d in receiver.deliveries}
    signatures = {d.authorization for d in receiver.deliveries}
    assert len(bodies) == len(signatures) == 1
    assert len(receiver.deliveries) == 3
    got = emulator.webhooks.subscriptions()[0]
    assert got.http_status_code == 200
    assert subscription.secret not in repr(got)


async def test_dbt_gives_up_after_five_retries(emulator: Emulator) -> None:
    emulator.webhooks.retry_delays = (1.0,) * 5
    emulator.webhooks.subscribe(closed_port_url(), event_types=[RUN_COMPLETED])
    emulator.trigger_run(1)
    emulator.clock.advance(300)
    outcomes = []
    for _ in range(8):
        outcomes += [(r.attempt, r.outcome) for r in await emulator.webhooks.deliver_due()]
        emulator.clock.advance(1)
    assert [attempt for attempt, _ in outcomes] == [1, 2, 3, 4, 5, 6]
    assert all(str(outcome).startswith("connection error") for _, outcome in outcomes)


async def test_a_receiver_slower_than_the_timeout_fails_the_attempt(emulator: Emulator) -> None:
    emulator.webhooks.timeout = 0.1
    async with endpoint(delay=0.3) as receiver:
        emulator.webhooks.subscribe(receiver.url, event_types=[RUN_COMPLETED])
        emulator.trigger_run(1)
        emulator.clock.advance(300)
        (record,) = await emulator.webhooks.deliver_due()
    assert record.outcome == "timeout"
    assert len(receiver.deliveries) == 1  # it arrived; dbt still counts it failed


async def test_a_deleted_subscription_stops_its_retries(emulator: Emulator) -> None:
    subscription = emulator.webhooks.subscribe(closed_port_url(), event_types=[RUN_COMPLETED])
    emulator.trigger_run(1)
    emulator.clock.advance(300)
    await emulator.webhooks.deliver_due()
    assert emulator.webhooks.unsubscribe(subscription.id)
    emulator.clock.advance(3600)
    (record,) = await emulator.webhooks.deliver_due()
    assert "deleted" in str(record.outcome)
    emulator.clock.advance(3600)
    assert await emulator.webhooks.deliver_due() == []


async def test_faults_drop_duplicate_and_delay_deliveries(emulator: Emulator) -> None:
    async with endpoint() as receiver:
        emulator.webhooks.subscribe(receiver.url, event_types=[RUN_COMPLETED])
        emulator.faults.fault_next_webhooks("drop")
        emulator.faults.fault_next_webhooks("duplicate")
        dropped_run = emulator.trigger_run(4)  # a CI job: runs in parallel
        duplicated_run = emulator.trigger_run(4)
        emulator.clock.advance(300)
        records = await emulator.webhooks.deliver_due()
        assert sorted((r.run_id, r.outcome, r.duplicate) for r in records) == [
            (dropped_run, "dropped", False),
            (duplicated_run, 200, False),
            (duplicated_run, 200, True),
        ]
        first, second = receiver.deliveries
        assert first.body == second.body  # the same event, id and all

        emulator.faults.webhook_delay_seconds = 60
        emulator.trigger_run(4)
        emulator.clock.advance(300 - 59)  # finished, not yet delivered: 60 s late
        count = len(receiver.deliveries)
        while not await emulator.webhooks.deliver_due():
            assert len(receiver.deliveries) == count
            emulator.clock.advance(1)
        assert len(receiver.deliveries) == count + 1
        assert emulator.faults.pending == 0


async def test_random_faults_follow_their_rates() -> None:
    emulator = Emulator(runs=0, faults=Faults(webhook_drop_rate=0.5, seed=3))
    emulator.webhooks.subscribe(closed_port_url(), event_types=[RUN_STARTED])
    for _ in range(40):
        emulator.trigger_run(4)
    emulator.clock.advance(30)
    emulator.webhooks.timeout = 0.5
    records = [r for r in await emulator.webhooks.deliver_due() if r.outcome == "dropped"]
    assert 10 <= len(records) <= 30
    emulator.faults.clear()
    assert emulator.faults.webhook_drop_rate == 0


def test_unknown_webhook_faults_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown webhook fault"):
        Faults().fault_next_webhooks("lose")  # type: ignore[arg-type]


def test_bad_subscriptions_from_python_name_the_field(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="client_url"):
        emulator.webhooks.subscribe("mailto:me@example.com")


# ---------------------------------------------------------------- served


async def test_a_served_emulator_delivers_as_runs_finish(caplog: pytest.LogCaptureFixture) -> None:
    # Real time, 100x faster runs: a run takes about 0.7 s.
    emulator = Emulator(runs=0, clock=RealClock(speed=100))
    caplog.set_level(logging.DEBUG)
    async with endpoint() as receiver, emulator.serve() as server:
        headers = {"Authorization": "Token t"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            created = await client.post(
                f"{V3}/subscriptions", json=create_body(receiver.url, job_ids=[1])
            )
            secret = created.json()["data"]["hmac_secret"]
            trigger = await client.post("/api/v2/accounts/1/jobs/1/run/", json={"cause": "x"})
            run_id = trigger.json()["data"]["id"]
        await receiver.wait_for(2)
    events = [read(d, secret) for d in receiver.deliveries]
    assert [(e.event_type, e.run_id) for e in events] == [
        (RUN_STARTED, run_id),
        (RUN_COMPLETED, run_id),
    ]
    assert secret not in caplog.text


def test_a_server_without_lifespan_events_delivers_from_its_first_request() -> None:
    # An ASGI server run with lifespan="off" (`dbt-runs emulator` starts its deliveries with
    # the lifespan since).
    import threading

    import uvicorn

    from dbt_runs._net import listen_socket

    emulator = Emulator(runs=0, clock=RealClock(speed=100))
    sock = listen_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(emulator.app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    async def scenario() -> list[Delivery]:
        async with endpoint() as receiver:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                with anyio.fail_after(10):
                    while not server.started:  # noqa: ASYNC110 (uvicorn has no event)
                        await anyio.sleep(0.01)
                answer = await client.post(
                    f"{V3}/subscriptions",
                    json=create_body(receiver.url, event_types=[RUN_COMPLETED]),
                    headers=HEADERS,
                )
                assert answer.status_code == 201
                trigger = await client.post(
                    "/api/v2/accounts/1/jobs/1/run/", json={"cause": "x"}, headers=HEADERS
                )
                assert trigger.status_code == 200
            return await receiver.wait_for(1)

    try:
        (delivery,) = anyio.run(scenario)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert json.loads(delivery.body)["eventType"] == RUN_COMPLETED


def test_the_emulator_command_delivers_from_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    # No request ever reaches this emulator: its deliveries must start with the server.
    import threading

    import uvicorn

    from dbt_runs import testing
    from dbt_runs.cli.emulator import emulator as command

    servers: list[uvicorn.Server] = []

    class Recorded(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            # Only the command's own server: the receiver below is a uvicorn.Server too, and
            # stopping it instead left the emulator's thread running, holding pytest's exit.
            if threading.current_thread() is thread:
                servers.append(self)

    monkeypatch.setattr(uvicorn, "Server", Recorded)
    args = ["--port", "0", "--runs", "0", "--speed", "100"]
    thread = threading.Thread(
        target=command.main, args=(args,), kwargs={"standalone_mode": False}, daemon=True
    )

    async def scenario() -> list[Delivery]:
        async with endpoint() as receiver:

            def subscribed(*args: Any, **kwargs: Any) -> Emulator:
                built = Emulator(*args, **kwargs)
                built.webhooks.subscribe(receiver.url, event_types=[RUN_STARTED])
                built.trigger_run(1)
                return built

            monkeypatch.setattr(testing, "Emulator", subscribed)
            thread.start()
            try:
                return await receiver.wait_for(1)
            finally:
                with anyio.fail_after(10):
                    while not servers:  # noqa: ASYNC110 (the server is built in the thread)
                        await anyio.sleep(0.01)
                servers[0].should_exit = True
                await anyio.to_thread.run_sync(thread.join, 10)

    (delivery,) = anyio.run(scenario)
    assert not thread.is_alive(), "the emulator command did not stop"
    assert json.loads(delivery.body)["eventType"] == RUN_STARTED
