"""Store and fetch a file through the lumenslate-storage gRPC API.

    pip install -r clients/python/requirements.txt
    cd clients/python
    python example.py localhost:50051 temp reports/q3.pdf ./q3.pdf

Uploads ./q3.pdf to bucket `temp` as `reports/q3.pdf`, downloads it again and checks the sha256.
The functions below are the whole client: import them, or copy them next to the generated stubs.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator

import grpc

from lumenslate.storage.v1 import storage_pb2, storage_pb2_grpc

CHUNK = 1024 * 1024  # below the server's 4 MiB message limit


def upload(
    stub: storage_pb2_grpc.StorageServiceStub,
    bucket: str,
    object_name: str,
    chunks: Iterable[bytes],
    *,
    content_type: str = "",
    metadata: dict[str, str] | None = None,
    expected_size: int | None = None,
    sha256: str | None = None,
    timeout: float | None = None,
) -> storage_pb2.UploadFileResponse:
    """Streams `chunks` as one object: the header message first, then the bytes.

    grpcio pulls from the generator only as fast as the server reads, so memory stays flat.
    """

    def requests() -> Iterator[storage_pb2.UploadFileRequest]:
        yield storage_pb2.UploadFileRequest(
            header=storage_pb2.UploadFileHeader(
                bucket=bucket,
                object_name=object_name,
                content_type=content_type,
                metadata=metadata or {},
                expected_size=expected_size,
                sha256=sha256,
            )
        )
        for chunk in chunks:
            for at in range(0, len(chunk), CHUNK):
                yield storage_pb2.UploadFileRequest(chunk=chunk[at : at + CHUNK])

    return stub.UploadFile(requests(), timeout=timeout)


def upload_file(stub: storage_pb2_grpc.StorageServiceStub, bucket: str, object_name: str, path: str, **kwargs):
    """Streams a local file; its size is announced so a short read is refused, not stored."""

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                yield block

    return upload(stub, bucket, object_name, chunks(), expected_size=os.path.getsize(path), **kwargs)


def download(
    stub: storage_pb2_grpc.StorageServiceStub,
    bucket: str,
    object_name: str,
    *,
    version_id: str | None = None,
    start: int | None = None,
    end: int | None = None,
    timeout: float | None = None,
) -> tuple[storage_pb2.DownloadFileHeader, Iterator[bytes]]:
    """Returns the header and an iterator over the bytes (a slow reader slows the server)."""
    request = storage_pb2.DownloadFileRequest(bucket=bucket, object_name=object_name, version_id=version_id)
    if start is not None:
        request.range.start = start
        if end is not None:
            request.range.end = end
    responses = stub.DownloadFile(request, timeout=timeout)
    first = next(responses)
    if first.WhichOneof("payload") != "header":
        raise RuntimeError("the download did not start with a header")

    def chunks() -> Iterator[bytes]:
        for response in responses:
            yield response.chunk

    return first.header, chunks()


def error_code(err: grpc.RpcError) -> str:
    """The service's stable error code (NOT_FOUND, TOO_LARGE, ...) from the trailing metadata."""
    for key, value in err.trailing_metadata() or ():
        if key == "x-error-code":
            return value
    return err.code().name


def main(address: str, bucket: str, object_name: str, path: str) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = storage_pb2_grpc.StorageServiceStub(channel)
        try:
            stored = upload_file(stub, bucket, object_name, path)
        except grpc.RpcError as err:
            sys.exit(f"upload failed: {error_code(err)}: {err.details()}")
        print(f"stored {stored.bucket}/{stored.object_name}: {stored.size} bytes, sha256 {stored.sha256}")
        header, chunks = download(stub, bucket, object_name)
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        assert digest.hexdigest() == header.file.sha256 == stored.sha256
        print(f"downloaded {header.content_length} bytes, sha256 matches")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python example.py ADDRESS BUCKET OBJECT_NAME FILE")
    main(*sys.argv[1:])
