"""The asyncio client: every operation, 2,500 keys uploaded concurrently and listed page by page
through the cursors, and 50 concurrent calls of every kind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path

import pytest
from conftest import ADDRESS, FAST_RETRY, env, live, random_bytes

from lumenslate_storage import AsyncStorageClient, NotFound, PermissionDenied, StorageClient

pytestmark = live


def connect(token_variable: str = "LUMENSLATE_GRPC_TOKEN") -> AsyncStorageClient:
    return AsyncStorageClient(ADDRESS, token=env(token_variable), retry=FAST_RETRY)


def test_every_operation(bucket: str, prefix: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with connect() as c:
            source = tmp_path / "a.txt"
            source.write_bytes(b"async hello\n" * 100_000)
            stored = await c.upload_file(source, bucket, prefix + "a.txt", metadata={"via": "aio"})
            assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
            assert (await c.upload_bytes(b"bytes", bucket, prefix + "b.txt")).size == 5
            assert (await c.upload_fileobj(io.BytesIO(b"fileobj"), bucket, prefix + "c.txt")).size == 7

            info = await c.stat(bucket, prefix + "a.txt")
            assert info.metadata == {"via": "aio"} and info.size == source.stat().st_size
            target = tmp_path / "back.txt"
            await c.download_file(bucket, prefix + "a.txt", target)
            assert target.read_bytes() == source.read_bytes()
            out = io.BytesIO()
            await c.download_fileobj(bucket, prefix + "b.txt", out)
            assert out.getvalue() == b"bytes"
            assert await c.download_bytes(bucket, prefix + "c.txt", start=4) == b"obj"

            copied = await c.copy(bucket, prefix + "c.txt", bucket, prefix + "d.txt")
            assert copied.sha256 == hashlib.sha256(b"fileobj").hexdigest()
            url = await c.presign(bucket, prefix + "d.txt")
            assert url.url.startswith("https://") and url.method == "GET"
            keys = [f.key async for f in c.list(bucket, prefix)]
            assert keys == [prefix + n for n in ("a.txt", "b.txt", "c.txt", "d.txt")]
            await c.delete(bucket, prefix + "d.txt")
            with pytest.raises(NotFound):
                await c.stat(bucket, prefix + "d.txt")
        async with connect("LUMENSLATE_GRPC_READONLY_TOKEN") as readonly:
            with pytest.raises(PermissionDenied):
                await readonly.upload_bytes(b"x", bucket, prefix + "e.txt")

    asyncio.run(main())


def test_pagination_over_2500_keys(bucket: str, prefix: str) -> None:
    names = [f"{prefix}k/{i:05d}.txt" for i in range(2500)]

    async def main() -> None:
        async with connect() as c:
            slots = asyncio.Semaphore(64)

            async def put(name: str) -> None:
                async with slots:
                    await c.upload_bytes(name.encode(), bucket, name)

            await asyncio.gather(*(put(n) for n in names))

            pages = [page async for page in c.list_pages(bucket, prefix + "k/", page_size=300)]
            assert len(pages) == 9  # 8 full pages of 300 and one of 100, through 8 cursors
            assert all(p.next_cursor for p in pages[:-1]) and pages[-1].next_cursor is None
            assert [len(p.files) for p in pages] == [300] * 8 + [100]
            listed = [f.key for p in pages for f in p.files]
            assert listed == names  # in key order, none missing, none twice
            everything = await c.list_all(bucket, prefix + "k/")
            assert [f.key for f in everything] == names
            assert all(f.size == len(f.key.encode()) for f in everything)

    asyncio.run(main())
    with StorageClient(ADDRESS, token=env("LUMENSLATE_GRPC_TOKEN")) as sync:
        assert sum(1 for _ in sync.list(bucket, prefix + "k/", page_size=1000)) == 2500


def test_50_concurrent_calls(bucket: str, prefix: str) -> None:
    async def main() -> None:
        async with connect() as c:
            bodies = {f"{prefix}c/{i:02d}.bin": random_bytes(64 * 1024 + i) for i in range(50)}
            stored = await asyncio.gather(*(c.upload_bytes(b, bucket, k) for k, b in bodies.items()))
            assert [s.sha256 for s in stored] == [hashlib.sha256(b).hexdigest() for b in bodies.values()]
            infos = await asyncio.gather(*(c.stat(bucket, k) for k in bodies))
            assert [i.size for i in infos] == [len(b) for b in bodies.values()]
            got = await asyncio.gather(*(c.download_bytes(bucket, k) for k in bodies))
            assert got == list(bodies.values())
            missing = await asyncio.gather(
                *(c.stat(bucket, f"{prefix}none/{i}") for i in range(50)), return_exceptions=True
            )
            assert all(isinstance(e, NotFound) for e in missing)
            assert len({e.request_id for e in missing if isinstance(e, NotFound)}) == 50
            await asyncio.gather(*(c.delete(bucket, k) for k in bodies))
            assert await c.list_all(bucket, prefix + "c/") == []

    asyncio.run(main())
