import type { ListedObject } from "../backends/object-store.ts";
import { compareKeys } from "../metadata/listing.ts";
import type { IndexEntry } from "../metadata/repository.ts";
import type { CoreContext } from "./core-context.ts";
import type { ReadPath } from "./read-path.ts";

export interface ReconcileOptions {
  /** false (default): only report. */
  repair: boolean;
  /** Objects without rows are adopted into the index by default (they may come from presigned PUTs); true deletes them instead. */
  deleteUnindexed?: boolean;
  /** Incomplete multipart uploads older than this are reported, and aborted when repairing. */
  staleUploadHours?: number;
  /** Multipart uploads of open upload sessions: never stale, they end with their session. */
  liveUploads?: ReadonlySet<string>;
  /** Called as the walk goes (every PROGRESS_EVERY keys, and once at the end), for a progress display. */
  onProgress?: (progress: ReconcileProgress) => void;
}

export interface ReconcileProgress {
  bucket: string;
  /** Objects and index rows walked so far. */
  objects: number;
  rows: number;
  /** Drift found so far (rows without objects, objects without rows, mismatches). */
  orphans: number;
  repaired: number;
}

/** Keys each list of a report names at most; the rest are counted in `unlisted`. */
export const MAX_REPORTED_KEYS = 1000;
const PROGRESS_EVERY = 1000;

type KeyList = "rowsWithoutObjects" | "objectsWithoutRows" | "mismatched" | "staleUploads";

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
  /**
   * Keys found beyond the first MAX_REPORTED_KEYS of a list (present only when a list was cut), so
   * a report stays small however much drift a large bucket has.
   */
  unlisted?: Partial<Record<KeyList, number>>;
}

/** How many keys a list of the report found, named or not. */
export const foundCount = (r: BucketReport, list: KeyList) => r[list].length + (r.unlisted?.[list] ?? 0);

export const orphanCount = (r: BucketReport) =>
  foundCount(r, "rowsWithoutObjects") + foundCount(r, "objectsWithoutRows") + foundCount(r, "mismatched");

/** Names the key in the report's list, or counts it once the list holds MAX_REPORTED_KEYS. */
function note(report: BucketReport, list: KeyList, key: string): void {
  if (report[list].length < MAX_REPORTED_KEYS) {
    report[list].push(key);
    return;
  }
  report.unlisted ??= {};
  report.unlisted[list] = (report.unlisted[list] ?? 0) + 1;
}

/** Every current object of a bucket as the store lists it, in key order, a page at a time. */
export async function* storeObjects(
  core: Pick<CoreContext, "store">,
  bucket: string,
): AsyncGenerator<ListedObject> {
  let cursor: string | undefined;
  do {
    const page = await core.store.list(bucket, { limit: 1000, ...(cursor ? { cursor } : {}) });
    yield* page.objects;
    cursor = page.nextCursor;
  } while (cursor);
}

/**
 * Finds drift between the object store and the metadata index, both ways, by walking both in key
 * order side by side, a listing page of each at a time, and optionally repairs it. Memory stays
 * flat however large the bucket: the report names at most MAX_REPORTED_KEYS keys per list.
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
  const rows = core.index.latestEntries(bucket);
  let object = await objects.next();
  let row = await rows.next();
  let nextProgress = PROGRESS_EVERY;
  const progress = () =>
    options.onProgress?.({
      bucket,
      objects: report.objects,
      rows: report.rows,
      orphans: orphanCount(report),
      repaired: report.repaired,
    });
  while (!object.done || !row.done) {
    if (report.objects + report.rows >= nextProgress) {
      progress();
      nextProgress += PROGRESS_EVERY;
    }
    const order = object.done ? 1 : row.done ? -1 : compareKeys(object.value.key, row.value.key);
    if (order < 0 && !object.done) {
      report.objects++;
      note(report, "objectsWithoutRows", object.value.key);
      if (options.repair) await adoptOrDelete(core, reads, bucket, object.value.key, options, report);
      object = await objects.next();
    } else if (order > 0 && !row.done) {
      report.rows++;
      note(report, "rowsWithoutObjects", row.value.key);
      if (options.repair) await dropRow(core, bucket, row.value, report);
      row = await rows.next();
    } else if (!object.done && !row.done) {
      report.objects++;
      report.rows++;
      if (object.value.size !== row.value.size || object.value.etag !== row.value.etag) {
        note(report, "mismatched", object.value.key);
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
    if (upload.initiated.getTime() > cutoff || options.liveUploads?.has(upload.uploadId)) continue;
    note(report, "staleUploads", upload.key);
    if (options.repair) {
      await core.store.abortIncompleteUpload(bucket, upload);
      report.repaired++;
    }
  }
  progress();
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

async function dropRow(
  core: CoreContext,
  bucket: string,
  row: IndexEntry,
  report: BucketReport,
): Promise<void> {
  await core.index.removeVersion(bucket, row.key, row.versionId);
  report.repaired++;
}
