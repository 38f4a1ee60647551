"""`dbt-runs runs trigger --wait --webhook-port PORT`, end to end: the command (its own
process) serves a receiver, the emulator (served here) delivers signed events to it, and the
wait ends on the run's event; a delivery the emulator drops is caught by the safety poll."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator

import pytest
from cli_support import TOKEN, Served, error_line

from dbt_runs.testing import Emulator, Faults, RealClock
from dbt_runs.webhooks import RUN_COMPLETED

#: A run of this job takes about 3 s of real time at this speed (its step is 30 s).
SPEED = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _served(faults: Faults | None = None) -> Iterator[Served]:
    emulator = Emulator(token=TOKEN, runs=0, clock=RealClock(speed=SPEED), faults=faults)
    with emulator.serve_in_thread() as server:
        yield Served(emulator, server.base_url)


@pytest.fixture
def real() -> Iterator[Served]:
    yield from _served()


@pytest.fixture
def dropping() -> Iterator[Served]:
    yield from _served(Faults(webhook_drop_rate=1.0))


def subscribe(served: Served, port: int) -> str:
    """What one does once in dbt Cloud: point a subscription at the receiver; its secret."""
    url = f"http://127.0.0.1:{port}/v1/webhooks/dbt"
    subscription = served.emulator.webhooks.subscribe(url, event_types=[RUN_COMPLETED])
    assert subscription.secret is not None
    return subscription.secret


def run_reads(served: Served) -> int:
    return sum(1 for r in served.emulator.requests if r.method == "GET" and "/runs/" in r.path)


def test_the_wait_ends_on_the_event_with_fewer_requests_than_polling(real: Served) -> None:
    job = str(real.emulator.add_job("Webhooks", step_seconds=30))
    polled = real.run("runs", "trigger", job, "--wait", "--poll", "0.5", "-q")
    assert polled.returncode == 0, polled.stderr
    polls = run_reads(real)
    real.emulator.clear_requests()

    port = free_port()
    secret = subscribe(real, port)
    waited = real.run(
        "runs", "trigger", job, "--wait", "--webhook-port", str(port), DBT_WEBHOOK_SECRET=secret
    )

    assert waited.returncode == 0, waited.stderr
    assert f"Receiving dbt Cloud's webhooks at http://127.0.0.1:{port}/v1/webhooks/dbt" in (
        waited.stderr
    )
    assert "Success" in waited.stdout
    (delivery,) = [d for d in real.emulator.webhooks.deliveries if d.delivered]
    assert delivery.event_type == RUN_COMPLETED
    # One read after the event (the safety poll, 120 s, never came), against a poll every
    # half second; both read the finished run at the end.
    assert run_reads(real) == 1
    assert polls >= 4
    assert secret not in waited.stdout + waited.stderr


@pytest.mark.parametrize("runs", [1, 3], ids=["one run", "three runs"])
def test_runs_wait_ends_on_the_events_too(real: Served, runs: int) -> None:
    # Runs started elsewhere (another CI step, say): `runs wait --webhook-port` waits for them.
    job = real.emulator.add_job("Webhooks", step_seconds=30)
    run_ids = [str(real.emulator.trigger_run(job, cause="elsewhere")) for _ in range(runs)]
    port = free_port()
    secret = subscribe(real, port)
    real.emulator.clear_requests()

    # Polls every 600 s: only the events can end these waits within the command's 60 s.
    waited = real.run(
        "runs",
        "wait",
        *run_ids,
        "--webhook-port",
        str(port),
        "--poll",
        "600",
        DBT_WEBHOOK_SECRET=secret,
    )

    assert waited.returncode == 0, waited.stderr
    assert f"Receiving dbt Cloud's webhooks at http://127.0.0.1:{port}/v1/webhooks/dbt" in (
        waited.stderr
    )
    assert waited.stdout.count("Success") == runs
    delivered = {d.run_id for d in real.emulator.webhooks.deliveries if d.delivered}
    assert delivered == {int(run_id) for run_id in run_ids}
    # The first look, then a read after the events.
    reads = [r for r in real.emulator.requests if r.method == "GET" and "/runs" in r.path]
    assert len(reads) <= 2 * runs, [r.path for r in reads]
    assert secret not in waited.stdout + waited.stderr


def test_runs_wait_refuses_a_receiver_without_its_secret(served: Served) -> None:
    result = served.invoke("runs", "wait", "100001", "--webhook-port", "0", DBT_WEBHOOK_SECRET=None)
    assert result.exit_code == 2
    assert "DBT_WEBHOOK_SECRET" in result.stderr
    assert not served.emulator.requests


def test_a_dropped_delivery_is_caught_by_the_safety_poll(dropping: Served) -> None:
    job = str(dropping.emulator.add_job("Webhooks", step_seconds=30))
    port = free_port()
    secret = subscribe(dropping, port)

    waited = dropping.run(
        "runs",
        "trigger",
        job,
        "--wait",
        "--webhook-port",
        str(port),
        "--poll",
        "1",
        DBT_WEBHOOK_SECRET=secret,
    )

    assert waited.returncode == 0, waited.stderr
    assert "Success" in waited.stdout
    records = dropping.emulator.webhooks.deliveries
    assert records
    assert all(record.outcome == "dropped" for record in records)
    assert run_reads(dropping) >= 2  # polls, every second, found the run


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--webhook-port", "0"], {"DBT_WEBHOOK_SECRET": "s"}, "add --wait"),
        (["--wait", "--webhook-port", "0"], {"DBT_WEBHOOK_SECRET": None}, "DBT_WEBHOOK_SECRET"),
    ],
)
def test_the_receiver_is_refused_before_anything_is_sent(
    served: Served, args: list[str], env: dict[str, str | None], message: str
) -> None:
    result = served.invoke("runs", "trigger", "1", *args, **env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not [r for r in served.emulator.requests if r.method == "POST"]


def test_a_busy_port_is_a_usage_error_before_the_run_starts(served: Served) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = served.invoke(
            "runs", "trigger", "1", "--wait", "--webhook-port", str(port), DBT_WEBHOOK_SECRET="s"
        )
    line, code = error_line(result.stderr)
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert not [r for r in served.emulator.requests if r.method == "POST"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_still_cancels_the_run_while_the_receiver_serves(
    served: Served, sig: int
) -> None:
    # uvicorn would take over SIGINT and SIGTERM; the command keeps them (exit 130).
    args = ["runs", "trigger", "1", "--wait", "--webhook-port", "0", "--cancel-on-interrupt"]
    # Read first: receiving at..., triggered run..., its first status (it is waiting).
    ended = served.interrupt(*args, sig=sig, lines=3, DBT_WEBHOOK_SECRET="s")
    assert "Receiving dbt Cloud's webhooks" in ended.first[0]
    assert ended.code == 130, ended.rest
    assert "Traceback" not in ended.rest
    run_id = int(ended.first[1].split()[2].rstrip(":"))  # "Triggered run 110001: URL"
    assert f"cancelled run {run_id}" in ended.rest
    assert served.emulator.run(run_id).status == 30
