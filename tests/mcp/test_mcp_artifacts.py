"""Narrowing an artifact for a model: JSON pointers, field selection and outlines."""

from __future__ import annotations

import json

import pytest

from dbt_runs.expose.mcp._artifacts import (
    ArtifactSelectionError,
    apply_fields,
    json_size,
    outline,
    resolve_pointer,
)

RUN_RESULTS = {
    "metadata": {"dbt_version": "1.7.0", "invocation_id": "abc"},
    "results": [
        {"unique_id": "model.shop.orders", "status": "success", "message": None, "timing": []},
        {"unique_id": "test.shop.not_null", "status": "fail", "message": "1 row", "timing": []},
    ],
    "a/b": {"~c": 1},
}


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", RUN_RESULTS),
        ("/metadata/dbt_version", "1.7.0"),
        ("/results/1/status", "fail"),
        ("/results/0/message", None),
        # RFC 6901 escapes: "~1" is "/", "~0" is "~".
        ("/a~1b/~0c", 1),
    ],
)
def test_resolve_pointer_selects_the_value(pointer: str, expected: object) -> None:
    assert resolve_pointer(RUN_RESULTS, pointer) == expected


@pytest.mark.parametrize(
    ("pointer", "fragment"),
    [
        ("results", "must start with '/'"),
        ("/nodes", "no key 'nodes' at the artifact's top level; keys there: 'metadata'"),
        ("/results/2", "index 2 is out of range at /results (the array has 2 items)"),
        ("/results/first", "must be an index from 0 to 1, not 'first'"),
        ("/results/01", "not '01'"),
        ("/metadata/dbt_version/x", "/metadata/dbt_version is a string, which has no 'x'"),
    ],
)
def test_resolve_pointer_says_what_went_wrong(pointer: str, fragment: str) -> None:
    with pytest.raises(ArtifactSelectionError) as caught:
        resolve_pointer(RUN_RESULTS, pointer)
    assert fragment in str(caught.value)


def test_apply_fields_on_an_array_of_objects_keeps_the_keys_asked_for() -> None:
    picked = apply_fields(RUN_RESULTS["results"], ["unique_id", "status", "status"])
    assert picked == [
        {"unique_id": "model.shop.orders", "status": "success"},
        {"unique_id": "test.shop.not_null", "status": "fail"},
    ]


def test_apply_fields_on_an_object_skips_absent_keys() -> None:
    assert apply_fields(RUN_RESULTS["metadata"], ["dbt_version", "nope"]) == {
        "dbt_version": "1.7.0"
    }


def test_apply_fields_matching_nothing_is_an_error_listing_the_keys() -> None:
    with pytest.raises(ArtifactSelectionError, match="keys there: 'unique_id', 'status'"):
        apply_fields(RUN_RESULTS["results"], ["uniqueId"])


def test_apply_fields_on_a_scalar_is_an_error() -> None:
    with pytest.raises(ArtifactSelectionError, match="selected value is a string"):
        apply_fields("text", ["a"])


def test_json_size_counts_utf8_bytes_of_compact_json() -> None:
    assert json_size({"name": "é", "n": [1, 2]}) == len('{"name":"é","n":[1,2]}'.encode())


def test_outline_of_an_object_describes_each_key_without_content() -> None:
    described = outline(RUN_RESULTS)
    assert described["kind"] == "object"
    assert described["length"] == 3
    assert described["size_bytes"] == json_size(RUN_RESULTS)
    assert described["keys"]["results"] == {
        "kind": "array",
        "size_bytes": json_size(RUN_RESULTS["results"]),
        "length": 2,
    }
    assert "success" not in json.dumps(described)


def test_outline_of_an_array_names_its_length_and_first_item_keys() -> None:
    described = outline(RUN_RESULTS["results"])
    assert described["length"] == 2
    assert described["first_item_keys"] == ["unique_id", "status", "message", "timing"]


def test_outline_caps_the_number_of_keys_described() -> None:
    big = {f"model.shop.m{i}": {"x": i} for i in range(120)}
    described = outline(big)
    assert len(described["keys"]) == 50
    assert described["more_keys"] == 70
