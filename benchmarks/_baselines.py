"""Bare httpx: what the same work costs with no SDK at all (the floor every ratio reads against).

Each baseline does the least a correct caller must: send the request with the token, check the
status, decode the JSON. No models, no retries, no pagination window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

TOKEN = "dbtc_benchmark_token"
"""The token every contender sends; the emulator accepts any well-formed one."""

HEADERS = {"Authorization": f"Token {TOKEN}", "Accept": "application/json"}

CHUNK_SIZE = 64 * 1024
"""The chunks an artifact is streamed in: the same size dbt-runs writes (`_http.CHUNK_SIZE`),
so that row 4 compares clients and not chunk sizes (httpx's default hands over whatever each
socket read returned)."""


def api(base_url: str, account_id: int) -> str:
    """The account's API root on the emulator."""
    return f"{base_url}/api/v2/accounts/{account_id}"


async def list_all(client: httpx.AsyncClient, base_url: str, account_id: int) -> list[Any]:
    """Every run, one page of 100 after the other (offset/limit until `total_count`)."""
    runs: list[Any] = []
    while True:
        response = await client.get(
            f"{api(base_url, account_id)}/runs/",
            params={"offset": len(runs), "limit": 100},
            headers=HEADERS,
        )
        response.raise_for_status()
        body = response.json()
        runs.extend(body["data"])
        if not body["data"] or len(runs) >= body["extra"]["pagination"]["total_count"]:
            return runs


async def get_run(client: httpx.AsyncClient, base_url: str, account_id: int, run_id: int) -> Any:
    """One run, decoded."""
    response = await client.get(f"{api(base_url, account_id)}/runs/{run_id}/", headers=HEADERS)
    response.raise_for_status()
    return response.json()["data"]


def get_run_sync(client: httpx.Client, base_url: str, account_id: int, run_id: int) -> Any:
    """One run, decoded, with a synchronous `httpx.Client`."""
    response = client.get(f"{api(base_url, account_id)}/runs/{run_id}/", headers=HEADERS)
    response.raise_for_status()
    return response.json()["data"]


def list_all_sync(client: httpx.Client, base_url: str, account_id: int) -> list[Any]:
    """Every run with a synchronous `httpx.Client`: the loop a synchronous caller writes."""
    runs: list[Any] = []
    total = None
    while total is None or (len(runs) < total):
        response = client.get(
            f"{api(base_url, account_id)}/runs/",
            params={"offset": len(runs), "limit": 100},
            headers=HEADERS,
        )
        response.raise_for_status()
        body = response.json()
        if not body["data"]:
            break
        runs.extend(body["data"])
        total = body["extra"]["pagination"]["total_count"]
    return runs


async def stream_to_disk(
    client: httpx.AsyncClient, base_url: str, account_id: int, run_id: int, path: str, dest: Path
) -> int:
    """Stream an artifact to `dest` in `CHUNK_SIZE` chunks; return the bytes written."""
    written = 0
    url = f"{api(base_url, account_id)}/runs/{run_id}/artifacts/{path}"
    async with client.stream("GET", url, headers=HEADERS) as response:
        response.raise_for_status()
        with dest.open("wb") as f:
            async for chunk in response.aiter_bytes(CHUNK_SIZE):
                f.write(chunk)
                written += len(chunk)
    return written
