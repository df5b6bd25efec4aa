import type { StorageService } from "../../core/storage-service.ts";
import { StorageError } from "../../errors.ts";
import { checkService } from "./keys.ts";
import { childNames, listAll } from "./listing.ts";

/**
 * Rotation deletes whole date partitions (`{service}/{date}/`) whose date — the log's own date in
 * the key, not when it was uploaded — is more than `retentionDays` before today (UTC). A log
 * uploaded late for an old date is therefore removed with its partition. Deletes go through
 * StorageService.deleteByPrefix (batched, index kept in step). Dry run unless `dryRun: false`.
 */

export interface RotateRequest {
  service: string;
  retentionDays: number;
  /** Default true: report what would go, delete nothing. */
  dryRun?: boolean;
  now?: Date;
  signal?: AbortSignal;
}

export interface RotatedPartition {
  date: string;
  objects: number;
  bytes: number;
  /** With dryRun false: objects deleted and failed. */
  deleted?: number;
  failed?: number;
}

export interface RotateReport {
  service: string;
  retentionDays: number;
  dryRun: boolean;
  /** Partitions with a date before this one (YYYY-MM-DD) are rotated. */
  cutoff: string;
  partitions: RotatedPartition[];
  objects: number;
  bytes: number;
  deleted: number;
  failed: number;
}

const DAY_MS = 86_400_000;

export async function rotateLogs(
  deps: { service: StorageService; bucket: string },
  req: RotateRequest,
): Promise<RotateReport> {
  const service = checkService(req.service);
  if (!Number.isInteger(req.retentionDays) || req.retentionDays < 1 || req.retentionDays > 36_500) {
    throw new StorageError("INVALID_ARGUMENT", "retentionDays must be a whole number from 1 to 36500.", {
      field: "retentionDays",
    });
  }
  const dryRun = req.dryRun ?? true;
  const today = Math.floor((req.now ?? new Date()).getTime() / DAY_MS);
  const cutoff = new Date((today - req.retentionDays) * DAY_MS).toISOString().slice(0, 10);
  const dates = (await childNames(deps.service, deps.bucket, `${service}/`))
    .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && d < cutoff)
    .sort();
  const report: RotateReport = {
    service,
    retentionDays: req.retentionDays,
    dryRun,
    cutoff,
    partitions: [],
    objects: 0,
    bytes: 0,
    deleted: 0,
    failed: 0,
  };
  for (const date of dates) {
    req.signal?.throwIfAborted();
    const prefix = `${service}/${date}/`;
    const partition: RotatedPartition = { date, objects: 0, bytes: 0 };
    for await (const o of listAll(deps.service, deps.bucket, prefix)) {
      partition.objects++;
      partition.bytes += o.size;
    }
    if (!dryRun) {
      const r = await deps.service.deleteByPrefix(
        deps.bucket,
        prefix,
        req.signal ? { signal: req.signal } : {},
      );
      partition.deleted = r.deleted;
      partition.failed = r.failed;
      report.deleted += r.deleted;
      report.failed += r.failed;
    }
    report.partitions.push(partition);
    report.objects += partition.objects;
    report.bytes += partition.bytes;
  }
  return report;
}
