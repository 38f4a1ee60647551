"""Fit a run artifact into a model's context: select part of it, or describe its shape.

dbt's artifacts run from a few kilobytes (`run_results.json` of a small project) to hundreds
of megabytes (`manifest.json` of a large one). A tool result that large is useless to a model
(clients cap a result at roughly 25k tokens), so `get-run-artifact` inlines an artifact only
under a size cap and otherwise answers with an *outline* (the keys, lengths and sizes of the
selected value) and a hint on how to narrow the next call. Narrowing is deliberately simple
and predictable, no query language to get wrong:

- `pointer`: an RFC 6901 JSON pointer selecting one value (`/results`, `/metadata`,
  `/nodes/model.shop.orders`, `/results/0`);
- `fields`: keep only these keys of the selected object, or of each object in the selected
  array (`["unique_id", "status", "message"]` on `/results`).

Everything here is pure (bytes in, JSON out) so it is tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ArtifactSelectionError",
    "apply_fields",
    "json_size",
    "outline",
    "resolve_pointer",
]

_OUTLINE_KEYS = 50
"""At most this many keys are described in an outline (the rest are counted)."""


class ArtifactSelectionError(ValueError):
    """A `pointer` or `fields` selection does not fit the artifact; the message says why."""


def json_size(value: Any) -> int:
    """The size in bytes of `value` serialised as compact JSON (what a result would carry)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _unescape(token: str) -> str:
    # RFC 6901 section 4: "~1" first, then "~0", so "~01" stays "~1".
    return token.replace("~1", "/").replace("~0", "~")


def _preview(keys: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return shown + more


def resolve_pointer(document: Any, pointer: str) -> Any:
    """Return the value `pointer` (RFC 6901) selects in `document`.

    `""` selects the whole document. A pointer that does not start with `/`, a missing key or
    an index out of range raises `ArtifactSelectionError` naming the step that failed and the
    keys (or length) available there, so the caller can correct the pointer.

    Example:
        >>> resolve_pointer({"results": [{"status": "success"}]}, "/results/0/status")
        'success'
    """
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise ArtifactSelectionError(
            f"pointer {pointer!r} must start with '/' (a JSON pointer such as '/results' or "
            "'/metadata'); use '' for the whole artifact"
        )
    current = document
    walked = ""
    for raw_token in pointer[1:].split("/"):
        token = _unescape(raw_token)
        here = walked or "the artifact's top level"
        if isinstance(current, Mapping):
            if token not in current:
                raise ArtifactSelectionError(
                    f"pointer {pointer!r}: no key {token!r} at {here}; "
                    f"keys there: {_preview(list(current))}"
                )
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
                raise ArtifactSelectionError(
                    f"pointer {pointer!r}: {here} is an array, so the next step must be an "
                    f"index from 0 to {len(current) - 1}, not {token!r}"
                )
            index = int(token)
            if index >= len(current):
                raise ArtifactSelectionError(
                    f"pointer {pointer!r}: index {index} is out of range at {here} "
                    f"(the array has {len(current)} items)"
                )
            current = current[index]
        else:
            raise ArtifactSelectionError(
                f"pointer {pointer!r}: {here} is a {_kind(current)}, which has no {token!r}"
            )
        walked += "/" + raw_token
    return current


def apply_fields(value: Any, fields: Sequence[str]) -> Any:
    """Keep only `fields` of an object, or of every object in an array.

    Keys absent from an object are skipped (an artifact's objects do not all carry every key),
    but a selection that matches nothing at all is an error: it is almost always a typo.

    Example:
        >>> apply_fields([{"unique_id": "m", "status": "pass", "timing": []}], ["status"])
        [{'status': 'pass'}]
    """
    wanted = list(dict.fromkeys(fields))
    if isinstance(value, Mapping):
        picked: Any = {key: value[key] for key in wanted if key in value}
        available = list(value)
        matched = bool(picked)
    elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        picked = [{key: item[key] for key in wanted if key in item} for item in value]
        available = list(dict.fromkeys(key for item in value[:50] for key in item))
        matched = not value or any(picked)
    else:
        raise ArtifactSelectionError(
            f"fields apply to an object or an array of objects, but the selected value is "
            f"a {_kind(value)}; drop fields or point at an object"
        )
    if not matched:
        raise ArtifactSelectionError(
            f"none of the fields {wanted} exist in the selected value; "
            f"keys there: {_preview(available)}"
        )
    return picked


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null"


def outline(value: Any) -> dict[str, Any]:
    """Describe the shape of `value` without its content: what a model needs to narrow it.

    An object lists its keys with each value's kind and size (and length for arrays and
    objects); an array gives its length and the keys of its first object item.

    Example:
        >>> outline({"metadata": {"a": 1}, "results": [1, 2]})["keys"]["results"]
        {'kind': 'array', 'size_bytes': 5, 'length': 2}
    """
    described: dict[str, Any] = {"kind": _kind(value), "size_bytes": json_size(value)}
    if isinstance(value, Mapping):
        keys = list(value)
        described["length"] = len(keys)
        described["keys"] = {key: _entry(value[key]) for key in keys[:_OUTLINE_KEYS]}
        if len(keys) > _OUTLINE_KEYS:
            described["more_keys"] = len(keys) - _OUTLINE_KEYS
    elif isinstance(value, list):
        described["length"] = len(value)
        if value:
            described["first_item"] = _entry(value[0])
            if isinstance(value[0], Mapping):
                described["first_item_keys"] = list(value[0])[:_OUTLINE_KEYS]
    return described


def _entry(value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": _kind(value), "size_bytes": json_size(value)}
    if isinstance(value, Mapping | list):
        entry["length"] = len(value)
    return entry
