/**
 * Run by test/node-package.test.ts inside a fresh project that installed the packed
 * @lumenslate/storage-client tarball: type-checked there against the package's .d.ts, then run by
 * Node. Prints one JSON line of findings for the test to assert on; any failure exits non-zero.
 *
 * Env: LSS_ADDRESS (host:port), LSS_TOKEN (read/write key), LSS_READER_TOKEN (read-only key),
 * LSS_BUCKET, LSS_BIG_MIB (size of the large transfer).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PreconditionFailedError,
  RangeNotSatisfiableError,
  StorageClientError,
  UnauthenticatedError,
} from "@lumenslate/storage-client";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const address = env("LSS_ADDRESS");
const bucket = env("LSS_BUCKET");
const bigBytes = Number(env("LSS_BIG_MIB")) * 1024 * 1024;
const storage = connect(address, { token: env("LSS_TOKEN") });
const reader = connect(address, { token: env("LSS_READER_TOKEN") });
const stranger = connect(address, { token: "lss_0000000000000000_not-a-real-secret" });
const scratch = await mkdtemp(join(tmpdir(), "lss-scenario-"));
const out: Record<string, unknown> = {};

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/**
 * `size` random bytes behind fixed text (as test/support/data.ts's uploadableBytes, which this
 * copied-out scenario cannot import): the service refuses content whose first bytes look like an
 * executable or a disguised format, and pure random bytes now and then do.
 */
const uploadable = (size: number): Buffer =>
  Buffer.concat([Buffer.from("lumenslate test data\n"), randomBytes(size)]).subarray(0, size);

/** The error a promise rejects with, as the client's error type. */
async function failure(promise: Promise<unknown>): Promise<StorageClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StorageClientError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

try {
  await storage.ready();

  // Every operation on a small object.
  const text = "hello from a fresh Node project\n";
  const uploaded = await storage.upload(text, {
    bucket,
    objectName: "pkg/hello.txt",
    contentType: "text/plain",
    metadata: { origin: "scenario" },
  });
  const info = await storage.stat({ bucket, objectName: "pkg/hello.txt" });
  const download = await storage.downloadStream({ bucket, objectName: "pkg/hello.txt" }); // verified by default
  const chunks: Buffer[] = [];
  for await (const chunk of download.stream) chunks.push(chunk as Buffer);
  const ranged = await storage.downloadStream({
    bucket,
    objectName: "pkg/hello.txt",
    range: { start: 0, end: 4 },
  });
  const rangedChunks: Buffer[] = [];
  for await (const chunk of ranged.stream) rangedChunks.push(chunk as Buffer);
  const local = join(scratch, "local.bin");
  await writeFile(local, uploadable(100_000));
  const fromFile = await storage.uploadFile(local, { bucket, objectName: "pkg/file.bin" });
  await storage.downloadToFile(join(scratch, "back.bin"), { bucket, objectName: "pkg/file.bin" });
  const copied = await storage.copy(
    { bucket, objectName: "pkg/hello.txt" },
    { bucket, objectName: "pkg/copy.txt" },
  );
  const url = await storage.getUrl({ bucket, objectName: "pkg/hello.txt", expiresInSeconds: 60 });
  const fetched = await fetch(url.url).then((r) => r.text());
  const deleted = await storage.delete({ bucket, objectName: "pkg/copy.txt" });
  out.small = {
    uploadedSha: uploaded.sha256,
    sha: sha256(text),
    statSize: info.size,
    statMetadata: info.metadata,
    statType: info.contentType,
    downloaded: Buffer.concat(chunks).toString(),
    ranged: Buffer.concat(rangedChunks).toString(),
    fileRoundTrip: sha256(await readFile(join(scratch, "back.bin"))) === sha256(await readFile(local)),
    fileSha: fromFile.sha256 === sha256(await readFile(local)),
    copiedKey: copied.objectName,
    presignedMethod: url.method,
    presignedFetch: fetched,
    deleted: deleted.success,
    afterDelete: (await failure(storage.stat({ bucket, objectName: "pkg/copy.txt" }))).name,
  };

  // Typed errors, each with the server's request id.
  const errors = {
    notFound: await failure(storage.stat({ bucket, objectName: "pkg/missing.txt" })),
    invalid: await failure(storage.list({ bucket, pageSize: 5000 })),
    unauthenticated: await failure(stranger.stat({ bucket, objectName: "pkg/hello.txt" })),
    denied: await failure(reader.upload("x", { bucket, objectName: "pkg/denied.txt" })),
    precondition: await failure(
      storage.upload("abc", { bucket, objectName: "pkg/bad-sha.txt", sha256: sha256("something else") }),
    ),
    range: await failure(
      storage
        .downloadStream({ bucket, objectName: "pkg/hello.txt", range: { start: 1000, end: 2000 } })
        .then((d) => d.stream.toArray()),
    ),
  };
  out.errors = Object.fromEntries(
    Object.entries(errors).map(([name, err]) => [
      name,
      { name: err.name, code: err.code, hasRequestId: typeof err.requestId === "string" },
    ]),
  );
  out.errorClasses =
    errors.notFound instanceof NotFoundError &&
    errors.invalid instanceof InvalidArgumentError &&
    errors.unauthenticated instanceof UnauthenticatedError &&
    errors.denied instanceof PermissionDeniedError &&
    errors.precondition instanceof PreconditionFailedError &&
    errors.range instanceof RangeNotSatisfiableError;
  out.readerCanRead = (await reader.stat({ bucket, objectName: "pkg/hello.txt" })).size === text.length;

  // Pagination over 2,500 keys, stored through the package at 32 calls in flight (a string upload
  // announces its size, so the server's admission control reserves that rather than a multipart
  // part per call).
  const keys = Array.from({ length: 2500 }, (_, i) => `many/${String(i).padStart(4, "0")}.txt`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const objectName = keys[next++] as string;
        await storage.upload(objectName, { bucket, objectName });
      }
    }),
  );
  const pageSizes: number[] = [];
  let pageToken: string | undefined;
  do {
    const page = await storage.list({
      bucket,
      prefix: "many/",
      recursive: true,
      pageSize: 1000,
      ...(pageToken ? { pageToken } : {}),
    });
    pageSizes.push(page.files.length);
    pageToken = page.nextPageToken;
  } while (pageToken);
  const listed = new Set<string>();
  for await (const file of storage.listAll({ bucket, prefix: "many/", recursive: true, pageSize: 700 })) {
    listed.add(file.objectName);
  }
  out.pagination = { pageSizes, distinct: listed.size, complete: keys.every((k) => listed.has(k)) };

  // A large upload and download, streamed, with progress and sha256 on both sides.
  const block = 4 * 1024 * 1024;
  const sent = createHash("sha256");
  async function* generate(): AsyncGenerator<Uint8Array> {
    for (let done = 0; done < bigBytes; done += block) {
      const length = Math.min(block, bigBytes - done);
      const piece = done === 0 ? uploadable(length) : randomBytes(length);
      sent.update(piece);
      yield piece;
    }
  }
  const upProgress: number[] = [];
  const up = await storage.upload(generate(), {
    bucket,
    objectName: "big/blob.bin",
    expectedSize: bigBytes,
    onProgress: (transferred, total) => {
      if (total !== bigBytes) throw new Error(`upload progress total ${total}`);
      upProgress.push(transferred);
    },
  });
  const sentSha = sent.digest("hex");
  const downProgress: number[] = [];
  const big = await storage.downloadStream({
    bucket,
    objectName: "big/blob.bin",
    onProgress: (transferred, total) => {
      if (total !== bigBytes) throw new Error(`download progress total ${total}`);
      downProgress.push(transferred);
    },
  });
  const received = createHash("sha256");
  let receivedBytes = 0;
  for await (const chunk of big.stream) {
    received.update(chunk as Buffer);
    receivedBytes += (chunk as Buffer).length;
  }
  const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > (xs[i - 1] as number));
  out.large = {
    size: up.size,
    serverShaMatches: up.sha256 === sentSha,
    downloadShaMatches: received.digest("hex") === sentSha,
    receivedBytes,
    upProgress: { calls: upProgress.length, last: upProgress.at(-1), increasing: increasing(upProgress) },
    downProgress: {
      calls: downProgress.length,
      last: downProgress.at(-1),
      increasing: increasing(downProgress),
    },
  };
  console.log(JSON.stringify(out));
} finally {
  storage.close();
  reader.close();
  stranger.close();
  await rm(scratch, { recursive: true, force: true });
}
