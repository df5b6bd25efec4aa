import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { BucketReport } from "../../core/reconcile.ts";
import type { Download, ListResult, ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import type { ApiKeyInfoJson, AuditRecordJson } from "../../security/admin-json.ts";
import { CHECKSUM_HEADER, META_PREFIX, VERSION_HEADER } from "../../transports/http/headers.ts";
import type { ListingJson } from "../../transports/http/routes/listing.ts";
import type { ObjectInfoJson } from "../../transports/http/schemas.ts";
import type { GetOptions, IssuedKeyView, PutRequest, StorageApi } from "../api.ts";
import { remoteStats } from "../stats-api.ts";
import { objectPath, type ServiceClient, serviceClient } from "./client.ts";
import { remoteConfig } from "./config.ts";
import { directGet, directPlan, directPut, fallsBack } from "./direct.ts";
import { verifiedBody } from "./download.ts";
import { remoteLogs } from "./logs.ts";
import { remoteModels } from "./models.ts";
import { remoteProtos } from "./protos.ts";
import type { RemoteTarget } from "./target.ts";
import { remoteTemp } from "./temp.ts";
import { remoteUserData } from "./user-data.ts";
import { auditFromJson, infoFromHeaders, infoFromJson, listFromJson, reportFromJson } from "./wire.ts";

/**
 * Remote mode: every command through a service's HTTP API, so the service (and its database, and
 * its audit trail, and its key checks) sees every call. Object routes are the public /v1 API;
 * keys, audit and reconcile go to /v1/admin and need an admin key; the proto registry is /v1/protos.
 */

const UPLOAD_CHUNK = 1024 * 1024;

async function fileSize(file: string): Promise<number> {
  try {
    const stats = await stat(file);
    if (stats.isFile()) return stats.size;
  } catch (err) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { field: "path" },
    );
  }
  throw new StorageError("INVALID_ARGUMENT", `${file} is not a regular file.`, { field: "path" });
}

function uploadHeaders(req: PutRequest, size: number): Headers {
  const headers = new Headers({ "content-length": String(size) });
  if (req.contentType) headers.set("content-type", req.contentType);
  if (req.expectedSha256) headers.set(CHECKSUM_HEADER, req.expectedSha256);
  for (const [name, value] of Object.entries(req.metadata)) {
    try {
      headers.set(META_PREFIX + name, value);
    } catch {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `--meta ${name}: over HTTP a metadata name must be a header token and its value printable ASCII.`,
        { field: "meta" },
      );
    }
  }
  return headers;
}

async function put(client: ServiceClient, req: PutRequest): Promise<ObjectInfo> {
  const size = await fileSize(req.file);
  const plan = directPlan(req.transfer, size, false);
  if (plan !== "proxy") {
    try {
      return await directPut(client, req, size);
    } catch (err) {
      if (plan === "direct" || !fallsBack(err)) throw err;
    }
  }
  const headers = uploadHeaders(req, size);
  const file = createReadStream(req.file, { highWaterMark: UPLOAD_CHUNK });
  let sent = 0;
  // Streamed as it is read (duplex "half"): the file is never held in memory, and the bar moves
  // with the bytes handed to the socket.
  async function* body() {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      sent += chunk.length;
      req.onProgress?.(sent);
      yield chunk;
    }
  }
  try {
    const res = await client.send(
      objectPath(req.bucket, req.key),
      {
        method: "PUT",
        headers,
        body: body() as unknown as RequestInit["body"],
        duplex: "half",
        signal: req.signal,
      } as RequestInit,
      "upload",
    );
    return infoFromJson((await res.json()) as ObjectInfoJson);
  } finally {
    file.destroy();
  }
}

/** `bytes a-b/size` → the range and the whole object's size. */
function parseContentRange(header: string | null): { start: number; end: number; size: number } | undefined {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}

async function get(
  client: ServiceClient,
  bucket: string,
  key: string,
  options: GetOptions,
): Promise<Download> {
  if (directPlan(options.transfer, 0, options.range !== undefined) === "direct") {
    return directGet(client, await head(client, bucket, key, options.versionId), options);
  }
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
  const res = await client.send(
    objectPath(bucket, key, options.versionId),
    { headers, signal: options.signal },
    "download",
  );
  const length = Number(res.headers.get("content-length") ?? Number.NaN);
  if (!Number.isSafeInteger(length) || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new StorageError("INTERNAL", "download: the service sent no Content-Length.");
  }
  const range = res.status === 206 ? parseContentRange(res.headers.get("content-range")) : undefined;
  const info = infoFromHeaders(bucket, key, res.headers, range ? range.size : length);
  // "auto" learns the size from the service's answer (no extra request for small files); a large
  // file's response is dropped before it carries much, and the store serves the file instead.
  if (directPlan(options.transfer, length, range !== undefined) === "auto") {
    await res.body.cancel().catch(() => {});
    try {
      return await directGet(client, info, options);
    } catch (err) {
      if (!fallsBack(err)) throw err;
      return get(client, bucket, key, { ...options, transfer: "proxy" });
    }
  }
  const body = verifiedBody(res.body, {
    length,
    sha256: range ? undefined : info.sha256,
    what: `download of ${bucket}/${key}`,
  });
  return {
    info,
    contentLength: length,
    ...(range ? { range: { start: range.start, end: range.end } } : {}),
    body,
  };
}

async function head(client: ServiceClient, bucket: string, key: string, versionId?: string) {
  const res = await client.send(objectPath(bucket, key, versionId), { method: "HEAD" }, "stat");
  return infoFromHeaders(bucket, key, res.headers, Number(res.headers.get("content-length") ?? 0));
}

async function ls(
  client: ServiceClient,
  bucket: string,
  req: { prefix?: string; recursive?: boolean; cursor?: string; limit?: number },
): Promise<ListResult> {
  const query = new URLSearchParams();
  if (req.prefix) query.set("prefix", req.prefix);
  if (req.recursive) query.set("recursive", "true");
  if (req.cursor) query.set("cursor", req.cursor);
  if (req.limit) query.set("limit", String(req.limit));
  const qs = query.size ? `?${query}` : "";
  return listFromJson(
    await client.json<ListingJson>(
      "GET",
      `/v1/buckets/${encodeURIComponent(bucket)}/objects${qs}`,
      undefined,
      "list",
    ),
  );
}

const issued = (json: { key: ApiKeyInfoJson; token: string }): IssuedKeyView => ({
  key: json.key,
  token: json.token,
});

export function remoteApi(target: RemoteTarget): StorageApi {
  const client = serviceClient(target);
  const admin = (path: string) => `/v1/admin/${path}`;
  return {
    put: (req) => put(client, req),
    get: (bucket, key, options) => get(client, bucket, key, options),
    stat: (bucket, key, versionId) => head(client, bucket, key, versionId),
    ls: (bucket, req) => ls(client, bucket, req),
    rm: async (bucket, key, versionId) => {
      const res = await client.send(objectPath(bucket, key, versionId), { method: "DELETE" }, "delete");
      const version = res.headers.get(VERSION_HEADER);
      return {
        ...(version ? { versionId: version } : {}),
        deleteMarker: res.headers.get("x-delete-marker") === "true",
      };
    },
    cp: async (source, target) =>
      infoFromJson(
        await client.json<ObjectInfoJson>(
          "POST",
          "/v1/copy",
          {
            source: {
              bucket: source.bucket,
              key: source.key,
              ...(source.versionId ? { versionId: source.versionId } : {}),
            },
            target: { bucket: target.bucket, key: target.key },
          },
          "copy",
        ),
      ),
    presign: async (bucket, key, req) => {
      const signed = await client.json<{ url: string; method: "GET" | "PUT"; expiresAt: string }>(
        "POST",
        "/v1/presign",
        { bucket, key, ...req },
        "presign",
      );
      return { url: signed.url, method: signed.method, expiresAt: new Date(signed.expiresAt) };
    },
    keys: {
      create: async (req) =>
        issued(
          await client.json<{ key: ApiKeyInfoJson; token: string }>(
            "POST",
            admin("keys"),
            req,
            "keys create",
          ),
        ),
      list: async (includeRevoked) =>
        (
          await client.json<{ keys: ApiKeyInfoJson[] }>(
            "GET",
            admin(`keys?all=${includeRevoked}`),
            undefined,
            "keys list",
          )
        ).keys,
      revoke: async (id) =>
        (
          await client.json<{ key: ApiKeyInfoJson }>(
            "DELETE",
            admin(`keys/${encodeURIComponent(id)}`),
            undefined,
            "keys revoke",
          )
        ).key,
      rotate: async (id) =>
        issued(
          await client.json<{ key: ApiKeyInfoJson; token: string }>(
            "POST",
            admin(`keys/${encodeURIComponent(id)}/rotate`),
            undefined,
            "keys rotate",
          ),
        ),
    },
    audit: async (query) => {
      const params = new URLSearchParams();
      if (query.since) params.set("since", query.since.toISOString());
      if (query.until) params.set("until", query.until.toISOString());
      if (query.keyId) params.set("key", query.keyId);
      if (query.bucket) params.set("bucket", query.bucket);
      if (query.source) params.set("source", query.source);
      if (query.limit) params.set("limit", String(query.limit));
      const qs = params.size ? `?${params}` : "";
      const json = await client.json<{ records: AuditRecordJson[] }>(
        "GET",
        admin(`audit${qs}`),
        undefined,
        "audit query",
      );
      return json.records.map(auditFromJson);
    },
    protos: remoteProtos(client),
    temp: remoteTemp(client),
    logs: remoteLogs(client),
    userData: remoteUserData(client),
    config: remoteConfig(client),
    stats: remoteStats(client),
    models: remoteModels(client),
    reconcile: async (req) => {
      const json = await client.json<{ reports: (BucketReport & { orphans?: number })[] }>(
        "POST",
        admin("reconcile"),
        {
          ...(req.buckets.length ? { buckets: req.buckets } : {}),
          repair: req.repair,
          deleteUnindexed: req.deleteUnindexed,
          ...(req.staleUploadHours === undefined ? {} : { staleUploadHours: req.staleUploadHours }),
        },
        "reconcile",
      );
      return json.reports.map(reportFromJson);
    },
  };
}
