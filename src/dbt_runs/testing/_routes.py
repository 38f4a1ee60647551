"""dbt Cloud's v2 routes (and v3's webhook subscriptions): what each endpoint reads or changes
in the account, and its JSON.

Routing is a small regex table rather than Starlette's router because dbt's edges have to be
reproduced exactly: both slash forms of every route (no redirect), a 404 envelope for unknown
paths, 401 and 403 before 405 (Django REST Framework authenticates before it looks up the
handler), and DRF's own `{"detail": "Method \\"GET\\" not allowed."}` for a wrong method.
Starlette supplies the request parsing and the response classes. The handlers reach the state
only through `Account`'s methods; faults are not theirs (see `_asgi`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message

from dbt_runs.testing import _artifacts, _wire
from dbt_runs.testing._query import Query, QueryError, parse_include_related
from dbt_runs.testing._state import ERROR, SUCCESS, Job, Run, command_kind
from dbt_runs.testing._trigger import validate_trigger
from dbt_runs.testing._webhooks import SubscriptionError, read_subscription, subscription_json

if TYPE_CHECKING:
    from dbt_runs.testing._account import Account

__all__ = ["Router", "error", "json_response", "too_many_requests"]

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]

_A: Final = r"^/api/v2/accounts/(?P<account_id>\d+)"
_A3: Final = r"^/api/v3/accounts/(?P<account_id>\d+)"
#: dbt's paths name one subscription `subscription/{id}`, singular; ids are `wsu_...`.
_WSU: Final = _A3 + r"/webhooks/subscription/(?P<webhook_id>wsu_[0-9A-Za-z]+)"
#: Largest trigger body accepted (a real one is a few hundred bytes).
_MAX_BODY: Final = 1024 * 1024
_RUN_FILTERS_INT: Final = (
    "job_definition_id",
    "environment_id",
    "project_id",
    "status",
    "deferring_run_id",
    "id__gt",
    "pk",
)
_RUN_FILTERS_LIST: Final = ("project_id__in", "status__in", "pk__in")
_ORDER_FIELDS: Final = ("id", "created_at", "finished_at")
_JOB_ORDER_FIELDS: Final = frozenset({"id", "name", "created_at", "updated_at"})


class _RejectError(Exception):
    """Stop handling and answer with this response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with dbt's compact separators."""
    content = _wire.dumps(body).encode()
    return Response(content, status, headers=headers, media_type="application/json")


def _bytes_response(content: bytes) -> Response:
    """A 200 whose JSON body is already encoded."""
    return Response(content, 200, media_type="application/json")


def error(code: int, data: Any = None, *, user_message: str | None = None) -> Response:
    """dbt's error envelope."""
    return json_response(_wire.error_envelope(code, data, user_message=user_message), code)


def bad_request(errors: dict[str, Any]) -> Response:
    """400 naming each field."""
    return error(400, errors)


def not_found() -> Response:
    """The 404 envelope."""
    return error(404)


def too_many_requests(retry_after: int) -> Response:
    """dbt's 429: the envelope, and `Retry-After` in whole seconds."""
    return json_response(_wire.error_envelope(429), 429, headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True, slots=True)
class _Route:
    pattern: re.Pattern[str]
    methods: dict[str, str]  # method -> handler attribute name


def _route(path: str, **methods: str) -> _Route:
    return _Route(re.compile(path), methods)


#: The routes whose success creates a run: only their answers can be lost "ambiguously".
_CREATES_RUN: Final = frozenset({"trigger_run", "rerun_job", "retry_run"})


_ROUTES: Final = (
    _route(r"^/api/v2/accounts/?$", GET="list_accounts"),
    _route(_A + r"/?$", GET="get_account"),
    _route(_A + r"/runs/?$", GET="list_runs"),
    _route(_A + r"/runs/(?P<run_id>\d+)/?$", GET="get_run"),
    _route(_A + r"/runs/(?P<run_id>\d+)/artifacts/?$", GET="list_artifacts"),
    _route(_A + r"/runs/(?P<run_id>\d+)/artifacts/(?P<path>.+)$", GET="get_artifact"),
    _route(_A + r"/runs/(?P<run_id>\d+)/cancel/?$", POST="cancel_run"),
    _route(_A + r"/runs/(?P<run_id>\d+)/retry/?$", GET="failure_details", POST="retry_run"),
    _route(_A + r"/jobs/?$", GET="list_jobs"),
    _route(_A + r"/jobs/(?P<job_id>\d+)/?$", GET="get_job"),
    _route(_A + r"/jobs/(?P<job_id>\d+)/run/?$", POST="trigger_run"),
    _route(_A + r"/jobs/(?P<job_id>\d+)/rerun/?$", POST="rerun_job"),
    _route(_A + r"/jobs/(?P<job_id>\d+)/artifacts/(?P<path>.+)$", GET="get_job_artifact"),
    _route(_A + r"/steps/(?P<step_id>\d+)/?$", GET="get_step"),
    _route(_A + r"/environments/?$", GET="list_environments"),
    _route(_A + r"/environments/(?P<environment_id>\d+)/?$", GET="get_environment"),
    _route(_A3 + r"/webhooks/subscriptions/?$", GET="list_webhooks", POST="create_webhook"),
    _route(_WSU + r"/?$", GET="get_webhook", PUT="update_webhook", DELETE="delete_webhook"),
    _route(_WSU + r"/test/?$", GET="test_webhook"),
)


class Router:
    """Routes a request to the handler of dbt's endpoint, over one `Account`."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self._run_cache = _wire.RunCache()

    async def dispatch(self, request: Request) -> tuple[Response, bool]:
        """Answer `request` as dbt would: the response, and whether it created a run."""
        try:
            response, name = await self._answer(request)
        except _RejectError as reject:
            return reject.response, False
        creates_run = (
            request.method == "POST" and name in _CREATES_RUN and response.status_code == 200
        )
        return response, creates_run

    async def _answer(self, request: Request) -> tuple[Response, str]:
        path = request.url.path
        for route in _ROUTES:
            match = route.pattern.match(path)
            if match is None:
                continue
            params = match.groupdict()
            self._authenticate(request, params)
            method = "GET" if request.method == "HEAD" else request.method
            name = route.methods.get(method)
            if method == "OPTIONS":
                # Django REST Framework answers OPTIONS with the view's metadata.
                metadata = {
                    "name": " ".join(next(iter(route.methods.values())).split("_")).title(),
                    "description": "",
                    "renders": ["application/json"],
                    "parses": [
                        "application/json",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data",
                    ],
                }
                return json_response(metadata, 200, headers={"Allow": _allow(route)}), ""
            if name is None:
                body = {"detail": f'Method "{request.method}" not allowed.'}
                return json_response(body, 405, headers={"Allow": _allow(route)}), ""
            handler: Handler = getattr(self, name)
            # A handler raises QueryError for a bad query parameter: dbt's 400 names it.
            try:
                return await handler(request, params), name
            except QueryError as exc:
                return bad_request({exc.field: exc.message}), name
        return not_found(), ""

    def _authenticate(self, request: Request, params: dict[str, str]) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if (
            scheme.lower() not in {"token", "bearer"}
            or not token
            or not self._account.accepts_token(token)
        ):
            raise _RejectError(error(401))
        account = params.get("account_id")
        if account is not None and int(account) != self._account.account_id:
            raise _RejectError(error(403))

    # -- helpers ---------------------------------------------------------------------------
    def _run(self, params: dict[str, str]) -> Run:
        run = self._account.run(int(params["run_id"]))
        if run is None:
            raise _RejectError(not_found())
        return run

    def _job(self, params: dict[str, str]) -> Job:
        job = self._account.job(int(params["job_id"]))
        if job is None:
            raise _RejectError(not_found())
        return job

    def _ui_base(self, request: Request) -> str:
        if self._account.ui_url:
            return self._account.ui_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"

    def _run_body(self, request: Request, run: Run, related: frozenset[str], now: float) -> Any:
        account = self._account
        return _wire.run_json(
            account.state,
            run,
            now,
            related=related,
            ui_base=self._ui_base(request),
            step_logs=account.step_logs,
        )

    # -- accounts and environments ---------------------------------------------------------
    async def list_accounts(self, request: Request, params: dict[str, str]) -> Response:
        body = [_wire.account_json(self._account.state)]
        return json_response(
            _wire.envelope(
                body,
                extra=_wire.list_extra({"limit": 100, "offset": 0, "state": "active"}, "id", 1, 1),
            )
        )

    async def get_account(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(_wire.envelope(_wire.account_json(self._account.state)))

    async def list_environments(self, request: Request, params: dict[str, str]) -> Response:
        query = Query(request.query_params)
        limit, offset = _paging(query)
        state = self._account.state
        with state.lock:
            envs = [
                _wire.environment_json(state, env)
                for env in sorted(state.environments.values(), key=lambda e: e.id)
            ]
        page = envs[offset : offset + limit]
        extra = _wire.list_extra(
            _wire.filters_echo(self._account.account_id, limit, offset, "active", {}),
            "id",
            len(page),
            len(envs),
        )
        return json_response(_wire.envelope(page, extra=extra))

    async def get_environment(self, request: Request, params: dict[str, str]) -> Response:
        state = self._account.state
        env = state.environments.get(int(params["environment_id"]))
        if env is None:
            return not_found()
        return json_response(_wire.envelope(_wire.environment_json(state, env)))

    # -- runs ------------------------------------------------------------------------------
    async def list_runs(self, request: Request, params: dict[str, str]) -> Response:
        query = Query(request.query_params)
        limit, offset = _paging(query)
        order_by = query.string("order_by") or "id"
        descending = order_by.startswith("-")
        order_field = order_by[1:] if descending else order_by
        if order_field not in _ORDER_FIELDS:
            raise QueryError(
                "order_by",
                f"'{order_by}' is not a valid ordering. Options are id, created_at and "
                "finished_at, with a leading - for descending order.",
            )
        related = parse_include_related(query)
        echo: dict[str, Any] = {}
        ints: dict[str, int] = {}
        for name in _RUN_FILTERS_INT:
            value = query.integer(name)
            if value is not None:
                ints[name] = echo[name] = value
        lists: dict[str, set[int]] = {}
        for name in _RUN_FILTERS_LIST:
            items = query.int_list(name)
            if items is not None:
                echo[name] = items
                lists[name] = set(items)
        bools: dict[str, bool] = {}
        for name in ("has_docs_generated", "has_sources_generated"):
            flag = query.boolean(name)
            if flag is not None:
                bools[name] = echo[name] = flag
        ranges: dict[str, tuple[float, float]] = {}
        for name in ("created_at__range", "finished_at__range"):
            bounds = query.date_range(name)
            if bounds is not None:
                ranges[name] = bounds
                echo[name] = query.items(name)
        versions: set[str] | None = None
        if query.has("dbt_version") or query.has("dbt_version__in"):
            versions = set(query.str_list("dbt_version__in") or [])
            single = query.string("dbt_version")
            if single:
                versions.add(single)
            echo.update(
                {k: query.string(k) for k in ("dbt_version",) if query.has(k)}
                | (
                    {"dbt_version__in": query.str_list("dbt_version__in")}
                    if query.has("dbt_version__in")
                    else {}
                )
            )
        state_filter = _state_param(query)
        account = self._account
        state = account.state
        with account.moment() as now:
            if state_filter == "deleted":
                runs: list[Run] = []
            else:
                runs = _filter_runs(state.runs, ints, lists, bools, ranges, versions, now)
            runs = _order_runs(runs, order_field, descending, now)
            total = len(runs)
            page = runs[offset : offset + limit]
            ui = self._ui_base(request)
            encode = self._run_cache.encode
            embedded: dict[tuple[str, int], bytes] = {}
            parts = [b"["]
            for i, run in enumerate(page):
                if i:
                    parts.append(b",")
                parts += encode(
                    state,
                    run,
                    now,
                    related=related,
                    ui_base=ui,
                    step_logs=account.step_logs,
                    embedded=embedded,
                )
            parts.append(b"]")
        extra = _wire.list_extra(
            _wire.filters_echo(self._account.account_id, limit, offset, state_filter, echo),
            order_by,
            len(page),
            total,
        )
        return _bytes_response(_wire.envelope_bytes(b"".join(parts), extra=extra))

    async def get_run(self, request: Request, params: dict[str, str]) -> Response:
        related = parse_include_related(Query(request.query_params))
        account = self._account
        with account.moment() as now:
            parts = self._run_cache.encode(
                account.state,
                self._run(params),
                now,
                related=related,
                ui_base=self._ui_base(request),
                step_logs=account.step_logs,
            )
        return _bytes_response(_wire.envelope_bytes(b"".join(parts)))

    async def cancel_run(self, request: Request, params: dict[str, str]) -> Response:
        with self._account.moment() as now:
            run = self._run(params)
            self._account.cancel_run(run, now)
            body = self._run_body(request, run, frozenset(), now)
        return json_response(_wire.envelope(body))

    async def failure_details(self, request: Request, params: dict[str, str]) -> Response:
        with self._account.moment() as now:
            run = self._run(params)
            if run.status_at(now) != ERROR:
                return bad_request({"run_id": "This run did not fail (RETRY_NOT_FAILED_RUN)."})
            steps = run.steps_at(now)
            failed = steps[-1] if steps else None
            failed_command = failed.command if failed is not None else None
            executed = len(steps) - 2
            skipped = list(run.commands[max(0, executed) :])
        return json_response(
            _wire.envelope(
                {
                    "failed_step": failed_command or (failed.name if failed else None),
                    "skipped_steps": skipped,
                }
            )
        )

    async def retry_run(self, request: Request, params: dict[str, str]) -> Response:
        account = self._account
        with account.moment() as now:
            run = self._run(params)
            reason = account.retry_refusal(run, now)
            if reason is not None:
                return bad_request({"run_id": f"This run cannot be retried ({reason})."})
            new = account.retry_run(run, now)
            body = self._run_body(request, new, frozenset({"trigger", "job"}), now)
        return json_response(_wire.envelope(body))

    # -- artifacts -------------------------------------------------------------------------
    async def list_artifacts(self, request: Request, params: dict[str, str]) -> Response:
        with self._account.moment() as now:
            paths = self._account.artifact_paths(self._run(params), now)
        # dbt sends `data: null`, not [], when a run saved nothing (dbt-mcp PR #791).
        return json_response(_wire.envelope(paths or None))

    async def get_artifact(self, request: Request, params: dict[str, str]) -> Response:
        step = Query(request.query_params).integer("step")
        with self._account.moment() as now:
            artifact = self._account.artifact(self._run(params), params["path"], now, step=step)
        return _artifact_response(artifact)

    async def get_job_artifact(self, request: Request, params: dict[str, str]) -> Response:
        query = Query(request.query_params)
        step = query.integer("step")
        # "a set of Run filters" (dbt's document); without one, successful runs only.
        statuses = set(query.int_list("status__in") or ())
        single = query.integer("status")
        if single is not None:
            statuses.add(single)
        with self._account.moment() as now:
            artifact = self._account.job_artifact(
                self._job(params),
                params["path"],
                now,
                step=step,
                statuses=statuses or (SUCCESS,),
            )
        return _artifact_response(artifact)

    # -- steps -----------------------------------------------------------------------------
    async def get_step(self, request: Request, params: dict[str, str]) -> Response:
        related = parse_include_related(Query(request.query_params))
        account = self._account
        with account.moment() as now:
            found = account.step(int(params["step_id"]), now)
            if found is None:
                return not_found()
            run, step = found
            body = _wire.step_json(
                account.state,
                run,
                step,
                now,
                debug="debug_logs" in related,
                step_logs=account.step_logs,
            )
        return json_response(_wire.envelope(body))

    # -- jobs ------------------------------------------------------------------------------
    async def list_jobs(self, request: Request, params: dict[str, str]) -> Response:
        query = Query(request.query_params)
        limit, offset = _paging(query)
        related = parse_include_related(query)
        echo: dict[str, Any] = {}
        env = query.integer("environment_id")
        project = query.integer("project_id")
        projects = query.int_list("project_id__in")
        name = query.string("name__icontains")
        pk = query.integer("pk")
        for key, value in (
            ("environment_id", env),
            ("project_id", project),
            ("project_id__in", projects),
            ("name__icontains", name),
            ("pk", pk),
        ):
            if value is not None:
                echo[key] = value
        # Jobs list only active ones unless asked (runs list all): the captures' echo says so.
        state_filter = _state_param(query, default="active")
        order_by = query.string("order_by") or "id"
        field = order_by.lstrip("-")
        if field not in _JOB_ORDER_FIELDS:
            return bad_request({"order_by": f"'{order_by}' is not a valid ordering."})
        project_ids: set[int] | None = None
        if project is not None or projects is not None:
            project_ids = {project} if project is not None else set(projects or ())
            if project is not None and projects is not None:
                project_ids &= set(projects)
        account = self._account
        with account.moment() as now:
            jobs = account.jobs(
                state=state_filter,
                environment_id=env,
                project_ids=project_ids,
                name_contains=name,
                pk=pk,
            )
            jobs.sort(key=lambda j: (getattr(j, field), j.id), reverse=order_by.startswith("-"))
            total = len(jobs)
            data = [
                self._job_body(request, job, related, now) for job in jobs[offset : offset + limit]
            ]
        extra = _wire.list_extra(
            _wire.filters_echo(account.account_id, limit, offset, state_filter, echo),
            order_by,
            len(data),
            total,
        )
        return json_response(_wire.envelope(data, extra=extra))

    async def get_job(self, request: Request, params: dict[str, str]) -> Response:
        related = parse_include_related(Query(request.query_params))
        with self._account.moment() as now:
            body = self._job_body(request, self._job(params), related, now)
        return json_response(_wire.envelope(body))

    def _job_body(self, request: Request, job: Job, related: frozenset[str], now: float) -> Any:
        """A job as `GET jobs/` and `GET jobs/{id}/` return it, with the related runs asked
        for (`most_recent_run`, `most_recent_completed_run`: null when there is none)."""
        account = self._account
        body = _wire.job_json(account.state, job, related=related)
        for key, completed in (("most_recent_run", False), ("most_recent_completed_run", True)):
            if key in related:
                run = account.latest_run(job, now, completed=completed)
                body[key] = None if run is None else self._run_body(request, run, frozenset(), now)
        return body

    async def trigger_run(self, request: Request, params: dict[str, str]) -> Response:
        body = await _read_body(request)
        if isinstance(body, Response):
            return body
        account = self._account
        with account.moment() as now:
            job = self._job(params)
            errors, trigger = validate_trigger(body)
            if trigger is None:
                return bad_request(errors)
            run = account.trigger_run(job, trigger, now)
            data = self._run_body(request, run, frozenset({"trigger", "job"}), now)
        return json_response(_wire.envelope(data))

    async def rerun_job(self, request: Request, params: dict[str, str]) -> Response:
        with self._account.moment() as now:
            run = self._account.rerun_job(self._job(params), now)
            data = self._run_body(request, run, frozenset({"trigger", "job"}), now)
        return json_response(_wire.envelope(data))

    # -- webhook subscriptions (v3) --------------------------------------------------------
    async def list_webhooks(self, request: Request, params: dict[str, str]) -> Response:
        limit, offset = _paging(Query(request.query_params))
        account = self._account
        with account.state.lock:
            subscriptions = account.webhooks.all()
            page = [subscription_json(account, s) for s in subscriptions[offset : offset + limit]]
        extra = {
            "filters": {"offset": offset, "limit": limit},
            "pagination": {"count": len(page), "total_count": len(subscriptions)},
        }
        return json_response(_wire.envelope(page, extra=extra))

    async def create_webhook(self, request: Request, params: dict[str, str]) -> Response:
        fields = await _subscription_fields(request)
        if isinstance(fields, Response):
            return fields
        account = self._account
        subscription = account.webhooks.create(fields)
        # The only answer that shows the secret.
        data = {**subscription_json(account, subscription), "hmac_secret": subscription.secret}
        return json_response(_wire.envelope(data, code=201), 201)

    async def get_webhook(self, request: Request, params: dict[str, str]) -> Response:
        subscription = self._account.webhooks.get(params["webhook_id"])
        if subscription is None:
            return not_found()
        return json_response(_wire.envelope(subscription_json(self._account, subscription)))

    async def update_webhook(self, request: Request, params: dict[str, str]) -> Response:
        webhooks = self._account.webhooks
        if webhooks.get(params["webhook_id"]) is None:
            return not_found()
        fields = await _subscription_fields(request)
        if isinstance(fields, Response):
            return fields
        subscription = webhooks.update(params["webhook_id"], fields)
        if subscription is None:
            return not_found()
        return json_response(_wire.envelope(subscription_json(self._account, subscription)))

    async def delete_webhook(self, request: Request, params: dict[str, str]) -> Response:
        if not self._account.webhooks.delete(params["webhook_id"]):
            return not_found()
        return json_response(_wire.envelope({"id": params["webhook_id"]}))

    async def test_webhook(self, request: Request, params: dict[str, str]) -> Response:
        webhooks = self._account.webhooks
        if webhooks.get(params["webhook_id"]) is None:
            return not_found()
        problem, status = await webhooks.test(params["webhook_id"])
        data = {"verification_error": problem, "verification_status_code": str(status)}
        return json_response(_wire.envelope(data))


async def _subscription_fields(request: Request) -> dict[str, Any] | Response:
    """A create or update body's fields, or dbt's 400 naming what is wrong."""
    body = await _read_body(request)
    if isinstance(body, Response):
        return body
    try:
        return read_subscription(body)
    except SubscriptionError as exc:
        return bad_request(dict(exc.errors))


def _allow(route: _Route) -> str:
    methods = list(route.methods)
    if "GET" in methods:
        methods.append("HEAD")
    return ", ".join([*methods, "OPTIONS"])


def _paging(query: Query) -> tuple[int, int]:
    limit = query.integer("limit")
    offset = query.integer("offset")
    if limit is None:
        limit = 100
    elif limit > 100:
        raise QueryError("limit", "Ensure this value is less than or equal to 100.")
    elif limit < 1:
        raise QueryError("limit", "Ensure this value is greater than or equal to 1.")
    if offset is None:
        offset = 0
    elif offset < 0:
        raise QueryError("offset", "Ensure this value is greater than or equal to 0.")
    return limit, offset


def _state_param(query: Query, default: str = "all") -> str:
    value = query.string("state")
    if value is None:
        return default
    text = value.strip().lower()
    mapping = {
        "1": "active",
        "2": "deleted",
        "active": "active",
        "deleted": "deleted",
        "all": "all",
    }
    if text not in mapping:
        raise QueryError("state", f"'{value}' is not valid under any of the given schemas")
    return mapping[text]


def _filter_runs(
    runs: list[Run],
    ints: dict[str, int],
    lists: dict[str, set[int]],
    bools: dict[str, bool],
    ranges: dict[str, tuple[float, float]],
    versions: set[str] | None,
    now: float,
) -> list[Run]:
    if not (ints or lists or bools or ranges or versions is not None):
        return runs
    if "deferring_run_id" in ints:
        return []  # no emulated run defers to another
    # One tight pass per filter given (they are all ANDed): a page of a 10,000-run history
    # filters every run on each request, and a loop testing every filter costs several times
    # more per run.
    out = runs
    job_id = ints.get("job_definition_id")
    if job_id is not None:
        out = [r for r in out if r.job.id == job_id]
    env_id = ints.get("environment_id")
    if env_id is not None:
        out = [r for r in out if r.job.environment_id == env_id]
    project_id = ints.get("project_id")
    if project_id is not None:
        out = [r for r in out if r.job.project_id == project_id]
    projects = lists.get("project_id__in")
    if projects is not None:
        out = [r for r in out if r.job.project_id in projects]
    id_gt = ints.get("id__gt")
    if id_gt is not None:
        out = [r for r in out if r.id > id_gt]
    pk = ints.get("pk")
    if pk is not None:
        out = [r for r in out if r.id == pk]
    pks = lists.get("pk__in")
    if pks is not None:
        out = [r for r in out if r.id in pks]
    created = ranges.get("created_at__range")
    if created is not None:
        low, high = created
        out = [r for r in out if low <= r.created_at <= high]
    if versions is not None:
        out = [r for r in out if r.dbt_version in versions]
    status = ints.get("status")
    if status is not None:
        out = [r for r in out if r.status_at(now) == status]
    statuses = lists.get("status__in")
    if statuses is not None:
        out = [r for r in out if r.status_at(now) in statuses]
    finished = ranges.get("finished_at__range")
    if finished is not None:
        low, high = finished
        out = [
            r
            for r in out
            if r.finished_at is not None and r.finished_at <= now and low <= r.finished_at <= high
        ]
    if bools:
        out = [r for r in out if _has_generated(r, bools, now)]
    return out


def _has_generated(run: Run, bools: dict[str, bool], now: float) -> bool:
    kinds = _completed_kinds(run, now)
    if "has_docs_generated" in bools and bools["has_docs_generated"] != ("docs" in kinds):
        return False
    return not (
        "has_sources_generated" in bools and bools["has_sources_generated"] != ("source" in kinds)
    )


def _completed_kinds(run: Run, now: float) -> set[str]:
    if not run.is_complete(now):
        return set()
    return {
        command_kind(s.command)
        for s in run.steps_at(now)
        if s.command is not None and s.status == SUCCESS
    }


def _order_runs(runs: list[Run], field: str, descending: bool, now: float) -> list[Run]:
    if field == "id":
        return list(reversed(runs)) if descending else runs
    # Ties go by id: `runs` is in id order and the sort is stable (also with reverse=True, so
    # a descending sort starts from the reversed list). Plain float keys let list.sort compare
    # them natively, several times faster than (time, id) tuples on 10,000 runs.
    source = runs[::-1] if descending else runs
    if field == "created_at":
        return sorted(source, key=attrgetter("created_at"), reverse=descending)
    inf = math.inf

    # Postgres puts NULLs last ascending and first descending: unfinished runs sort as +inf.
    def finished_key(run: Run) -> float:
        finished = run.finished_at
        return finished if finished is not None and finished <= now else inf

    return sorted(source, key=finished_key, reverse=descending)


def _artifact_response(artifact: _artifacts.Artifact | None) -> Response:
    if artifact is None:
        return not_found()

    async def body() -> AsyncIterator[bytes]:
        async for chunk in artifact.chunks():
            yield chunk

    return StreamingResponse(
        body(),
        200,
        headers={"content-length": str(artifact.length)},
        media_type=artifact.media_type,
    )


async def _read_body(request: Request) -> dict[str, Any] | Response:
    """The trigger body as a dict: JSON, form-encoded or multipart, as dbt accepts."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY:
            # Django's DATA_UPLOAD_MAX_MEMORY_SIZE answers 400 too.
            return bad_request({"non_field_errors": f"Request body exceeded {_MAX_BODY} bytes."})
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return _form_dict([(k, v) for k, v in pairs])
    if content_type == "multipart/form-data":
        return await _multipart(request, bytes(raw))
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        return bad_request({"non_field_errors": f"JSON parse error - {exc}"})
    if not isinstance(parsed, dict):
        kind = type(parsed).__name__
        return bad_request(
            {"non_field_errors": f"Invalid data. Expected a dictionary, but got {kind}."}
        )
    return parsed


def _form_dict(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key == "steps_override":
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


async def _multipart(request: Request, raw: bytes) -> dict[str, Any] | Response:
    if importlib.util.find_spec("multipart") is None:
        detail = {"detail": 'Unsupported media type "multipart/form-data" in request.'}
        return json_response(detail, 415)

    async def replay() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    # The body was already read (to bound its size): parse it from a request that replays it.
    again = Request(request.scope, replay)
    try:
        form = await again.form()
    except (HTTPException, MultiPartException) as exc:
        message = exc.detail if isinstance(exc, HTTPException) else exc.message
        return bad_request({"non_field_errors": f"Multipart form parse error - {message}"})
    try:
        return _form_dict([(k, v) for k in form for v in form.getlist(k) if isinstance(v, str)])
    finally:
        await form.close()
