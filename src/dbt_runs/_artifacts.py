"""Run artifacts on the way to the caller: `ArtifactStream`, and writing one to disk."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath

from dbt_runs._http import CHUNK_SIZE, HttpStream
from dbt_runs.errors import (
    ArtifactNotFoundError,
    ArtifactWriteError,
    DbtRunsError,
    NotFoundError,
)

__all__ = ["ArtifactStream", "artifact_not_found", "download_target", "write_stream"]


class ArtifactStream:
    """An artifact being downloaded: iterate over it for its bytes, chunk by chunk.

    Attributes:
        run_id: The run (None for a job's artifact).
        job_id: The job, for a job's artifact.
        path: The artifact path.
        step: The step asked for (None: the last step).
        status_code: The HTTP status.
        headers: The response headers.
        retries: How many retries it took to open the stream.
    """

    def __init__(
        self,
        stream: HttpStream,
        *,
        run_id: int | None,
        path: str,
        step: int | None,
        job_id: int | None = None,
        retries: int = 0,
    ) -> None:
        self._stream = stream
        self.run_id = run_id
        self.job_id = job_id
        self.path = path
        self.step = step
        self.status_code = stream.status_code
        self.headers = stream.headers
        self.retries = retries

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` dbt sent."""
        return self.headers.get("content-type")

    @property
    def content_length(self) -> int | None:
        """The size in bytes, when dbt said (`Content-Length`)."""
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in chunks of at most `chunk_size` bytes."""
        return self._stream.iter_bytes(chunk_size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.iter_bytes()

    def __repr__(self) -> str:
        return (
            f"ArtifactStream(run_id={self.run_id}, job_id={self.job_id}, path={self.path!r}, "
            f"content_length={self.content_length})"
        )


def artifact_not_found(
    exc: NotFoundError,
    run_id: int | None,
    path: str,
    step: int | None,
    *,
    job_id: int | None = None,
) -> ArtifactNotFoundError:
    """dbt's 404 for an artifact, saying which run (or job), path and step had none."""
    if run_id is None:
        message = (
            f"job {job_id} has no successful run with an artifact {path!r}: it has not "
            f"succeeded yet, or its runs do not produce that file ({exc.message})"
        )
    else:
        where = f"step {step}" if step is not None else "its last step"
        message = (
            f"run {run_id} has no artifact {path!r} for {where}: the run did not produce it, "
            f"or it is not uploaded yet ({exc.message})"
        )
    error = ArtifactNotFoundError(
        message,
        status_code=exc.status_code,
        headers=exc.headers,
        content=exc.content,
        body=exc.body,
    )
    error.run_id = run_id
    error.job_id = job_id
    error.path = path
    error.step = step
    error.retries = exc.retries
    return error


def download_target(dest: Path, path: str) -> Path:
    """The file to write: `dest`, or the artifact's own name inside `dest` if it is a folder.

    Raises:
        ArtifactWriteError: The folder does not exist, or the name is too long for it.
    """
    if _is_dir(dest):
        # The artifact's own (decoded) name, as `curl -O` would save it.
        dest = dest / PurePosixPath(path).name
    try:
        name_max = os.pathconf(dest.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(dest.name)) > name_max:
        raise ArtifactWriteError(
            f"cannot write to {str(dest)!r}: the file name is longer than this file system's "
            f"{name_max} bytes; pass a shorter destination file name",
            errno.ENAMETOOLONG,
            str(dest),
        )
    if not _is_dir(dest.parent):
        raise ArtifactWriteError(
            f"cannot write to {str(dest)!r}: its folder does not exist",
            errno.ENOENT,
            str(dest),
        )
    return dest


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, say: not a folder we can write into
        return False


async def write_stream(
    stream: ArtifactStream, target: Path, *, on_chunk: Callable[[int], object] | None = None
) -> int:
    """Write `stream` to `target`: into a file beside it, renamed once complete; the bytes
    written.

    The file is created with the process's umask applied, like any file `curl -O` writes,
    and a failed download leaves nothing behind. `on_chunk(size)` is called after each chunk
    is written (a progress bar, say).

    Raises:
        ArtifactWriteError: The file could not be written (permissions, disk full, ...).
    """
    part = target.parent / f".{target.name[:200]}.{secrets.token_hex(4)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    opened: int | OSError
    try:
        opened = await asyncio.to_thread(os.open, part, flags, 0o666)
    except OSError as exc:
        opened = exc
    if isinstance(opened, OSError):
        raise _write_error(opened, target)
    fd = opened
    failed: OSError | None = None
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in stream:
                # A 64 KiB write to the page cache takes microseconds: cheaper inline than a
                # thread hop per chunk.
                handle.write(chunk)
                written += len(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
        await asyncio.to_thread(os.replace, part, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(part)
        # A timeout reading the stream is an OSError too (TimeoutError): only the file
        # system's own errors become write errors.
        if not isinstance(exc, OSError) or isinstance(exc, DbtRunsError):
            raise
        failed = exc
    if failed is not None:
        raise _write_error(failed, target)
    return written


def _write_error(exc: OSError, target: Path) -> ArtifactWriteError:
    reason = exc.strerror or type(exc).__name__
    return ArtifactWriteError(
        f"cannot write the artifact to {str(target)!r}: {reason}", exc.errno or 0, str(target)
    )
