"""TLS with a client certificate, and SSE-C (customer-provided keys)."""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import ADDRESS, FAST_RETRY, env, live

from lumenslate_storage import AsyncStorageClient, RetryPolicy, StorageClient, StorageError, Unavailable

pytestmark = live


def test_mutual_tls_with_ca_and_client_certificate(bucket: str, prefix: str) -> None:
    address = env("LUMENSLATE_GRPC_TLS_ADDRESS")
    tls = {"ca_cert": env("LUMENSLATE_TLS_CA_FILE")}
    client_cert = {"client_cert": env("LUMENSLATE_TLS_CERT_FILE"), "client_key": env("LUMENSLATE_TLS_KEY_FILE")}
    with StorageClient(address, token=env("LUMENSLATE_GRPC_TOKEN"), retry=FAST_RETRY, **tls, **client_cert) as c:
        c.upload_bytes(b"over mTLS", bucket, prefix + "tls.txt")
        assert c.download_bytes(bucket, prefix + "tls.txt") == b"over mTLS"

    async def aio() -> bytes:
        # PEM bytes work as well as paths.
        pems = {k: open(v, "rb").read() for k, v in {**tls, **client_cert}.items()}
        async with AsyncStorageClient(address, token=env("LUMENSLATE_GRPC_TOKEN"), **pems) as c:
            return await c.download_bytes(bucket, prefix + "tls.txt")

    assert asyncio.run(aio()) == b"over mTLS"

    # The server refuses a client without a certificate during the handshake.
    once = RetryPolicy(max_attempts=1)
    with StorageClient(address, token=env("LUMENSLATE_GRPC_TOKEN"), retry=once, timeout=10, **tls) as anonymous:
        with pytest.raises(Unavailable):
            anonymous.stat(bucket, prefix + "tls.txt")


def test_sse_c_objects_are_readable_only_with_their_key(bucket: str, prefix: str) -> None:
    key = os.urandom(32)
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN"), retry=FAST_RETRY, sse_customer_key=key) as c:
        stored = c.upload_bytes(b"secret bytes", bucket, prefix + "sse.txt")
        assert stored.size == len(b"secret bytes")
        assert c.download_bytes(bucket, prefix + "sse.txt") == b"secret bytes"
        assert c.stat(bucket, prefix + "sse.txt").size == len(b"secret bytes")
        with pytest.raises(StorageError):
            c.download_bytes(bucket, prefix + "sse.txt", sse_customer_key=os.urandom(32))
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN"), retry=FAST_RETRY) as plain:
        with pytest.raises(StorageError) as raised:
            plain.download_bytes(bucket, prefix + "sse.txt")
        assert raised.value.code not in ("UNAVAILABLE", "INTERNAL")
