"""Every operation of the sync client against the live service."""

from __future__ import annotations

import hashlib
import io
import os
import ssl
import urllib.request
from pathlib import Path

import pytest
from conftest import env, live, random_bytes

from lumenslate_storage import NotFound, RangeNotSatisfiable, StorageClient

pytestmark = live


def test_upload_file_stat_download_file_round_trip(client: StorageClient, bucket: str, prefix: str, tmp_path: Path) -> None:
    source = tmp_path / "report.json"
    source.write_bytes(b'{"quarter": 3, "ok": true}\n' * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    stored = client.upload_file(source, bucket, prefix + "report.json", metadata={"team": "ml", "run": "42"})
    assert (stored.bucket, stored.key, stored.size, stored.sha256) == (bucket, prefix + "report.json", source.stat().st_size, digest)
    assert stored.content_type == "application/json"
    assert stored.etag and stored.version_id

    info = client.stat(bucket, prefix + "report.json")
    assert (info.size, info.sha256, info.metadata) == (stored.size, digest, {"team": "ml", "run": "42"})
    assert info.last_modified is not None and info.last_modified.tzinfo is not None

    target = tmp_path / "out" / "copy.json"
    target.parent.mkdir()
    got = client.download_file(bucket, prefix + "report.json", target)
    assert target.read_bytes() == source.read_bytes()
    assert got.sha256 == digest
    assert sorted(os.listdir(target.parent)) == ["copy.json"]  # no temp file left


def test_upload_bytes_with_content_type_and_download_bytes_and_ranges(client: StorageClient, bucket: str, prefix: str) -> None:
    stored = client.upload_bytes(b"0123456789", bucket, prefix + "digits.txt", content_type="text/plain")
    assert stored.size == 10 and stored.content_type.startswith("text/plain")
    assert client.download_bytes(bucket, prefix + "digits.txt") == b"0123456789"
    assert client.download_bytes(bucket, prefix + "digits.txt", start=2, end=4) == b"234"
    assert client.download_bytes(bucket, prefix + "digits.txt", start=7) == b"789"
    with pytest.raises(RangeNotSatisfiable):
        client.download_bytes(bucket, prefix + "digits.txt", start=50)


def test_upload_fileobj_seekable_and_one_shot_and_download_fileobj(client: StorageClient, bucket: str, prefix: str) -> None:
    data = random_bytes(3 * 1024 * 1024 + 17)  # several chunks, not a multiple of the chunk size
    buffer = io.BytesIO(b"skip" + data)
    buffer.seek(4)  # from the current position on
    stored = client.upload_fileobj(buffer, bucket, prefix + "seekable.bin")
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()

    read_end, write_end = os.pipe()  # a one-shot stream: no size, no seeking
    with os.fdopen(write_end, "wb") as w:
        w.write(b"streamed through a pipe")
    with os.fdopen(read_end, "rb") as r:
        piped = client.upload_fileobj(r, bucket, prefix + "piped.bin")
    assert piped.size == len(b"streamed through a pipe")

    out = io.BytesIO()
    info = client.download_fileobj(bucket, prefix + "seekable.bin", out)
    assert out.getvalue() == data and info.size == len(data)
    part = io.BytesIO()
    client.download_fileobj(bucket, prefix + "seekable.bin", part, start=100, end=199)
    assert part.getvalue() == data[100:200]


def test_copy_then_delete_then_not_found(client: StorageClient, bucket: str, prefix: str) -> None:
    other = env("LUMENSLATE_TEST_OTHER_BUCKET")
    client.upload_bytes(b"copy me", bucket, prefix + "a.txt", metadata={"k": "v"})
    copied = client.copy(bucket, prefix + "a.txt", other, prefix + "b.txt")
    assert (copied.bucket, copied.key, copied.size) == (other, prefix + "b.txt", 7)
    assert copied.sha256 == hashlib.sha256(b"copy me").hexdigest()
    assert client.download_bytes(other, prefix + "b.txt") == b"copy me"

    deleted = client.delete(bucket, prefix + "a.txt")
    assert (deleted.bucket, deleted.key) == (bucket, prefix + "a.txt")
    with pytest.raises(NotFound) as raised:
        client.stat(bucket, prefix + "a.txt")
    assert raised.value.code == "NOT_FOUND" and raised.value.grpc_status is not None
    client.delete(other, prefix + "b.txt")


def test_presigned_get_url_serves_the_bytes(client: StorageClient, bucket: str, prefix: str) -> None:
    client.upload_bytes(b"fetch me over plain HTTP", bucket, prefix + "url.txt")
    url = client.presign(bucket, prefix + "url.txt", expires_in=120)
    assert url.method == "GET" and url.expires_at is not None
    # The object store serves TLS with the test CA.
    context = ssl.create_default_context(cafile=env("LUMENSLATE_TLS_CA_FILE"))
    with urllib.request.urlopen(url.url, context=context, timeout=30) as response:
        assert response.read() == b"fetch me over plain HTTP"

    put = client.get_file_url(bucket, prefix + "upload.txt", method="PUT", content_type="text/plain")
    assert put.method == "PUT" and put.url.startswith("https://")


def test_list_recursive_and_one_level_with_prefixes(client: StorageClient, bucket: str, prefix: str) -> None:
    for name in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"):
        client.upload_bytes(name.encode(), bucket, prefix + name)
    assert [f.key for f in client.list(bucket, prefix)] == [prefix + n for n in ("a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt")]
    pages = list(client.list_pages(bucket, prefix, recursive=False))
    assert [f.key for p in pages for f in p.files] == [prefix + "a.txt", prefix + "b.txt"]
    assert [x for p in pages for x in p.prefixes] == [prefix + "sub/"]
    listed = client.list_all(bucket, prefix + "sub/")
    assert [f.size for f in listed] == [len(b"sub/c.txt"), len(b"sub/deeper/d.txt")]


def test_request_ids_and_user_id_reach_the_service(client: StorageClient, bucket: str, prefix: str) -> None:
    with pytest.raises(NotFound) as raised:
        client.stat(bucket, prefix + "missing.txt", request_id="py-req-1234")
    assert raised.value.request_id == "py-req-1234"
    with pytest.raises(NotFound) as generated:
        client.stat(bucket, prefix + "missing.txt", user_id="alice")
    assert generated.value.request_id and generated.value.request_id != "py-req-1234"
