import type { BucketReport } from "../../core/reconcile.ts";
import type { ListResult, ObjectInfo } from "../../core/types.ts";
import type { AuditRecordJson } from "../../security/admin-json.ts";
import type { AuditRecord } from "../../security/audit.ts";
import { CHECKSUM_HEADER, META_PREFIX, VERSION_HEADER } from "../../transports/http/headers.ts";
import type { ListingJson } from "../../transports/http/routes/listing.ts";
import type { ObjectInfoJson } from "../../transports/http/schemas.ts";

/** The service's JSON and headers back into the types local mode prints (dates as Date). */

const date = (text: string) => new Date(text);

export function infoFromJson(json: ObjectInfoJson): ObjectInfo {
  return {
    bucket: json.bucket,
    key: json.key,
    versionId: json.versionId,
    size: json.size,
    etag: json.etag,
    ...(json.sha256 ? { sha256: json.sha256 } : {}),
    contentType: json.contentType,
    metadata: json.metadata,
    ...(json.owner ? { owner: json.owner } : {}),
    lastModified: date(json.lastModified),
  };
}

/** What a GET or HEAD says about an object (headers carry no owner: it stays unknown). */
export function infoFromHeaders(bucket: string, key: string, headers: Headers, size: number): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith(META_PREFIX)) metadata[name.slice(META_PREFIX.length)] = value;
  }
  const sha256 = headers.get(CHECKSUM_HEADER);
  const modified = headers.get("last-modified");
  return {
    bucket,
    key,
    versionId: headers.get(VERSION_HEADER) ?? "null",
    size,
    etag: headers.get("etag") ?? "",
    ...(sha256 ? { sha256 } : {}),
    contentType: headers.get("content-type") ?? "application/octet-stream",
    metadata,
    lastModified: modified ? new Date(modified) : new Date(0),
  };
}

export const listFromJson = (json: ListingJson): ListResult => ({
  objects: json.objects.map((o) => ({ ...o, lastModified: date(o.lastModified) })),
  prefixes: json.prefixes,
  ...(json.nextCursor ? { nextCursor: json.nextCursor } : {}),
});

export const auditFromJson = (json: AuditRecordJson): AuditRecord => ({ ...json, time: new Date(json.time) });

/** `reconcile --json` adds `orphans`, which the CLI computes itself: drop the service's copy. */
export function reportFromJson(json: BucketReport & { orphans?: number }): BucketReport {
  const { orphans: _computedAgain, ...report } = json;
  return report;
}
