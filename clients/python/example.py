"""Store and fetch a file through the lumenslate-storage gRPC API.

    pip install -r clients/python/requirements.txt
    cd clients/python
    LUMENSLATE_GRPC_TOKEN=lss_... python example.py localhost:50051 temp reports/q3.pdf ./q3.pdf

Uploads ./q3.pdf to bucket `temp` as `reports/q3.pdf`, downloads it again and checks the sha256.
Every call carries the API key from LUMENSLATE_GRPC_TOKEN; set LUMENSLATE_GRPC_CA_FILE (and
LUMENSLATE_GRPC_CERT_FILE + LUMENSLATE_GRPC_KEY_FILE for a server requiring client certificates)
to connect over TLS. The functions below are the whole client: import them, or copy them next to
the generated stubs.
"""

from __future__ import annotations

import collections
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence

import grpc

from lumenslate.storage.v1 import storage_pb2, storage_pb2_grpc

CHUNK = 1024 * 1024  # below the server's 4 MiB message limit


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _WithMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds fixed metadata (the API key, the user a call acts for) to every call on a channel."""

    def __init__(self, metadata: Sequence[tuple[str, str]]):
        self._metadata = tuple(metadata)

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            (*(details.metadata or ()), *self._metadata),
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


def connect(
    address: str,
    token: str | None,
    *,
    user_id: str | None = None,
    ca: bytes | None = None,
    cert: bytes | None = None,
    key: bytes | None = None,
) -> grpc.Channel:
    """A channel whose every call sends `authorization: Bearer <token>` (and `x-user-id`).

    With `ca` (PEM) the channel uses TLS and trusts that CA; `cert` and `key` are the client
    certificate for a server that requires one. Use it as a context manager, or close() it.
    """
    if ca is not None or cert is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    metadata = []
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    if user_id:
        metadata.append(("x-user-id", user_id))
    return grpc.intercept_channel(channel, _WithMetadata(metadata)) if metadata else channel


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


def _read(variable: str) -> bytes | None:
    path = os.environ.get(variable)
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def main(address: str, bucket: str, object_name: str, path: str) -> None:
    token = os.environ.get("LUMENSLATE_GRPC_TOKEN")
    if not token:
        sys.exit("set LUMENSLATE_GRPC_TOKEN to an API key (lumenslate-storage keys create)")
    tls = {
        "ca": _read("LUMENSLATE_GRPC_CA_FILE"),
        "cert": _read("LUMENSLATE_GRPC_CERT_FILE"),
        "key": _read("LUMENSLATE_GRPC_KEY_FILE"),
    }
    with connect(address, token, **tls) as channel:
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
