"""`dbt-runs serve`: flags, refusals, and real servers on loopback in front of the emulator."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from dbt_runs.cli import _build
from dbt_runs.cli.serve import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Settings
from dbt_runs.expose._security import DEFAULT_BODY_TIMEOUT, SERVER_TOKEN_ENV

from .conftest import assert_envelope
from .serve_support import BOUNDED, ServeProcess, serving


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"DBT_API_KEY": "", "DBT_RUNS_SERVER_TOKEN": ""}
    return CliRunner().invoke(_build(), ["serve", *args], env={**base, **(env or {})})


def one_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return str(lines[0])


def test_missing_dbt_token_is_one_line_naming_it() -> None:
    line = one_line(invoke())
    assert "set DBT_API_KEY" in line
    assert "--emulator" in line


def test_public_host_without_a_token_is_refused() -> None:
    line = one_line(invoke("--host", "0.0.0.0", "--emulator"))
    assert "DBT_RUNS_SERVER_TOKEN" in line
    assert "--allow-unauthenticated" in line


def test_bad_base_url_is_one_line() -> None:
    line = one_line(
        invoke("--only", "rest", env={"DBT_API_KEY": "k", "DBT_CLOUD_BASE_URL": "ftp://x"})
    )
    assert "DBT_CLOUD_BASE_URL must be an http(s) URL" in line  # the variable, not base_url


def test_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line(invoke("--emulator", "--only", "rest", "--rest-port", str(port)))
    assert f"127.0.0.1:{port}" in line
    assert "--rest-port" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--stdio"], "--only mcp"),
        (["--only", "soap"], "soap"),
        (["--rest-port", "70000"], "70000"),
        (["--emulator-speed", "0"], "0"),
    ],
)
def test_usage_errors(args: list[str], words: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert words in result.stderr


def test_help_lists_every_flag() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for flag in (
        "--host",
        "--rest-port",
        "--mcp-port",
        "--only",
        "--stdio",
        "--emulator",
        "--emulator-speed",
        "--read-only",
        "--allow-unauthenticated",
        "--log-level",
        "--header-timeout",
        "--body-timeout",
        "--max-connections",
    ):
        assert flag in result.output


# ---------------------------------------------------------------- in-process, real sockets


@pytest.mark.anyio
async def test_rest_and_mcp_share_one_emulator_upstream() -> None:
    async with serving(mcp=True) as running, httpx.AsyncClient(timeout=BOUNDED) as http:
        rest, mcp = running.urls["rest"], running.urls["mcp"]
        assert rest.startswith("http://127.0.0.1:")
        assert running.urls["emulator"].endswith("/api/v2")
        triggered = await http.post(f"{rest}/v1/accounts/1/jobs/1/run", json={"cause": "serve"})
        assert triggered.status_code == 200, triggered.text
        run_id = triggered.json()["data"]["id"]
        got = await http.get(f"{rest}/v1/accounts/1/runs/{run_id}")
        assert got.json()["data"]["id"] == run_id
        # The emulator is reachable for other local tools, with the token serve printed only.
        direct = await http.get(
            f"{running.urls['emulator']}/accounts/1/runs/{run_id}/",
            headers={"Authorization": "Bearer wrong"},
        )
        assert direct.status_code == 401  # the emulator checks the token the serve made
        listed = await http.post(
            mcp,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert listed.status_code == 200
        assert "list-runs" in listed.text


@pytest.mark.anyio
async def test_server_token_and_read_only_through_serve() -> None:
    async with (
        serving(server_token="inbound-t0ken", read_only=True) as running,
        httpx.AsyncClient(timeout=BOUNDED) as http,
    ):
        rest = running.urls["rest"]
        assert_envelope(await http.get(f"{rest}/v1/accounts/1/runs"), 401)
        auth = {"Authorization": "Bearer inbound-t0ken"}
        assert (await http.get(f"{rest}/v1/accounts/1/runs", headers=auth)).status_code == 200
        assert (await http.get(f"{rest}/healthz")).status_code == 200
        hidden = await http.post(f"{rest}/v1/accounts/1/jobs/1/run", headers=auth)
        assert_envelope(hidden, 404)


@pytest.mark.anyio
async def test_loopback_server_refuses_foreign_host_and_origin() -> None:
    async with serving() as running, httpx.AsyncClient(timeout=BOUNDED) as http:
        rest = running.urls["rest"]
        assert_envelope(await http.get(f"{rest}/healthz", headers={"Host": "evil.example"}), 421)
        origin = {"Origin": "https://evil.example"}
        assert_envelope(await http.post(f"{rest}/v1/accounts/1/jobs/1/run", headers=origin), 403)
        same = {"Origin": rest}
        assert (await http.get(f"{rest}/healthz", headers=same)).status_code == 200


# ---------------------------------------------------------------- a real `dbt-runs serve`


@pytest.mark.slow
def test_subprocess_serve_emulator_only_rest() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DBT_API_KEY", SERVER_TOKEN_ENV}}
    args = ("--emulator", "--only", "rest", "--rest-port", "0", "--log-level", "warning")
    with ServeProcess(*args, env=env) as serve:
        base = serve.wait_for(r"REST adapter at (http://127\.0\.0\.1:\d+)/v1").group(1)
        assert any("emulator (dbt Cloud API) at http://127.0.0.1:" in s for s in serve.stderr)
        with httpx.Client(base_url=base, timeout=BOUNDED) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            run = http.post("/v1/accounts/1/jobs/1/run").json()["data"]
            assert run["trigger"]["cause"].startswith("Triggered via the dbt-runs REST adapter ")
            assert http.get(f"/v1/accounts/1/runs/{run['id']}").status_code == 200
            doc = http.get("/openapi.json").json()
            assert "/v1/accounts/{accountid}/runs" in doc["paths"]
        assert serve.stop() == 0
    rest = "".join(serve.stderr)
    assert "stopped" in rest
    assert "Traceback" not in rest


def test_serve_json_lines_are_never_on_stdout() -> None:
    # stdout belongs to MCP over stdio: `serve` writes its own lines to stderr only.
    result = invoke()
    assert result.stdout == ""


# ---------------------------------------------------------------- flags -> settings


def captured(
    monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None
) -> Settings:
    import dbt_runs.cli.serve as serve_module

    seen: list[Settings] = []
    monkeypatch.setattr(serve_module, "run", seen.append)
    base = {"DBT_API_KEY": "", "DBT_RUNS_SERVER_TOKEN": ""}
    result = CliRunner().invoke(_build(), list(args), env={**base, **(env or {})})
    assert result.exit_code == 0, result.output
    (settings_seen,) = seen
    return settings_seen


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    s = captured(monkeypatch, "serve", env={"DBT_API_KEY": "k"})
    assert (s.host, s.rest_port, s.mcp_port) == ("127.0.0.1", 8080, 9090)
    assert (s.rest, s.mcp, s.stdio, s.emulator, s.read_only) == (True, True, False, False, False)
    assert s.server_token is None
    assert s.log_level == "info"
    defaults = (DEFAULT_HEADER_TIMEOUT, DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_CONNECTIONS)
    assert (s.header_timeout, s.body_timeout, s.max_connections) == defaults == (5.0, 10.0, 100)


def test_timeouts_and_the_connection_cap_are_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = ["--header-timeout", "2.5", "--body-timeout", "30", "--max-connections", "7"]
    s = captured(monkeypatch, "serve", "--emulator", *flags)
    assert (s.header_timeout, s.body_timeout, s.max_connections) == (2.5, 30.0, 7)


def test_the_docs_state_the_timeouts_and_limits() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    rest = (docs / "rest.md").read_text(encoding="utf-8")
    mcp = (docs / "mcp.md").read_text(encoding="utf-8")
    for figure, flag in (
        (f"{DEFAULT_HEADER_TIMEOUT:g} s", "--header-timeout"),
        (f"{DEFAULT_BODY_TIMEOUT:g} s", "--body-timeout"),
        (f"{DEFAULT_MAX_CONNECTIONS} per server", "--max-connections"),
    ):
        assert f"| {figure} | `{flag}` |" in rest, flag
        assert f"{figure}** (`{flag}`)" in mcp, flag


@pytest.mark.parametrize(
    "args",
    [
        ["--header-timeout", "0"],
        ["--body-timeout", "-1"],
        ["--max-connections", "0"],
        ["--header-timeout", "soon"],
    ],
)
def test_timeouts_and_the_cap_must_be_positive(args: list[str]) -> None:
    result = invoke("--emulator", *args)
    assert result.exit_code == 2
    assert args[0] in result.stderr


def test_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    s = captured(
        monkeypatch,
        "--debug",
        "serve",
        "--only",
        "mcp",
        "--stdio",
        "--emulator",
        "--emulator-speed",
        "2.5",
        "--read-only",
    )
    assert (s.rest, s.mcp, s.stdio, s.emulator, s.read_only) == (False, True, True, True, True)
    assert s.emulator_speed == 2.5
    assert s.log_level == "debug"


def test_public_host_with_a_token_or_an_explicit_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    s = captured(
        monkeypatch,
        "serve",
        "--host",
        "0.0.0.0",
        "--emulator",
        env={"DBT_RUNS_SERVER_TOKEN": " t0k\n"},
    )
    assert s.server_token == "t0k"
    s = captured(monkeypatch, "serve", "--host", "0.0.0.0", "--emulator", "--allow-unauthenticated")
    assert s.server_token is None
    assert s.rest
    assert s.mcp
