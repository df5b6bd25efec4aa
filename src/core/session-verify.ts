import { pipeline } from "node:stream/promises";
import { NULL_VERSION, type PutResult } from "../backends/object-store.ts";
import { isStorageError, StorageError } from "../errors.ts";
import type { SessionRow, UploadSessionTable } from "../metadata/upload-sessions.ts";
import type { CoreContext } from "./core-context.ts";
import { executableScannerFor } from "./executable-scan.ts";
import type { IndexSync } from "./index-sync.ts";
import { IngestGuard } from "./ingest.ts";
import { extensionOf } from "./keys.ts";
import { peek } from "./peek.ts";
import { infoOf } from "./session-types.ts";
import { SNIFF_BYTES, sniffContent } from "./sniff.ts";
import type { ObjectInfo } from "./types.ts";

/** What completion's read-back refuses: a size or sha256 mismatch, or content its name or type belies. */
const REFUSED_CONTENT: ReadonlySet<string> = new Set(["PRECONDITION_FAILED", "UNSUPPORTED_TYPE"]);

/**
 * Reads an upload session's assembled object back through the same pass as an upload's bytes: the
 * first bytes through the magic-byte sniffer (sniff.ts: a `.pdf` that is no PDF, an executable under
 * any other name, a declared type the bytes contradict), then everything through IngestGuard (counts
 * and hashes, scans for executables hidden further in): the declared size and sha256 must hold. The
 * store checked each part's sha256, but only the whole object's digest says the parts are the
 * declared object, in the declared order. Memory is bounded by the stream. Refusals are
 * PRECONDITION_FAILED (size, sha256, replaced meanwhile) or UNSUPPORTED_TYPE.
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
  const extension = extensionOf(row.key);
  const { head, stream } = await peek(got.body, SNIFF_BYTES);
  try {
    await sniffContent({ head, extension, declaredType: row.contentType });
  } catch (err) {
    stream.destroy();
    throw err;
  }
  const guard = new IngestGuard(
    { maxBytes: row.size, expectedSize: row.size, expectedSha256: row.sha256 },
    executableScannerFor(extension),
    core.hashing,
  );
  const consume = async (source: AsyncIterable<Buffer>) => {
    for await (const _ of source);
  };
  await pipeline(stream, guard, consume, ...(signal ? [{ signal }] : []));
}

/**
 * The end of a completion, once the store has assembled the object: verified, then recorded in the
 * index (IndexSync: one row, under the key's lock) and the session marked completed; or refused,
 * the object taken back and the session aborted. Either way the session is finished when this
 * returns; any other failure throws and leaves it claimed, for the caller to release and retry.
 */
export async function settleAssembled(
  deps: { core: CoreContext; sync: IndexSync; table: UploadSessionTable },
  row: SessionRow,
  stored: PutResult,
  signal?: AbortSignal,
): Promise<{ info: ObjectInfo } | { refused: StorageError }> {
  const { core, sync, table } = deps;
  try {
    await verifyAssembled(core, row, stored, signal);
  } catch (err) {
    if (!(isStorageError(err) && REFUSED_CONTENT.has(err.code))) throw err;
    // The bytes are not what was declared (or are not what their name says): they never become an
    // object of the service.
    await sync.withdraw({ bucket: row.bucket, key: row.key, ...stored });
    await table.finish(row.id, "aborted", new Date());
    const refused = new StorageError(
      err.code,
      `${err.message} The assembled object was removed and the session aborted: start a new session.`,
      { ...err.details, bucket: row.bucket, key: row.key },
      { cause: err },
    );
    return { refused };
  }
  await sync.record({
    bucket: row.bucket,
    key: row.key,
    versionId: stored.versionId,
    size: row.size,
    sha256: row.sha256,
    etag: stored.etag,
    contentType: row.contentType,
    metadata: row.metadata,
    owner: row.owner,
  });
  const completedAt = new Date();
  await table.finish(row.id, "completed", completedAt);
  return { info: infoOf({ ...row, versionId: stored.versionId, etag: stored.etag, completedAt }) };
}
