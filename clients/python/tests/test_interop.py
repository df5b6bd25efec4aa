"""Python (grpcio) against a running lumenslate-storage server.

test/python-interop.test.ts starts the server and sets LUMENSLATE_GRPC_ADDRESS,
LUMENSLATE_GRPC_TOKEN (an API key allowed everything on the bucket) and LUMENSLATE_TEST_BUCKET;
without them these tests are skipped.
"""

import hashlib
import os
import uuid

import grpc
import pytest

from example import connect, download, error_code, upload
from lumenslate.storage.v1 import storage_pb2, storage_pb2_grpc

ADDRESS = os.environ.get("LUMENSLATE_GRPC_ADDRESS")
TOKEN = os.environ.get("LUMENSLATE_GRPC_TOKEN")
BUCKET = os.environ.get("LUMENSLATE_TEST_BUCKET", "")
MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(not ADDRESS, reason="LUMENSLATE_GRPC_ADDRESS is not set")


@pytest.fixture(scope="module")
def stub():
    with connect(ADDRESS, TOKEN) as channel:
        yield storage_pb2_grpc.StorageServiceStub(channel)


def random_chunks(size: int, sent: "hashlib._Hash"):
    """`size` random bytes made 1 MiB at a time (never all in memory), hashed as they go."""
    left = size
    while left > 0:
        chunk = os.urandom(min(MiB, left))
        sent.update(chunk)
        left -= len(chunk)
        yield chunk


def test_upload_and_download_50_mib_with_equal_sha256(stub):
    name = f"python/{uuid.uuid4()}.bin"
    sent = hashlib.sha256()
    stored = upload(stub, BUCKET, name, random_chunks(50 * MiB, sent), metadata={"client": "python"})
    assert stored.success
    assert stored.size == 50 * MiB
    assert stored.sha256 == sent.hexdigest()

    header, chunks = download(stub, BUCKET, name)
    assert header.content_length == 50 * MiB
    assert header.file.sha256 == sent.hexdigest()
    assert dict(header.file.metadata) == {"client": "python"}
    received = hashlib.sha256()
    size = 0
    for chunk in chunks:
        received.update(chunk)
        size += len(chunk)
    assert size == 50 * MiB
    assert received.hexdigest() == sent.hexdigest()


def test_ranges_stat_list_and_delete(stub):
    name = f"python/{uuid.uuid4()}.txt"
    upload(stub, BUCKET, name, [b"0123456789"])
    header, chunks = download(stub, BUCKET, name, start=2, end=4)
    assert b"".join(chunks) == b"234"
    assert (header.range.start, header.range.end) == (2, 4)

    info = stub.StatFile(storage_pb2.StatFileRequest(bucket=BUCKET, object_name=name)).file
    assert info.size == 10 and info.last_modified.seconds > 0
    listed = stub.ListFiles(storage_pb2.ListFilesRequest(bucket=BUCKET, prefix="python/", recursive=True))
    assert name in [f.object_name for f in listed.files]

    stub.DeleteFile(storage_pb2.DeleteFileRequest(bucket=BUCKET, object_name=name))
    with pytest.raises(grpc.RpcError) as raised:
        stub.StatFile(storage_pb2.StatFileRequest(bucket=BUCKET, object_name=name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_code(raised.value) == "NOT_FOUND"


def test_a_broken_announced_sha256_stores_nothing(stub):
    name = f"python/{uuid.uuid4()}.bin"
    with pytest.raises(grpc.RpcError) as raised:
        upload(stub, BUCKET, name, [b"hello"], sha256="0" * 64)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_code(raised.value) == "PRECONDITION_FAILED"


def test_calls_without_a_valid_api_key_are_unauthenticated():
    stat = storage_pb2.StatFileRequest(bucket=BUCKET, object_name="python/any.txt")
    for token in (None, "lss_" + "0" * 16 + "_" + "A" * 43):
        with connect(ADDRESS, token) as channel:
            with pytest.raises(grpc.RpcError) as raised:
                storage_pb2_grpc.StorageServiceStub(channel).StatFile(stat, timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_code(raised.value) == "UNAUTHENTICATED"
