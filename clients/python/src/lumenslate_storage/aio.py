"""The asyncio client: AsyncStorageClient, on grpc.aio, with the same methods as StorageClient."""

from __future__ import annotations

import asyncio
import builtins
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import IO, Any, Literal, TypeVar

import grpc
import grpc.aio

from ._connection import CHUNK_SIZE, MiB, Pem, Settings, make_settings, new_request_id
from ._direct import (
    DEFAULT_CONCURRENCY,
    DEFAULT_THRESHOLD,
    DirectSettings,
    DirectUpload,
    Expected,
    Fallback,
    PartUrl,
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
from .v1 import storage_pb2, storage_pb2_grpc, upload_sessions_pb2, upload_sessions_pb2_grpc

T = TypeVar("T")


class AsyncStorageClient:
    """StorageClient for asyncio: the same constructor arguments and methods, as coroutines
    (list() and list_pages() are async iterators). Create it inside a running event loop:

        async with AsyncStorageClient("localhost:50051", token=key) as storage:
            await storage.upload_bytes(b"hello", "temp", "greetings/hello.txt")

    Local file reads and writes run in a worker thread, so the event loop never waits on the disk.
    Direct transfers (see StorageClient: direct_threshold, transfer=) move their bytes in worker
    threads too; progress callbacks are still called on the event loop's thread.
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
        self._direct_unsupported = False  # as in StorageClient
        s = self._settings
        if s.credentials is not None:
            self._channel = grpc.aio.secure_channel(address, s.credentials, options=s.options)
        else:
            self._channel = grpc.aio.insecure_channel(address, options=s.options)
        self._stub = storage_pb2_grpc.StorageServiceStub(self._channel)
        self._sessions = upload_sessions_pb2_grpc.UploadSessionServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncStorageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    @property
    def stub(self) -> storage_pb2_grpc.StorageServiceStub:
        return self._stub

    # --- plumbing --------------------------------------------------------------------------------

    async def _retrying(
        self, method: str, attempt: Callable[[], Awaitable[T]], can_retry: Callable[[], bool], request_id: str
    ) -> T:
        policy = self._settings.retry
        tries = 0
        while True:
            tries += 1
            try:
                return await attempt()
            except grpc.RpcError as e:
                error = error_from_rpc(e, request_id)
                cause: BaseException = e
            delay = policy.delay(tries, error) if can_retry() else None
            if delay is None:
                raise error from cause
            if policy.on_retry:
                policy.on_retry(RetryEvent(method, tries, error, delay))
            await asyncio.sleep(delay)

    async def _unary(
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

        async def attempt() -> Any:
            return await rpc(request, metadata=metadata, timeout=deadline)

        return await self._retrying(method, attempt, lambda: True, rid)

    def _transfer_timeout(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self._settings.transfer_timeout

    # --- uploads ---------------------------------------------------------------------------------

    async def upload_file(
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
        """See StorageClient.upload_file (direct above direct_threshold, or as `transfer` says)."""
        size = (await asyncio.to_thread(os.stat, path)).st_size
        direct = wants_direct(
            transfer, size, self._direct, unsupported=self._direct_unsupported, sse_customer_key=sse_customer_key
        )
        if direct and (checksum or transfer == "direct"):
            rid = request_id or new_request_id()
            result, sha256 = await self._upload_direct(
                path, size, bucket, key, content_type, metadata, progress, sha256, transfer, timeout, rid, user_id
            )
            if result is not None:
                return result
            request_id = rid
        source = await asyncio.to_thread(source_from_path, path, sha256=sha256, checksum=checksum)
        return await self._upload(
            source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key
        )

    async def _upload_direct(
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
        """See StorageClient._upload_direct. The parts move in worker threads (DirectUpload); its
        calls for part URLs come back to this loop, and so do progress reports."""
        plan = plan_parts(size, self._direct.part_size)
        whole, hashes = await asyncio.to_thread(hash_parts, path, plan, whole=sha256 is None)
        sha256 = sha256 or whole
        assert sha256 is not None
        call: dict[str, Any] = {"request_id": rid, "user_id": user_id, "stub": self._sessions}
        try:
            session = await self._unary(
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
        loop = asyncio.get_running_loop()

        def get_urls(batch: Sequence[tuple[int, str]]) -> Sequence[PartUrl]:
            request = urls_request(session.id, batch)
            pending = asyncio.run_coroutine_threadsafe(
                self._unary("GetUploadPartUrls", request, timeout=None, **call), loop
            )
            return part_urls(pending.result())

        def report(sent: int, total: int | None) -> None:
            assert progress is not None
            loop.call_soon_threadsafe(progress, sent, total)

        uploader: DirectUpload | None = None
        try:
            check_session(session, plan)
            uploader = DirectUpload(
                path,
                plan,
                hashes,
                settings=self._direct,
                policy=self._settings.retry,
                progress=report if progress else None,
                fail_fast=transfer == "auto",
            )
            await asyncio.to_thread(uploader.run, get_urls)
            info = await self._unary(
                "CompleteUploadSession",
                upload_sessions_pb2.CompleteUploadSessionRequest(id=session.id),
                timeout=self._transfer_timeout(timeout) or 24 * 3600.0,
                **call,
            )
        except BaseException as err:
            if uploader is not None:
                uploader.stop.set()  # a cancelled task leaves its thread running: stop its parts
            await self._abort_session(session.id, rid, user_id)
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

    async def _abort_session(self, session_id: str, rid: str, user_id: str | None) -> None:
        """See StorageClient._abort_session."""
        try:
            await self._sessions.AbortUploadSession(
                upload_sessions_pb2.AbortUploadSessionRequest(id=session_id),
                metadata=self._settings.metadata(rid, user_id=user_id),
                timeout=self._settings.timeout,
            )
        except grpc.RpcError:
            pass

    async def upload_bytes(
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
        """See StorageClient.upload_bytes."""
        source = source_from_bytes(data, sha256=sha256, checksum=checksum)
        return await self._upload(
            source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key
        )

    async def upload_fileobj(
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
        """See StorageClient.upload_fileobj (reads run in a worker thread)."""
        source = source_from_fileobj(fileobj, size=size, sha256=sha256)
        return await self._upload(
            source, bucket, key, content_type, metadata, progress, timeout, request_id, user_id, sse_customer_key
        )

    async def _upload(
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
        in_memory = source.size is not None and source.size <= CHUNK_SIZE

        async def attempt() -> UploadResult:
            failure: list[BaseException] = []
            with source.open() as reader:
                counter = UploadProgress(source.size, progress)

                async def requests() -> AsyncIterator[storage_pb2.UploadFileRequest]:
                    yield header
                    try:
                        while True:
                            # One small read is cheaper inline than a hop to a thread.
                            chunk = reader.read(CHUNK_SIZE) if in_memory else await asyncio.to_thread(reader.read, CHUNK_SIZE)
                            if not chunk:
                                return
                            yield counter.chunk(chunk)
                            counter.reported()
                    except Exception as err:  # a read or a progress callback failed: report that
                        failure.append(err)
                        raise

                try:
                    res = await self._stub.UploadFile(requests(), metadata=call_metadata, timeout=deadline)
                except grpc.RpcError:
                    if failure:
                        raise failure[0] from None
                    raise
            check_upload(res, counter, rid)
            return UploadResult.from_proto(res)

        return await self._retrying("UploadFile", attempt, lambda: source.replayable, rid)

    # --- downloads -------------------------------------------------------------------------------

    async def _download_once(
        self,
        request: storage_pb2.DownloadFileRequest,
        write: Callable[[bytes], Awaitable[Any]],
        *,
        verify: bool,
        progress: ProgressCallback | None,
        timeout: float | None,
        metadata: tuple[tuple[str, str], ...],
        request_id: str,
    ) -> storage_pb2.DownloadFileHeader:
        call = self._stub.DownloadFile(request, metadata=metadata, timeout=self._transfer_timeout(timeout))
        header: storage_pb2.DownloadFileHeader | None = None
        verifier: DownloadVerifier | None = None
        try:
            async for res in call:
                if verifier is None:
                    if res.WhichOneof("payload") != "header":
                        raise InternalError("the download did not start with a header", request_id=request_id)
                    header = res.header
                    full = verify and not request.HasField("range")
                    verifier = DownloadVerifier(res.header, full=full, progress=progress, request_id=request_id)
                    continue
                await write(res.chunk)
                verifier.update(res.chunk)
            if header is None or verifier is None:
                raise InternalError("the download ended without a header", request_id=request_id)
            verifier.finish()
            return header
        except (StorageError, asyncio.CancelledError):
            call.cancel()
            raise

    async def download_file(
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
        """See StorageClient.download_file: temp file, sha256 checked, renamed only when whole;
        direct from the object store above direct_threshold, or as `transfer` says."""
        rid = request_id or new_request_id()
        if wants_direct(
            transfer, None, self._direct, unsupported=self._direct_unsupported, sse_customer_key=sse_customer_key
        ):
            info = await self._download_direct(bucket, key, path, version_id, progress, verify, transfer, rid, user_id)
            if info is not None:
                return info
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=None, end=None)
        f, temp = await asyncio.to_thread(temp_file_beside, path)

        async def write(chunk: bytes) -> None:
            await asyncio.to_thread(f.write, chunk)

        async def attempt() -> storage_pb2.DownloadFileHeader:
            f.seek(0)
            f.truncate()
            return await self._download_once(
                request, write, verify=verify, progress=progress, timeout=timeout, metadata=metadata, request_id=rid
            )

        try:
            header = await self._retrying("DownloadFile", attempt, lambda: True, rid)
            f.close()
            os.replace(temp, path)
        except BaseException:
            f.close()
            remove_quietly(temp)
            raise
        return FileInfo.from_proto(header.file)

    async def _download_direct(
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
        """See StorageClient._download_direct; the GET runs in a worker thread."""
        try:
            info = await self.stat(bucket, key, version_id=version_id, request_id=rid, user_id=user_id)
            threshold = self._direct.threshold
            if transfer == "auto" and (threshold is None or info.size < threshold):
                return None
            pinned = version_id or (info.version_id if info.version_id not in ("", "null") else None)
            url = await self.presign(bucket, key, method="GET", version_id=pinned, request_id=rid, user_id=user_id)
        except UnsupportedOperation as err:
            if transfer == "direct":
                raise
            self._direct_unsupported = True
            note_fallback(f"download of {bucket}/{key}", err)
            return None
        loop = asyncio.get_running_loop()

        def report(received: int, total: int | None) -> None:
            assert progress is not None
            loop.call_soon_threadsafe(progress, received, total)

        stop = threading.Event()
        f, temp = await asyncio.to_thread(temp_file_beside, path)
        try:
            await asyncio.to_thread(
                download_url,
                url.url,
                f,
                Expected(size=info.size, sha256=info.sha256, etag=info.etag),
                settings=self._direct,
                policy=self._settings.retry,
                progress=report if progress else None,
                verify=verify,
                fail_fast=transfer == "auto",
                stop=stop,
            )
            f.close()
            os.replace(temp, path)
        except BaseException as err:
            stop.set()  # a cancelled task leaves its thread running: stop it at its next block
            f.close()
            remove_quietly(temp)
            if isinstance(err, Fallback):
                note_fallback(f"download of {bucket}/{key}", err.reason)
                return None
            if isinstance(err, StorageError) and err.request_id is None:
                err.request_id = rid
            raise
        return info

    async def download_fileobj(
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
        """See StorageClient.download_fileobj (writes happen on the event loop's thread)."""
        rid = request_id or new_request_id()
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=start, end=end)
        written = 0

        async def write(chunk: bytes) -> None:
            nonlocal written
            fileobj.write(chunk)
            written += len(chunk)

        async def attempt() -> storage_pb2.DownloadFileHeader:
            return await self._download_once(
                request, write, verify=verify, progress=progress, timeout=timeout, metadata=metadata, request_id=rid
            )

        header = await self._retrying("DownloadFile", attempt, lambda: written == 0, rid)
        return FileInfo.from_proto(header.file)

    async def download_bytes(
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
        """See StorageClient.download_bytes."""
        rid = request_id or new_request_id()
        metadata = self._settings.metadata(rid, user_id=user_id, sse_customer_key=sse_customer_key)
        request = download_request(bucket, key, version_id=version_id, start=start, end=end)
        chunks: builtins.list[bytes] = []

        async def write(chunk: bytes) -> None:
            chunks.append(chunk)

        async def attempt() -> storage_pb2.DownloadFileHeader:
            chunks.clear()
            return await self._download_once(
                request, write, verify=True, progress=None, timeout=timeout, metadata=metadata, request_id=rid
            )

        await self._retrying("DownloadFile", attempt, lambda: True, rid)
        return b"".join(chunks)

    # --- short calls -----------------------------------------------------------------------------

    async def stat(
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
        res = await self._unary(
            "StatFile",
            stat_request(bucket, key, version_id),
            timeout=timeout,
            request_id=request_id,
            user_id=user_id,
            sse_customer_key=sse_customer_key,
        )
        return FileInfo.from_proto(res.file)

    async def delete(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
    ) -> DeleteResult:
        res = await self._unary(
            "DeleteFile", delete_request(bucket, key, version_id), timeout=timeout, request_id=request_id, user_id=user_id
        )
        return DeleteResult.from_proto(res)

    async def copy(
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
        request = copy_request(source_bucket, source_key, target_bucket, target_key, source_version_id)
        res = await self._unary("CopyFile", request, timeout=timeout, request_id=request_id, user_id=user_id)
        return UploadResult.from_proto(res)

    async def presign(
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
        request = presign_request(bucket, key, method, expires_in, version_id, content_type)
        res = await self._unary("GetFileUrl", request, timeout=timeout, request_id=request_id, user_id=user_id)
        return presigned(res)

    get_file_url = presign

    async def list_pages(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        cursor: str | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> AsyncIterator[ListPage]:
        while True:
            request = list_request(bucket, prefix, recursive, page_size, cursor)
            page = list_page(await self._unary("ListFiles", request, timeout=timeout, request_id=None, user_id=user_id))
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def list(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> AsyncIterator[FileInfo]:
        async for page in self.list_pages(
            bucket, prefix, recursive=recursive, page_size=page_size, timeout=timeout, user_id=user_id
        ):
            for info in page.files:
                yield info

    async def list_all(
        self,
        bucket: str,
        prefix: str = "",
        *,
        recursive: bool = True,
        page_size: int | None = None,
        timeout: float | None = None,
        user_id: str | None = None,
    ) -> builtins.list[FileInfo]:
        return [
            info
            async for info in self.list(
                bucket, prefix, recursive=recursive, page_size=page_size, timeout=timeout, user_id=user_id
            )
        ]
