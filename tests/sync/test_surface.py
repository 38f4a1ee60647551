"""`RunsClient` has the whole surface of `AsyncRunsClient`, derived from it, not restated.

These tests read the async client's members at run time: adding an operation to
`AsyncRunsClient` without its sync twin (one line in `_sync.py`) fails here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest

import dbt_runs
from dbt_runs import (
    ArtifactStream,
    AsyncRunsClient,
    RawRunsClient,
    RunPaginator,
    RunsClient,
    SyncArtifactStream,
    SyncRawRunsClient,
    SyncRunPaginator,
)
from dbt_runs._sync import CALLBACKS, sync_doc

#: The lifecycle is the one place where the names differ.
LIFECYCLE = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def _public(cls: type) -> dict[str, Any]:
    return {
        name: value
        for klass in reversed(cls.__mro__[:-1])
        for name, value in vars(klass).items()
        if not name.startswith("_") or name in LIFECYCLE
    }


ASYNC_MEMBERS = _public(AsyncRunsClient)
ASYNC_METHODS = sorted(
    name
    for name, value in ASYNC_MEMBERS.items()
    if inspect.isfunction(value) and name not in LIFECYCLE
)
ASYNC_PROPERTIES = sorted(
    name for name, value in ASYNC_MEMBERS.items() if isinstance(value, property)
)


def test_the_async_client_is_read_as_expected() -> None:
    # Guards the reading above: were it to find nothing, every test below would pass.
    assert {"get_run", "list_runs", "wait_for_run", "stream_run_artifact"} <= set(ASYNC_METHODS)
    assert {"base_url", "with_raw_response", "is_closed"} <= set(ASYNC_PROPERTIES)


@pytest.mark.parametrize("name", sorted(ASYNC_MEMBERS))
def test_every_public_member_has_a_sync_twin(name: str) -> None:
    assert hasattr(RunsClient, LIFECYCLE.get(name, name)), (
        f"AsyncRunsClient.{name} has no RunsClient counterpart: add one line to "
        "src/dbt_runs/_sync.py (`{name} = _blocking(AsyncRunsClient.{name})`)"
    )


def test_the_sync_client_adds_nothing_but_its_lifecycle() -> None:
    extra = set(_public(RunsClient)) - set(ASYNC_MEMBERS) - set(LIFECYCLE.values())
    assert extra == set()


@pytest.mark.parametrize("name", ASYNC_METHODS)
def test_each_method_takes_exactly_the_async_methods_arguments(name: str) -> None:
    ours = inspect.signature(getattr(RunsClient, name))
    theirs = inspect.signature(getattr(AsyncRunsClient, name))
    assert list(ours.parameters.values()) == list(theirs.parameters.values())
    assert getattr(RunsClient, name).__qualname__ == f"RunsClient.{name}"


@pytest.mark.parametrize(
    ("name", "returns"),
    [
        ("get_run", "Run"),
        ("list_runs", "SyncRunPaginator"),
        ("list_jobs", "SyncJobPaginator"),
        ("stream_run_artifact", "AbstractContextManager[SyncArtifactStream]"),
        ("wait_for_run", "Run"),
        ("download_run_artifact", "Path"),
    ],
)
def test_signatures_name_what_the_sync_methods_return(name: str, returns: str) -> None:
    assert inspect.signature(getattr(RunsClient, name)).return_annotation == returns


def test_the_constructor_takes_the_async_clients_arguments() -> None:
    assert inspect.signature(RunsClient) == inspect.signature(AsyncRunsClient)


def test_the_raw_mode_has_every_raw_operation() -> None:
    async_raw = set(inspect.signature(RawRunsClient.__init__).parameters) - {"self"}
    assert async_raw == {"client"}  # RawRunsClient(client): its operations are attributes
    source = inspect.getsource(RawRunsClient.__init__)
    theirs = set(re.findall(r"self\.(\w+) = to_raw_response_wrapper", source))
    ours = set(re.findall(r"self\.(\w+) = _bound", inspect.getsource(SyncRawRunsClient.__init__)))
    assert theirs
    assert ours == theirs


def test_callbacks_are_every_parameter_that_takes_one() -> None:
    # A new callback parameter must be relayed to the calling thread like the others.
    taking = {
        param.name
        for name in ASYNC_METHODS
        for param in inspect.signature(getattr(AsyncRunsClient, name)).parameters.values()
        if "Callback" in str(param.annotation)
    }
    assert taking == CALLBACKS


def _sync_docs() -> Iterator[tuple[str, str]]:
    for name in [*ASYNC_METHODS, *ASYNC_PROPERTIES]:
        if hasattr(RunsClient, name):  # a missing twin fails the test made to say so
            yield f"RunsClient.{name}", getattr(RunsClient, name).__doc__ or ""
    for cls in (RunsClient, SyncRunPaginator, SyncArtifactStream, SyncRawRunsClient):
        yield cls.__name__, cls.__doc__ or ""


@pytest.mark.parametrize(("where", "doc"), list(_sync_docs()), ids=lambda v: v[:40])
def test_sync_docstrings_never_tell_to_await(where: str, doc: str) -> None:
    assert doc.strip(), f"{where} has no docstring"
    code = [line for line in doc.splitlines() if line.strip().startswith((">>>", "..."))]
    assert not [line for line in code if re.search(r"\bawait\b|\basync\b", line)], where
    assert not re.search(r"`await` the|`async for` it|`async with` it", doc), where


def test_the_docstring_rewrite_keeps_prose_and_rewrites_examples() -> None:
    doc = """Do it.

        Example:
            >>> run = await client.get_run(1)
            >>> async with client.stream_run_artifact(1, "a") as s:
            ...     async for chunk in s:
            ...         pass
        """
    assert sync_doc(doc) == (
        "Do it.\n\nExample:\n    >>> run = client.get_run(1)\n"
        '    >>> with client.stream_run_artifact(1, "a") as s:\n'
        "    ...     for chunk in s:\n    ...         pass"
    )
    assert sync_doc("One.\n\nTwo.", "Note.") == "One.\n\nNote.\n\nTwo."


def test_the_paginator_offers_what_the_async_one_does() -> None:
    theirs = {n for n in _public(RunPaginator) if not n.startswith("_")}
    ours = {n for n in _public(SyncRunPaginator) if not n.startswith("_")}
    # `limit` is the page size the sync side reads to hand over about a page per trip.
    assert theirs - ours == {"limit"}
    assert hasattr(SyncRunPaginator, "__iter__")


def test_the_artifact_stream_offers_what_the_async_one_does() -> None:
    theirs = {n for n in vars(ArtifactStream) if not n.startswith("_")}
    theirs |= set(inspect.signature(ArtifactStream).parameters) - {"stream"}
    ours = {n for n in vars(SyncArtifactStream) if not n.startswith("_")}
    ours |= set(re.findall(r"self\.(\w+) = ", inspect.getsource(SyncArtifactStream.__init__)))
    assert theirs - ours == set()


def test_every_sync_name_is_exported() -> None:
    for name in (
        "RunsClient",
        "SyncArtifactStream",
        "SyncJobPaginator",
        "SyncRawRunsClient",
        "SyncRunPaginator",
    ):
        assert name in dbt_runs.__all__
