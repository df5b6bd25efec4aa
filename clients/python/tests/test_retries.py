"""Retries: only retryable codes, only replayable calls, with backoff and jitter, honouring the
service's retry-after; through a real MinIO restart and a real rate limit."""

from __future__ import annotations

import os
import socket
import threading
import urllib.request

import pytest
from conftest import ADDRESS, env, live

from lumenslate_storage import (
    NotFound,
    RateLimited,
    RetryEvent,
    RetryPolicy,
    StorageClient,
    StorageError,
    Unavailable,
)


def control(action: str) -> None:
    request = urllib.request.Request(env("LUMENSLATE_CONTROL_URL") + action, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 204


@live
def test_calls_ride_out_a_minio_restart_and_one_shot_streams_are_not_replayed(bucket: str, prefix: str) -> None:
    events: list[RetryEvent] = []
    restarted: list[threading.Thread] = []

    def on_retry(event: RetryEvent) -> None:
        events.append(event)
        if not restarted:  # the first retry brings MinIO back, in the background
            thread = threading.Thread(target=control, args=("/minio/start",))
            restarted.append(thread)
            thread.start()

    policy = RetryPolicy(max_attempts=100, initial_backoff=0.1, max_backoff=1.0, on_retry=on_retry)
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN"), retry=policy) as c:
        c.upload_bytes(b"before", bucket, prefix + "before.txt")
        control("/minio/stop")
        try:
            read_end, write_end = os.pipe()
            with os.fdopen(write_end, "wb") as w:
                w.write(b"once only")
            with os.fdopen(read_end, "rb") as r, pytest.raises(Unavailable) as raised:
                c.upload_fileobj(r, bucket, prefix + "pipe.txt")
            assert raised.value.code == "UNAVAILABLE"
            assert events == []  # a one-shot stream cannot be sent again

            stored = c.upload_bytes(b"during the restart", bucket, prefix + "during.txt")
        finally:
            if not restarted:
                control("/minio/start")
            for thread in restarted:
                thread.join()
        assert stored.size == len(b"during the restart")
        assert events and all(e.error.code == "UNAVAILABLE" and e.method == "UploadFile" for e in events)
        assert [e.attempt for e in events] == list(range(1, len(events) + 1))
        assert c.download_bytes(bucket, prefix + "during.txt") == b"during the restart"
        assert c.download_bytes(bucket, prefix + "before.txt") == b"before"


def test_an_unreachable_service_is_unavailable_after_the_last_attempt() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, on_retry=events.append)
    with StorageClient(f"127.0.0.1:{port}", token="lss_x", retry=policy, timeout=10) as c:
        with pytest.raises(Unavailable) as raised:
            c.stat("bucket", "key")
    assert raised.value.code == "UNAVAILABLE"
    assert [e.attempt for e in events] == [1, 2]
    assert all(0 <= e.delay <= 0.05 for e in events)


@live
def test_rate_limited_calls_wait_for_the_retry_after_and_succeed(bucket: str, prefix: str) -> None:
    token = env("LUMENSLATE_GRPC_LIMITED_TOKEN")  # 2 calls per 2 s window
    with StorageClient(ADDRESS, token=token, retry=RetryPolicy(max_attempts=1)) as once:
        with pytest.raises(RateLimited) as raised:
            for _ in range(10):
                once.list_all(bucket, prefix)
    assert raised.value.code == "RATE_LIMITED"
    assert raised.value.retry_after is not None and raised.value.retry_after > 0

    events: list[RetryEvent] = []
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.05, on_retry=events.append)
    with StorageClient(ADDRESS, token=token, retry=policy) as patient:
        for _ in range(10):
            assert patient.list_all(bucket, prefix) == []
            if events:
                break
    assert events, "no call was rate limited"
    limited = events[0]
    assert limited.error.code == "RATE_LIMITED" and limited.error.retry_after
    assert limited.delay >= limited.error.retry_after


def test_retry_policy_backoff_and_codes() -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=0.1, max_backoff=0.3, multiplier=2)
    unavailable = StorageError("down", code="UNAVAILABLE")
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.3)):
        delays = [policy.delay(attempt, unavailable) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert policy.delay(4, unavailable) is None  # out of attempts
    for code in ("NOT_FOUND", "PERMISSION_DENIED", "TOO_LARGE", "PRECONDITION_FAILED", "INTERNAL", "DEADLINE_EXCEEDED"):
        assert policy.delay(1, StorageError("no", code=code)) is None
    assert policy.delay(1, NotFound("gone")) is None
    told = StorageError("slow down", code="RATE_LIMITED", retry_after=1.5)
    assert all(1.5 <= (policy.delay(1, told) or 0) <= 1.6 for _ in range(50))
    assert policy.delay(1, StorageError("later", code="OVERLOADED", retry_after=3600)) is None  # beyond max_retry_after
