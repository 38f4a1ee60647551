"""The OpenAPI 3.1 document of the REST adapter, generated from the served operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbt_runs._operations import Result
from dbt_runs._version import __version__
from dbt_runs.expose._security import SERVER_TOKEN_ENV
from dbt_runs.expose.rest._routes import UNAUTHENTICATED_PATHS, Route

_REF = "#/components/schemas/"

_SCHEMAS: dict[str, Any] = {
    "Status": {
        "type": "object",
        "description": "dbt's response status; `code` equals the HTTP status.",
        "required": ["code", "is_success"],
        "properties": {
            "code": {"type": "integer"},
            "is_success": {"type": "boolean"},
            "user_message": {"type": ["string", "null"]},
            "developer_message": {"type": ["string", "null"]},
        },
    },
    "Run": {
        "type": "object",
        "description": "A dbt Cloud run, exactly as dbt returned it (all of dbt's fields).",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "integer"},
            "job_definition_id": {"type": ["integer", "null"]},
            "account_id": {"type": "integer"},
        },
    },
    "RunEnvelope": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"$ref": _REF + "Status"}, "data": {"$ref": _REF + "Run"}},
    },
    "RunListEnvelope": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"$ref": _REF + "Status"},
            "data": {"type": "array", "items": {"$ref": _REF + "Run"}},
            "extra": {
                "type": "object",
                "properties": {
                    "filters": {"type": "object"},
                    "order_by": {"type": ["string", "null"]},
                    "pagination": {
                        "type": "object",
                        "properties": {
                            "count": {"type": "integer"},
                            "total_count": {"type": "integer"},
                        },
                    },
                },
            },
        },
    },
    "ArtifactListEnvelope": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"$ref": _REF + "Status"},
            "data": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    },
    "Error": {
        "type": "object",
        "description": (
            "An error in dbt's envelope: `status` says what went wrong and `data` is null or, "
            "for a 400, maps each invalid parameter to its problem. dbt's own errors are "
            'passed through unchanged (a few of dbt\'s older errors are `{"detail": ...}`).'
        ),
        "properties": {
            "status": {"$ref": _REF + "Status"},
            "data": {
                "anyOf": [{"type": "object"}, {"type": "null"}],
                "description": (
                    "For a 400, each invalid input and its problem; for a trigger whose "
                    "outcome is unknown, `job_id`, `marker` and `candidate_run_ids`."
                ),
            },
            "detail": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF + schema_name}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json("Error", description)


def _success(route: Route) -> dict[str, Any]:
    if route.meta == "health":
        return _json("Health", "The adapter is up.")
    if route.operation is None:
        return {
            "description": "This document.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    result = route.operation.result
    if result is Result.RUN:
        response = _json("RunEnvelope", "The run, in dbt's envelope, as dbt returned it.")
        if route.operation.creates_run:
            response["headers"] = {
                "X-Dbt-Runs-Reconciled": {
                    "description": (
                        "`true` when dbt's answer was lost and the client found the run "
                        "carrying this request's marker (the body is then that run, as dbt "
                        "lists it)."
                    ),
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        return response
    if result is Result.RUN_PAGE:
        response = _json("RunListEnvelope", "One page of runs, in dbt's envelope.")
        response["headers"] = {
            "Link": {
                "description": 'The next page, as `<absolute URL>; rel="next"`, when there is one.',
                "schema": {"type": "string"},
            }
        }
        return response
    if result is Result.ARTIFACT_PATHS:
        return _json("ArtifactListEnvelope", "The artifact paths, in dbt's envelope.")
    return {
        "description": "The artifact file, streamed as dbt served it (not an envelope).",
        "content": {"*/*": {"schema": {}}},
    }


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": field.rest_name,
            "in": "path",
            "required": True,
            "description": field.doc,
            "schema": field.schema(),
        }
        for field in route.path_fields
    ]
    params.extend(param.openapi() for param in route.query)
    return params


def _responses(route: Route, *, secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _success(route)}
    if route.operation is None:
        if secured and route.path not in UNAUTHENTICATED_PATHS:
            responses["401"] = _error("Missing or wrong bearer token.")
        return responses
    responses["400"] = _error(
        "An invalid path id, query parameter or body (each named in `data`), or dbt's own 400."
    )
    responses["401"] = _error(
        "Missing or wrong bearer token for this adapter, or dbt rejected the adapter's token."
    )
    responses["403"] = _error("dbt refused: the token is not scoped to this account.")
    responses["404"] = _error("dbt has no such run, job or artifact.")
    if route.body is not None:
        responses["413"] = _error("The request body is over the size limit.")
        responses["415"] = _error("The body is not `application/json`.")
    responses["429"] = _error("dbt's rate limit; `Retry-After` is passed through when dbt sent it.")
    responses["429"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait, as dbt sent it (when it did).",
            "schema": {"type": "string"},
        }
    }
    unknown = (
        " For a run-creating request whose answer was lost and whose run could not be found, "
        "a 502 that says the run may have started, with `data.marker` to look for."
        if route.operation.creates_run
        else ""
    )
    responses["502"] = _error(
        "dbt Cloud could not be reached or answered something not JSON." + unknown
    )
    responses["504"] = _error("dbt Cloud did not answer in time.")
    responses["default"] = _error("Any other error dbt returned, passed through unchanged.")
    return responses


def build_document(routes: Sequence[Route], *, secured: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing exactly `routes`.

    Args:
        routes: The served routes.
        secured: Whether the adapter requires a bearer token (adds the security scheme).
    """
    paths: dict[str, Any] = {}
    for route in routes:
        entry: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "description": route.description,
            "tags": ["meta"]
            if route.operation is None
            else ["extensions" if route.extension else "runs"],
            "parameters": _parameters(route),
            "responses": _responses(route, secured=secured),
        }
        if route.extension:
            entry["x-extension"] = True
        if route.body is not None:
            entry["requestBody"] = {
                "required": False,
                "description": "dbt's trigger fields; all optional. Unknown fields are refused.",
                "content": {"application/json": {"schema": route.body.schema()}},
            }
        if secured and route.path in UNAUTHENTICATED_PATHS:
            entry["security"] = []
        if not entry["parameters"]:
            del entry["parameters"]
        paths.setdefault(route.path, {})[route.method.lower()] = entry

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "dbt-runs REST adapter",
            "version": __version__,
            "description": (
                "The runs surface of the dbt Cloud Administrative API, served by "
                "`dbt_runs.expose.rest`. Bodies and statuses are dbt's own; the adapter adds "
                "input validation, a `Link` header on run lists, and two extensions (marked "
                "`x-extension: true`): artifact download and run cancellation."
            ),
        },
        "tags": [
            {"name": "runs", "description": "The seed's REST resources."},
            {"name": "extensions", "description": "Beyond the seed (`x-extension: true`)."},
            {"name": "meta", "description": "The adapter itself."},
        ],
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }
    if secured:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": f"The token set in {SERVER_TOKEN_ENV} on the adapter.",
            }
        }
        document["security"] = [{"bearerAuth": []}]
    return document
