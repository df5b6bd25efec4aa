import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { expiryOf } from "../../core/expiry.ts";
import { StorageError } from "../../errors.ts";
import type { SweepReport } from "../../stores/temp/types.ts";
import { type TempApi, uploadSize } from "../temp-api.ts";
import { keyPath, type ServiceClient } from "./client.ts";
import { infoFromJson } from "./wire.ts";

/** Temp storage through the service's /v1/temp routes (the sweep: /v1/admin/temp/sweep). */
export function remoteTemp(client: ServiceClient): TempApi {
  return {
    put: async (req) => {
      const size = await uploadSize(req.file);
      const query = new URLSearchParams();
      if (req.ttlSeconds !== undefined) query.set("ttl", String(req.ttlSeconds));
      if (req.expiresAt !== undefined) query.set("expiresAt", req.expiresAt.toISOString());
      const headers = new Headers({ "content-length": String(size) });
      if (req.contentType) headers.set("content-type", req.contentType);
      const file = createReadStream(req.file);
      try {
        const res = await client.send(
          `/v1/temp/${keyPath(req.key)}${query.size ? `?${query}` : ""}`,
          {
            method: "PUT",
            headers,
            body: Readable.toWeb(file) as unknown as RequestInit["body"],
            duplex: "half",
            signal: req.signal,
          } as RequestInit,
          "temp put",
        );
        const json = (await res.json()) as { object: Parameters<typeof infoFromJson>[0]; expiresAt: string };
        return { info: infoFromJson(json.object), expiresAt: new Date(json.expiresAt) };
      } finally {
        file.destroy();
      }
    },
    get: async (key, signal) => {
      const res = await client.send(
        `/v1/temp/${keyPath(key)}`,
        { headers: { "accept-encoding": "identity" }, signal },
        "temp get",
      );
      if (!res.body) throw new StorageError("INTERNAL", "temp get: the service sent no body.");
      return {
        key,
        size: Number(res.headers.get("content-length") ?? "0"),
        expiresAt: expiryOf({ "expires-at": res.headers.get("x-meta-expires-at") ?? "" }),
        body: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      };
    },
    sweep: (req) =>
      client.json<SweepReport>(
        "POST",
        "/v1/admin/temp/sweep",
        { dryRun: req.dryRun, ...(req.batchSize ? { batchSize: req.batchSize } : {}) },
        "temp sweep",
      ),
  };
}
