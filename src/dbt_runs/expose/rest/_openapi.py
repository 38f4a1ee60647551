"""The OpenAPI 3.1 document of the REST adapter, generated from the served operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbt_runs._version import __version__
from dbt_runs.expose._security import SERVER_TOKEN_ENV
from dbt_runs.expose.rest._params import (
    ARTIFACT_PATH_PATTERN,
    INT64_MAX,
    MAX_ARTIFACT_PATH,
    trigger_body_schema,
)
from dbt_runs.expose.rest._routes import UNAUTHENTICATED_PATHS, Operation

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
            "data": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
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


def _success(op: Operation) -> dict[str, Any]:
    if op.success == "run":
        response = _json("RunEnvelope", "The run, in dbt's envelope, as dbt returned it.")
        if op.has_body:
            response["headers"] = {
                "X-Dbt-Runs-Reconciled": {
                    "description": (
                        "`true` when dbt's answer to the trigger was lost and the client found "
                        "the run it had started (the body is then that run, as dbt lists it)."
                    ),
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        return response
    if op.success == "runs":
        response = _json("RunListEnvelope", "One page of runs, in dbt's envelope.")
        response["headers"] = {
            "Link": {
                "description": 'The next page, as `<absolute URL>; rel="next"`, when there is one.',
                "schema": {"type": "string"},
            }
        }
        return response
    if op.success == "artifact_paths":
        return _json("ArtifactListEnvelope", "The artifact paths, in dbt's envelope.")
    if op.success == "artifact":
        return {
            "description": "The artifact file, streamed as dbt served it (not an envelope).",
            "content": {"*/*": {"schema": {}}},
        }
    if op.success == "health":
        return _json("Health", "The adapter is up.")
    return {
        "description": "This document.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in op.path_params:
        if name == "path":
            params.append(
                {
                    "name": "path",
                    "in": "path",
                    "required": True,
                    "description": (
                        "The artifact path under dbt's `target/` (may contain `/`; no empty, "
                        "`.` or `..` segments, control characters or backslashes)."
                    ),
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_ARTIFACT_PATH,
                        "pattern": ARTIFACT_PATH_PATTERN,
                    },
                }
            )
        else:
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": "A positive 64-bit integer id.",
                    "schema": {
                        "type": "integer",
                        "format": "int64",
                        "minimum": 1,
                        "maximum": INT64_MAX,
                    },
                }
            )
    params.extend(param.openapi() for param in op.query)
    return params


def _responses(op: Operation, *, secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _success(op)}
    if op.success in {"health", "openapi"}:
        if secured and op.path not in UNAUTHENTICATED_PATHS:
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
    if op.has_body:
        responses["413"] = _error("The request body is over the size limit.")
        responses["415"] = _error("The body is not `application/json`.")
    responses["429"] = _error("dbt's rate limit; `Retry-After` is passed through when dbt sent it.")
    responses["429"]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait, as dbt sent it (when it did).",
            "schema": {"type": "string"},
        }
    }
    responses["502"] = _error("dbt Cloud could not be reached or answered something not JSON.")
    responses["504"] = _error("dbt Cloud did not answer in time.")
    responses["default"] = _error("Any other error dbt returned, passed through unchanged.")
    return responses


def build_document(operations: Sequence[Operation], *, secured: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing exactly `operations`.

    Args:
        operations: The served operations.
        secured: Whether the adapter requires a bearer token (adds the security scheme).
    """
    paths: dict[str, Any] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
            "tags": ["meta"]
            if op.success in {"health", "openapi"}
            else ["extensions" if op.extension else "runs"],
            "parameters": _parameters(op),
            "responses": _responses(op, secured=secured),
        }
        if op.extension:
            entry["x-extension"] = True
        if op.has_body:
            entry["requestBody"] = {
                "required": False,
                "description": "dbt's trigger fields; all optional. Unknown fields are refused.",
                "content": {"application/json": {"schema": trigger_body_schema()}},
            }
        if secured and op.path in UNAUTHENTICATED_PATHS:
            entry["security"] = []
        if not entry["parameters"]:
            del entry["parameters"]
        paths.setdefault(op.path, {})[op.method.lower()] = entry

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
