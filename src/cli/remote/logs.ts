import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { StorageError } from "../../errors.ts";
import type { CompactResult, RotateReport } from "../../stores/logs/index.ts";
import type { LogsApi } from "../logs-api.ts";
import { uploadSize } from "../temp-api.ts";
import type { ServiceClient } from "./client.ts";

/** The log archive through the service's /v1/logs routes. */
export function remoteLogs(client: ServiceClient): LogsApi {
  const seg = encodeURIComponent;
  return {
    upload: async (req) => {
      const size = await uploadSize(req.file);
      const file = createReadStream(req.file);
      try {
        const res = await client.send(
          `/v1/logs/${seg(req.service)}/${seg(req.date)}/${seg(req.hour)}/${seg(req.filename ?? "app")}`,
          {
            method: "PUT",
            headers: { "content-length": String(size), "content-type": "text/plain" },
            body: Readable.toWeb(file) as unknown as RequestInit["body"],
            duplex: "half",
            signal: req.signal,
          } as RequestInit,
          "logs upload",
        );
        const json = (await res.json()) as { key: string; size: number };
        return { key: json.key, size: json.size };
      } finally {
        file.destroy();
      }
    },
    read: async (q, signal) => {
      const query = new URLSearchParams();
      for (const name of ["fromHour", "toHour", "contains", "regex"] as const) {
        const value = q[name];
        if (value !== undefined) query.set(name, String(value));
      }
      const res = await client.send(
        `/v1/logs/${seg(q.service)}/${seg(q.date)}${query.size ? `?${query}` : ""}`,
        { signal },
        "logs read",
      );
      if (!res.body) throw new StorageError("INTERNAL", "logs read: the service sent no body.");
      return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    },
    rotate: (req) =>
      client.json<RotateReport>(
        "POST",
        `/v1/logs/${seg(req.service)}/rotate`,
        { dryRun: req.dryRun, ...(req.retentionDays ? { retentionDays: req.retentionDays } : {}) },
        "logs rotate",
      ),
    compact: (req) =>
      client.json<CompactResult>(
        "POST",
        `/v1/logs/${seg(req.service)}/${seg(req.date)}/${seg(req.hour)}/compact`,
        undefined,
        "logs compact",
      ),
  };
}
