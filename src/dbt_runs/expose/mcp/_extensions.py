"""The bodies of the two extensions that do more than one client call.

`wait-for-run` polls with a progress notification at every check; `get-run-artifact` reads an
artifact under a size cap and inlines it, or the part `pointer`/`fields` select, or answers
with an outline (`_artifacts`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from dbt_runs.errors import ArtifactNotFoundError, WaitTimeoutError
from dbt_runs.expose.mcp import _artifacts
from dbt_runs.expose.mcp._wrapper import Answer, error
from dbt_runs.models import RunStatus

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from dbt_runs import AsyncRunsClient
    from dbt_runs.models import Run

__all__ = ["ARTIFACT_INLINE_LIMIT", "ARTIFACT_MAX_BYTES", "read_artifact", "wait"]

ARTIFACT_INLINE_LIMIT: Final = 100_000
"""Largest selected value (bytes of compact JSON, or of text) inlined by `get-run-artifact`.

About 25k tokens: the result limit of common MCP clients."""

ARTIFACT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Largest artifact `get-run-artifact` downloads to select from; larger ones must be
downloaded to disk (`dbt-runs artifacts download`)."""

_OUTCOMES: Final = {
    RunStatus.SUCCESS: "success",
    RunStatus.ERROR: "error",
    RunStatus.CANCELLED: "cancelled",
}


async def wait(
    client: AsyncRunsClient,
    ctx: Context[Any, Any],
    *,
    run_id: int,
    timeout_seconds: float,
    poll_interval_seconds: float,
    account_id: int | None = None,
) -> Answer:
    """`wait-for-run`: the run once it finished, or as it was when `timeout_seconds` ran out."""
    polls = 0
    started = time.monotonic()

    async def on_poll(run: Run) -> None:
        nonlocal polls
        polls += 1
        status = run.status_humanized or (run.status.humanized if run.status else "unknown")
        # One notification per poll: the client sees the run move (and a client that resets
        # its request timeout on progress keeps waiting).
        await ctx.report_progress(
            polls, None, f"run {run_id}: {status} (check {polls}, {_elapsed(started)} s)"
        )

    message = ""
    try:
        run: Run | None = await client.wait_for_run(
            run_id,
            account_id=account_id,
            timeout=timeout_seconds,
            poll_interval=poll_interval_seconds,
            raise_on_failure=False,
            on_poll=on_poll,
        )
    except WaitTimeoutError as exc:
        run, message = exc.run, exc.message
        if run is None:
            return error(f"Waiting for run {run_id} failed: {message}")
    assert run is not None
    if message:
        outcome = "timeout"
    else:
        outcome = _OUTCOMES.get(run.status, "finished") if run.status is not None else "finished"
    wait: dict[str, Any] = {
        "outcome": outcome,
        "finished": outcome != "timeout",
        "polls": polls,
        "waited_seconds": _elapsed(started),
    }
    if message:
        wait["message"] = message + "; call wait-for-run again to keep waiting"
    return {"data": dict(run.raw), "wait": wait}


def _elapsed(since: float) -> float:
    return round(time.monotonic() - since, 3)


async def read_artifact(
    client: AsyncRunsClient,
    *,
    run_id: int,
    path: str,
    account_id: int | None = None,
    step: int | None = None,
    pointer: str = "",
    fields: Sequence[str] | None = None,
) -> Answer:
    """`get-run-artifact`: the artifact, or the part selected, inline or as an outline."""
    base: dict[str, Any] = {"run_id": run_id, "path": path, "step": step}
    try:
        async with client.stream_run_artifact(
            run_id, path, account_id=account_id, step=step
        ) as stream:
            content_type = stream.content_type
            declared = stream.content_length
            if declared is not None and declared > ARTIFACT_MAX_BYTES:
                return _too_big_to_fetch(base, declared, content_type)
            chunks: list[bytes] = []
            size = 0
            async for chunk in stream:
                size += len(chunk)
                if size > ARTIFACT_MAX_BYTES:
                    return _too_big_to_fetch(base, size, content_type, at_least=True)
                chunks.append(chunk)
    except ArtifactNotFoundError as exc:
        where = f"step {step}" if step is not None else "the last step"
        return error(
            f"dbt Cloud answered HTTP 404: run {run_id} has no artifact {path!r} for {where} "
            "(the step may not produce it, or it is not uploaded yet). list-run-artifacts "
            "shows what the run saved.",
            exc.body,
        )

    data = b"".join(chunks)
    base.update(content_type=content_type, size_bytes=len(data), pointer=pointer, fields=fields)
    document: Any
    is_json = (content_type is not None and "json" in content_type) or path.endswith(".json")
    try:
        document = json.loads(data) if is_json else None
    except ValueError:
        is_json = False
    if not is_json:
        return _text_artifact(base, data, pointer, fields)

    try:
        selected = _artifacts.resolve_pointer(document, pointer)
        if fields:
            selected = _artifacts.apply_fields(selected, fields)
    except _artifacts.ArtifactSelectionError as exc:
        return error(f"Cannot select from {path}: {exc}")
    selected_bytes = _artifacts.json_size(selected)
    base["selected_bytes"] = selected_bytes
    if selected_bytes <= ARTIFACT_INLINE_LIMIT:
        return {**base, "inlined": True, "content": selected}
    return {
        **base,
        "inlined": False,
        "outline": _artifacts.outline(selected),
        "hint": (
            f"The selected value is {selected_bytes} bytes, over the {ARTIFACT_INLINE_LIMIT}"
            "-byte inline limit. Call again with a narrower pointer (a key from outline, "
            "e.g. '/results' or '/nodes/<unique_id>') and/or fields to keep only some "
            "keys of each item, e.g. ['unique_id', 'status', 'message']."
        ),
    }


def _text_artifact(
    base: dict[str, Any], data: bytes, pointer: str, fields: Sequence[str] | None
) -> Answer:
    if pointer or fields:
        return error(
            f"pointer and fields apply to JSON artifacts only; {base['path']!r} is "
            f"{base.get('content_type') or 'not JSON'}: call again without them"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {
            **base,
            "inlined": False,
            "hint": (
                "This artifact is binary; download it instead: "
                f"dbt-runs artifacts download {base['run_id']} {base['path']}"
            ),
        }
    encoded = text.encode("utf-8")
    if len(encoded) <= ARTIFACT_INLINE_LIMIT:
        return {**base, "selected_bytes": len(encoded), "inlined": True, "content": text}
    head = encoded[:ARTIFACT_INLINE_LIMIT].decode("utf-8", errors="ignore")
    return {
        **base,
        "selected_bytes": len(encoded),
        "inlined": True,
        "truncated": True,
        "content": head,
        "hint": (
            f"Only the first {ARTIFACT_INLINE_LIMIT} bytes of {len(encoded)} are shown; "
            f"download the whole file with: dbt-runs artifacts download {base['run_id']} "
            f"{base['path']}"
        ),
    }


def _too_big_to_fetch(
    base: dict[str, Any], size: int, content_type: str | None, *, at_least: bool = False
) -> Answer:
    amount = f"over {ARTIFACT_MAX_BYTES}" if at_least else str(size)
    return {
        **base,
        "content_type": content_type,
        "size_bytes": size,
        "inlined": False,
        "hint": (
            f"This artifact is {amount} bytes, too large to read here (limit "
            f"{ARTIFACT_MAX_BYTES}). Download it with: dbt-runs artifacts download "
            f"{base['run_id']} {base['path']}"
        ),
    }
