"""Every shell example of the README and of the docs runs as written, against the emulator.

Each ```bash, ```sh, ```shell and ```console block (found with mktestdocs, see
`docs_support.py`) runs with `bash` under `set -euo pipefail`, in an empty folder, with the
`dbt-runs` of this environment first on `PATH` and `curl` from the machine. A block that says
`# Not run by the docs tests: <reason>` in its first line is reported as skipped, with the
reason (installing packages, a real dbt Cloud account, ...).

The servers a page starts are started here instead, with the page's own command lines
(`dbt-runs serve --emulator ...`, `dbt-runs emulator ...`; a page that starts none gets
`dbt-runs serve --emulator`), on ephemeral loopback ports, never the documented 8080, 9090
and 8000, which another program may hold. Each block gets its page's servers afresh and runs
with their ports written in place of the documented ones, and with `DBT_API_KEY`,
`DBT_CLOUD_BASE_URL` and `DBT_CLOUD_ACCOUNT_ID` set for the page's emulator, as its set-up
says to export them. So every block stands alone, as for a reader who copies just that one,
and sees the emulator as seeded: past runs from 100001 (its seed is fixed), the first run it
starts 110001 (`dbt-runs emulator`) or 101001 (`dbt-runs serve --emulator`). The blocks run
side by side, since they mostly wait.

A ```console block runs each `$ ` command and expects the exit status its output shows
(`[exit N]`), else 0. In a ```bash block, a command expected to fail is written
`command || echo "exit $?"   # exit N`, and the test checks that it printed `exit N`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs_support import SHELL, Block, blocks

EXAMPLES = blocks(*SHELL)
RUNNABLE = [block for block in EXAMPLES if not block.not_run]
#: Blocks running at once: they mostly wait (for a server to start, for a run to end).
AT_ONCE = 8
BIN = Path(sys.executable).parent
#: A line that starts a server: the test starts it instead (a trailing `&` is allowed).
SERVICE = re.compile(r"^(?:\$ )?(?P<command>dbt-runs (?:serve|emulator)\b[^#&\n]*?)\s*&?\s*(#.*)?$")
EXPECTED_FAILURE = re.compile(r"""\|\| echo "exit \$\?"\s*#[^\n]*?\bexit (\d+)""")
PRINTED_EXIT = re.compile(r"^exit (\d+)$", re.MULTILINE)
URL = r"http://127\.0\.0\.1:(?P<port>\d+)"
STARTUP_SECONDS = 60


@dataclass
class Service:
    """A server a page starts: its process, and the documented port -> the actual one."""

    line: str
    kind: str  # "serve" or "emulator"
    process: subprocess.Popen[bytes]
    ports: dict[int, int] = field(default_factory=dict)
    base_url: str | None = None
    token: str | None = None


def _is_service(line: str) -> bool:
    match = SERVICE.match(line.strip())
    if match is None:
        return False
    words = shlex.split(match["command"])
    return "--help" not in words and "--stdio" not in words


def _with_ephemeral_ports(words: list[str]) -> tuple[list[str], dict[str, int]]:
    """The command with every port flag set to 0, and the ports it asked for."""
    flags = {"emulator": {"--port": 8000}, "serve": {"--rest-port": 8080, "--mcp-port": 9090}}
    wanted = dict(flags[words[1]])
    out = []
    given = iter(words)
    for word in given:
        name, equals, value = word.partition("=")
        if name in wanted:
            wanted[name] = int(value if equals else next(given))
            continue
        out.append(word)
    for name in wanted:
        out += [name, "0"]
    return out, wanted


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "COV_", "PYTEST_"))}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _wait_for_port(port: int, deadline: float) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _service(line: str, folder: Path) -> Iterator[Service]:
    words = shlex.split(line)
    words, documented = _with_ephemeral_ports(words)
    log_path = folder / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # the page's own command line, with ports 0
            [str(BIN / words[0]), *words[1:]],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=_environment(),
        )
    service = Service(line, words[1], process)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            if words[1] == "emulator":
                found = re.search(rf"listening on (?P<url>{URL}/api/v2)", text)
                if found:
                    service.ports[documented["--port"]] = int(found["port"])
                    service.base_url = found["url"]
                    service.token = "any-token"  # without --token it takes any token
                    if "--token" in words:
                        service.token = words[words.index("--token") + 1]
                    break
            else:
                rest = re.search(rf"REST adapter at {URL}/v1", text)
                mcp = re.search(rf"MCP server at {URL}/mcp", text)
                upstream = re.search(rf"at (?P<url>{URL}/api/v2), token (?P<token>\S+),", text)
                if "no DBT_RUNS_SERVER_TOKEN" in text or "DBT_RUNS_SERVER_TOKEN set" in text:
                    if rest:
                        service.ports[documented["--rest-port"]] = int(rest["port"])
                    if mcp:
                        service.ports[documented["--mcp-port"]] = int(mcp["port"])
                    if upstream:
                        service.base_url, service.token = upstream["url"], upstream["token"]
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`{line.strip()}` did not start:\n{text[-3000:]}")
            time.sleep(0.05)
        for port in service.ports.values():
            _wait_for_port(port, deadline)
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # as Ctrl-C would: a graceful shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _on_our_ports(code: str, services: list[Service]) -> str:
    for service in services:
        for documented, actual in service.ports.items():
            code = re.sub(rf"\b(127\.0\.0\.1|localhost):{documented}\b", rf"\g<1>:{actual}", code)
    return code


def _console_script(code: str) -> str:
    """Each `$ ` command, then a check of its exit status against the one shown."""
    lines = code.splitlines()
    script = []
    for index, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        command = line[2:]
        output = []
        for following in lines[index + 1 :]:
            if following.startswith("$ "):
                break
            output.append(following)
        shown = re.search(r"\[exit (\d+)\]", "\n".join(output))
        want = int(shown[1]) if shown else 0
        script += [
            "set +e",
            command,
            "status=$?",
            "set -e",
            f'if [ "$status" -ne {want} ]; then',
            f"  echo {shlex.quote(f'the page shows exit {want} for: {command}')}"
            ' ", got $status" >&2',
            "  exit 1",
            "fi",
        ]
    return "\n".join(script) + "\n"


def _script(block: Block, services: list[Service]) -> str:
    if block.language == "console":
        code = _console_script(block.code)
    else:  # a server the page starts is already running: keep the line numbers
        code = "".join(
            f": started by the test: {line.strip()}\n" if _is_service(line) else line
            for line in block.code.splitlines(keepends=True)
        )
    return _on_our_ports(code, services)


@dataclass(frozen=True)
class Outcome:
    script: str
    returncode: int
    stdout: str
    stderr: str


def _commands(code: str) -> list[str]:
    """The server command lines of a block, without their comments and `&`."""
    return [
        SERVICE.match(line.strip())["command"] for line in code.splitlines() if _is_service(line)
    ]  # type: ignore[index]


def _services(block: Block) -> list[str]:
    """The servers of the block's page that the block needs: those it starts or calls (by
    their documented ports), and the emulator its `dbt-runs` commands talk to. A page that
    starts none has `dbt-runs serve --emulator`."""
    on_page = [
        command
        for other in RUNNABLE
        if other.page == block.page
        for command in _commands(other.code)
    ]
    page = list(dict.fromkeys(on_page)) or ["dbt-runs serve --emulator"]
    needed = []
    for command in page:
        ports = _with_ephemeral_ports(shlex.split(command))[1].values()
        called = any(
            re.search(rf"\b(127\.0\.0\.1|localhost):{port}\b", block.code) for port in ports
        )
        if called or command in _commands(block.code):
            needed.append(command)
    # `dbt-runs runs|jobs|artifacts ...` use the page's emulator, as its set-up exports it.
    upstream = next((c for c in page if shlex.split(c)[1] == "emulator"), page[0])
    calls_dbt = re.search(r"\bdbt-runs (?!serve|emulator)", block.code)
    if upstream not in needed and (calls_dbt or not needed):
        needed.append(upstream)
    return needed


def _run(block: Block, folder: Path) -> Outcome:
    """Start the page's servers afresh, then run the block against them."""
    with ExitStack() as stack:
        services = []
        for index, line in enumerate(_services(block)):
            (folder / f"service-{index}").mkdir()
            services.append(stack.enter_context(_service(line, folder / f"service-{index}")))
        # The page's own emulator if it starts one, else the one behind `dbt-runs serve`.
        upstream = min(services, key=lambda service: service.kind != "emulator")
        env = _environment()
        env.update(
            DBT_API_KEY=upstream.token or "any-token",
            DBT_CLOUD_BASE_URL=upstream.base_url or "",
            DBT_CLOUD_ACCOUNT_ID="1",
        )
        (folder / "work").mkdir()
        script = _script(block, services)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", "set -euo pipefail\n" + script],
            cwd=folder / "work",
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        return Outcome(script, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def ran(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    """Run every selected block, side by side; each test waits for its own."""
    assert shutil.which("bash"), "the docs tests run the shell examples with bash"
    assert shutil.which("curl"), "the docs tests run the curl examples: install curl"
    assert (BIN / "dbt-runs").exists(), f"no dbt-runs console script in {BIN}"
    selected: list[Block] = []
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if item.module is request.module and params is not None and "block" in params.params:
            selected.append(params.params["block"])
    with ThreadPoolExecutor(max_workers=AT_ONCE, thread_name_prefix="docs-shell") as pool:
        yield {
            block.id: pool.submit(_run, block, tmp_path_factory.mktemp("block"))
            for block in selected
            if not block.not_run
        }


def test_the_key_pages_have_shell_examples_that_run() -> None:
    pages = {block.page for block in RUNNABLE}
    assert {"README.md", "docs/quickstart.md", "docs/cli.md", "docs/rest.md"} <= pages


def test_every_server_a_page_starts_is_the_emulator_or_in_front_of_it() -> None:
    # `dbt-runs serve` without --emulator needs a dbt Cloud account: such a block says it is
    # not run (docs_support.NOT_RUN) instead of being started here.
    for block in RUNNABLE:
        for line in block.code.splitlines():
            if _is_service(line) and " serve" in line:
                assert "--emulator" in line, f"{block.id}: `{line.strip()}` needs dbt Cloud"


@pytest.mark.slow
@pytest.mark.parametrize("block", EXAMPLES, ids=lambda block: block.id)
def test_example_runs(
    block: Block, ran: dict[str, Future[dict[str, Outcome | BaseException]]]
) -> None:
    if block.not_run:
        pytest.skip(f"{block.id}: {block.not_run}")
    outcome = ran[block.id].result()
    report = (
        f"{block.id} failed (exit {outcome.returncode})\n--- script\n{outcome.script}"
        f"--- stdout\n{outcome.stdout[-4000:]}\n--- stderr\n{outcome.stderr[-4000:]}"
    )
    assert outcome.returncode == 0, report
    expected = [int(n) for n in EXPECTED_FAILURE.findall(block.code)]
    printed = [int(n) for n in PRINTED_EXIT.findall(outcome.stdout)]
    assert printed == expected, f"exit statuses {printed}, the page says {expected}\n{report}"
