"""A 300 MiB file up and down (the direct path: above the client's direct_threshold), with progress
callbacks and matching sha256 at every step."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from conftest import live, random_bytes

from lumenslate_storage import StorageClient

pytestmark = live

MiB = 1024 * 1024
SIZE = 300 * MiB


def test_300_mib_upload_and_download_with_progress(client: StorageClient, bucket: str, prefix: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:  # generated here, 4 MiB at a time; never committed
        for i in range(SIZE // (4 * MiB)):
            block = random_bytes(4 * MiB) if i == 0 else os.urandom(4 * MiB)
            digest.update(block)
            f.write(block)
    sha256 = digest.hexdigest()

    sent: list[tuple[int, int | None]] = []
    stored = client.upload_file(source, bucket, prefix + "big.bin", progress=lambda n, total: sent.append((n, total)))
    assert (stored.size, stored.sha256) == (SIZE, sha256)
    assert sent[0] == (0, SIZE) and sent[-1] == (SIZE, SIZE)
    assert all(b[0] >= a[0] for a, b in zip(sent, sent[1:]))  # monotonic
    assert len(sent) > 100  # reported as it goes, not once at the end

    received: list[tuple[int, int | None]] = []
    target = tmp_path / "back.bin"
    info = client.download_file(bucket, prefix + "big.bin", target, progress=lambda n, total: received.append((n, total)))
    assert (info.size, info.sha256) == (SIZE, sha256)
    assert received[0] == (0, SIZE) and received[-1] == (SIZE, SIZE)
    assert len(received) > 10
    check = hashlib.sha256()
    with open(target, "rb") as f:
        while block := f.read(4 * MiB):
            check.update(block)
    assert check.hexdigest() == sha256
    client.delete(bucket, prefix + "big.bin")
