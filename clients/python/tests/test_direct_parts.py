"""The direct path's pieces without the service: the part plan (the same rules as the service's
src/core/session-parts.ts), the one hashing pass, when a transfer goes direct, and the part
uploader against a small HTTP server standing in for the store's presigned URLs (a part refused
with a 500 once is sent again; a store that cannot be reached makes "auto" fall back), and the
fallback on a service whose backend has no direct path (a stand-in gRPC service)."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from lumenslate_storage import (
    DataCorrupted,
    InvalidArgument,
    RetryPolicy,
    StorageClient,
    Unavailable,
    UnsupportedOperation,
)
from lumenslate_storage._direct import (
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    DirectUpload,
    Fallback,
    PartUrl,
    hash_parts,
    make_direct_settings,
    plan_parts,
    wants_direct,
)
from lumenslate_storage.v1 import storage_pb2, storage_pb2_grpc, upload_sessions_pb2_grpc

MiB = 1024 * 1024
GiB = 1024 * MiB
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)


# --- the part plan ---------------------------------------------------------------------------------


def test_plan_default_16_mib_parts_with_a_shorter_last_one() -> None:
    plan = plan_parts(100 * MiB)
    assert (plan.part_size, plan.part_count) == (DEFAULT_PART_SIZE, 7)
    assert plan.bounds(1) == (0, 16 * MiB)
    assert plan.bounds(7) == (96 * MiB, 4 * MiB)
    assert sum(plan.bounds(n)[1] for n in range(1, 8)) == 100 * MiB


def test_plan_exact_multiple_and_tiny_objects() -> None:
    assert (plan_parts(64 * MiB).part_count, plan_parts(64 * MiB).bounds(4)) == (4, (48 * MiB, 16 * MiB))
    assert (plan_parts(0).part_count, plan_parts(0).bounds(1)) == (1, (0, 0))
    assert plan_parts(1).bounds(1) == (0, 1)


def test_plan_grows_the_part_size_in_whole_mib_to_fit_10000_parts() -> None:
    plan = plan_parts(500 * GiB)
    assert plan.part_size % MiB == 0 and plan.part_size > DEFAULT_PART_SIZE
    assert plan.part_count <= MAX_PARTS
    assert plan_parts(500 * GiB).part_size == 52 * MiB  # ceil(500 GiB / 10,000) rounded up to MiB
    # Just under the boundary the default still fits.
    assert plan_parts(16 * MiB * MAX_PARTS).part_size == DEFAULT_PART_SIZE


def test_plan_with_a_requested_part_size_and_its_limits() -> None:
    plan = plan_parts(12 * MiB, 5 * MiB)
    assert (plan.part_size, plan.part_count, plan.bounds(3)) == (5 * MiB, 3, (10 * MiB, 2 * MiB))
    with pytest.raises(ValueError, match="5 MiB"):
        plan_parts(10 * MiB, 5 * MiB - 1)
    with pytest.raises(ValueError, match="5 GiB"):
        plan_parts(10 * MiB, 5 * GiB + 1)
    with pytest.raises(ValueError, match="10000"):
        plan_parts(5 * MiB * MAX_PARTS + 1, 5 * MiB)
    with pytest.raises(ValueError, match="outside"):
        plan.bounds(4)
    with pytest.raises(ValueError, match="5 MiB"):
        StorageClient("127.0.0.1:1", part_size=MiB)


def test_hash_parts_hashes_each_part_and_the_whole_in_one_pass(tmp_path: Path) -> None:
    data = os.urandom(12 * MiB + 7)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    plan = plan_parts(len(data), 5 * MiB)
    whole, parts = hash_parts(path, plan, whole=True)
    assert whole == hashlib.sha256(data).hexdigest()
    assert parts == [hashlib.sha256(data[o : o + n]).hexdigest() for o, n in map(plan.bounds, (1, 2, 3))]
    assert hash_parts(path, plan, whole=False) == (None, parts)
    # The file changed size since it was planned: refused, never sent.
    with pytest.raises(DataCorrupted, match="grew"):
        hash_parts(path, plan_parts(len(data) - 1, 5 * MiB), whole=True)
    with pytest.raises(DataCorrupted, match="shorter"):
        hash_parts(path, plan_parts(len(data) + 1, 5 * MiB), whole=True)


def test_which_transfers_go_direct() -> None:
    settings = make_direct_settings(64 * MiB, 4, None, None)
    direct = lambda transfer, size, **kw: wants_direct(  # noqa: E731
        transfer, size, settings, unsupported=kw.get("unsupported", False), sse_customer_key=kw.get("sse")
    )
    assert direct("auto", 64 * MiB) and not direct("auto", 64 * MiB - 1)
    assert direct("auto", None)  # size unknown yet (a download): ask the index first
    assert direct("direct", 1) and not direct("proxy", 10 * GiB)
    assert not direct("auto", 10 * GiB, unsupported=True)  # the backend said it has no direct path
    assert not direct("auto", 10 * GiB, sse=b"k" * 32)  # SSE-C objects go through the service
    with pytest.raises(InvalidArgument, match="SSE-C"):
        direct("direct", 1, sse=b"k" * 32)
    with pytest.raises(ValueError, match="transfer must be"):
        direct("fast", 1)
    never = make_direct_settings(None, 4, None, None)
    assert not wants_direct("auto", 10 * GiB, never, unsupported=False, sse_customer_key=None)
    with pytest.raises(ValueError, match="direct_concurrency"):
        make_direct_settings(1, 0, None, None)


# --- the part uploader against a stand-in store ----------------------------------------------------


class _Store(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.parts: dict[int, bytes] = {}
        self.headers_seen: dict[int, str] = {}
        self.fail_once: set[int] = set()
        self.attempts: dict[int, int] = {}
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Store
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
        n = int(self.path.rsplit("=", 1)[1])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.attempts[n] = self.server.attempts.get(n, 0) + 1
            fail = n in self.server.fail_once
            self.server.fail_once.discard(n)
            if not fail:
                self.server.parts[n] = body
                self.server.headers_seen[n] = self.headers.get("x-amz-checksum-sha256", "")
        reply = b"<Error><Code>InternalError</Code><Message>try again</Message></Error>" if fail else b""
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def store() -> Iterator[_Store]:
    server = _Store()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _uploader(path: Path, size: int, *, fail_fast: bool, progress: list[tuple[int, int | None]]) -> tuple[DirectUpload, list[str]]:
    plan = plan_parts(size, 5 * MiB)
    _, hashes = hash_parts(path, plan, whole=False)
    uploader = DirectUpload(
        path,
        plan,
        hashes,
        settings=make_direct_settings(None, 3, 5 * MiB, None),
        policy=FAST,
        progress=lambda sent, total: progress.append((sent, total)),
        fail_fast=fail_fast,
    )
    return uploader, hashes


def test_parts_go_up_in_parallel_and_a_refused_part_is_sent_again(store: _Store, tmp_path: Path) -> None:
    data = os.urandom(23 * MiB)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    store.fail_once = {2}
    progress: list[tuple[int, int | None]] = []
    uploader, hashes = _uploader(path, len(data), fail_fast=True, progress=progress)
    batches: list[list[int]] = []
    base = f"http://127.0.0.1:{store.server_address[1]}/bucket/key?partNumber="

    def get_urls(batch: object) -> list[PartUrl]:
        numbers = [n for n, _ in batch]  # type: ignore[attr-defined]
        batches.append(numbers)
        return [PartUrl(n, base + str(n), {"x-amz-checksum-sha256": h}) for n, h in batch]  # type: ignore[attr-defined]

    uploader.run(get_urls)
    plan = uploader.plan
    assert b"".join(store.parts[n] for n in range(1, plan.part_count + 1)) == data
    assert store.attempts == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1}
    assert batches == [[1, 2, 3, 4, 5]]  # one call for the URLs of a small file
    assert all(store.headers_seen[n] == hashes[n - 1] for n in store.parts)  # the signed headers, as given
    # Progress: from 0 to the size, never backwards (the retried part counts only past its best).
    assert progress[0] == (0, len(data)) and progress[-1] == (len(data), len(data))
    assert all(b[0] >= a[0] for a, b in zip(progress, progress[1:]))


def test_a_store_never_reached_falls_back_under_auto_and_fails_when_forced(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(6 * MiB))
    with socket_nobody_listens_on() as port:
        url = f"http://127.0.0.1:{port}/bucket/key?partNumber="
        for fail_fast, expected in ((True, Fallback), (False, Unavailable)):
            uploader, _ = _uploader(path, 6 * MiB, fail_fast=fail_fast, progress=[])
            with pytest.raises(expected):
                uploader.run(lambda batch: [PartUrl(n, url + str(n), {}) for n, _ in batch])


class socket_nobody_listens_on:  # noqa: N801 (a context manager read as a phrase)
    """A port bound but not listening: connections to it are refused at once."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        port: int = self.sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# --- the fallback on a backend without a direct path (the local filesystem) -------------------------


class _LocalBackendStorage(storage_pb2_grpc.StorageServiceServicer):
    """The service on the local backend: uploads and downloads through it; no presigned URLs."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.presigns = 0

    def UploadFile(self, request_iterator, context):  # noqa: N802 (grpc's names)
        header = next(request_iterator).header
        body = b"".join(r.chunk for r in request_iterator)
        self.objects[header.object_name] = body
        return storage_pb2.UploadFileResponse(
            success=True, bucket=header.bucket, object_name=header.object_name, size=len(body),
            sha256=hashlib.sha256(body).hexdigest(), version_id="null",
        )

    def StatFile(self, request, context):  # noqa: N802
        return storage_pb2.StatFileResponse(file=self._info(request.bucket, request.object_name))

    def GetFileUrl(self, request, context):  # noqa: N802
        self.presigns += 1
        _unsupported(context)

    def DownloadFile(self, request, context):  # noqa: N802
        body = self.objects[request.object_name]
        info = self._info(request.bucket, request.object_name)
        yield storage_pb2.DownloadFileResponse(header=storage_pb2.DownloadFileHeader(file=info, content_length=len(body)))
        yield storage_pb2.DownloadFileResponse(chunk=body)

    def _info(self, bucket: str, key: str) -> storage_pb2.FileInfo:
        body = self.objects[key]
        return storage_pb2.FileInfo(bucket=bucket, object_name=key, size=len(body), sha256=hashlib.sha256(body).hexdigest())


class _LocalBackendSessions(upload_sessions_pb2_grpc.UploadSessionServiceServicer):
    def __init__(self) -> None:
        self.creates = 0

    def CreateUploadSession(self, request, context):  # noqa: N802
        self.creates += 1
        _unsupported(context)


def _unsupported(context: grpc.ServicerContext) -> None:
    # As src/transports/grpc/status.ts sends it.
    context.set_trailing_metadata((("x-error-code", "UNSUPPORTED_OPERATION"),))
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "Upload sessions need an S3/MinIO backend")


def test_auto_goes_through_the_service_on_a_backend_without_a_direct_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lumenslate_storage")
    storage, sessions = _LocalBackendStorage(), _LocalBackendSessions()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    storage_pb2_grpc.add_StorageServiceServicer_to_server(storage, server)
    upload_sessions_pb2_grpc.add_UploadSessionServiceServicer_to_server(sessions, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        data = os.urandom(2 * MiB)
        source = tmp_path / "a.bin"
        source.write_bytes(data)
        with StorageClient(f"127.0.0.1:{port}", retry=FAST, direct_threshold=MiB) as c:
            with pytest.raises(UnsupportedOperation):
                c.upload_file(source, "b", "forced.bin", transfer="direct")
            assert "forced.bin" not in storage.objects and sessions.creates == 1
            stored = c.upload_file(source, "b", "a.bin")
            assert stored.sha256 == hashlib.sha256(data).hexdigest() and storage.objects["a.bin"] == data
            c.upload_file(source, "b", "again.bin")  # the client remembers: no second session asked for
            assert sessions.creates == 2
            with pytest.raises(UnsupportedOperation):
                c.download_file("b", "a.bin", tmp_path / "forced.bin", transfer="direct")
            assert storage.presigns == 1
            info = c.download_file("b", "a.bin", tmp_path / "back.bin")
            assert (tmp_path / "back.bin").read_bytes() == data and info.size == len(data)
            assert storage.presigns == 1
        assert [r.levelname for r in caplog.records if "no direct path" in r.getMessage()] == ["INFO"]
        assert sorted(os.listdir(tmp_path)) == ["a.bin", "back.bin"]
    finally:
        server.stop(None)
