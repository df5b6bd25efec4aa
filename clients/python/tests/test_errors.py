"""Each typed exception, from the service's stable x-error-code, with its details and request id;
none of them is retried."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from conftest import ADDRESS, FAST_RETRY, env, live, random_bytes

from lumenslate_storage import (
    DataCorrupted,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RetryEvent,
    RetryPolicy,
    StorageClient,
    StorageError,
    TooLarge,
    Unauthenticated,
    UnsupportedType,
)
from lumenslate_storage.v1 import storage_pb2, storage_pb2_grpc

MiB = 1024 * 1024


@pytest.fixture
def retries() -> list[RetryEvent]:
    return []


@pytest.fixture
def watched(retries: list[RetryEvent]) -> Iterator[StorageClient]:
    """An admin client that records every retry (none expected here)."""
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.05, max_backoff=0.5, on_retry=retries.append)
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN"), retry=policy) as c:
        yield c


@live
def test_not_found_carries_code_message_details_and_request_id(
    watched: StorageClient, retries: list[RetryEvent], bucket: str, prefix: str
) -> None:
    with pytest.raises(NotFound) as raised:
        watched.stat(bucket, prefix + "nothing.txt")
    err = raised.value
    assert isinstance(err, StorageError) and err.code == "NOT_FOUND"
    assert err.grpc_status == grpc.StatusCode.NOT_FOUND
    assert err.message and err.request_id
    assert err.details.get("bucket") == bucket
    assert err.retry_after is None
    assert retries == []


@live
def test_permission_denied_for_a_read_only_key(bucket: str, prefix: str) -> None:
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_READONLY_TOKEN"), retry=FAST_RETRY) as readonly:
        with pytest.raises(PermissionDenied) as raised:
            readonly.upload_bytes(b"no", bucket, prefix + "denied.txt")
        assert raised.value.code == "PERMISSION_DENIED" and raised.value.request_id
        with pytest.raises(PermissionDenied):
            readonly.delete(bucket, prefix + "denied.txt")
        assert list(readonly.list(bucket, prefix)) == []  # what it may do, it can


@live
@pytest.mark.parametrize("token", [None, "lss_" + "0" * 16 + "_" + "A" * 43])
def test_unauthenticated_without_a_valid_key(token: str | None, bucket: str) -> None:
    with StorageClient(ADDRESS, token=token, retry=FAST_RETRY) as anonymous:
        with pytest.raises(Unauthenticated) as raised:
            anonymous.stat(bucket, "py/any.txt")
    assert raised.value.code == "UNAUTHENTICATED"


@live
def test_too_large_on_a_service_with_a_1_mib_limit(retries: list[RetryEvent], bucket: str, prefix: str) -> None:
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.05, on_retry=retries.append)
    with StorageClient(env("LUMENSLATE_GRPC_SMALL_ADDRESS"), token=env("LUMENSLATE_GRPC_SMALL_TOKEN"), retry=policy) as small:
        with pytest.raises(TooLarge) as raised:
            small.upload_bytes(random_bytes(2 * MiB), bucket, prefix + "big.bin")
        assert raised.value.code == "TOO_LARGE"
        assert raised.value.details.get("limit") == MiB
        with pytest.raises(NotFound):
            small.stat(bucket, prefix + "big.bin")  # nothing was stored
    assert retries == []


@live
def test_unsupported_type_in_a_checked_bucket(watched: StorageClient, retries: list[RetryEvent], prefix: str) -> None:
    checked = env("LUMENSLATE_TEST_CHECKED_BUCKET")
    with pytest.raises(UnsupportedType) as raised:
        watched.upload_bytes(b"MZ\x90\x00 not really a program", checked, prefix + "tool.exe")
    assert raised.value.code == "UNSUPPORTED_TYPE"
    assert isinstance(raised.value, InvalidArgument)  # as gRPC sees it
    assert retries == []


@live
def test_precondition_failed_on_a_wrong_sha256_or_size_stores_nothing(
    watched: StorageClient, retries: list[RetryEvent], bucket: str, prefix: str, tmp_path: Path
) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        watched.upload_bytes(b"hello", bucket, prefix + "sum.txt", sha256="0" * 64)
    assert raised.value.code == "PRECONDITION_FAILED"
    path = tmp_path / "file.txt"
    path.write_bytes(b"hello file")
    with pytest.raises(PreconditionFailed):
        watched.upload_file(path, bucket, prefix + "sum.txt", sha256="1" * 64)
    with pytest.raises(PreconditionFailed):
        watched.upload_fileobj(io.BytesIO(b"short"), bucket, prefix + "sum.txt", size=99)
    with pytest.raises(NotFound):
        watched.stat(bucket, prefix + "sum.txt")
    assert retries == []


@live
def test_invalid_argument_for_a_bad_key(watched: StorageClient, bucket: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        watched.upload_bytes(b"x", bucket, "../escape.txt")
    assert raised.value.code == "INVALID_ARGUMENT"


def test_bad_arguments_fail_before_any_call() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        StorageClient("127.0.0.1:1", sse_customer_key=b"short")
    with pytest.raises(ValueError, match="go together"):
        StorageClient("127.0.0.1:1", client_cert=b"pem")


class _LyingStorage(storage_pb2_grpc.StorageServiceServicer):
    """Serves bytes whose sha256 is not the one its header announces (a corrupted store)."""

    def DownloadFile(self, request, context):  # noqa: N802 (grpc's name)
        body = b"these are not the bytes you are looking for"
        info = storage_pb2.FileInfo(bucket=request.bucket, object_name=request.object_name, size=len(body), sha256="0" * 64)
        yield storage_pb2.DownloadFileResponse(header=storage_pb2.DownloadFileHeader(file=info, content_length=len(body)))
        yield storage_pb2.DownloadFileResponse(chunk=body)


def test_download_file_verifies_sha256_itself_and_leaves_no_file(tmp_path: Path) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    storage_pb2_grpc.add_StorageServiceServicer_to_server(_LyingStorage(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with StorageClient(f"127.0.0.1:{port}", retry=FAST_RETRY) as c:
            target = tmp_path / "out.bin"
            with pytest.raises(DataCorrupted) as raised:
                c.download_file("b", "k", target)
            assert raised.value.code == "DATA_CORRUPTED" and raised.value.request_id
            assert os.listdir(tmp_path) == []  # neither the file nor its temp file
            with pytest.raises(DataCorrupted):
                c.download_bytes("b", "k")
            # Without verification the bytes are delivered as they are.
            c.download_file("b", "k", target, verify=False)
            assert target.read_bytes().startswith(b"these are not")
    finally:
        server.stop(None)
