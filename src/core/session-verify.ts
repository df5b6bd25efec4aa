import { pipeline } from "node:stream/promises";
import { NULL_VERSION, type PutResult } from "../backends/object-store.ts";
import { StorageError } from "../errors.ts";
import type { SessionRow } from "../metadata/upload-sessions.ts";
import type { CoreContext } from "./core-context.ts";
import { executableScannerFor } from "./executable-scan.ts";
import { IngestGuard } from "./ingest.ts";
import { extensionOf } from "./keys.ts";

/**
 * Reads an upload session's assembled object back through the same pass as an upload's bytes
 * (IngestGuard: counts and hashes, scans for executables hidden inside): the declared size and
 * sha256 must hold. The store checked each part's sha256, but only the whole object's digest says
 * the parts are the declared object, in the declared order. Memory is bounded by the stream.
 * Refusals are PRECONDITION_FAILED (size, sha256, replaced meanwhile) or UNSUPPORTED_TYPE.
 */
export async function verifyAssembled(
  core: CoreContext,
  row: SessionRow,
  stored: PutResult,
  signal?: AbortSignal,
): Promise<void> {
  const versionId = stored.versionId === NULL_VERSION ? undefined : stored.versionId;
  const got = await core.store.get(row.bucket, row.key, {
    ...(versionId ? { versionId } : {}),
    ...(signal ? { signal } : {}),
  });
  if (got.head.etag !== stored.etag) {
    // An unversioned key written again since the store assembled ours: those bytes are not ours to judge.
    got.body.destroy();
    throw new StorageError(
      "PRECONDITION_FAILED",
      "The object was replaced while the session was being completed.",
      {
        field: "etag",
      },
    );
  }
  const guard = new IngestGuard(
    { maxBytes: row.size, expectedSize: row.size, expectedSha256: row.sha256 },
    executableScannerFor(extensionOf(row.key)),
    core.hashing,
  );
  const consume = async (source: AsyncIterable<Buffer>) => {
    for await (const _ of source);
  };
  await pipeline(got.body, guard, consume, ...(signal ? [{ signal }] : []));
}
