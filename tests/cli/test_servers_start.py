"""`dbt-runs serve` and `dbt-runs emulator` fail to start the same way: one line, exit 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from dbt_runs.cli import _build
from dbt_runs.cli._output import ExitCode

# Each command with the flag that picks its port.
COMMANDS = {
    "serve": (["serve", "--emulator", "--only", "rest"], "--rest-port"),
    "emulator": (["emulator", "--runs", "0"], "--port"),
}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_busy_port_stops_each_server_command_with_exit_2(command: str, busy_port: int) -> None:
    args, flag = COMMANDS[command]
    env = {"DBT_API_KEY": "", "DBT_RUNS_SERVER_TOKEN": ""}
    result = CliRunner().invoke(_build(), [*args, flag, str(busy_port)], env=env)
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dbt-runs {command}: cannot listen on 127.0.0.1:{busy_port}")
    assert f"pick another port with {flag}" in lines[0]
    assert "Traceback" not in result.output
