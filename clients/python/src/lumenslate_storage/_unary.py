"""Requests and results of the short calls, shared by both clients."""

from __future__ import annotations

from datetime import timezone

from .types import FileInfo, ListPage, PresignedUrl
from .v1 import storage_pb2


def stat_request(bucket: str, key: str, version_id: str | None) -> storage_pb2.StatFileRequest:
    request = storage_pb2.StatFileRequest(bucket=bucket, object_name=key)
    if version_id is not None:
        request.version_id = version_id
    return request


def delete_request(bucket: str, key: str, version_id: str | None) -> storage_pb2.DeleteFileRequest:
    request = storage_pb2.DeleteFileRequest(bucket=bucket, object_name=key)
    if version_id is not None:
        request.version_id = version_id
    return request


def copy_request(
    source_bucket: str, source_key: str, target_bucket: str, target_key: str, source_version_id: str | None
) -> storage_pb2.CopyFileRequest:
    request = storage_pb2.CopyFileRequest(
        source_bucket=source_bucket,
        source_object_name=source_key,
        target_bucket=target_bucket,
        target_object_name=target_key,
    )
    if source_version_id is not None:
        request.source_version_id = source_version_id
    return request


def presign_request(
    bucket: str,
    key: str,
    method: str,
    expires_in: int | None,
    version_id: str | None,
    content_type: str | None,
) -> storage_pb2.GetFileUrlRequest:
    if method not in ("GET", "PUT"):
        raise ValueError("method must be 'GET' or 'PUT'")
    request = storage_pb2.GetFileUrlRequest(
        bucket=bucket,
        object_name=key,
        method=storage_pb2.URL_METHOD_PUT if method == "PUT" else storage_pb2.URL_METHOD_GET,
    )
    if expires_in is not None:
        request.expires_in_seconds = expires_in
    if version_id is not None:
        request.version_id = version_id
    if content_type is not None:
        request.content_type = content_type
    return request


def presigned(res: storage_pb2.GetFileUrlResponse) -> PresignedUrl:
    expires = res.expires_at.ToDatetime(tzinfo=timezone.utc) if res.HasField("expires_at") else None
    return PresignedUrl(url=res.url, method="PUT" if res.method == storage_pb2.URL_METHOD_PUT else "GET", expires_at=expires)


def list_request(
    bucket: str, prefix: str, recursive: bool, page_size: int | None, cursor: str | None
) -> storage_pb2.ListFilesRequest:
    return storage_pb2.ListFilesRequest(
        bucket=bucket, prefix=prefix, recursive=recursive, page_size=page_size or 0, page_token=cursor or ""
    )


def list_page(res: storage_pb2.ListFilesResponse) -> ListPage:
    return ListPage(
        files=[FileInfo.from_proto(f) for f in res.files],
        prefixes=list(res.prefixes),
        next_cursor=res.next_page_token or None,
    )
