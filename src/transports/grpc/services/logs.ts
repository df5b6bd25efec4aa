import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import type { LogArchive } from "../../../stores/logs/index.ts";
import type { GetLogsByDateResponse } from "../generated/lumenslate/storage/v1/GetLogsByDateResponse.ts";
import type { LogStorageServiceHandlers } from "../generated/lumenslate/storage/v1/LogStorageService.ts";
import type { InFlight } from "./call-scope.ts";
import { fileInfo } from "./convert.ts";
import { send, serverStreaming } from "./download.ts";
import { unary } from "./storage-service.ts";

export interface LogHandlerDeps {
  logs: LogArchive;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

/** Empty proto3 strings mean "not given". */
const given = <K extends string>(name: K, value: string) =>
  (value ? { [name]: value } : {}) as Partial<Record<K, string>>;

/**
 * lumenslate.storage.v1.LogStorageService on the log archive (stores/logs). Each handler authorizes
 * on the service's prefix in the logs bucket before the store is asked anything; uploads, appends,
 * compactions and rotations that delete are audited. Validation comes from the store.
 */
export function logStorageHandlers(deps: LogHandlerDeps): LogStorageServiceHandlers {
  const { logs } = deps;
  const bucket = logs.bucket;
  const prefix = (service: string) => `${service}/`;
  // A message of lines stays well under the limit (each line may be up to the limit on its own).
  const batchBytes = Math.min(1024 * 1024, Math.floor(deps.maxMessageBytes / 2));

  return {
    UploadLogFile: unary(deps, (req, { gate }) =>
      gate.mutation("logs.upload", async (facts) => {
        Object.assign(facts, { bucket, key: prefix(req.serviceName) });
        await gate.allow({ action: "write", bucket, key: prefix(req.serviceName), operation: "logs.upload" });
        const info = await logs.upload(
          { service: req.serviceName, date: req.date, hour: req.hour, ...given("filename", req.filename) },
          [req.logContent],
        );
        Object.assign(facts, { key: info.key, versionId: info.versionId, bytes: info.size });
        return { file: fileInfo(info) };
      }),
    ),

    AppendLogs: unary(deps, (req, { gate }) =>
      gate.mutation("logs.append", async (facts) => {
        Object.assign(facts, { bucket, key: prefix(req.serviceName), details: { lines: req.lines.length } });
        await gate.allow({ action: "write", bucket, key: prefix(req.serviceName), operation: "logs.append" });
        if (req.lines.length === 0 || req.lines.length > 10_000) {
          throw new StorageError("INVALID_ARGUMENT", "lines must hold 1 to 10000 lines.", { field: "lines" });
        }
        const file = await logs.append(
          {
            service: req.serviceName,
            ...given("date", req.date),
            ...given("hour", req.hour),
            ...given("filename", req.filename),
          },
          req.lines,
        );
        return {
          file: { serviceName: file.service, date: file.date, hour: file.hour, filename: file.filename },
          accepted: req.lines.length,
        };
      }),
    ),

    GetLogsByDate: serverStreaming(deps, async (call, scope) => {
      const req = call.request;
      await scope.gate.allow({
        action: "read",
        bucket,
        key: prefix(req.serviceName),
        operation: "logs.read",
      });
      const lines = logs.read(
        {
          service: req.serviceName,
          date: req.date,
          ...given("fromHour", req.fromHour),
          ...given("toHour", req.toHour),
          ...given("contains", req.contains),
          ...given("regex", req.regex),
        },
        scope.signal,
      );
      let batch: GetLogsByDateResponse = { lines: [] };
      let bytes = 0;
      for await (const line of lines) {
        batch.lines?.push(line);
        bytes += Buffer.byteLength(line) + 8;
        if (bytes >= batchBytes) {
          await send(call, batch, scope.signal);
          batch = { lines: [] };
          bytes = 0;
        }
      }
      if (batch.lines?.length) await send(call, batch, scope.signal);
      call.end();
    }),

    ListLogObjects: unary(deps, async (req, { gate }) => {
      await gate.allow({
        action: "list",
        bucket,
        key: prefix(req.serviceName),
        operation: "logs.objects",
      });
      const objects = await logs.list({
        service: req.serviceName,
        date: req.date,
        ...given("fromHour", req.fromHour),
        ...given("toHour", req.toHour),
      });
      return { objects };
    }),

    CompactLogs: unary(deps, (req, { gate }) =>
      gate.mutation("logs.compact", async (facts) => {
        Object.assign(facts, { bucket, key: prefix(req.serviceName) });
        await gate.allow({
          action: ["write", "delete"],
          bucket,
          key: prefix(req.serviceName),
          operation: "logs.compact",
        });
        const r = await logs.compact({ service: req.serviceName, date: req.date, hour: req.hour });
        facts.details = { objects: r.objects, parts: r.parts };
        return {
          serviceName: r.service,
          date: r.date,
          hour: r.hour,
          objects: r.objects,
          parts: r.parts,
          conflicts: r.conflicts,
        };
      }),
    ),

    // Audited dry run or not (as POST /v1/logs/{service}/rotate): the record says which.
    RotateLogs: unary(deps, (req, { gate }) =>
      gate.mutation("logs.rotate", async (facts) => {
        Object.assign(facts, { bucket, key: prefix(req.serviceName) });
        await gate.allow({
          action: ["list", "delete"],
          bucket,
          key: prefix(req.serviceName),
          operation: "logs.rotate",
        });
        const r = await logs.rotate({
          service: req.serviceName,
          ...(req.retentionDays === undefined ? {} : { retentionDays: req.retentionDays }),
          ...(req.dryRun === undefined ? {} : { dryRun: req.dryRun }),
        });
        Object.assign(facts, {
          bytes: r.bytes,
          details: { dryRun: r.dryRun, cutoff: r.cutoff, objects: r.objects, deleted: r.deleted },
        });
        return {
          serviceName: r.service,
          retentionDays: r.retentionDays,
          dryRun: r.dryRun,
          cutoff: r.cutoff,
          partitions: r.partitions,
          objects: r.objects,
          bytes: r.bytes,
          deleted: r.deleted,
          failed: r.failed,
        };
      }),
    ),
  };
}
