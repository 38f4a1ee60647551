"""`dbt-runs webhooks verify` and `dbt-runs webhooks listen`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from click.testing import CliRunner

from dbt_runs.cli import _build

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "dbt-cloud-webhooks.md"
SECRET = "wsu-secret-for-the-cli-0123"


def example_body() -> bytes:
    found = re.search(r"```json\n(.*?)```", REFERENCE.read_text(encoding="utf-8"), re.DOTALL)
    assert found is not None
    return found.group(1).encode("utf-8")


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(*args: str, body: bytes, env: dict[str, str] | None = None) -> Any:
    base = {"DBT_WEBHOOK_SECRET": SECRET}
    return CliRunner().invoke(
        _build(), ["webhooks", "verify", *args], input=body, env={**base, **(env or {})}
    )


def test_a_signed_delivery_verifies_and_prints_its_event() -> None:
    body = example_body()
    result = verify("--signature", sign(body), body=body)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("job.run.completed  run 12345  job 123 ")
    assert "Success" in line
    assert "wev_2L6ZDoilyiWzKkSA59Gmc2d7FDD" in line


def test_json_gives_the_typed_fields() -> None:
    body = example_body()
    result = verify("--signature", sign(body), "--json", body=body)
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout)
    assert (event["run_id"], event["job_id"], event["project_id"]) == (12345, 123, 167194)
    assert event["status"] == 10
    assert event["status_humanized"] == "Success"
    assert event["status_message"] is None
    assert event["finished_at"] == "2023-01-31T19:29:32+00:00"
    assert event["artifacts_ready"] is True


def test_a_wrong_signature_exits_1_without_showing_the_secret() -> None:
    body = example_body()
    result = verify("--signature", sign(body, "another secret"), body=body)
    assert result.exit_code == 1
    assert "does not match" in result.stderr
    assert SECRET not in result.output
    assert result.stdout == ""


def test_a_newline_added_to_the_body_is_pointed_out() -> None:
    body = example_body()
    result = verify("--signature", sign(body), body=body + b"\n")
    assert result.exit_code == 1
    assert "ends with a newline" in result.stderr


def test_a_signed_body_that_is_not_an_event_exits_3() -> None:
    body = b'{"eventId": "wev_1"}'
    result = verify("--signature", sign(body), body=body)
    assert result.exit_code == 3
    assert "data: missing" in result.stderr


def test_the_secret_comes_from_the_variable_named() -> None:
    body = example_body()
    result = verify(
        "--secret-env",
        "MY_DBT_SECRET",
        "--signature",
        sign(body, "mine"),
        body=body,
        env={"MY_DBT_SECRET": "mine", "DBT_WEBHOOK_SECRET": ""},
    )
    assert result.exit_code == 0, result.output
    missing = verify("--signature", sign(body), body=body, env={"DBT_WEBHOOK_SECRET": ""})
    assert missing.exit_code == 2
    assert "$DBT_WEBHOOK_SECRET" in missing.output


def test_help_shows_examples_and_exit_codes_and_takes_no_secret_flag() -> None:
    for leaf in ("verify", "listen"):
        result = CliRunner().invoke(_build(), ["webhooks", leaf, "--help"])
        assert result.exit_code == 0
        assert "Examples:" in result.output
        assert f"dbt-runs webhooks {leaf}" in result.output
        assert "--secret " not in result.output
    assert (
        "  3    signed, but not a run event"
        in CliRunner().invoke(_build(), ["webhooks", "verify", "--help"]).output
    )
    top = CliRunner().invoke(_build(), ["--help"]).output
    assert "  webhooks " in top


def test_listen_needs_a_secret_without_the_emulator() -> None:
    result = CliRunner().invoke(_build(), ["webhooks", "listen"], env={"DBT_WEBHOOK_SECRET": ""})
    assert result.exit_code == 2
    assert "DBT_WEBHOOK_SECRET" in result.output


def test_listen_takes_an_emulator_port_only_with_the_emulator() -> None:
    result = CliRunner().invoke(
        _build(), ["webhooks", "listen", "--emulator-port", "8000"], env={"DBT_WEBHOOK_SECRET": ""}
    )
    assert result.exit_code == 2
    assert "--emulator-port needs --emulator" in result.output


def test_listen_exits_2_naming_the_flag_when_the_emulator_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            _build(),
            ["webhooks", "listen", "--emulator", "--port", "0", "--emulator-port", str(port)],
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port} for the emulator" in result.output
    assert "--emulator-port" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LISTEN = ["--emulator", "--port", "0", "--emulator-speed", "100", "--json"]


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.mark.slow
def test_listen_with_the_emulator_prints_each_event_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    port = str(_free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "dbt_runs", "webhooks", "listen", *LISTEN, "--emulator-port", port],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        threading.Thread(target=_lines, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_lines, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        notes = []
        while not any("listening at" in n for n in notes):
            notes.append(err.get(timeout=30))
        (base_url,) = [m for n in notes for m in re.findall(r"DBT_CLOUD_BASE_URL=(\S+)", n)]
        assert base_url == f"http://127.0.0.1:{port}/api/v2"  # the --emulator-port asked for
        triggered = httpx.post(
            f"{base_url}/accounts/1/jobs/1/run/",
            json={"cause": "listen"},
            headers={"Authorization": "Token emulator"},
            timeout=10,
        )
        run_id = triggered.json()["data"]["id"]
        events = [json.loads(out.get(timeout=30)) for _ in range(2)]
        assert [(e["event_type"], e["run_id"]) for e in events] == [
            ("job.run.started", run_id),
            ("job.run.completed", run_id),
        ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for reader in readers:
            reader.join(10)  # they end at the streams' end, now that the process is gone
        process.stdout.close()
        process.stderr.close()


def test_cli_md_gives_verify_the_exit_codes_it_has() -> None:
    from dbt_runs.cli import webhooks as command

    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    said = " ".join(page[page.index("## `dbt-runs webhooks`") :].split())
    assert f"{command._VERIFIED} signed with the secret and a run event" in said
    assert f"{command._REFUSED} refused" in said
    assert f"{command._USAGE} usage" in said
    assert f"{command._NOT_AN_EVENT} signed but not a run event" in said
