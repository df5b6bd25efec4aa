"""What the sync and async clients share about moving bytes: upload sources, request messages,
download verification, and the temp file a download is written to before it is renamed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import IO, Any, Callable

from ._connection import CHUNK_SIZE
from .errors import DataCorrupted
from .types import ProgressCallback
from .v1 import storage_pb2


class UploadSource:
    """The bytes of one upload: how to (re)open them, their size and sha256 when known, and
    whether they can be sent again after a failed attempt."""

    def __init__(
        self,
        opener: Callable[[], contextlib.AbstractContextManager[IO[bytes]]],
        *,
        size: int | None,
        sha256: str | None,
        replayable: bool,
    ) -> None:
        self.open = opener
        self.size = size
        self.sha256 = sha256
        self.replayable = replayable


def _file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def source_from_path(path: str | os.PathLike[str], *, sha256: str | None, checksum: bool) -> UploadSource:
    size = os.stat(path).st_size
    if sha256 is None and checksum:
        sha256 = _file_sha256(path)
    return UploadSource(lambda: open(path, "rb"), size=size, sha256=sha256, replayable=True)


def source_from_bytes(data: bytes | bytearray | memoryview, *, sha256: str | None, checksum: bool) -> UploadSource:
    data = bytes(data)
    if sha256 is None and checksum:
        sha256 = hashlib.sha256(data).hexdigest()
    return UploadSource(lambda: io.BytesIO(data), size=len(data), sha256=sha256, replayable=True)


def source_from_fileobj(fileobj: IO[bytes], *, size: int | None, sha256: str | None) -> UploadSource:
    """A seekable file object is replayed from where it stood; any other stream is sent once."""
    seekable = False
    start = 0
    try:
        seekable = fileobj.seekable()
        if seekable:
            start = fileobj.tell()
            if size is None:
                size = fileobj.seek(0, io.SEEK_END) - start
                fileobj.seek(start)
    except (AttributeError, OSError):
        seekable = False

    @contextlib.contextmanager
    def opener() -> Iterator[IO[bytes]]:
        if seekable:
            fileobj.seek(start)
        yield fileobj  # the caller's object: never closed here

    return UploadSource(opener, size=size, sha256=sha256, replayable=seekable)


def upload_header(
    bucket: str,
    key: str,
    *,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    size: int | None,
    sha256: str | None,
) -> storage_pb2.UploadFileRequest:
    header = storage_pb2.UploadFileHeader(
        bucket=bucket,
        object_name=key,
        content_type=content_type or "",
        metadata=dict(metadata or {}),
    )
    if size is not None:
        header.expected_size = size
    if sha256 is not None:
        header.sha256 = sha256
    return storage_pb2.UploadFileRequest(header=header)


class UploadProgress:
    """Counts and hashes what is sent, and reports it."""

    def __init__(self, total: int | None, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
        self.sent = 0
        self.digest = hashlib.sha256()
        if callback:
            callback(0, total)

    def chunk(self, data: bytes) -> storage_pb2.UploadFileRequest:
        self.digest.update(data)
        self.sent += len(data)
        return storage_pb2.UploadFileRequest(chunk=data)

    def reported(self) -> None:
        if self.callback:
            self.callback(self.sent, self.total)


def check_upload(res: Any, progress: UploadProgress, request_id: str) -> None:
    """The service stored what was sent (it checks announced digests itself; this covers the rest)."""
    if res.sha256 and res.sha256 != progress.digest.hexdigest():
        raise DataCorrupted(
            f"the service stored sha256 {res.sha256}, but {progress.digest.hexdigest()} was sent",
            details={"key": res.object_name},
            request_id=request_id,
        )


def download_request(
    bucket: str, key: str, *, version_id: str | None, start: int | None, end: int | None
) -> storage_pb2.DownloadFileRequest:
    request = storage_pb2.DownloadFileRequest(bucket=bucket, object_name=key)
    if version_id is not None:
        request.version_id = version_id
    if start is not None:
        request.range.start = start
        if end is not None:
            request.range.end = end
    elif end is not None:
        raise ValueError("end needs start (use start=0 for the first bytes)")
    return request


class DownloadVerifier:
    """Counts and hashes the bytes of one download. A full read must match the sha256 the service
    recorded (sent in the header); any read must deliver exactly content_length bytes."""

    def __init__(
        self, header: storage_pb2.DownloadFileHeader, *, full: bool, progress: ProgressCallback | None, request_id: str
    ) -> None:
        self.header = header
        self.full = full
        self.progress = progress
        self.request_id = request_id
        self.received = 0
        self.digest = hashlib.sha256()
        if progress:
            progress(0, header.content_length)

    def update(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.received += len(chunk)
        if self.progress:
            self.progress(self.received, self.header.content_length)

    def finish(self) -> None:
        expected = self.header.content_length
        details = {"bucket": self.header.file.bucket, "key": self.header.file.object_name}
        if self.received != expected:
            raise DataCorrupted(
                f"the download delivered {self.received} bytes, not {expected}",
                details=details,
                request_id=self.request_id,
            )
        recorded = self.header.file.sha256
        if self.full and recorded and self.digest.hexdigest() != recorded:
            raise DataCorrupted(
                f"downloaded bytes have sha256 {self.digest.hexdigest()}, the service recorded {recorded}",
                details={**details, "sha256": recorded},
                request_id=self.request_id,
            )


def temp_file_beside(path: str | os.PathLike[str]) -> tuple[IO[bytes], str]:
    """An open temp file in the target's directory, so the final rename is atomic (same filesystem)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part", dir=directory)
    return os.fdopen(fd, "wb"), temp


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
