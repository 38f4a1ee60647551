"""What every `runs` and `artifacts` command shares: its flags, its client, how it ends.

Each command builds an `AsyncRunsClient` from the same environment variables as the SDK
(`DBT_API_KEY`, `DBT_CLOUD_BASE_URL` or `DBT_CLOUD_HOST`, `DBT_CLOUD_ACCOUNT_ID`), with flags
that override all but the token: a token on the command line would land in shell history and
process lists. `execute` is the one place where an outcome or an exception becomes an exit
code and, for an error, the one line that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import re
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

import anyio
import attrs
import click

from dbt_runs._config import (
    ENV_ACCOUNT_ID,
    ENV_BASE_URL,
    ENV_HOST,
    ENV_TOKEN,
    resolve_base_url,
)
from dbt_runs._fields import Field, FieldError, Flag
from dbt_runs.cli._output import ExitCode, ListFormat, Redactor, echo, silence

if TYPE_CHECKING:
    from dbt_runs import AsyncRunsClient

__all__ = [
    "CONTEXT",
    "ENVIRONMENT_NAMES",
    "CommandError",
    "Decorator",
    "Seconds",
    "Settings",
    "command_line_wording",
    "connection_options",
    "execute",
    "fail",
    "field_option",
    "given",
    "listing_options",
    "option_group",
]

T = TypeVar("T")
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
"""What `click.option(...)` returns: applied to a command function, adds the option."""

CONTEXT: Final[dict[str, Any]] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EMULATOR_SPEED: Final[Decorator] = click.option(
    "--emulator-speed",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="With --emulator: how many times faster than real time emulated runs progress.",
)
"""`--emulator-speed`, for the commands that can serve an emulator (serve, webhooks listen)."""
# Set by the top-level group (`dbt-runs --debug runs ...`), which owns no subcommand flags.
_DEBUG_META: Final = "dbt_runs.debug"


class CommandError(Exception):
    """Ends a command with `code` and one line saying why, as `execute` prints every error.

    For what the command itself finds wrong once it has talked to dbt Cloud (a step the run
    does not have, say), where click's usage error would print the whole usage text.
    """

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _FieldType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 only
    """Reads one option's text with its field's rules (`Field.from_text`)."""

    def __init__(self, field: Field[Any]) -> None:
        self.field = field
        self.name = field.metavar or field.kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.field.from_text([value])
        except FieldError as exc:
            self.fail(str(exc), param, ctx)


class Seconds(click.FloatRange):
    """A positive, finite number of seconds (`--timeout`, `--poll`, `--request-timeout`).

    click's `FloatRange` lets `nan` and `inf` through (no comparison refuses NaN), and a NaN
    deadline used to end the command with an internal error.
    """

    name = "seconds"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a positive number of seconds.", param, ctx)
        return seconds


def field_option(field: Field[Any], *aliases: str, **more: Any) -> Decorator:
    """The option of an SDK argument, with the rules of its field (`dbt_runs._fields`).

    A list field is repeated (`--status error --status cancelled`) and its values are read
    together; a true/false field is a `--x/--no-x` pair whose absence leaves it unset.
    `aliases` are more names for the option (for a true/false field: for its `--x` side);
    `more` goes to `click.option` (a `help` of the command's own, say).
    """
    options = {"help": field.doc, "metavar": field.metavar, **more}
    if isinstance(field, Flag):
        negative = "--no-" + field.flag.removeprefix("--")
        options.pop("metavar")
        return click.option(
            f"{field.flag}/{negative}", *aliases, field.name, default=None, **options
        )
    if field.kind in ("array", "any"):

        def read_all(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
            if not value:
                return None
            try:
                return field.from_text(list(value))
            except FieldError as exc:
                raise click.BadParameter(str(exc), ctx, param) from None

        return click.option(
            field.flag, *aliases, field.name, multiple=True, callback=read_all, **options
        )
    options.setdefault("type", _FieldType(field))
    return click.option(field.flag, *aliases, field.name, **options)


def given(**values: Any) -> dict[str, Any]:
    """The flags that were given, as SDK arguments (the SDK's own defaults for the rest)."""
    return {name: value for name, value in values.items() if value is not None}


def option_group(
    into: str, options: Sequence[Decorator], collect: Callable[..., Any]
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Add `options` to a command, which receives `collect(**their values)` as `into`.

    A group of flags is declared once, as a list, and its values arrive as one object, so a
    command's signature names what it uses rather than every flag it shows.
    """

    def probe(**_: Any) -> None:  # pragma: no cover - never called, only read by click
        pass

    command = click.command()(_stack(options, probe))
    names = [param.name for param in command.params]

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            values = {name: kwargs.pop(name) for name in names}
            return func(*args, **{into: collect(**values)}, **kwargs)

        decorated: Callable[..., T] = _stack(options, wrapper)
        return decorated

    return decorate


def _stack(options: Sequence[Decorator], func: Callable[..., Any]) -> Callable[..., Any]:
    # Applied bottom-up, as decorators are, so that `--help` lists them in the order given.
    for option in reversed(options):
        func = option(func)
    return func


@attrs.frozen
class Settings:
    """What every command needs besides its own arguments (from flags; None: use the env)."""

    base_url: str | None = None
    host: str | None = None
    account_id: int | None = None
    request_timeout: float | None = None
    debug: bool = False

    def client(self) -> AsyncRunsClient:
        """A client configured from these flags, then the environment, then defaults."""
        from dbt_runs import AsyncRunsClient

        kwargs: dict[str, Any] = {}
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.host is not None:
            kwargs["host"] = self.host
        if self.account_id is not None:
            kwargs["account_id"] = self.account_id
        if self.request_timeout is not None:
            kwargs["timeout"] = self.request_timeout
        return AsyncRunsClient(**kwargs)

    def api_location(self) -> str:
        """Where the commands send requests, and what said so: for a message that the API
        could not be reached (`http://127.0.0.1:9/api/v2, from DBT_CLOUD_BASE_URL`)."""
        env = os.environ
        if self.base_url is not None or self.host is not None:
            source = "--base-url" if self.base_url is not None else "--host"
        elif env.get(ENV_BASE_URL):
            source = ENV_BASE_URL
        elif env.get(ENV_HOST):
            source = ENV_HOST
        else:
            source = f"the default; set {ENV_HOST} or {ENV_BASE_URL} for another"
        try:
            url = resolve_base_url(self.base_url, self.host)
        except ValueError:  # pragma: no cover - the client was built from the same values
            return source
        return f"{url}, from {source}"

    def names(self) -> dict[str, str | None]:
        """How the command line spells the SDK's configuration keywords: a flag when one was
        given, else the environment variable the value came from (`None`: neither)."""
        flags = self.base_url is not None or self.host is not None
        return {
            **ENVIRONMENT_NAMES,
            **({"base_url": "--base-url", "host": "--host"} if flags else {}),
            "account_id": "--account-id",
        }


def _settings(
    base_url: str | None,
    host: str | None,
    account_id: int | None,
    request_timeout: float | None,
    debug: bool,
) -> Settings:
    ctx = click.get_current_context()
    if base_url is not None and host is not None:
        raise click.UsageError(
            "--base-url and --host cannot be used together: --base-url is the whole API root, "
            "--host only its host name.",
            ctx,
        )
    return Settings(
        base_url=base_url,
        host=host,
        account_id=account_id,
        request_timeout=request_timeout,
        debug=debug or bool(ctx.meta.get(_DEBUG_META)),
    )


connection_options = option_group(
    "settings",
    [
        click.option(
            "--base-url",
            metavar="URL",
            help="API root, e.g. https://cloud.getdbt.com/api/v2.  [default: $DBT_CLOUD_BASE_URL]",
        ),
        click.option(
            "--host",
            metavar="HOST",
            help="dbt Cloud host, e.g. emea.dbt.com or ab123.us1.dbt.com.  "
            "[default: $DBT_CLOUD_HOST]",
        ),
        click.option(
            "--account-id",
            type=click.IntRange(min=1),
            metavar="ID",
            help="dbt Cloud account id.  [default: $DBT_CLOUD_ACCOUNT_ID]",
        ),
        click.option(
            "--request-timeout",
            type=Seconds(),
            metavar="SECONDS",
            help="Timeout of each HTTP request (the SDK's default if not given).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            envvar="DBT_RUNS_DEBUG",
            help="Show tracebacks and the SDK's debug log (the token stays hidden).",
        ),
    ],
    _settings,
)
"""The shared connection flags; the command receives a `Settings` as `settings`."""


def _listing_format(as_json: bool, as_jsonl: bool) -> ListFormat:
    if as_json and as_jsonl:
        raise click.UsageError("--json and --jsonl cannot be used together.")
    return "json" if as_json else "jsonl" if as_jsonl else "table"


def listing_options(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """`--json` and `--jsonl` for a listing of `what` ("run", "job"): the command receives
    `fmt`, a `ListFormat`."""
    return option_group(
        "fmt",
        [
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help=f"Print a JSON array of dbt's {what} objects.",
            ),
            click.option(
                "--jsonl", "as_jsonl", is_flag=True, help=f"Print one dbt {what} object per line."
            ),
        ],
        _listing_format,
    )


class _DebugLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the SDK's log records to stderr with every secret removed."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(sys.stderr)
        self._redact = redact
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


@contextlib.contextmanager
def _debug_logging(enabled: bool, redact: Redactor) -> Iterator[None]:
    if not enabled:
        yield
        return
    logger = logging.getLogger("dbt_runs")
    handler = _DebugLogHandler(redact)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


ENVIRONMENT_NAMES: Final[Mapping[str, str | None]] = {
    "token": None,  # never a flag, and named by its message already: DBT_API_KEY only
    "base_url": ENV_BASE_URL,
    "host": ENV_HOST,
    "account_id": ENV_ACCOUNT_ID,
}
"""The SDK's configuration keywords, as a command without connection flags (`serve`) names
them: by the environment variables they are read from."""

# SDK keywords that a command carries under another parameter's name (`find_job`'s name is
# the JOB argument of `runs trigger` and the --job option of `runs list`).
_CARRIED_BY: Final = {
    "poll_interval": ("poll",),
    "job_id": ("job",),
    "name": ("job", "job_definition_id"),
}
# ... or under no parameter of its own (`artifacts download`'s PATH is one of two words).
_WORDS: Final = {"path": "PATH", "run_id": "RUN_ID"}
_PASSED: Final = re.compile(r"\bpass (?P<keyword>[a-z_]+)=\.\.\.(?P<more> or )?")
_SNAKE: Final = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# A quoted value (`got 'ftp://x'`), not an apostrophe (`the job's id`).
_QUOTED: Final = re.compile(r"((?<!\w)'[^']*'|(?<!\w)\"[^\"]*\")")


def _parameter_names(ctx: click.Context | None) -> dict[str, str]:
    """What a user types for each of this command's parameters, by SDK keyword: the option's
    long flag (`cause` -> `--cause`, `job_definition_id` -> `--job`) or the argument's name
    (`job` -> `JOB`)."""
    names: dict[str, str] = dict(_WORDS)
    params = ctx.command.params if ctx is not None else []
    for param in params:
        if isinstance(param, click.Option):
            names[param.name] = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        else:
            names[param.name] = param.human_readable_name
    for keyword, carriers in _CARRIED_BY.items():
        for name in carriers:
            if name in names:
                names[keyword] = names[name]
    return names


def command_line_wording(message: str, names: Mapping[str, str | None]) -> str:
    """An SDK message in the words of the command line: its flags and variables, not Python's.

    `names` maps SDK keywords to what the user types instead (`None`: nothing, as for the
    token, which is read from `DBT_API_KEY` only). "pass account_id=... or set X" becomes
    "pass --account-id or set X" ("pass token=... or " goes); a message that starts with a
    keyword ("host must be ...") starts with its flag; any other snake_case keyword
    (`base_url`, `created_before`) becomes its flag too. Quoted values are left alone.

    Example:
        >>> command_line_wording("created_after must not be later than created_before",
        ...                      {"created_after": "--created-after",
        ...                       "created_before": "--created-before"})
        '--created-after must not be later than --created-before'
    """

    def passed(match: re.Match[str]) -> str:
        name = names.get(match["keyword"], match["keyword"])
        if name is None:
            return "" if match["more"] else match[0]
        return f"pass {name}{match['more'] or ''}"

    def words(part: str) -> str:
        return _SNAKE.sub(lambda m: names.get(m[0]) or m[0], _PASSED.sub(passed, part))

    first, space, rest = message.partition(" ")
    if space and names.get(first):
        message = f"{names[first]} {rest}"
    parts = _QUOTED.split(message)
    # split() with a group keeps the quoted parts at the odd indexes.
    return "".join(part if i % 2 else words(part) for i, part in enumerate(parts))


def fail(code: ExitCode, message: str, redact: Redactor) -> None:
    """The one readable error line: what went wrong and the exit code it ends with."""
    # One line even when a message spans several: CI logs and `grep` read lines.
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    echo(redact(f"dbt-runs: error: {line} [exit {code.value}]"), err=True)


def execute(settings: Settings, work: Callable[[AsyncRunsClient], Awaitable[ExitCode]]) -> NoReturn:
    """Run `work` with a client, print any error as one line and exit with its code."""
    from dbt_runs.errors import (
        APIConnectionError,
        ArtifactWriteError,
        ConfigurationError,
        DbtRunsError,
        InvalidArgumentError,
        JobLookupError,
        RunInProgressError,
    )

    redact = Redactor([os.environ.get(ENV_TOKEN)])

    async def main() -> ExitCode:
        _cancel_on_sigterm()
        async with settings.client() as client:
            return await work(client)

    code: ExitCode
    try:
        with _debug_logging(settings.debug, redact):
            code = anyio.run(main)
            # Here rather than at interpreter exit, where a closed pipe could not be handled.
            sys.stdout.flush()
    except BrokenPipeError:
        # Whoever read the output went away (`| head -1`): it has what it wanted. Stop
        # quietly and exit 0, so that a `set -o pipefail` CI step passes (see docs/cli.md).
        # Nothing more is printed, and the flush at exit must not fail on either stream.
        silence(sys.stdout)
        silence(sys.stderr)
        code = ExitCode.SUCCESS
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C, or SIGTERM (see _cancel_on_sigterm): the SDK has already cancelled a run
        # waited on with --cancel-on-interrupt, and logged it.
        code = ExitCode.INTERRUPTED
        fail(code, "interrupted", redact)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except CommandError as exc:
        code = exc.code
        _report(exc, code, settings, redact)
    except (ConfigurationError, InvalidArgumentError) as exc:
        # A bad flag or setting: say it with the flag or variable the user can change.
        code = ExitCode.USAGE
        names = {**_parameter_names(click.get_current_context(silent=True)), **settings.names()}
        _report(exc, code, settings, redact, message=command_line_wording(str(exc), names))
    except (ArtifactWriteError, JobLookupError) as exc:
        # An --output that cannot be written, a job name that is no job's (or several
        # jobs'): fix the command.
        code = ExitCode.USAGE
        _report(exc, code, settings, redact)
    except RunInProgressError as exc:
        # `--if-running fail`: its own code, so that a CI step can tell "busy" from "broken".
        code = ExitCode.RUN_IN_PROGRESS
        _report(exc, code, settings, redact)
    except APIConnectionError as exc:
        # Unreachable (or too slow): name the URL tried and where it came from, the first
        # thing to check when a host or base URL is wrong.
        code = ExitCode.API_ERROR
        message = f"{exc} (API at {settings.api_location()})"
        _report(exc, code, settings, redact, message=message)
    except DbtRunsError as exc:
        # APIError and anything else the SDK raises: dbt Cloud (or the way to it) said no.
        code = ExitCode.API_ERROR
        _report(exc, code, settings, redact)
    except Exception as exc:
        code = ExitCode.INTERNAL
        _report(exc, code, settings, redact, internal=True)
    raise SystemExit(int(code))


def _cancel_on_sigterm() -> None:
    """Turn SIGTERM into a cancellation of the command, as asyncio already does for SIGINT.

    CI systems stop a cancelled job with SIGTERM (GitHub Actions sends SIGINT first), and the
    default action would kill the process before `--cancel-on-interrupt` could cancel the run.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task here
        return
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Unsupported on Windows' event loops and outside the main thread (CliRunner in a
        # worker thread): SIGTERM then keeps its default action.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def _report(
    exc: BaseException,
    code: ExitCode,
    settings: Settings,
    redact: Redactor,
    *,
    internal: bool = False,
    message: str | None = None,
) -> None:
    if settings.debug:
        echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)
    message = message or str(exc) or type(exc).__name__
    if internal:
        message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug"
    fail(code, message, redact)
