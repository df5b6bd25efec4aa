/**
 * Run by test/node-package.test.ts inside the fresh project that installed the packed
 * @lumenslate/storage-client tarball: uploadFile and downloadToFile of a file above the direct
 * threshold (64 MiB by default) straight to and from MinIO, forced through the service with
 * `transfer: "proxy"`, a direct download of an object whose recorded sha256 is not its bytes', and
 * against a service on the local backend, where "auto" goes through the service. Prints one JSON
 * line of findings; the suite checks the service's side (sessions, audit, index).
 *
 * Env: LSS_ADDRESS, LSS_TOKEN, LSS_BUCKET (a MinIO-backed service); LSS_ROT_KEY (an object there
 * whose recorded sha256 the suite falsified); LSS_LOCAL_ADDRESS, LSS_LOCAL_TOKEN, LSS_LOCAL_BUCKET
 * (a local-backend service).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  DataCorruptedError,
  StorageClientError,
  UnsupportedOperationError,
  type UploadResult,
} from "@lumenslate/storage-client";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const bucket = env("LSS_BUCKET");
const localBucket = env("LSS_LOCAL_BUCKET");
const storage = connect(env("LSS_ADDRESS"), { token: env("LSS_TOKEN") });
const local = connect(env("LSS_LOCAL_ADDRESS"), { token: env("LSS_LOCAL_TOKEN") });
const scratch = await mkdtemp(join(tmpdir(), "lss-direct-"));
const out: Record<string, unknown> = {};

async function failure(promise: Promise<unknown>): Promise<StorageClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StorageClientError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

/** Progress as the checks need it: how many calls, the last value, always growing. */
function recorder() {
  const seen: number[] = [];
  return {
    onProgress: (transferred: number) => {
      seen.push(transferred);
    },
    summary: () => ({
      last: seen.at(-1),
      increasing: seen.every((x, i) => i === 0 || x > (seen[i - 1] as number)),
    }),
  };
}

try {
  // A text prefix, so the service's content check never takes the random bytes for a format.
  const data = Buffer.concat([Buffer.from("model weights, in a test\n"), randomBytes(70 * 1024 * 1024)]);
  const sha = sha256(data);
  const file = join(scratch, "weights.bin");
  await writeFile(file, data);
  const uploaded = (r: UploadResult) => ({ size: r.size, shaMatches: r.sha256 === sha });

  const up = recorder();
  const direct = await storage.uploadFile(file, { bucket, objectName: "direct/weights.bin", ...up });
  const stat = await storage.stat({ bucket, objectName: "direct/weights.bin" });
  const down = recorder();
  const copy = join(scratch, "weights.copy");
  const fetched = await storage.downloadToFile(copy, { bucket, objectName: "direct/weights.bin", ...down });
  out.direct = {
    uploaded: uploaded(direct),
    statShaMatches: stat.sha256 === sha,
    upProgress: up.summary(),
    downloaded: sha256(await readFile(copy)) === sha,
    downloadedInfo: fetched.sha256 === sha && fetched.size === data.length,
    downProgress: down.summary(),
  };

  const proxied = await storage.uploadFile(file, {
    bucket,
    objectName: "proxied/weights.bin",
    transfer: "proxy",
  });
  const proxiedCopy = join(scratch, "proxied.copy");
  await storage.downloadToFile(proxiedCopy, { bucket, objectName: "proxied/weights.bin", transfer: "proxy" });
  out.proxy = { uploaded: uploaded(proxied), downloaded: sha256(await readFile(proxiedCopy)) === sha };

  const rotten = await failure(
    storage.downloadToFile(join(scratch, "rot.bin"), {
      bucket,
      objectName: env("LSS_ROT_KEY"),
      transfer: "direct",
    }),
  );
  out.rot = {
    name: rotten.name,
    isCorrupted: rotten instanceof DataCorruptedError,
    sha256InDetails: rotten.details.sha256,
  };

  const fallback = await local.uploadFile(file, { bucket: localBucket, objectName: "fallback/weights.bin" });
  const localCopy = join(scratch, "local.copy");
  await local.downloadToFile(localCopy, { bucket: localBucket, objectName: "fallback/weights.bin" });
  const forced = await failure(
    local.uploadFile(file, { bucket: localBucket, objectName: "fallback/forced.bin", transfer: "direct" }),
  );
  const forcedDown = await failure(
    local.downloadToFile(join(scratch, "forced.copy"), {
      bucket: localBucket,
      objectName: "fallback/weights.bin",
      transfer: "direct",
    }),
  );
  out.local = {
    uploaded: uploaded(fallback),
    downloaded: sha256(await readFile(localCopy)) === sha,
    forcedUpload: { name: forced.name, unsupported: forced instanceof UnsupportedOperationError },
    forcedDownload: forcedDown.code,
  };
  out.leftFiles = (await readdir(scratch)).filter((f) => f.includes(".partial-") || f === "rot.bin");
  console.log(JSON.stringify(out));
} finally {
  storage.close();
  local.close();
  await rm(scratch, { recursive: true, force: true });
}
