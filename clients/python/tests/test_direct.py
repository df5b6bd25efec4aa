"""The direct path against the service on MinIO: a 100 MiB file straight to the store through an
upload session (the index row's sha256 right), read back through a presigned GET and verified,
both ways forced through the service instead, a part whose bytes do not match its signed sha256
refused by the store, and the fallback to the service when the store cannot be reached (here: a
client that does not trust MinIO's certificate)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADDRESS, FAST_RETRY, env, live, random_bytes

import lumenslate_storage.client
from lumenslate_storage import AsyncStorageClient, DataCorrupted, NotFound, StorageClient, Unavailable

pytestmark = live

MiB = 1024 * 1024


def write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(0, size, 4 * MiB):
            n = min(4 * MiB, size - i)
            block = random_bytes(n) if i == 0 else os.urandom(n)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lumenslate_storage" and "through the service" in r.getMessage()]


@pytest.fixture
def untrusting() -> Iterator[StorageClient]:
    """A client that cannot reach the store: it does not trust the CA of MinIO's certificate.
    Small thresholds and parts keep its files small."""
    with StorageClient(
        ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN"), retry=FAST_RETRY, direct_threshold=6 * MiB, part_size=5 * MiB
    ) as c:
        yield c


def test_100_mib_direct_upload_and_download(
    client: StorageClient, bucket: str, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lumenslate_storage")
    size = 100 * MiB
    source = tmp_path / "weights.bin"
    sha256 = write_random(source, size)

    sent: list[tuple[int, int | None]] = []
    stored = client.upload_file(
        source, bucket, prefix + "weights.bin", metadata={"run": "7"}, transfer="direct",
        progress=lambda n, total: sent.append((n, total)),
    )
    assert (stored.size, stored.sha256) == (size, sha256)
    assert stored.etag.strip('"').endswith("-7")  # the store assembled the client's 7 parts of 16 MiB
    info = client.stat(bucket, prefix + "weights.bin")  # the index row the service wrote on completion
    assert (info.size, info.sha256, info.version_id, info.metadata) == (size, sha256, stored.version_id, {"run": "7"})
    assert sent[0] == (0, size) and sent[-1] == (size, size) and len(sent) > 50
    assert all(b[0] >= a[0] for a, b in zip(sent, sent[1:]))

    received: list[tuple[int, int | None]] = []
    target = tmp_path / "back.bin"
    got = client.download_file(
        bucket, prefix + "weights.bin", target, transfer="direct", progress=lambda n, total: received.append((n, total))
    )
    assert (got.size, got.sha256) == (size, sha256)
    assert file_sha256(target) == sha256
    assert received[0] == (0, size) and received[-1] == (size, size)
    assert sorted(os.listdir(tmp_path)) == ["back.bin", "weights.bin"]  # no temp file left

    # "auto" takes the same way for an object this large, without falling back.
    again = tmp_path / "again.bin"
    client.download_file(bucket, prefix + "weights.bin", again)
    assert file_sha256(again) == sha256
    assert fallbacks(caplog) == []
    client.delete(bucket, prefix + "weights.bin")


def test_forced_proxy_works_where_the_store_is_unreachable(
    untrusting: StorageClient, bucket: str, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lumenslate_storage")
    source = tmp_path / "a.bin"
    sha256 = write_random(source, 12 * MiB)
    stored = untrusting.upload_file(source, bucket, prefix + "a.bin", transfer="proxy")
    assert stored.sha256 == sha256
    target = tmp_path / "back.bin"
    untrusting.download_file(bucket, prefix + "a.bin", target, transfer="proxy")
    assert file_sha256(target) == sha256
    assert fallbacks(caplog) == []  # proxy was asked for: nothing was tried directly


def test_direct_forced_fails_when_the_store_is_unreachable_and_stores_nothing(
    untrusting: StorageClient, client: StorageClient, bucket: str, prefix: str, tmp_path: Path
) -> None:
    source = tmp_path / "a.bin"
    write_random(source, 12 * MiB)
    with pytest.raises(Unavailable) as raised:
        untrusting.upload_file(source, bucket, prefix + "a.bin", transfer="direct")
    assert "could not be reached" in raised.value.message and raised.value.request_id
    with pytest.raises(NotFound):
        client.stat(bucket, prefix + "a.bin")

    client.upload_file(source, bucket, prefix + "a.bin", transfer="proxy")
    with pytest.raises(Unavailable):
        untrusting.download_file(bucket, prefix + "a.bin", tmp_path / "back.bin", transfer="direct")
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]  # neither the file nor its temp file


def test_auto_falls_back_to_the_service_when_the_store_is_unreachable(
    untrusting: StorageClient, client: StorageClient, bucket: str, prefix: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = tmp_path / "a.bin"
    sha256 = write_random(source, 12 * MiB)
    sent: list[tuple[int, int | None]] = []
    stored = untrusting.upload_file(source, bucket, prefix + "a.bin", progress=lambda n, t: sent.append((n, t)))
    assert stored.sha256 == sha256
    assert sent[-1] == (12 * MiB, 12 * MiB)
    assert client.stat(bucket, prefix + "a.bin").sha256 == sha256
    target = tmp_path / "back.bin"
    untrusting.download_file(bucket, prefix + "a.bin", target)
    assert file_sha256(target) == sha256
    warned = fallbacks(caplog)
    assert len(warned) == 2 and all("not reachable" in w for w in warned), warned


def test_a_part_that_does_not_match_its_signed_sha256_is_refused_by_the_store(
    client: StorageClient, bucket: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "a.bin"
    write_random(source, 70 * MiB)
    real = lumenslate_storage.client.hash_parts

    def lying(*args: object, **kwargs: object) -> tuple[str | None, list[str]]:
        whole, parts = real(*args, **kwargs)  # type: ignore[arg-type]
        return whole, [hashlib.sha256(b"not part 2").hexdigest() if i == 1 else h for i, h in enumerate(parts)]

    monkeypatch.setattr(lumenslate_storage.client, "hash_parts", lying)
    with pytest.raises(DataCorrupted) as raised:
        client.upload_file(source, bucket, prefix + "a.bin")
    assert raised.value.details.get("status") == 400 and raised.value.request_id
    with pytest.raises(NotFound):
        client.stat(bucket, prefix + "a.bin")


def test_async_client_direct_both_ways_with_progress_on_the_loop(bucket: str, prefix: str, tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    sha256 = write_random(source, 21 * MiB)
    loop_threads: set[int] = set()

    async def main() -> None:
        async with AsyncStorageClient(
            ADDRESS,
            token=env("LUMENSLATE_GRPC_TOKEN"),
            retry=FAST_RETRY,
            direct_threshold=8 * MiB,
            part_size=5 * MiB,
            store_ca_cert=env("LUMENSLATE_TLS_CA_FILE"),
        ) as c:
            sent: list[int] = []

            def progress(n: int, total: int | None) -> None:
                sent.append(n)
                loop_threads.add(threading.get_ident())

            stored = await c.upload_file(source, bucket, prefix + "a.bin", progress=progress)
            assert stored.sha256 == sha256 and stored.etag.strip('"').endswith("-5")
            assert sent[-1] == 21 * MiB
            assert (await c.stat(bucket, prefix + "a.bin")).sha256 == sha256
            target = tmp_path / "back.bin"
            info = await c.download_file(bucket, prefix + "a.bin", target, transfer="direct", progress=progress)
            assert info.sha256 == sha256 and file_sha256(target) == sha256

    asyncio.run(main())
    assert loop_threads == {threading.get_ident()}  # asyncio.run's loop runs on this thread
