"""Settings both clients share: channel options, TLS credentials and per-call metadata."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import grpc

from .retry import RetryPolicy

Pem = Union[bytes, str, "os.PathLike[str]"]
"""PEM bytes, or the path of a PEM file."""

MiB = 1024 * 1024
# Below the service's 4 MiB default message limit; 1 MiB chunks are what it handles best.
CHUNK_SIZE = MiB


def read_pem(value: Pem | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def new_request_id() -> str:
    # The service keeps ids matching [A-Za-z0-9._-]{1,128} and replaces anything else.
    return uuid.uuid4().hex


def sse_c_metadata(key: bytes | None) -> list[tuple[str, str]]:
    """SSE-C key headers as the service reads them (S3's names, in call metadata, never in a message)."""
    if key is None:
        return []
    if not isinstance(key, bytes) or len(key) != 32:
        raise ValueError("sse_customer_key must be exactly 32 bytes (an AES-256 key)")
    return [
        ("x-amz-server-side-encryption-customer-key", base64.b64encode(key).decode("ascii")),
        ("x-amz-server-side-encryption-customer-key-md5", base64.b64encode(hashlib.md5(key).digest()).decode("ascii")),
    ]


@dataclass(frozen=True)
class Settings:
    """Everything a client was constructed with (see StorageClient for the meaning of each)."""

    address: str
    token: str | None
    user_id: str | None
    sse_customer_key: bytes | None
    timeout: float | None
    transfer_timeout: float | None
    retry: RetryPolicy
    credentials: grpc.ChannelCredentials | None
    options: tuple[tuple[str, Any], ...]

    def metadata(
        self,
        request_id: str,
        *,
        user_id: str | None = None,
        sse_customer_key: bytes | None = None,
    ) -> tuple[tuple[str, str], ...]:
        entries = [("x-request-id", request_id)]
        if self.token:
            entries.append(("authorization", f"Bearer {self.token}"))
        user = user_id if user_id is not None else self.user_id
        if user:
            entries.append(("x-user-id", user))
        entries += sse_c_metadata(sse_customer_key if sse_customer_key is not None else self.sse_customer_key)
        return tuple(entries)


def make_settings(
    address: str,
    *,
    token: str | None,
    user_id: str | None,
    tls: bool,
    ca_cert: Pem | None,
    client_cert: Pem | None,
    client_key: Pem | None,
    server_name: str | None,
    sse_customer_key: bytes | None,
    timeout: float | None,
    transfer_timeout: float | None,
    retry: RetryPolicy | None,
    keepalive_time: float | None,
    keepalive_timeout: float | None,
    max_message_size: int,
    channel_options: Sequence[tuple[str, Any]],
) -> Settings:
    if not address:
        raise ValueError("address is required, as host:port")
    sse_c_metadata(sse_customer_key)  # refuse a malformed key now rather than on the first call
    if (client_cert is None) != (client_key is None):
        raise ValueError("client_cert and client_key go together")
    credentials = None
    if tls or ca_cert is not None or client_cert is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read_pem(ca_cert),
            private_key=read_pem(client_key),
            certificate_chain=read_pem(client_cert),
        )
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_size),
        ("grpc.max_send_message_length", max_message_size),
        # After the service restarts, reconnect within seconds rather than grpc's default of up to 2 minutes.
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]
    if keepalive_time is not None:
        options += [
            ("grpc.keepalive_time_ms", int(keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int((keepalive_timeout or 20.0) * 1000)),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    options += list(channel_options)
    return Settings(
        address=address,
        token=token,
        user_id=user_id,
        sse_customer_key=sse_customer_key,
        timeout=timeout,
        transfer_timeout=transfer_timeout,
        retry=retry or RetryPolicy(),
        credentials=credentials,
        options=tuple(options),
    )
