import type { Download, ObjectInfo } from "../../core/types.ts";
import { type SessionCalls, StoreUnreachable, uploadDirect } from "../../direct/upload.ts";
import { type ErrorDetails, isStorageError, StorageError } from "../../errors.ts";
import type { ObjectInfoJson } from "../../transports/http/schemas.ts";
import type { GetOptions, PutRequest, Transfer } from "../api.ts";
import type { ServiceClient } from "./client.ts";
import { verifiedBody } from "./download.ts";
import { infoFromJson } from "./wire.ts";

/**
 * put and get of large files straight to and from the object store (remote mode): an upload
 * session (/v1/uploads) driven by the shared src/direct driver, and a presigned GET (/v1/presign)
 * verified like a proxied download. "auto" goes direct from DIRECT_THRESHOLD and falls back to
 * the service when it has no direct path (local backend: 501), the key may not presign (403), or
 * the store's address is not reachable from here; --direct and --proxy force either.
 */

export const DIRECT_THRESHOLD = 64 * 1024 ** 2;

/** "direct" for a forced transfer, "auto" for one that may fall back, or "proxy". */
export function directPlan(transfer: Transfer | undefined, size: number, ranged: boolean): Transfer {
  if (transfer === "proxy") return "proxy";
  if (transfer === "direct") {
    if (ranged) {
      throw new StorageError("INVALID_ARGUMENT", "--direct cannot be used with --range.", {
        field: "direct",
      });
    }
    return "direct";
  }
  return ranged || size < DIRECT_THRESHOLD ? "proxy" : "auto";
}

export const fallsBack = (err: unknown): boolean =>
  err instanceof StoreUnreachable ||
  (isStorageError(err) && (err.code === "UNSUPPORTED_OPERATION" || err.code === "PERMISSION_DENIED"));

const fail = (code: StorageError["code"], message: string, details?: Record<string, unknown>) =>
  new StorageError(code, message, (details ?? {}) as ErrorDetails);

export async function directPut(client: ServiceClient, req: PutRequest, size: number): Promise<ObjectInfo> {
  const base = "/v1/uploads";
  const calls: SessionCalls<ObjectInfoJson> = {
    create: (body) =>
      client.json(
        "POST",
        base,
        {
          bucket: req.bucket,
          key: req.key,
          metadata: req.metadata,
          ...(req.contentType ? { contentType: req.contentType } : {}),
          ...body,
        },
        "upload",
      ),
    partUrls: async (id, parts) =>
      (
        await client.json<{ parts: { partNumber: number; url: string; headers: Record<string, string> }[] }>(
          "POST",
          `${base}/${encodeURIComponent(id)}/parts`,
          { parts },
          "upload",
        )
      ).parts,
    complete: (id) => client.json("POST", `${base}/${encodeURIComponent(id)}/complete`, undefined, "upload"),
    abort: async (id) => {
      await client.send(`${base}/${encodeURIComponent(id)}`, { method: "DELETE" }, "upload abort");
    },
  };
  const info = await uploadDirect(req.file, calls, {
    sha256: req.expectedSha256,
    signal: req.signal,
    onProgress: (stored) => req.onProgress?.(stored),
    fail,
  });
  if (info.size !== size) {
    throw new StorageError("INTERNAL", `upload: the service recorded ${info.size} bytes, not ${size}.`);
  }
  return infoFromJson(info);
}

/** A presigned GET of the version HEAD names, its body checked against HEAD's size and sha256. */
export async function directGet(
  client: ServiceClient,
  info: ObjectInfo,
  options: GetOptions,
): Promise<Download> {
  const { bucket, key } = info;
  // "null" is the version of an object written before versioning: the URL needs none.
  const versionId = info.versionId && info.versionId !== "null" ? { versionId: info.versionId } : {};
  const signed = await client.json<{ url: string }>(
    "POST",
    "/v1/presign",
    { bucket, key, method: "GET", ...versionId },
    "download",
  );
  let res: Response;
  try {
    res = await fetch(signed.url, { signal: options.signal });
  } catch (err) {
    if (options.signal.aborted) throw err;
    throw new StoreUnreachable(`The object store is not reachable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new StorageError(
      res.status === 404 ? "NOT_FOUND" : "UNAVAILABLE",
      `download of ${bucket}/${key}: the object store answered ${res.status} to the presigned GET.`,
      { status: res.status },
    );
  }
  const body = verifiedBody(res.body, {
    length: info.size,
    sha256: info.sha256,
    what: `download of ${bucket}/${key}`,
  });
  return { info, contentLength: info.size, body };
}
