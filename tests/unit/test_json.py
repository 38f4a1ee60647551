"""The `speedups` extra's JSON seam: orjson when installed, and the same values as `json`."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dbt_runs import _json
from dbt_runs._parse import parse_page
from dbt_runs._response import RawResponse

from .fakes import run_json

EXAMPLES = sorted((Path(__file__).parents[1] / "data" / "reference" / "examples").rglob("*.json"))

# What orjson refuses and the standard library reads: the fallback must give json's answer.
EDGES = [
    b"[NaN, Infinity, -Infinity]",
    b"1e400",
    b'"\\ud800"',
    "[1]".encode("utf-16"),
    b"\xef\xbb\xbf[1]",
    b"[" * 1100 + b"]" * 1100,
    b'{"a": 1, "a": 2}',
    b'{"id": 9223372036854775807, "x": -0.0, "s": "\\u00e9\\n"}',
]


def _outcome(loads: Any, content: bytes) -> object:
    try:
        return ("ok", loads(content))
    except (ValueError, RecursionError) as exc:
        return ("refused", type(exc).__name__)


def test_without_orjson_the_standard_library_decodes() -> None:
    # The module as imported without the extra: `import orjson` fails.
    saved = sys.modules.get("orjson")
    sys.modules["orjson"] = None  # type: ignore[assignment]
    try:
        pure = importlib.reload(_json)
        assert pure.ACCELERATED is False
        assert pure.loads is pure._standard
        assert pure.loads(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    finally:
        if saved is None:
            del sys.modules["orjson"]
        else:
            sys.modules["orjson"] = saved
        importlib.reload(_json)


def test_with_orjson_installed_it_decodes() -> None:
    pytest.importorskip("orjson")
    assert _json.ACCELERATED is True


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_captured_body_decodes_to_the_same_value(path: Path) -> None:
    content = path.read_bytes()
    assert _outcome(_json.loads, content) == _outcome(json.loads, content)


@pytest.mark.parametrize("content", EDGES, ids=range(len(EDGES)))
def test_what_orjson_refuses_gets_the_standard_librarys_answer(content: bytes) -> None:
    ours, standard = _outcome(_json.loads, content), _outcome(json.loads, content)
    if standard[0] == "ok" and standard[1] != standard[1]:  # pragma: no cover (NaN != NaN)
        return
    assert repr(ours) == repr(standard)


def test_a_page_parses_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {
        "status": {"code": 200, "is_success": True},
        "data": [run_json(i, 10, blocked_by=[1, 2]) for i in range(1, 4)],
        "extra": {"pagination": {"count": 3, "total_count": 3}},
    }
    content = json.dumps(body).encode()

    def parse() -> Any:
        raw: RawResponse[Any] = RawResponse(
            status_code=200, headers={}, content=content, parse=lambda r: r
        )
        return parse_page(raw, offset=0, limit=100)

    fast = parse()
    monkeypatch.setattr(_json, "loads", _json._standard)
    pure = parse()
    assert fast == pure
    assert fast.raw == pure.raw == body
    assert [r.raw for r in fast.items] == [r.raw for r in pure.items]
