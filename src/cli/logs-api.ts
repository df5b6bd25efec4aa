import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { AppContext } from "../app.ts";
import type { AuditEvent } from "../security/audit.ts";
import type { CompactResult, DayQuery, RotateReport } from "../stores/logs/index.ts";
import { uploadSize } from "./temp-api.ts";

/** The log archive (stores/logs) for the `logs` commands, locally or through /v1/logs. */
export interface LogsApi {
  upload(req: LogUploadRequest): Promise<{ key: string; size: number }>;
  /** The day's lines as text, one per line (each ending in "\n"). */
  read(query: DayQuery, signal: AbortSignal): Promise<Readable>;
  rotate(req: { service: string; retentionDays?: number; dryRun: boolean }): Promise<RotateReport>;
  compact(req: { service: string; date: string; hour: string }): Promise<CompactResult>;
}

export interface LogUploadRequest {
  service: string;
  date: string;
  hour: string;
  filename?: string;
  file: string;
  /** Recorded in local mode; a service records the calling key's service instead. */
  owner: string;
  signal: AbortSignal;
}

type Audited = <T>(
  event: Omit<AuditEvent, "result">,
  run: () => Promise<T>,
  describe?: (result: T) => Partial<AuditEvent>,
) => Promise<T>;

/** Local mode: the app's log archive, with the CLI's audit records (see local-api.ts). */
export function localLogs(app: AppContext, audited: Audited): LogsApi {
  const logs = app.logArchive;
  const bucket = logs.bucket;
  return {
    upload: async (req) => {
      await uploadSize(req.file);
      return audited(
        { action: "logs.upload", service: req.owner, bucket, key: `${req.service}/` },
        async () => {
          const info = await logs.upload(
            {
              service: req.service,
              date: req.date,
              hour: req.hour,
              ...(req.filename ? { filename: req.filename } : {}),
            },
            createReadStream(req.file),
          );
          return { key: info.key, size: info.size };
        },
        (r) => ({ key: r.key, bytes: r.size }),
      );
    },
    read: async (query, signal) => {
      const lines = logs.read(query, signal);
      // The first line is read here so that a bad query fails before any output.
      const first = await lines.next();
      async function* text(): AsyncGenerator<string> {
        if (first.done) return;
        yield `${first.value}\n`;
        for await (const line of lines) yield `${line}\n`;
      }
      return Readable.from(text());
    },
    rotate: (req) => {
      const run = () =>
        logs.rotate({
          service: req.service,
          dryRun: req.dryRun,
          ...(req.retentionDays ? { retentionDays: req.retentionDays } : {}),
        });
      return audited({ action: "logs.rotate", service: "cli", bucket, key: `${req.service}/` }, run, (r) => ({
        bytes: r.bytes,
        details: { dryRun: r.dryRun, cutoff: r.cutoff, objects: r.objects, deleted: r.deleted },
      }));
    },
    compact: (req) =>
      audited(
        { action: "logs.compact", service: "cli", bucket, key: `${req.service}/` },
        () => logs.compact(req),
        (r) => ({
          details: { objects: r.objects, parts: r.parts },
        }),
      ),
  };
}
