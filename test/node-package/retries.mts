/**
 * Run by test/node-package.test.ts inside the fresh project that installed the packed
 * @lumenslate/storage-client tarball, against a service on a MinIO of its own that this script
 * stops and starts through the test's control endpoint (as the Python package's retry test does).
 * Prints one JSON line of findings for the test to assert on; any failure exits non-zero.
 *
 * Env: LSS_ADDRESS (host:port), LSS_TOKEN (read/write key), LSS_LIMITED_TOKEN (a key with a budget
 * of 2 calls per 2 s window), LSS_BUCKET, LSS_CONTROL_URL (POST /minio/stop, /minio/start).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  connect,
  RateLimitedError,
  type RetryEvent,
  type StorageClient,
  StorageClientError,
  UnavailableError,
} from "@lumenslate/storage-client";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const address = env("LSS_ADDRESS");
const bucket = env("LSS_BUCKET");
const scratch = await mkdtemp(join(tmpdir(), "lss-retries-"));
const clients: StorageClient[] = [];
const out: Record<string, unknown> = {};

async function control(action: "/minio/stop" | "/minio/start"): Promise<void> {
  const res = await fetch(env("LSS_CONTROL_URL") + action, { method: "POST" });
  if (res.status !== 204) throw new Error(`${action}: ${res.status} ${await res.text()}`);
}

async function failure(promise: Promise<unknown>): Promise<StorageClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StorageClientError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

/** A client whose retries are recorded under `name` and reported to `onRetry`. */
function client(
  name: string,
  events: (RetryEvent & { name: string })[],
  onRetry = () => {},
  token = env("LSS_TOKEN"),
) {
  const made = connect(address, {
    token,
    retry: {
      maxAttempts: 100,
      initialBackoffMs: 100,
      maxBackoffMs: 1_000,
      onRetry: (event) => {
        events.push({ ...event, name });
        onRetry();
      },
    },
  });
  clients.push(made);
  return made;
}

try {
  // 1. Through a MinIO restart: a one-shot stream fails at once; replayable calls wait it out.
  const events: (RetryEvent & { name: string })[] = [];
  const names = ["buffer", "file", "download"];
  let restart: Promise<void> | undefined;
  // MinIO comes back only once every replayable call has failed and is waiting to retry.
  const startWhenAllWait = () => {
    if (!restart && names.every((n) => events.some((e) => e.name === n))) restart = control("/minio/start");
  };
  const [buffer, file, download, oneShot] = [...names, "one-shot"].map((n) =>
    client(n, events, startWhenAllWait),
  );
  if (!buffer || !file || !download || !oneShot) throw new Error("unreachable");
  await buffer.upload("before", { bucket, objectName: "retry/before.txt" });
  const path = join(scratch, "file.txt");
  await writeFile(path, "a file, sent again");

  await control("/minio/stop");
  try {
    const pipe = Readable.from([Buffer.from("once only")]);
    const refused = await failure(oneShot.upload(pipe, { bucket, objectName: "retry/pipe.txt" }));
    out.oneShot = {
      name: refused.name,
      code: refused.code,
      isUnavailable: refused instanceof UnavailableError,
      retries: events.length,
    };
    const copy = join(scratch, "before-copy.txt");
    const [stored, storedFile, got] = await Promise.all([
      buffer.upload(Buffer.from("during the restart"), { bucket, objectName: "retry/during.txt" }),
      file.uploadFile(path, { bucket, objectName: "retry/file.txt" }),
      download.downloadToFile(copy, { bucket, objectName: "retry/before.txt", verify: true }),
    ]);
    out.restart = {
      storedSize: stored.size,
      fileSize: storedFile.size,
      downloadedSize: got.size,
      downloaded: await readFile(copy, "utf8"),
    };
  } finally {
    await (restart ?? control("/minio/start"));
  }
  const perCall = Object.fromEntries(
    names.map((n) => {
      const mine = events.filter((e) => e.name === n);
      return [
        n,
        {
          methods: [...new Set(mine.map((e) => e.method))],
          codes: [...new Set(mine.map((e) => e.error.code))],
          attemptsInOrder: mine.every((e, i) => e.attempt === i + 1),
          retried: mine.length > 0,
        },
      ];
    }),
  );
  out.retries = perCall;
  out.oneShotRetries = events.filter((e) => e.name === "one-shot").length;
  const read = async (objectName: string) =>
    Buffer.concat(await (await buffer.downloadStream({ bucket, objectName })).stream.toArray()).toString();
  out.afterwards = {
    before: await read("retry/before.txt"),
    during: await read("retry/during.txt"),
    file: await read("retry/file.txt"),
    pipeStored: await buffer.stat({ bucket, objectName: "retry/pipe.txt" }).then(
      () => true,
      () => false,
    ),
  };

  // 2. RATE_LIMITED: without retries the error carries the retry-after; with them, it is waited out.
  const limitedToken = env("LSS_LIMITED_TOKEN");
  const once = connect(address, { token: limitedToken, retry: { maxAttempts: 1 } });
  clients.push(once);
  let limited: StorageClientError | undefined;
  for (let i = 0; i < 10 && !limited; i++) {
    limited = await once.list({ bucket, prefix: "none/" }).then(
      () => undefined,
      (err: unknown) => (err instanceof StorageClientError ? err : Promise.reject(err)),
    );
  }
  const waits: (RetryEvent & { name: string })[] = [];
  const patient = client("patient", waits, () => {}, limitedToken);
  let listed = 0;
  for (let i = 0; i < 10 && waits.length === 0; i++)
    listed += (await patient.list({ bucket, prefix: "none/" })).files.length;
  const first = waits[0];
  out.rateLimited = {
    isRateLimited: limited instanceof RateLimitedError,
    retryAfterGiven: (limited?.retryAfterSeconds ?? 0) > 0,
    patientWaited: first !== undefined,
    waitedCode: first?.error.code,
    waitedAtLeastRetryAfter:
      first !== undefined && first.delayMs >= (first.error.retryAfterSeconds ?? Infinity) * 1000,
    listed,
  };
  console.log(JSON.stringify(out));
} finally {
  for (const c of clients) c.close();
  await rm(scratch, { recursive: true, force: true });
}
