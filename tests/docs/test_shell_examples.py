"""Every shell example of the README and of the docs runs as written, against the emulator.

Each ```bash, ```sh, ```shell and ```console block (found with mktestdocs, see
`docs_support.py`) runs with `bash` under `set -euo pipefail`, in an empty folder, with the
`dbt-runs` of this environment first on `PATH`, and `curl` and `openssl` from the machine. A
block that says `# Not run by the docs tests: <reason>` in its first line is reported as
skipped, with the reason (a real dbt Cloud account, ...). A block that installs packages (a
`python -m pip install` line) runs in a fresh venv in `test_install_examples.py` (`nox -s
install_examples`) instead. The `dbt-runs` command lines of every block, run or not, parse in
`test_command_examples.py`.

The servers a page starts are started here instead, with the page's own command lines
(`dbt-runs serve ...`, `dbt-runs emulator ...`, `dbt-runs webhooks listen ...`, with the
variables the block exports above them; a page that starts none gets `dbt-runs serve
--emulator`), on ephemeral ports, never the documented 8080, 9090, 8081 and 8000, which
another program may hold. A `dbt-runs serve` without `--emulator` is started in front of the
page's emulator, as its set-up exports it. Each block gets its page's servers afresh and runs
with their ports written in place of the documented ones, and with `DBT_API_KEY`,
`DBT_CLOUD_BASE_URL` and `DBT_CLOUD_ACCOUNT_ID` set for the page's emulator, as its set-up
says to export them. A block's calls to dbt Cloud's own host (`https://cloud.getdbt.com/api/`)
go to that emulator; a port that a command of the block serves for a while (`--webhook-port
8081`) is a free one; where two servers of a page document the same port, a block calls the
one started last above it, as a reader going down the page would. So every block stands
alone, as for a reader who copies just that one, and sees the emulator as seeded: past runs
from 100001 (its seed is fixed), the first run it starts 110001 (`dbt-runs emulator`) or
101001 (`dbt-runs serve --emulator`). The blocks run side by side, since they mostly wait.

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
RUNNABLE = [block for block in EXAMPLES if not block.not_run and not block.installs]
#: Blocks running at once: they mostly wait (for a server to start, for a run to end).
AT_ONCE = 8
BIN = Path(sys.executable).parent
#: A line that starts a server: the test starts it instead (a trailing `&` is allowed).
SERVICE = re.compile(
    r"^(?:\$ )?(?P<command>dbt-runs (?:serve|emulator|webhooks listen)\b[^#&\n]*?)\s*&?\s*(#.*)?$"
)
EXPECTED_FAILURE = re.compile(r"""\|\| echo "exit \$\?"\s*#[^\n]*?\bexit (\d+)""")
PRINTED_EXIT = re.compile(r"^exit (\d+)$", re.MULTILINE)
#: A port that a command of the block serves itself for a while: a free one is used instead.
LOCAL_PORT = re.compile(r"--webhook-port[= ](\d+)")
#: dbt Cloud's own host (the multi-tenant US one): the page's emulator stands in for it.
DBT_CLOUD = re.compile(r"https://cloud\.getdbt\.com(?=/api/)")
URL = r"http://127\.0\.0\.1:(?P<port>\d+)"
STARTUP_SECONDS = 60


@dataclass
class Service:
    """A server a page starts: its process, and the documented port -> the actual one."""

    line: str
    kind: str  # "serve", "emulator" or "webhooks" (`webhooks listen`)
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
    flags = {
        "emulator": {"--port": 8000},
        "serve": {"--rest-port": 8080, "--mcp-port": 9090},
        "webhooks": {"--port": 8081},
    }
    wanted = dict(flags[words[1]])
    if words[1] == "webhooks" and "--emulator" in words:
        wanted["--emulator-port"] = 0  # 0: a free port, which no block can call by number
    if words[1] == "serve" and any(word.startswith("--webhook-port") for word in words):
        wanted["--webhook-port"] = 8081
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
def _service(line: str, folder: Path, variables: dict[str, str]) -> Iterator[Service]:
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
            env={**_environment(), **variables},
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
            elif words[1] == "webhooks":  # `webhooks listen`, with its emulator if asked
                listening = re.search(rf"listening at {URL}/v1/webhooks/dbt", text)
                emulated = re.search(rf"emulator at (?P<url>{URL}/api/v2)", text)
                if listening:
                    service.ports[documented["--port"]] = int(listening["port"])
                    if emulated:
                        service.base_url, service.token = emulated["url"], "emulator"
                        if documented.get("--emulator-port"):
                            service.ports[documented["--emulator-port"]] = int(emulated["port"])
                    break
            else:
                rest = re.search(rf"REST adapter at {URL}/v1", text)
                mcp = re.search(rf"MCP server at {URL}/mcp", text)
                hooks = re.search(r"webhook receiver at http://[^:]+:(?P<port>\d+)/", text)
                upstream = re.search(rf"at (?P<url>{URL}/api/v2), token (?P<token>\S+),", text)
                alone = "--only" in words and words[words.index("--only") + 1] == "webhooks"
                if (
                    "no DBT_RUNS_SERVER_TOKEN" in text
                    or "DBT_RUNS_SERVER_TOKEN set" in text
                    or (alone and hooks)
                ):
                    if rest:
                        service.ports[documented["--rest-port"]] = int(rest["port"])
                    if mcp:
                        service.ports[documented["--mcp-port"]] = int(mcp["port"])
                    if hooks and "--webhook-port" in documented:
                        service.ports[documented["--webhook-port"]] = int(hooks["port"])
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


def _on_our_ports(code: str, services: list[Service], upstream: Service) -> str:
    for service in services:
        for documented, actual in service.ports.items():
            code = re.sub(rf"\b(127\.0\.0\.1|localhost):{documented}\b", rf"\g<1>:{actual}", code)
    if upstream.base_url:  # dbt Cloud's own host: the emulator in its place
        code = DBT_CLOUD.sub(upstream.base_url.removesuffix("/api/v2"), code)
    return code


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _with_local_ports(code: str) -> str:
    """The block with each port that a command of its own serves for a while
    (`--webhook-port 8081`, and the URLs naming it) set to a free one."""
    ports = {
        int(port)
        for line in code.splitlines()
        if not _is_service(line)
        for port in LOCAL_PORT.findall(line)
    }
    for port in ports:
        actual = _free_port()
        code = re.sub(rf"\b(127\.0\.0\.1|localhost):{port}\b", rf"\g<1>:{actual}", code)
        code = re.sub(rf"(--webhook-port[= ]){port}\b", rf"\g<1>{actual}", code)
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


def _script(language: str, code: str, services: list[Service], upstream: Service) -> str:
    if language == "console":
        code = _console_script(code)
    else:  # a server the page starts is already running: keep the line numbers
        code = "".join(
            f": started by the test: {line.strip()}\n" if _is_service(line) else line
            for line in code.splitlines(keepends=True)
        )
    return _on_our_ports(code, services, upstream)


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


def _documented_ports(command: str) -> set[int]:
    return {port for port in _with_ephemeral_ports(shlex.split(command))[1].values() if port}


def _upstream_of(command: str) -> bool:
    """Whether the server is, or has, an emulator for `dbt-runs` commands to talk to."""
    words = shlex.split(command)
    return words[1] == "emulator" or "--emulator" in words


def _fronts_dbt(command: str) -> bool:
    """Whether the server is `dbt-runs serve` in front of dbt Cloud: here, of an emulator.
    (`--only webhooks` talks to no one.)"""
    words = shlex.split(command)
    return words[1] == "serve" and "--emulator" not in words and "webhooks" not in words


def _exports(code: str, command: str) -> dict[str, str]:
    """The variables the block exports above the line that starts `command` (as a reader's
    shell would pass them to it), but those computed by a command."""
    variables: dict[str, str] = {}
    for line in code.splitlines():
        if _is_service(line) and SERVICE.match(line.strip())["command"] == command:  # type: ignore[index]
            break
        if line.startswith("export "):
            for word in shlex.split(line, comments=True)[1:]:
                name, equals, value = word.partition("=")
                if equals and "$(" not in value:
                    variables[name] = value
    return variables


def _services(block: Block, code: str) -> list[str]:
    """The servers of the block's page that the block needs: those it starts or calls (by
    their documented ports), and the emulator its `dbt-runs` commands (or its calls to dbt
    Cloud's host) talk to. Where two servers of a page document the same port, a block calls
    the one started last before it, as a reader going down the page would. A page that
    starts none has `dbt-runs serve --emulator`."""
    started = [
        (other.line, command)
        for other in RUNNABLE
        if other.page == block.page
        for command in _commands(other.code)
    ] or [(0, "dbt-runs serve --emulator")]

    def nearest(candidates: list[tuple[int, str]]) -> str:
        before = [command for line, command in candidates if line <= block.line]
        return before[-1] if before else candidates[0][1]

    needed = list(dict.fromkeys(_commands(code)))
    for port in sorted({port for _, command in started for port in _documented_ports(command)}):
        if re.search(rf"\b(127\.0\.0\.1|localhost):{port}\b", code):
            documenting = [(line, c) for line, c in started if port in _documented_ports(c)]
            if (chosen := nearest(documenting)) not in needed:
                needed.append(chosen)
    calls_dbt = re.search(r"\bdbt-runs (?!serve|emulator)", code) or DBT_CLOUD.search(code)
    fronting = any(_fronts_dbt(c) for c in needed)
    if not any(_upstream_of(c) for c in needed) and (calls_dbt or fronting or not needed):
        upstreams = [(line, c) for line, c in started if _upstream_of(c)]
        needed.append(nearest(upstreams or [(0, "dbt-runs emulator")]))
    # The emulators first: a `dbt-runs serve` in front of dbt Cloud starts in front of one.
    return sorted(needed, key=lambda command: not _upstream_of(command))


def _run(block: Block, folder: Path) -> Outcome:
    """Start the page's servers afresh, then run the block against them."""
    with ExitStack() as stack:
        services = []
        code = _with_local_ports(block.code)
        for index, line in enumerate(_services(block, code)):
            (folder / f"service-{index}").mkdir()
            # A server the block starts gets what the block exports above it; one of another
            # block of the page, none of it.
            variables = _exports(code, line) if line in _commands(code) else {}
            if _fronts_dbt(line):  # in front of the emulator started first, as set up
                emulator = next(service for service in services if service.base_url)
                variables.update(
                    DBT_API_KEY=emulator.token or "any-token",
                    DBT_CLOUD_BASE_URL=emulator.base_url or "",
                    DBT_CLOUD_ACCOUNT_ID="1",
                )
            folder_of = folder / f"service-{index}"
            services.append(stack.enter_context(_service(line, folder_of, variables)))
        # The page's own emulator if it starts one, else the one behind `dbt-runs serve` or
        # `dbt-runs webhooks listen --emulator`.
        upstream = min(
            services, key=lambda service: (service.kind != "emulator", service.base_url is None)
        )
        env = _environment()
        env.update(
            DBT_API_KEY=upstream.token or "any-token",
            DBT_CLOUD_BASE_URL=upstream.base_url or "",
            DBT_CLOUD_ACCOUNT_ID="1",
        )
        (folder / "work").mkdir()
        script = _script(block.language, code, services, upstream)
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
    assert shutil.which("openssl"), "the webhooks guide signs a body with openssl: install it"
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
            if block in RUNNABLE
        }


def test_the_key_pages_have_shell_examples_that_run() -> None:
    pages = {block.page for block in RUNNABLE}
    assert {"README.md", "docs/quickstart.md", "docs/cli.md", "docs/rest.md"} <= pages


def test_every_server_a_page_starts_is_the_emulator_or_in_front_of_it() -> None:
    # `dbt-runs serve` without --emulator is started in front of the page's emulator; a block
    # that points it at a real dbt Cloud host says it is not run (docs_support.NOT_RUN).
    for block in RUNNABLE:
        for line in block.code.splitlines():
            if not _is_service(line):
                continue
            command = SERVICE.match(line.strip())["command"]  # type: ignore[index]
            if " listen" in command:
                assert "--emulator" in command or "DBT_WEBHOOK_SECRET" in _exports(
                    block.code, command
                ), f"{block.id}: `{command}` has no secret"
            if _fronts_dbt(command):
                assert _upstream_of(_services(block, block.code)[0]), block.id
                assert not {"DBT_CLOUD_HOST", "DBT_CLOUD_BASE_URL"} & set(
                    _exports(block.code, command)
                ), f"{block.id}: `{command}` is pointed at a dbt Cloud host"


@pytest.mark.slow
@pytest.mark.parametrize("block", EXAMPLES, ids=lambda block: block.id)
def test_example_runs(
    block: Block, ran: dict[str, Future[dict[str, Outcome | BaseException]]]
) -> None:
    if block.installs:
        pytest.skip(
            f"{block.id} installs packages: nox -s install_examples runs it in a fresh venv"
        )
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
