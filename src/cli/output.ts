import { formatBytes } from "../config/size.ts";
import type { ObjectInfo, ObjectSummary } from "../core/types.ts";

/**
 * Two renderings of every result: `--json` writes exactly one JSON document to stdout, with every
 * field always present (null when unknown) and dates as ISO strings, so scripts can rely on the
 * shape; otherwise human text (aligned columns, `key: value` lines).
 */

export interface Output {
  json: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Dates become ISO strings, undefined becomes null, object keys keep their (deliberate) order. */
export function toJsonValue(value: unknown): Json {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
    return out;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}

export const renderJson = (value: unknown): string => `${JSON.stringify(toJsonValue(value), null, 2)}\n`;

/** Prints the JSON document or the text, whichever the output mode asks for. */
export function emit(out: Output, json: () => unknown, text: () => string): void {
  out.stdout.write(out.json ? renderJson(json()) : text());
}

const sortedRecord = (record: Record<string, string>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function objectInfoJson(info: ObjectInfo) {
  return {
    bucket: info.bucket,
    key: info.key,
    versionId: info.versionId,
    size: info.size,
    etag: info.etag,
    sha256: info.sha256 ?? null,
    contentType: info.contentType,
    owner: info.owner ?? null,
    metadata: sortedRecord(info.metadata),
    lastModified: info.lastModified.toISOString(),
  };
}

export function objectSummaryJson(o: ObjectSummary) {
  return {
    key: o.key,
    versionId: o.versionId,
    size: o.size,
    etag: o.etag,
    sha256: o.sha256,
    contentType: o.contentType,
    lastModified: o.lastModified.toISOString(),
  };
}

/** Columns padded to their widest cell; the last column is never padded (it may be long). */
export function formatTable(rows: readonly string[][], align: readonly ("left" | "right")[] = []): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          if (i === row.length - 1 && align[i] !== "right") return cell;
          const width = widths[i] ?? 0;
          return align[i] === "right" ? cell.padStart(width) : cell.padEnd(width);
        })
        .join("  "),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join("");
}

/** `key: value` lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length + 1));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join("");
}

/** Exact bytes, plus a readable size when it differs. */
export const sizeText = (bytes: number): string =>
  bytes < 1024 ? `${bytes} B` : `${bytes} B (${formatBytes(bytes)})`;

export const shortSha = (sha256: string | undefined): string => (sha256 ? sha256.slice(0, 12) : "-");

export function objectInfoFields(info: ObjectInfo): [string, string][] {
  return [
    ["bucket", info.bucket],
    ["key", info.key],
    ["versionId", info.versionId],
    ["size", sizeText(info.size)],
    ["etag", info.etag],
    ["sha256", info.sha256 ?? "(not indexed)"],
    ["contentType", info.contentType],
    ["owner", info.owner ?? "-"],
    ["lastModified", info.lastModified.toISOString()],
    ...Object.entries(sortedRecord(info.metadata)).map(([k, v]): [string, string] => [`meta.${k}`, v]),
  ];
}
