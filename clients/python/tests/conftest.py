"""Fixtures for the suite against a live service.

test/python-package.test.ts (vitest) builds the wheel, installs it into a fresh virtualenv, starts
the service on MinIO and runs this suite with these variables:

  LUMENSLATE_GRPC_ADDRESS          the service (plaintext)
  LUMENSLATE_GRPC_TOKEN            an admin key (*:admin)
  LUMENSLATE_GRPC_READONLY_TOKEN   a key allowed only read,list on LUMENSLATE_TEST_BUCKET
  LUMENSLATE_GRPC_LIMITED_TOKEN    a key with a budget of 2 calls per 2 s window
  LUMENSLATE_TEST_BUCKET, LUMENSLATE_TEST_OTHER_BUCKET, LUMENSLATE_TEST_CHECKED_BUCKET (extension checks)
  LUMENSLATE_GRPC_SMALL_ADDRESS, LUMENSLATE_GRPC_SMALL_TOKEN   a service with a 1 MiB size limit
  LUMENSLATE_GRPC_TLS_ADDRESS, LUMENSLATE_TLS_CA_FILE, LUMENSLATE_TLS_CERT_FILE, LUMENSLATE_TLS_KEY_FILE
                                   a TLS listener requiring a client certificate (the CA also
                                   signed MinIO's certificate: presigned URLs are HTTPS)
  LUMENSLATE_CONTROL_URL           POST /minio/stop and /minio/start stop and restart the service's MinIO

Without LUMENSLATE_GRPC_ADDRESS the live tests are skipped (the vitest test refuses skips).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from lumenslate_storage import RetryPolicy, StorageClient

ADDRESS = os.environ.get("LUMENSLATE_GRPC_ADDRESS", "")
live = pytest.mark.skipif(not ADDRESS, reason="LUMENSLATE_GRPC_ADDRESS is not set (see tests/conftest.py)")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set (see tests/conftest.py)")
    return value


# Fast retries, so the suite does not wait long between attempts.
FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.05, max_backoff=0.5)


def random_bytes(size: int) -> bytes:
    """Random bytes behind a fixed text header: random bytes alone now and then start with a
    signature the service's content sniffing refuses (an executable's "MZ")."""
    header = b"lumenslate test data\n"
    return header + os.urandom(size - len(header))


@pytest.fixture(scope="session")
def bucket() -> str:
    return env("LUMENSLATE_TEST_BUCKET")


@pytest.fixture(scope="session")
def client() -> Iterator[StorageClient]:
    # The service's MinIO serves HTTPS with the test CA: the direct path (files of 64 MiB and more)
    # trusts it through store_ca_cert.
    with StorageClient(
        ADDRESS,
        token=env("LUMENSLATE_GRPC_TOKEN"),
        retry=FAST_RETRY,
        keepalive_time=30,
        store_ca_cert=env("LUMENSLATE_TLS_CA_FILE"),
    ) as c:
        yield c


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix per test, so tests never see each other's objects."""
    return f"py/{uuid.uuid4().hex[:12]}/"
