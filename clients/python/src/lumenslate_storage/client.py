"""The synchronous client: StorageClient."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, Literal, TypeVar

import grpc

from ._connection import CHUNK_SIZE, MiB, Pem, Settings, make_settings, new_request_id
from ._direct import (
    DEFAULT_CONCURRENCY,
    DEFAULT_THRESHOLD,
    DirectSettings,
    DirectUpload,
    Expected,
    Fallback,
    Transfer,
    check_session,
    download_url,
    hash_parts,
    make_direct_settings,
    note_fallback,
    part_urls,
    plan_parts,
    session_request,
    urls_request,
    wants_direct,
)
from ._transfer import (
    DownloadVerifier,
    UploadProgress,
    UploadSource,
    check_upload,
    download_request,
    remove_quietly,
    source_from_bytes,
    source_from_fileobj,
    source_from_path,
    temp_file_beside,
    upload_header,
)
from ._unary import copy_request, delete_request, list_page, list_request, presign_request, presigned, stat_request
from .errors import InternalError, StorageError, UnsupportedOperation, error_from_rpc
from .retry import RetryEvent, RetryPolicy
from .types import DeleteResult, FileInfo, ListPage, PresignedUrl, ProgressCallback, UploadResult
from .v1 import admin_pb2_grpc, storage_pb2, storage_pb2_grpc, upload_sessions_pb2, upload_sessions_pb2_grpc

T = TypeVar("T")


class StorageClient:
    """A client for the lumenslate-storage gRPC API.

        with StorageClient("localhost:50051", token=os.environ["STORAGE_API_KEY"]) as storage:
            storage.upload_file("model.bin", "model-artifacts", "m/v1/model.bin")

    address: host:port of the gRPC service.
    token: an API key (lss_...), sent as `authorization: Bearer <token>` on every call.
    user_id: sent as `x-user-id` (binds `{user_id}` in the key's scopes); each call may override it.
    tls / ca_cert / client_cert / client_key / server_name: TLS. `tls=True` trusts the system's
      roots; `ca_cert` (PEM bytes or a file path) trusts that CA instead; `client_cert` + `client_key`
      present a client certificate to a server that requires one. Without any of them: plaintext.
    sse_customer_key: 32 bytes; objects are stored encrypted with it (SSE-C) and read back only with
      it. Each call may pass its own.
    timeout: deadline in seconds of each attempt of a short call (stat, list, delete, copy, presign).
    transfer_timeout: deadline of each attempt of an upload or download (None: none).
    retry: the RetryPolicy (default: 5 attempts, exponential backoff with jitter; see retry.py).
    keepalive_time / keepalive_timeout: HTTP/2 pings every keepalive_time seconds on an idle
      connection, dropped after keepalive_timeout without an answer (None: grpc's default, none).
    max_message_size: the largest gRPC message accepted or sent (the service sends up to 4 MiB).
    channel_options: further grpc channel arguments.
    direct_threshold: upload_file and download_file move objects of at least this many bytes
      straight to and from the object store (presigned URLs the service issues after its checks;
      see `transfer=`); None: only when a call asks for it. Default 64 MiB.
    direct_concurrency: parts in flight at once on a direct upload (default 4).
    part_size: bytes per part of a direct upload (5 MiB to 5 GiB; default 16 MiB, grown to fit
      10,000 parts).
    store_ca_cert: PEM bytes or path of the CA the object store's HTTPS certificate chains to,
      when it is not one of the system's roots.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        user_id: str | None = None,
        tls: bool = False,
        ca_cert: Pem | None = None,
        client_cert: Pem | None = None,
        client_key: Pem | None = None,
        server_name: str | None = None,
        sse_customer_key: bytes | None = None,
        timeout: float | None = 30.0,
        transfer_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        keepalive_time: float | None = None,
        keepalive_timeout: float | None = None,
        max_message_size: int = 16 * MiB,
        channel_options: Sequence[tuple[str, Any]] = (),
        direct_threshold: int | None = DEFAULT_THRESHOLD,
        direct_concurrency: int = DEFAULT_CONCURRENCY,
        part_size: int | None = None,
        store_ca_cert: Pem | None = None,
    ) -> None:
        self._settings: Settings = make_settings(
            address,
            token=token,
            user_id=user_id,
            tls=tls,
            ca_cert=ca_cert,
            client_cert=client_cert,
            client_key=client_key,
            server_name=server_name,
            sse_customer_key=sse_customer_key,
            timeout=timeout,
            transfer_timeout=transfer_timeout,
            retry=retry,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            max_message_size=max_message_size,
            channel_options=channel_options,
        )
        self._direct: DirectSettings = make_direct_settings(direct_threshold, direct_concurrency, part_size, store_ca_cert)
        # Set once the service says its backend has no direct path (local filesystem): "auto"
        # transfers then go through the service without asking again.
        self._direct_unsupported = False
        s = self._settings
        if s.credentials is not None:
            self._channel = grpc.secure_channel(address, s.credentials, options=s.options)
        else:
            self._channel = grpc.insecure_channel(address, options=s.options)
        self._stub = storage_pb2_grpc.StorageServiceStub(self._channel)
        self._sessions = upload_sessions_pb2_grpc.UploadSessionServiceStub(self._channel)

    # --- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel (calls on it do not carry the API key: pass metadata yourself)."""
        return self._channel

    @property
    def stub(self) -> storage_pb2_grpc.StorageServiceStub:
        return self._stub

    def admin_stub(self) -> admin_pb2_grpc.AdminServiceStub:
        """The AdminService stub on this channel (send `metadata=` with the admin key yourself)."""
        return admin_pb2_grpc.AdminServiceStub(self._channel)

    # --- plumbing --------------------------------------------------------------------------------

    def _retrying(
        self, method: str, attempt: Callable[[], T], can_retry: Callable[[], bool], request_id: str
    ) -> T:
        policy = self._settings.retry
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except grpc.RpcError as e:
                error = error_from_rpc(e, request_id)
                cause: BaseException = e
            delay = policy.delay(tries, error) if can_retry() else None
            if delay is None:
                raise error from cause
            if policy.on_retry:
                policy.on_retry(RetryEvent(method, tries, error, delay))
            time.sleep(delay)

    def _unary(
        self,
        method: str,
        request: Any,
        *,
        timeout: float | None,
        request_id: str | None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
        stub: Any = None,
    ) -> Any:
        rid = request_id or new_request_id()
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        rpc = getattr(stub or self._stub, method)
        deadline = timeout if timeout is not None else self._settings.timeout
        return self._retrying(method, lambda: rpc(request, metadata=metadata, timeout=deadline), lambda: True, rid)

    def _transfer_timeout(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self._settings.transfer_timeout

    # --- uploads ---------------------------------------------------------------------------------

    def upload_file(
        self,
        path: str | os.PathLike[str],
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
        sha256: str | None = None,
        checksum: bool = True,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
        transfer: Transfer = "auto",
    ) -> UploadResult:
        """Streams a local file to bucket/key. Its size is announced, and its sha256 too (computed
        first unless given, or checksum=False), so the service stores it only if every byte arrived
        as read. Retried from the start on retryable errors.

        transfer="auto" sends a file of at least direct_threshold bytes straight to the object
        store (parts PUT in parallel, a failed part retried, the service verifying and indexing the
        whole on completion), falling back to the service when its backend has no direct path or
        the store cannot be reached from here; "direct" or "proxy" forces one way (checksum=False
        and SSE-C keys mean the service's way under "auto")."""
        size = os.stat(path).st_size
        direct = wants_direct(
            transfer, size, self._direct, unsupported=self._direct_unsupported, sse_customer_key=sse_customer_key
        )
        if direct and (checksum or transfer == "direct"):
            rid = request_id or new_request_id()
            result, sha256 = self._upload_direct(
                path, size, bucket, key, content_type, metadata, progress, sha256, transfer, timeout, rid, user_id
            )
            if result is not None:
                return result
            request_id = rid
        source = source_from_path(path, sha256=sha256, checksum=checksum)
        return self._upload(source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key)

    def _upload_direct(
        self,
        path: str | os.PathLike[str],
        size: int,
        bucket: str,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        progress: ProgressCallback | None,
        sha256: str | None,
        transfer: str,
        timeout: float | None,
        rid: str,
        user_id: str | None,
    ) -> tuple[UploadResult | None, str | None]:
        """The direct upload: (its result, the sha256), or (None, the sha256) to go through the service."""
        plan = plan_parts(size, self._direct.part_size)
        whole, hashes = hash_parts(path, plan, whole=sha256 is None)
        sha256 = sha256 or whole
        assert sha256 is not None
        call: dict[str, Any] = {"request_id": rid, "user_id": user_id, "stub": self._sessions}
        try:
            session = self._unary(
                "CreateUploadSession",
                session_request(bucket, key, plan, sha256, content_type, metadata),
                timeout=None,
                **call,
            )
        except UnsupportedOperation as err:
            if transfer == "direct":
                raise
            self._direct_unsupported = True
            note_fallback(f"upload of {bucket}/{key}", err)
            return None, sha256
        try:
            check_session(session, plan)
            uploader = DirectUpload(
                path,
                plan,
                hashes,
                settings=self._direct,
                policy=self._settings.retry,
                progress=progress,
                fail_fast=transfer == "auto",
            )
            uploader.run(
                lambda batch: part_urls(
                    self._unary("GetUploadPartUrls", urls_request(session.id, batch), timeout=None, **call)
                )
            )
            # The service reads the assembled object back to verify it: a transfer's deadline.
            info = self._unary(
                "CompleteUploadSession",
                upload_sessions_pb2.CompleteUploadSessionRequest(id=session.id),
                timeout=self._transfer_timeout(timeout) or 24 * 3600.0,
                **call,
            )
        except BaseException as err:
            self._abort_session(session.id, rid, user_id)
            if isinstance(err, Fallback):
                note_fallback(f"upload of {bucket}/{key}", err.reason)
                return None, sha256
            if isinstance(err, StorageError) and err.request_id is None:
                err.request_id = rid
            raise
        result = UploadResult.from_proto(info)
        if result.sha256 != sha256:
            raise InternalError(
                f"the service recorded sha256 {result.sha256} for the session, not {sha256}", request_id=rid
            )
        return result, sha256

    def _abort_session(self, session_id: str, rid: str, user_id: str | None) -> None:
        """Drops a failed session's parts now rather than at its expiry (best effort: the service's
        sweep aborts it anyway)."""
        try:
            self._sessions.AbortUploadSession(
                upload_sessions_pb2.AbortUploadSessionRequest(id=session_id),
                metadata=self._settings.metadata(rid, user_id=user_id),
                timeout=self._settings.timeout,
            )
        except grpc.RpcError:
            pass

    def upload_bytes(
        self,
        data: bytes | bytearray | memoryview,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
        sha256: str | None = None,
        checksum: bool = True,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> UploadResult:
        """Stores `data` as bucket/key, with its size and sha256 announced."""
        source = source_from_bytes(data, sha256=sha256, checksum=checksum)
        return self._upload(source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key)

    def upload_fileobj(
        self,
        fileobj: IO[bytes],
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
        sha256: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> UploadResult:
        """Streams a binary file object from its current position to its end. A seekable one has its
        size announced and is replayed on retryable errors; a one-shot stream (a pipe, a socket) is
        sent once and never retried. `sha256` and `size`, when given, are announced and checked."""
        source = source_from_fileobj(fileobj, size=size, sha256=sha256)
        return self._upload(source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key)

    def _upload(
        self,
        source: UploadSource,
        bucket: str,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        progress: ProgressCallback | None,
        timeout: float | None,
        request_id: str | None,
        user_id: str | None,
        sse_customer_key: bytes | None,
    ) -> UploadResult:
        rid = request_id or new_request_id()
        call_metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        header = upload_header(
            bucket, key, content_type=content_type, metadata=metadata, size=source.size, sha256=source.sha256
        )
        deadline = self._transfer_timeout(timeout)

        def attempt() -> UploadResult:
            failure: list[BaseException] = []
            with source.open() as reader:
                counter = UploadProgress(source.size, progress)

                def requests() -> Iterator[storage_pb2.UploadFileRequest]:
                    yield header
                    try:
                        while chunk := reader.read(CHUNK_SIZE):
                            yield counter.chunk(chunk)
                            counter.reported()
                    except Exception as err:  # a read or a progress callback failed: report that, not CANCELLED
                        failure.append(err)
                        raise

                try:
                    res = self._stub.UploadFile(requests(), metadata=call_metadata, timeout=deadline)
                except grpc.RpcError:
                    if failure:
                        raise failure[0] from None
                    raise
            check_upload(res, counter, rid)
            return UploadResult.from_proto(res)

        return self._retrying("UploadFile", attempt, lambda: source.replayable, rid)

    # --- downloads -------------------------------------------------------------------------------

    def _download_once(
        self,
        request: storage_pb2.DownloadFileRequest,
        write: Callable[[bytes], Any],
        *,
        verify: bool,
        progress: ProgressCallback | None,
        timeout: float | None,
        metadata: tuple[tuple[str, str], ...],
        request_id: str,
    ) -> storage_pb2.DownloadFileHeader:
        responses = self._stub.DownloadFile(request, metadata=metadata, timeout=self._transfer_timeout(timeout))
        try:
            first = next(responses, None)
            if first is None or first.WhichOneof("payload") != "header":
                raise InternalError("the download did not start with a header", request_id=request_id)
            full = verify and not request.HasField("range")
            verifier = DownloadVerifier(first.header, full=full, progress=progress, request_id=request_id)
            for res in responses:
                write(res.chunk)
                verifier.update(res.chunk)
            verifier.finish()
            header: storage_pb2.DownloadFileHeader = first.header
            return header
        except StorageError:
            responses.cancel()
            raise

    def download_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        *,
        version_id: str | None = None,
        progress: ProgressCallback | None = None,
        verify: bool = True,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
        transfer: Transfer = "auto",
    ) -> FileInfo:
        """Downloads bucket/key to `path`: into a temp file beside it, renamed over `path` only once
        every byte arrived and (verify=True) their sha256 matches the one the service recorded.
        On any failure (DataCorrupted included) no file is left behind. Retried from the start.

        transfer="auto" reads an object of at least direct_threshold bytes straight from the
        object store (a presigned GET, resumed where a dropped connection stopped), falling back
        to the service as upload_file does; "direct" or "proxy" forces one way."""
        rid = request_id or new_request_id()
        if wants_direct(
            transfer, None, self._direct, unsupported=self._direct_unsupported, sse_customer_key=sse_customer_key
        ):
            info = self._download_direct(
                bucket, key, path, version_id, progress, verify, transfer, rid, user_id
            )
            if info is not None:
                return info
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=None, end=None)
        f, temp = temp_file_beside(path)
        try:
            def attempt() -> storage_pb2.DownloadFileHeader:
                f.seek(0)
                f.truncate()
                return self._download_once(
                    request, f.write, verify=verify, progress=progress, timeout=timeout, metadata=metadata, request_id=rid
                )

            header = self._retrying("DownloadFile", attempt, lambda: True, rid)
            f.close()
            os.replace(temp, path)
        except BaseException:
            f.close()
            remove_quietly(temp)
            raise
        return FileInfo.from_proto(header.file)

    def _download_direct(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        version_id: str | None,
        progress: ProgressCallback | None,
        verify: bool,
        transfer: str,
        rid: str,
        user_id: str | None,
    ) -> FileInfo | None:
        """The direct download, or None to go through the service. The index row comes first (size,
        sha256, ETag, version), and the URL reads exactly that version."""
        try:
            info = self.stat(bucket, key, version_id=version_id, request_id=rid, user_id=user_id)
            threshold = self._direct.threshold
            if transfer == "auto" and (threshold is None or info.size < threshold):
                return None
            pinned = version_id or (info.version_id if info.version_id not in ("", "null") else None)
            url = self.presign(bucket, key, method="GET", version_id=pinned, request_id=rid, user_id=user_id)
        except UnsupportedOperation as err:
            if transfer == "direct":
                raise
            self._direct_unsupported = True
            note_fallback(f"download of {bucket}/{key}", err)
            return None
        f, temp = temp_file_beside(path)
        try:
            download_url(
                url.url,
                f,
                Expected(size=info.size, sha256=info.sha256, etag=info.etag),
                settings=self._direct,
                policy=self._settings.retry,
                progress=progress,
                verify=verify,
                fail_fast=transfer == "auto",
            )
            f.close()
            os.replace(temp, path)
        except BaseException as err:
            f.close()
            remove_quietly(temp)
            if isinstance(err, Fallback):
                note_fallback(f"download of {bucket}/{key}", err.reason)
                return None
            if isinstance(err, StorageError) and err.request_id is None:
                err.request_id = rid
            raise
        return info

    def download_fileobj(
        self,
        bucket: str,
        key: str,
        fileobj: IO[bytes],
        *,
        version_id: str | None = None,
        start: int | None = None,
        end: int | None = None,
        progress: ProgressCallback | None = None,
        verify: bool = True,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> FileInfo:
        """Writes bucket/key (or the inclusive byte range start..end) to a binary file object.
        A full read is checked against the recorded sha256 as it streams (DataCorrupted at the end
        on a mismatch: the bytes are already written, so discard them). Retried only while nothing
        has been written."""
        rid = request_id or new_request_id()
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=start, end=end)
        written = 0

        def write(chunk: bytes) -> None:
            nonlocal written
            fileobj.write(chunk)
            written += len(chunk)

        def attempt() -> storage_pb2.DownloadFileHeader:
            return self._download_once(
                request, write, verify=verify, progress=progress, timeout=timeout, metadata=metadata, request_id=rid
            )

        header = self._retrying("DownloadFile", attempt, lambda: written == 0, rid)
        return FileInfo.from_proto(header.file)

    def download_bytes(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        start: int | None = None,
        end: int | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> bytes:
        """The object's bytes (or the inclusive range start..end) in memory, verified like download_file."""
        rid = request_id or new_request_id()
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=start, end=end)
        chunks: list[bytes] = []

        def attempt() -> storage_pb2.DownloadFileHeader:
            chunks.clear()
            return self._download_once(
                request, chunks.append, verify=True, progress=None, timeout=timeout, metadata=metadata, request_id=rid
            )

        self._retrying("DownloadFile", attempt, lambda: True, rid)
        return b"".join(chunks)

    # --- short calls -----------------------------------------------------------------------------

    def stat(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> FileInfo:
        """The object's size, sha256, content type, metadata, version and last modification."""
        res = self._unary(
            "StatFile",
            stat_request(bucket, key, version_id),
            timeout=timeout,
            request_id=request_id,
            user_id=user_id,
            sse_customer_key=sse_customer_key,
        )
        return FileInfo.from_proto(res.file)

    def delete(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
    ) -> DeleteResult:
        """Deletes the latest version (a delete marker in a versioned bucket) or the given one.
        Retried like HTTP DELETE: deleting twice leaves the same state."""
        res = self._unary(
            "DeleteFile", delete_request(bucket, key, version_id), timeout=timeout, request_id=request_id, user_id=user_id
        )
        return DeleteResult.from_proto(res)

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        target_bucket: str,
        target_key: str,
        *,
        source_version_id: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
    ) -> UploadResult:
        """Copies an object inside the service (the bytes never come to the client)."""
        request = copy_request(source_bucket, source_key, target_bucket, target_key, source_version_id)
        res = self._unary("CopyFile", request, timeout=timeout, request_id=request_id, user_id=user_id)
        return UploadResult.from_proto(res)

    def presign(
        self,
        bucket: str,
        key: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires_in: int | None = None,
        version_id: str | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
    ) -> PresignedUrl:
        """A presigned URL for a plain HTTP GET (or PUT, with `content_type` the uploader must send),
        valid for `expires_in` seconds (default: the service's, 15 minutes)."""
        request = presign_request(bucket, key, method, expires_in, version_id, content_type)
        res = self._unary("GetFileUrl", request, timeout=timeout, request_id=request_id, user_id=user_id)
        return presigned(res)

    get_file_url = presign

    def list_pages(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        cursor: str | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> Iterator[ListPage]:
        """Pages of a listing, following the service's cursors. recursive=False lists one level below
        `prefix`, with deeper keys folded into each page's `prefixes`."""
        while True:
            request = list_request(bucket, prefix, recursive, page_size, cursor)
            page = list_page(self._unary("ListFiles", request, timeout=timeout, request_id=None, user_id=user_id))
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def list(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> Iterator[FileInfo]:
        """Every object under `prefix`, page after page, fetched as the iterator is consumed."""
        for page in self.list_pages(
            bucket, prefix, recursive=recursive, page_size=page_size, timeout=timeout, user_id=user_id
        ):
            yield from page.files

    def list_all(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> builtins.list[FileInfo]:
        """list() gathered into one list."""
        return builtins.list(
            self.list(bucket, prefix, recursive=recursive, page_size=page_size, timeout=timeout, user_id=user_id)
        )
