import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { AppContext } from "../app.ts";
import { expiryOf } from "../core/expiry.ts";
import { StorageError } from "../errors.ts";
import type { AuditEvent } from "../security/audit.ts";
import type { SweepReport, TempObject } from "../stores/temp/types.ts";

/** Temp storage (stores/temp) for the `temp` commands, locally or through /v1/temp. */
export interface TempApi {
  put(req: TempPutRequest): Promise<TempObject>;
  get(key: string, signal: AbortSignal): Promise<TempDownload>;
  sweep(req: { dryRun: boolean; batchSize?: number }): Promise<SweepReport>;
}

export interface TempDownload {
  key: string;
  size: number;
  /** Undefined for an object in the temp bucket written without an expiry (the lifecycle rule's). */
  expiresAt: Date | undefined;
  body: Readable;
}

export interface TempPutRequest {
  file: string;
  key: string;
  ttlSeconds?: number;
  expiresAt?: Date;
  contentType?: string;
  /** Recorded in local mode; a service records the calling key's service instead. */
  owner: string;
  signal: AbortSignal;
}

/** The size of a regular file to upload, or INVALID_ARGUMENT naming it. */
export async function uploadSize(file: string): Promise<number> {
  const stats = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new StorageError("INVALID_ARGUMENT", `Cannot read ${file}: ${err.code ?? err.message}`, {
      field: "path",
    });
  });
  if (!stats.isFile()) {
    throw new StorageError("INVALID_ARGUMENT", `${file} is not a regular file.`, { field: "path" });
  }
  return stats.size;
}

type Audited = <T>(
  event: Omit<AuditEvent, "result">,
  run: () => Promise<T>,
  describe?: (result: T) => Partial<AuditEvent>,
) => Promise<T>;

/** Local mode: the app's temp store, with the CLI's audit records (see local-api.ts). */
export function localTemp(app: AppContext, audited: Audited): TempApi {
  const temp = app.tempStore;
  return {
    put: async (req) => {
      const size = await uploadSize(req.file);
      return audited(
        { action: "temp.put", service: req.owner, bucket: temp.bucket, key: req.key },
        () =>
          temp.put({
            key: req.key,
            body: createReadStream(req.file),
            expectedSize: size,
            owner: req.owner,
            signal: req.signal,
            ...(req.ttlSeconds === undefined ? {} : { ttlSeconds: req.ttlSeconds }),
            ...(req.expiresAt === undefined ? {} : { expiresAt: req.expiresAt }),
            ...(req.contentType ? { contentType: req.contentType } : {}),
          }),
        (stored) => ({ versionId: stored.info.versionId, bytes: stored.info.size }),
      );
    },
    get: async (key, signal) => {
      const got = await temp.get(key, { signal });
      return {
        key: got.info.key,
        size: got.info.size,
        expiresAt: expiryOf(got.info.metadata),
        body: got.body,
      };
    },
    sweep: (req) => {
      const run = () => temp.sweep(req);
      // A dry run changes nothing: no record, as for reconcile.
      if (req.dryRun) return run();
      return audited({ action: "temp.sweep", service: "cli", bucket: temp.bucket }, run, (report) => ({
        bytes: report.bytes,
      }));
    },
  };
}
