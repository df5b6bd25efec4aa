"""One large transfer from Python, for bench/python-clients.ts: the platform's client (the
lumenslate_storage package over gRPC) or boto3 straight to MinIO. The job comes as JSON in the
BENCH_PY_JOB environment variable (so no secret shows in `ps`); prints one JSON line with the wall
time of the transfer alone (imports, channel set-up and the sha256 pre-pass are outside it).
"""

import hashlib
import json
import os
import sys
import tempfile
import time

MiB = 1024 * 1024


class Discard:
    """A write-only sink: downloads are measured, not stored."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def grpc_transfer(job: dict) -> dict:
    """Through the service over gRPC: transfer="proxy", or the client's direct path (presigned part
    URLs and a presigned GET, what transfer="auto" picks for a file this size) for the direct ops."""
    from lumenslate_storage import NotFound, StorageClient

    direct = job["op"].startswith("pydirect-")
    transfer = "direct" if direct else "proxy"
    with StorageClient(job["grpcAddress"], token=job["token"], transfer_timeout=None) as client:
        try:
            client.stat(job["bucket"], job["key"])  # connects before the clock starts
        except NotFound:
            pass
        if job["op"] in ("grpc-up", "pydirect-up"):
            start = time.perf_counter()
            # The client hashes the file first unless told the sha256; timed apart, reported apart.
            # (The direct path's per-part sha256 pass happens inside upload_file and is timed.)
            sha256 = file_sha256(job["file"])
            hashed = time.perf_counter()
            client.upload_file(job["file"], job["bucket"], job["key"], sha256=sha256, transfer=transfer)
            done = time.perf_counter()
            return {"seconds": done - hashed, "hashSeconds": hashed - start, "bytes": os.stat(job["file"]).st_size}
        if direct:
            # download_file writes a file (verified, then renamed into place), as boto3-down-file does.
            with tempfile.TemporaryDirectory() as scratch:
                target = os.path.join(scratch, "download.bin")
                start = time.perf_counter()
                client.download_file(job["bucket"], job["key"], target, transfer="direct")
                seconds = time.perf_counter() - start
                return {"seconds": seconds, "bytes": os.stat(target).st_size}
        sink = Discard()
        start = time.perf_counter()
        client.download_fileobj(job["bucket"], job["key"], sink)  # sha256-verified while streaming
        return {"seconds": time.perf_counter() - start, "bytes": sink.bytes}


def boto3_transfer(job: dict) -> dict:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=job["endpoint"],
        aws_access_key_id=job["accessKey"],
        aws_secret_access_key=job["secretKey"],
        region_name=job["region"],
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=max(10, job["concurrency"] * 2)),
    )
    # The service's multipart settings (part size, parts in flight), as the other direct clients use.
    transfer = TransferConfig(
        multipart_threshold=job["partSize"],
        multipart_chunksize=job["partSize"],
        max_concurrency=job["concurrency"],
        use_threads=True,
    )
    s3.head_bucket(Bucket=job["bucket"])  # connection and credentials before the clock starts
    if job["op"] == "boto3-up":
        start = time.perf_counter()
        s3.upload_file(job["file"], job["bucket"], job["key"], Config=transfer)
        return {"seconds": time.perf_counter() - start, "bytes": os.stat(job["file"]).st_size}
    if job["op"] == "boto3-down-file":
        with tempfile.TemporaryDirectory() as scratch:
            target = os.path.join(scratch, "download.bin")
            start = time.perf_counter()
            s3.download_file(job["bucket"], job["key"], target, Config=transfer)
            seconds = time.perf_counter() - start
            return {"seconds": seconds, "bytes": os.stat(target).st_size}
    sink = Discard()
    start = time.perf_counter()
    s3.download_fileobj(job["bucket"], job["key"], sink, Config=transfer)
    return {"seconds": time.perf_counter() - start, "bytes": sink.bytes}


def main() -> None:
    job = json.loads(os.environ["BENCH_PY_JOB"])
    if job["op"] == "check":
        import boto3  # noqa: F401
        import lumenslate_storage  # noqa: F401

        result: dict = {"ok": True}
    elif job["op"].startswith(("grpc-", "pydirect-")):
        result = grpc_transfer(job)
    else:
        result = boto3_transfer(job)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
