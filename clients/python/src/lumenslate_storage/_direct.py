"""The direct data path: large objects moved straight between this process and the object store
with URLs the service presigned after its usual checks.

Uploads go through an upload session (UploadSessionService): the file is hashed once (each part's
sha256 and the whole), the service signs each part's sha256 into its URL (the store refuses a body
that does not match), the parts are PUT with a few in flight, and completion has the service verify
the assembled object and record it in its index. Downloads GET a presigned URL into a temp file,
hashing as they stream. Plain HTTP from the standard library (http.client), in threads; both
clients share this module (the async one runs it in a worker thread).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import queue
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Literal

from ._connection import MiB, Pem, read_pem
from .errors import (
    Cancelled,
    DataCorrupted,
    InternalError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StorageError,
    Unavailable,
)
from .retry import RetryPolicy
from .v1 import upload_sessions_pb2

log = logging.getLogger("lumenslate_storage")

Transfer = Literal["auto", "direct", "proxy"]
TRANSFERS: tuple[str, ...] = ("auto", "direct", "proxy")

# S3's multipart rules, as the service applies them (src/core/session-parts.ts).
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_THRESHOLD = 64 * MiB
DEFAULT_CONCURRENCY = 4
# Part URLs asked for per GetUploadPartUrls call (the service allows 1,000): few calls, and URLs
# used within minutes of being signed.
URL_BATCH = 64
# Bytes per read and per socket write; also the granularity of progress reports.
BLOCK = MiB
# A store that sends or accepts nothing for this long is taken to be gone (the part is retried).
SOCKET_TIMEOUT = 60.0


def check_transfer(transfer: str) -> None:
    if transfer not in TRANSFERS:
        raise ValueError(f"transfer must be one of {', '.join(TRANSFERS)}, not {transfer!r}")


@dataclass(frozen=True)
class DirectSettings:
    """How a client uses the direct path (see StorageClient's direct_* and store_ca_cert)."""

    threshold: int | None
    concurrency: int
    part_size: int | None
    ssl_context: ssl.SSLContext


def make_direct_settings(
    threshold: int | None, concurrency: int, part_size: int | None, store_ca_cert: Pem | None
) -> DirectSettings:
    if threshold is not None and threshold < 0:
        raise ValueError("direct_threshold must be >= 0 (or None: never direct unless asked)")
    if concurrency < 1:
        raise ValueError("direct_concurrency must be at least 1")
    if part_size is not None:
        plan_parts(0, part_size)  # refuse an impossible part size now rather than on the first upload
    ca = read_pem(store_ca_cert)
    context = ssl.create_default_context(cadata=ca.decode("ascii") if ca is not None else None)
    return DirectSettings(threshold=threshold, concurrency=concurrency, part_size=part_size, ssl_context=context)


# --- part plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartPlan:
    """How an object of `size` bytes is cut into parts: all of part_size but the last."""

    size: int
    part_size: int
    part_count: int

    def bounds(self, part_number: int) -> tuple[int, int]:
        """(offset, length) of part `part_number` (1-based)."""
        if not 1 <= part_number <= self.part_count:
            raise ValueError(f"part number {part_number} is outside 1..{self.part_count}")
        offset = (part_number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


def plan_parts(size: int, part_size: int | None = None) -> PartPlan:
    """The part plan the client asks the service for: `part_size` (5 MiB to 5 GiB) when given,
    else 16 MiB grown in whole MiB until the object fits in 10,000 parts."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if part_size is not None:
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be from {MIN_PART_SIZE} (5 MiB) to {MAX_PART_SIZE} (5 GiB) bytes")
        count = max(1, -(-size // part_size))
        if count > MAX_PARTS:
            raise ValueError(f"a part size of {part_size} bytes needs {count} parts, more than {MAX_PARTS}")
        return PartPlan(size, part_size, count)
    needed = -(-(-(-size // MAX_PARTS)) // MiB) * MiB
    chosen = min(max(DEFAULT_PART_SIZE, needed), MAX_PART_SIZE)
    count = max(1, -(-size // chosen))
    if count > MAX_PARTS:
        raise ValueError(f"{size} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB")
    return PartPlan(size, chosen, count)


def hash_parts(
    path: str | os.PathLike[str], plan: PartPlan, *, whole: bool
) -> tuple[str | None, list[str]]:
    """One pass over the file: each part's hex sha256 and (whole=True) the whole file's. The two
    digests run side by side (hashlib lets go of the GIL on large blocks): the reading thread
    updates the whole one, a helper thread the parts', so the pass costs about one sha256, not two."""
    whole_digest = hashlib.sha256() if whole else None
    parts: list[str] = []
    # What the helper is given, a few MiB ahead of it at most: a block, "end of part" (b""), or
    # None: stop (the pass is over, or failed).
    blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)

    def hash_each_part() -> None:
        part = hashlib.sha256()
        while (block := blocks.get()) is not None:
            if block:
                part.update(block)
            else:
                parts.append(part.hexdigest())
                part = hashlib.sha256()

    helper = threading.Thread(target=hash_each_part, name="lumenslate-hash", daemon=True)
    if whole_digest is not None:
        helper.start()
    try:
        with open(path, "rb") as f:
            for n in range(1, plan.part_count + 1):
                _, left = plan.bounds(n)
                part = hashlib.sha256()
                while left > 0:
                    block = f.read(min(BLOCK, left))
                    if not block:
                        raise DataCorrupted(f"{os.fspath(path)} became shorter while it was read", details={"part": n})
                    if whole_digest is None:
                        part.update(block)
                    else:
                        blocks.put(block)
                        whole_digest.update(block)
                    left -= len(block)
                if whole_digest is None:
                    parts.append(part.hexdigest())
                else:
                    blocks.put(b"")
            if f.read(1):
                raise DataCorrupted(f"{os.fspath(path)} grew while it was read")
    finally:
        if helper.is_alive():
            blocks.put(None)  # the helper drains what is queued, then stops
            helper.join()
    return (whole_digest.hexdigest() if whole_digest is not None else None), parts


# --- HTTP to the store -----------------------------------------------------------------------------


class StoreUnreachable(Unavailable):
    """The object store's URL could not be reached (connection refused, TLS refused, reset, ...)."""


class Fallback(Exception):
    """Internal: the direct path is not available here (args[0]: the StorageError that said so);
    the client moves the bytes through the service instead."""

    def __init__(self, reason: StorageError) -> None:
        super().__init__(reason)
        self.reason = reason


class _Connections:
    """One keep-alive connection per thread and host, closed together at the end of a transfer."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self, url: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        cache: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        key = (url.scheme, url.netloc)
        conn = cache.get(key)
        if conn is None:
            if url.scheme == "https":
                conn = http.client.HTTPSConnection(
                    url.netloc, timeout=SOCKET_TIMEOUT, context=self._context, blocksize=BLOCK
                )
            elif url.scheme == "http":
                conn = http.client.HTTPConnection(url.netloc, timeout=SOCKET_TIMEOUT, blocksize=BLOCK)
            else:
                raise InternalError(f"the service returned a {url.scheme!r} URL; only http(s) is supported")
            cache[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def drop(self, url: urllib.parse.SplitResult) -> None:
        conn = self._local.__dict__.get("conns", {}).pop((url.scheme, url.netloc), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


# Failures below HTTP: nothing (or not all) reached the store, so the request may be sent again.
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


def _store_error(status: int, body: bytes, what: str) -> StorageError:
    """The typed error for a store's refusal (S3's XML error body names a code and a message)."""
    text = body[:4096].decode("utf-8", "replace")
    code = _xml(text, "Code") or f"HTTP {status}"
    message = _xml(text, "Message") or "no message"
    details = {"status": status, "store_code": code}
    said = f"the object store refused {what}: {code} ({message})"
    if code in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest", "XAmzContentSHA256Mismatch"):
        return DataCorrupted(f"{said}; the file changed after it was hashed", details=details)
    if status == 412:
        return PreconditionFailed(f"{said}; the object changed", details=details)
    if status in (401, 403):
        return PermissionDenied(said, details=details)
    if status == 404:
        return NotFound(said, details=details)
    if status == 429 or status >= 500:
        return Unavailable(said, details=details)
    return InternalError(said, details=details)


def _xml(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return match.group(1) if match else None


def _target(url: urllib.parse.SplitResult) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


class _Retrier:
    """Retries one piece of a transfer (a part, a download) on network failures and the store's
    5xx/429, with the client's RetryPolicy. A store never reached fails at once when `fail_fast`
    says so (the caller then falls back to the service)."""

    def __init__(self, policy: RetryPolicy, stop: threading.Event, fail_fast: Callable[[], bool]) -> None:
        self.policy = policy
        self.stop = stop
        self.fail_fast = fail_fast

    def delay(self, attempt: int, error: StorageError, reached: bool) -> float:
        if not reached and self.fail_fast():
            raise Fallback(error) from None
        wait = self.policy.delay(attempt, error)
        if wait is None:
            raise error
        if self.stop.wait(wait):
            raise Cancelled("the transfer was stopped")
        return wait


# --- uploads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str
    headers: dict[str, str]


GetUrls = Callable[[Sequence[tuple[int, str]]], Sequence[PartUrl]]
Progress = Callable[[int, "int | None"], None]


class DirectUpload:
    """PUTs the parts of one file with `concurrency` in flight, asking get_urls for their URLs in
    batches as it goes. run() returns once every part is stored; progress is reported from the
    thread that calls run(), as bytes leave (monotonic: a retried part counts only past its best)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        plan: PartPlan,
        part_sha256: Sequence[str],
        *,
        settings: DirectSettings,
        policy: RetryPolicy,
        progress: Progress | None,
        fail_fast: bool,
    ) -> None:
        self.path = path
        self.plan = plan
        self.part_sha256 = part_sha256
        self.settings = settings
        self.progress = progress
        self.stop = threading.Event()
        self.stored_any = False
        self._events: queue.Queue[tuple[str, int, int, Future[None] | None]] = queue.Queue()
        self._retrier = _Retrier(policy, self.stop, lambda: fail_fast and not self.stored_any)
        self._conns = _Connections(settings.ssl_context)

    def run(self, get_urls: GetUrls) -> None:
        plan = self.plan
        best = [0] * (plan.part_count + 1)
        sent = 0
        urls: dict[int, PartUrl] = {}
        in_flight = 0
        next_part = 1
        if self.progress:
            self.progress(0, plan.size)
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="lumenslate-part")
        try:
            while next_part <= plan.part_count or in_flight:
                while next_part <= plan.part_count and in_flight < self.settings.concurrency:
                    if next_part not in urls:
                        last = min(plan.part_count, next_part + URL_BATCH - 1)
                        batch = [(n, self.part_sha256[n - 1]) for n in range(next_part, last + 1)]
                        urls.update((u.part_number, u) for u in get_urls(batch))
                        if next_part not in urls:
                            raise InternalError(f"the service returned no URL for part {next_part}")
                    pool.submit(self._put, urls.pop(next_part)).add_done_callback(self._finished)
                    in_flight += 1
                    next_part += 1
                kind, part, count, finished = self._events.get()
                if kind == "bytes":
                    if count > best[part]:
                        sent += count - best[part]
                        best[part] = count
                        if self.progress:
                            self.progress(sent, plan.size)
                elif finished is not None:
                    in_flight -= 1
                    finished.result()  # a part that failed for good fails the upload
                    self.stored_any = True
        except BaseException:
            self.stop.set()  # parts in flight stop at their next block
            raise
        finally:
            pool.shutdown(wait=True)
            self._conns.close()

    def _finished(self, future: Future[None]) -> None:
        self._events.put(("done", 0, 0, future))

    def _put(self, part: PartUrl) -> None:
        offset, length = self.plan.bounds(part.part_number)
        url = urllib.parse.urlsplit(part.url)
        attempt = 0
        while True:
            attempt += 1
            reached = False
            try:
                conn = self._conns.get(url)
                with open(self.path, "rb") as f:
                    f.seek(offset)
                    conn.putrequest("PUT", _target(url), skip_accept_encoding=True)
                    for name, value in part.headers.items():
                        conn.putheader(name, value)
                    conn.putheader("Content-Length", str(length))
                    conn.endheaders()
                    reached = True
                    done = 0
                    while done < length:
                        if self.stop.is_set():
                            raise Cancelled("the transfer was stopped")
                        block = f.read(min(BLOCK, length - done))
                        if not block:
                            raise DataCorrupted(
                                f"{os.fspath(self.path)} became shorter during the upload",
                                details={"part": part.part_number},
                            )
                        conn.send(block)
                        done += len(block)
                        self._events.put(("bytes", part.part_number, done, None))
                    res = conn.getresponse()
                    body = res.read()
                if res.status == 200:
                    return
                if res.will_close:
                    self._conns.drop(url)
                error = _store_error(res.status, body, f"part {part.part_number}")
            except _NETWORK_ERRORS as err:
                self._conns.drop(url)
                error = StoreUnreachable(
                    f"the object store at {url.netloc} could not be reached for part {part.part_number}: {err}",
                    details={"part": part.part_number},
                )
            except BaseException:
                self._conns.drop(url)
                raise
            self._retrier.delay(attempt, error, reached)


def session_request(
    bucket: str,
    key: str,
    plan: PartPlan,
    sha256: str,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
) -> upload_sessions_pb2.CreateUploadSessionRequest:
    return upload_sessions_pb2.CreateUploadSessionRequest(
        bucket=bucket,
        object_name=key,
        size=plan.size,
        sha256=sha256,
        content_type=content_type or "",
        metadata=dict(metadata or {}),
        part_size=plan.part_size,  # the client's plan, so the parts it hashed are the parts the store expects
    )


def check_session(session: upload_sessions_pb2.UploadSession, plan: PartPlan) -> None:
    if (session.part_size, session.part_count) != (plan.part_size, plan.part_count):
        raise InternalError(
            f"the service planned {session.part_count} parts of {session.part_size} bytes, "
            f"not the {plan.part_count} of {plan.part_size} asked for",
            details={"session": session.id},
        )


def urls_request(session_id: str, batch: Sequence[tuple[int, str]]) -> upload_sessions_pb2.GetUploadPartUrlsRequest:
    return upload_sessions_pb2.GetUploadPartUrlsRequest(
        id=session_id, parts=[upload_sessions_pb2.PartRequest(part_number=n, sha256=h) for n, h in batch]
    )


def part_urls(res: upload_sessions_pb2.GetUploadPartUrlsResponse) -> list[PartUrl]:
    return [PartUrl(p.part_number, p.url, dict(p.headers)) for p in res.parts]


def wants_direct(
    transfer: str, size: int | None, settings: DirectSettings, *, unsupported: bool, sse_customer_key: bytes | None
) -> bool:
    """Whether a transfer tries the direct path: always when forced, else objects of at least
    direct_threshold bytes, unless this client has learnt the backend has no direct path. SSE-C
    objects always go through the service (the store would need the key with every request)."""
    check_transfer(transfer)
    if transfer == "proxy":
        return False
    if sse_customer_key is not None:
        if transfer == "direct":
            raise InvalidArgument(
                "transfer='direct' cannot carry an SSE-C key (sse_customer_key): use transfer='auto' or 'proxy'",
                details={"field": "transfer"},
            )
        return False
    if transfer == "direct":
        return True
    threshold = settings.threshold
    return not unsupported and threshold is not None and (size is None or size >= threshold)


# --- downloads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the service's index says about the object the URL reads."""

    size: int
    sha256: str
    etag: str


def download_url(
    url: str,
    f: IO[bytes],
    expected: Expected,
    *,
    settings: DirectSettings,
    policy: RetryPolicy,
    progress: Progress | None,
    verify: bool,
    fail_fast: bool,
    stop: threading.Event | None = None,
) -> None:
    """GETs a presigned URL into `f` (from its start), hashing as it streams; a dropped connection
    resumes where it stopped (Range, with the ETag checked so the bytes are of one object).
    Raises DataCorrupted if the bytes do not have the recorded size or sha256."""
    target = urllib.parse.urlsplit(url)
    stop = stop or threading.Event()
    conns = _Connections(settings.ssl_context)
    digest = hashlib.sha256()
    received = 0
    ever_reached = False
    retrier = _Retrier(policy, stop, lambda: fail_fast and not ever_reached)
    if progress:
        progress(0, expected.size)
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                conn = conns.get(target)
                headers = {"Accept-Encoding": "identity"}
                if received:
                    headers["Range"] = f"bytes={received}-"
                conn.request("GET", _target(target), headers=headers)
                res = conn.getresponse()
                ever_reached = True
                if res.status not in (200, 206) or (received and res.status != 206):
                    error = _store_error(res.status, res.read(), "the download")
                    conns.drop(target)
                    retrier.delay(attempt, error, True)
                    continue
                etag = (res.getheader("ETag") or "").strip('"')
                if expected.etag and etag and etag != expected.etag.strip('"'):
                    raise PreconditionFailed(
                        "the object changed while it was downloaded (its ETag is not the one the service recorded)",
                        details={"etag": expected.etag},
                    )
                while True:
                    if stop.is_set():
                        raise Cancelled("the transfer was stopped")
                    block = res.read(BLOCK)
                    if not block:
                        break
                    f.write(block)
                    digest.update(block)
                    received += len(block)
                    if progress:
                        progress(received, expected.size)
                if received < expected.size:
                    raise http.client.IncompleteRead(b"", expected.size - received)
                break
            except _NETWORK_ERRORS as err:
                conns.drop(target)
                error = StoreUnreachable(f"the object store at {target.netloc} could not be read: {err}")
                retrier.delay(attempt, error, ever_reached)
    finally:
        conns.close()
    if received != expected.size:
        raise DataCorrupted(f"the download delivered {received} bytes, not {expected.size}")
    if verify and expected.sha256 and digest.hexdigest() != expected.sha256:
        raise DataCorrupted(
            f"downloaded bytes have sha256 {digest.hexdigest()}, the service recorded {expected.sha256}",
            details={"sha256": expected.sha256},
        )


def note_fallback(what: str, reason: StorageError | None) -> None:
    """Says why a transfer went through the service after all (a warning when the store was not
    reachable: every large transfer pays for it; info when the backend has no direct path)."""
    if isinstance(reason, StoreUnreachable):
        log.warning("%s: the object store is not reachable from here (%s); moving it through the service", what, reason.message)
    elif reason is not None:
        log.info("%s: no direct path (%s); moving it through the service", what, reason.message)

