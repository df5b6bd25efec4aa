import { parseDurationSeconds, parseSize } from "../../config/size.ts";
import { StorageError } from "../../errors.ts";
import type { ModelMetadata } from "../../stores/models/types.ts";
import { parseMeta } from "./args.ts";

/** Option values of the `model` commands (model.ts) turned into the store's shapes, or INVALID_ARGUMENT. */

export const invalid = (field: string, message: string) =>
  new StorageError("INVALID_ARGUMENT", message, { field });

/** `--metric name=value` pairs: the values must be finite numbers. */
function parseMetrics(pairs: readonly string[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [name, text] of Object.entries(parseMeta(pairs))) {
    const value = text.trim() === "" ? Number.NaN : Number(text);
    if (!Number.isFinite(value)) throw invalid("metric", `--metric ${name} expects a number, got '${text}'.`);
    metrics[name] = value;
  }
  return metrics;
}

/** --grace: seconds or a duration such as 30m or 24h; 0 collects every unreferenced blob. */
export function parseGrace(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) {
    throw invalid("grace", `--grace expects seconds or a duration such as 30m or 24h, got '${text}'.`);
  }
  return seconds;
}

/** --session-threshold: a size such as 64MiB or 1GiB (at least 1 byte). */
export function parseThreshold(text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes < 1) {
    throw invalid(
      "session-threshold",
      `--session-threshold expects a size such as 64MiB or 1GiB, got '${text}'.`,
    );
  }
  return bytes;
}

export interface PushFlags {
  json?: boolean;
  endpoint?: string;
  token?: string;
  type: string;
  version: string;
  meta: string[];
  metric: string[];
  tag: string[];
  framework?: string;
  description?: string;
  parent?: string;
  alias: string[];
  owner: string;
  sessionThreshold: string;
}

export function metadataOf(opts: PushFlags): ModelMetadata {
  const extra = parseMeta(opts.meta);
  const metrics = parseMetrics(opts.metric);
  return {
    ...(opts.framework !== undefined ? { framework: opts.framework } : {}),
    ...(Object.keys(metrics).length > 0 ? { metrics } : {}),
    ...(opts.tag.length > 0 ? { tags: opts.tag } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    ...(opts.parent !== undefined ? { parentVersion: opts.parent } : {}),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}
