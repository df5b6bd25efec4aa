import type { ListedObject } from "../backends/object-store.ts";
import type { ObjectRecord } from "../metadata/repository.ts";
import type { CoreContext } from "./core-context.ts";
import type { ReadPath } from "./read-path.ts";

export interface ReconcileOptions {
  /** false (default): only report. */
  repair: boolean;
  /** Objects without rows are adopted into the index by default (they may come from presigned PUTs); true deletes them instead. */
  deleteUnindexed?: boolean;
  /** Incomplete multipart uploads older than this are reported, and aborted when repairing. */
  staleUploadHours?: number;
}

export interface BucketReport {
  bucket: string;
  objects: number;
  rows: number;
  /** Index rows whose object is gone (for example expired by a lifecycle rule). */
  rowsWithoutObjects: string[];
  /** Objects the index does not know (presigned uploads, failed compensation). */
  objectsWithoutRows: string[];
  /** Keys present on both sides whose size or ETag differs (a stale row: the key was rewritten around the service). */
  mismatched: string[];
  staleUploads: string[];
  repaired: number;
}

export const orphanCount = (r: BucketReport) =>
  r.rowsWithoutObjects.length + r.objectsWithoutRows.length + r.mismatched.length;

async function* storeObjects(core: CoreContext, bucket: string): AsyncGenerator<ListedObject> {
  let cursor: string | undefined;
  do {
    const page = await core.store.list(bucket, { limit: 1000, ...(cursor ? { cursor } : {}) });
    yield* page.objects;
    cursor = page.nextCursor;
  } while (cursor);
}

const compareKeys = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Finds drift between the object store and the metadata index, both ways, by walking both in key
 * order side by side (memory stays flat however large the bucket), and optionally repairs it.
 */
export async function reconcileBucket(
  core: CoreContext,
  reads: ReadPath,
  bucket: string,
  options: ReconcileOptions,
): Promise<BucketReport> {
  const report: BucketReport = {
    bucket,
    objects: 0,
    rows: 0,
    rowsWithoutObjects: [],
    objectsWithoutRows: [],
    mismatched: [],
    staleUploads: [],
    repaired: 0,
  };
  const objects = storeObjects(core, bucket);
  const rows = core.index.latestRows(bucket);
  let object = await objects.next();
  let row = await rows.next();
  while (!object.done || !row.done) {
    const order = object.done ? 1 : row.done ? -1 : compareKeys(object.value.key, row.value.key);
    if (order < 0 && !object.done) {
      report.objects++;
      report.objectsWithoutRows.push(object.value.key);
      if (options.repair) await adoptOrDelete(core, reads, bucket, object.value.key, options, report);
      object = await objects.next();
    } else if (order > 0 && !row.done) {
      report.rows++;
      report.rowsWithoutObjects.push(row.value.key);
      if (options.repair) await dropRow(core, row.value, report);
      row = await rows.next();
    } else if (!object.done && !row.done) {
      report.objects++;
      report.rows++;
      if (object.value.size !== row.value.size || object.value.etag !== row.value.etag) {
        report.mismatched.push(object.value.key);
        if (options.repair)
          await adoptOrDelete(
            core,
            reads,
            bucket,
            object.value.key,
            { ...options, deleteUnindexed: false },
            report,
          );
      }
      object = await objects.next();
      row = await rows.next();
    }
  }
  const cutoff = Date.now() - (options.staleUploadHours ?? 24) * 3600_000;
  for (const upload of await core.store.listIncompleteUploads(bucket)) {
    if (upload.initiated.getTime() > cutoff) continue;
    report.staleUploads.push(upload.key);
    if (options.repair) {
      await core.store.abortIncompleteUpload(bucket, upload);
      report.repaired++;
    }
  }
  return report;
}

async function adoptOrDelete(
  core: CoreContext,
  reads: ReadPath,
  bucket: string,
  key: string,
  options: ReconcileOptions,
  report: BucketReport,
): Promise<void> {
  if (options.deleteUnindexed) {
    await core.store.delete(bucket, key);
  } else {
    const head = await core.store.head(bucket, key);
    const sha256 = await reads.hashObject(bucket, key, head.versionId);
    await core.index.recordVersion({
      bucket,
      key,
      versionId: head.versionId,
      size: head.size,
      sha256,
      etag: head.etag,
      contentType: head.contentType,
      metadata: head.metadata,
      owner: "reconcile",
    });
  }
  report.repaired++;
}

async function dropRow(core: CoreContext, row: ObjectRecord, report: BucketReport): Promise<void> {
  await core.index.removeVersion(row.bucket, row.key, row.versionId);
  report.repaired++;
}
