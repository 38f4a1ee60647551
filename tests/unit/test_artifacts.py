"""Artifacts: listing, small reads, streaming downloads, and a typed 'not produced' error."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dbt_runs import (
    APIConnectionError,
    APIResponseValidationError,
    ArtifactNotFoundError,
    ArtifactWriteError,
    AsyncRunsClient,
    InvalidArgumentError,
    NotFoundError,
)

from .fakes import Script, envelope, error_json, respond

pytestmark = pytest.mark.anyio
ClientFor = Callable[..., AsyncRunsClient]
EXAMPLES = Path(__file__).parents[1] / "data" / "reference" / "examples" / "data-mie_dbt-cloud-cli"


def not_found() -> httpx.Response:
    return respond(error_json(404, "The requested resource was not found."), 404)


async def test_list_artifacts_capture(client_for: ClientFor) -> None:
    body = (EXAMPLES / "run_list_artifacts_response.json").read_bytes()
    script = Script(respond(body))
    client = client_for(script)
    paths = await client.list_run_artifacts(5)
    assert paths == json.loads(body)["data"]
    assert script.requests[0].url.path == "/api/v2/accounts/1/runs/5/artifacts/"
    assert "step" not in script.requests[0].url.params


async def test_list_artifacts_rejects_a_non_list(client_for: ClientFor) -> None:
    client = client_for(Script(respond(envelope({"a": 1}))))
    with pytest.raises(APIResponseValidationError, match="not a list of paths"):
        await client.list_run_artifacts(5)


async def test_get_artifact_bytes_and_json(client_for: ClientFor) -> None:
    body = (EXAMPLES / "run_get_artifact_response.json").read_bytes()
    script = Script(respond(body), respond(body))
    client = client_for(script)

    data = await client.get_run_artifact(5, "run_results.json", step=2)
    decoded = await client.get_run_artifact_json(5, "run_results.json")

    assert data == body
    assert decoded["metadata"]["dbt_version"] == "0.21.0"
    first, second = script.requests
    assert first.url.path == "/api/v2/accounts/1/runs/5/artifacts/run_results.json"
    assert first.url.params["step"] == "2"
    assert first.headers["accept"] == "*/*"
    assert "step" not in second.url.params


async def test_nested_paths_are_url_quoted(client_for: ClientFor) -> None:
    script = Script(respond(b"select 1"))
    client = client_for(script)
    await client.get_run_artifact(5, "compiled/my proj/models/a#b.sql")
    assert script.requests[0].url.raw_path == (
        b"/api/v2/accounts/1/runs/5/artifacts/compiled/my%20proj/models/a%23b.sql"
    )


async def test_non_json_artifact_asked_as_json(client_for: ClientFor) -> None:
    client = client_for(Script(respond(b"select 1")))
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        await client.get_run_artifact_json(5, "compiled/x.sql")


async def test_missing_artifact_is_its_own_error(client_for: ClientFor) -> None:
    client = client_for(Script(not_found(), not_found()))

    with pytest.raises(ArtifactNotFoundError) as info:
        await client.get_run_artifact(5, "manifest.json", step=1)

    error = info.value
    assert isinstance(error, NotFoundError)
    assert (error.run_id, error.path, error.step) == (5, "manifest.json", 1)
    assert error.status_code == 404
    assert "run 5 has no artifact 'manifest.json' for step 1" in str(error)
    with pytest.raises(ArtifactNotFoundError, match="for its last step"):
        await client.get_run_artifact(5, "manifest.json")


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../secrets", "a/../b", "a//b", "a\\b", "./x"])
async def test_bad_artifact_paths(client_for: ClientFor, path: str) -> None:
    script = Script()
    client = client_for(script)
    with pytest.raises(InvalidArgumentError):
        await client.get_run_artifact(5, path)
    assert script.requests == []


@pytest.mark.parametrize("step", [0, -1, "1", True])
async def test_bad_step(client_for: ClientFor, step: Any) -> None:
    client = client_for(Script())
    with pytest.raises(InvalidArgumentError, match="step"):
        await client.get_run_artifact(5, "manifest.json", step=step)


def big_body(size: int, chunk: int = 10_000) -> Callable[[httpx.Request], httpx.Response]:
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            n = min(chunk, size - sent)
            yield b"x" * n
            sent += n

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=chunks(),
            headers={"content-type": "application/json", "content-length": str(size)},
        )

    return handler


async def test_stream_yields_chunks_with_metadata(client_for: ClientFor) -> None:
    client = client_for(big_body(1_000_000))
    total = 0
    async with client.stream_run_artifact(5, "manifest.json") as stream:
        assert stream.content_type == "application/json"
        assert stream.content_length == 1_000_000
        async for chunk in stream:
            assert len(chunk) <= 64 * 1024
            total += len(chunk)
    assert total == 1_000_000


async def test_stream_open_is_retried_and_404_is_typed(client_for: ClientFor) -> None:
    script = Script(respond(error_json(503, "x"), 503), big_body(10), not_found())
    client = client_for(script)
    async with client.stream_run_artifact(5, "a.json") as stream:
        assert [c async for c in stream] == [b"x" * 10]
    with pytest.raises(ArtifactNotFoundError):
        async with client.stream_run_artifact(5, "a.json", step=3):
            pass


async def test_download_to_a_file_and_into_a_folder(client_for: ClientFor, tmp_path: Path) -> None:
    client = client_for(Script(big_body(300_000), big_body(5)))
    written = await client.download_run_artifact(5, "manifest.json", tmp_path / "m.json")
    into_dir = await client.download_run_artifact(5, "run/proj/x.sql", tmp_path)
    assert written == tmp_path / "m.json"
    assert written.stat().st_size == 300_000
    assert into_dir == tmp_path / "x.sql"
    assert into_dir.read_bytes() == b"xxxxx"
    assert sorted(os.listdir(tmp_path)) == ["m.json", "x.sql"]


async def test_a_broken_download_leaves_nothing_behind(
    client_for: ClientFor, tmp_path: Path
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise httpx.ReadError("connection reset")

    client = client_for(Script(lambda request: httpx.Response(200, content=broken())))
    with pytest.raises(APIConnectionError, match="connection reset"):
        await client.download_run_artifact(5, "manifest.json", tmp_path / "m.json")
    assert os.listdir(tmp_path) == []


async def test_download_into_a_missing_folder(client_for: ClientFor, tmp_path: Path) -> None:
    script = Script()
    client = client_for(script)
    with pytest.raises(ArtifactWriteError, match="folder does not exist"):
        await client.download_run_artifact(5, "m.json", tmp_path / "nope" / "m.json")
    assert script.requests == []


async def test_download_of_a_missing_artifact(client_for: ClientFor, tmp_path: Path) -> None:
    client = client_for(Script(not_found()))
    with pytest.raises(ArtifactNotFoundError):
        await client.download_run_artifact(5, "catalog.json", tmp_path)
    assert os.listdir(tmp_path) == []


async def test_raw_artifact(client_for: ClientFor) -> None:
    client = client_for(Script(respond(b"abc", headers={"content-type": "text/plain"})))
    raw = await client.with_raw_response.get_run_artifact(5, "x.sql")
    assert raw.content == b"abc"
    assert raw.parse() == b"abc"
    assert raw.content_type == "text/plain"


async def test_download_into_a_folder_writes_the_decoded_name(
    client_for: ClientFor, tmp_path: Path
) -> None:
    script = Script(respond(b"select 1"))
    client = client_for(script)
    written = await client.download_run_artifact(5, "compiled/shop/my file.sql", tmp_path)
    assert written == tmp_path / "my file.sql"  # not my%20file.sql
    assert written.read_bytes() == b"select 1"
    assert script.requests[0].url.raw_path.endswith(b"/compiled/shop/my%20file.sql")


async def test_a_name_too_long_for_the_file_system_is_a_typed_error_before_sending(
    client_for: ClientFor, tmp_path: Path
) -> None:
    import errno

    script = Script()
    client = client_for(script)
    with pytest.raises(ArtifactWriteError, match="longer than") as info:
        await client.download_run_artifact(5, "x" * 300 + ".json", tmp_path)
    assert info.value.errno == errno.ENAMETOOLONG
    assert isinstance(info.value, OSError)
    assert script.requests == []


async def test_a_file_that_cannot_be_written_is_a_typed_error(
    client_for: ClientFor, tmp_path: Path
) -> None:
    if not os.path.isdir("/proc/self"):  # noqa: ASYNC240 - a one-off check
        pytest.skip("needs a folder nobody can create files in, such as Linux's /proc")
    client = client_for(Script(respond(b"{}")))
    # /proc exists and is a folder, but even root cannot create a file in it.
    with pytest.raises(ArtifactWriteError, match="cannot write the artifact") as info:
        await client.download_run_artifact(5, "run_results.json", "/proc")
    assert info.value.filename == "/proc/run_results.json"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
async def test_a_downloaded_file_honours_the_umask_like_curl(
    client_for: ClientFor, tmp_path: Path, umask: int, mode: int
) -> None:
    client = client_for(Script(respond(b"{}")))
    previous = os.umask(umask)
    try:
        written = await client.download_run_artifact(5, "run_results.json", tmp_path)
    finally:
        os.umask(previous)
    assert written.stat().st_mode & 0o777 == mode
