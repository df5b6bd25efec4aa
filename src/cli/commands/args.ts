import type { Command } from "commander";
import type { ByteRange } from "../../backends/object-store.ts";
import { parseDurationSeconds } from "../../config/size.ts";
import { StorageError } from "../../errors.ts";

/**
 * Parsers for option values. They throw StorageError INVALID_ARGUMENT, so a bad value is reported
 * like any other refused request (`error: INVALID_ARGUMENT: ...`, exit 2).
 */

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

/** Commander collector for repeatable options (`--meta a=1 --meta b=2`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `k=v` pairs into a record; the value may be empty or contain '=', the key may not repeat. */
export function parseMeta(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? "" : pair.slice(0, eq).trim();
    if (!key) throw invalid("meta", `--meta expects key=value, got '${pair}'.`);
    if (Object.hasOwn(out, key)) throw invalid("meta", `--meta key '${key}' is given more than once.`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

/** `start-end` (inclusive) or `start-` (to the end); a leading `bytes=` is accepted. */
export function parseRange(text: string): ByteRange {
  const match = /^(?:bytes=)?(\d+)-(\d*)$/.exec(text.trim());
  const start = Number(match?.[1]);
  const end = match?.[2] ? Number(match[2]) : undefined;
  if (!match || !Number.isSafeInteger(start) || (end !== undefined && !Number.isSafeInteger(end))) {
    throw invalid("range", `--range expects start-end or start- (bytes, inclusive), got '${text}'.`);
  }
  if (end !== undefined && end < start) {
    throw invalid("range", `--range end (${end}) is before its start (${start}).`);
  }
  return end === undefined ? { start } : { start, end };
}

/** A whole number within [min, max]. */
export function parseInteger(text: string, option: string, min: number, max: number): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(option, `--${option} expects a whole number from ${min} to ${max}, got '${text}'.`);
  }
  return value;
}

/** A number of hours, fractions allowed (0 counts every incomplete upload as stale). */
export function parseHours(text: string, option: string): number {
  const value = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value)) throw invalid(option, `--${option} expects a number of hours, got '${text}'.`);
  return value;
}

/** Seconds, or a duration such as 15m, 24h, 7d (the same syntax as the config). */
export function parseExpires(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds < 1) {
    throw invalid("expires", `--expires expects seconds or a duration such as 15m or 24h, got '${text}'.`);
  }
  return seconds;
}

export function parseMethod(text: string): "GET" | "PUT" {
  const method = text.toUpperCase();
  if (method !== "GET" && method !== "PUT")
    throw invalid("method", `--method must be GET or PUT, got '${text}'.`);
  return method;
}

/** Unique names in first-seen order. */
export const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

/** --json and --verbose, on every command (program options must precede the command name). */
export function commonOptions(command: Command, options: { json?: boolean } = {}): Command {
  if (options.json !== false) command.option("--json", "print one JSON document on stdout");
  return command.option("--verbose", "print stack traces on failure");
}

/** --endpoint and --token, on every command that can go through a running service. */
export function remoteOptions(command: Command): Command {
  return command
    .option(
      "--endpoint <url>",
      "use the service at this URL (default: LUMENSLATE_URL, the login profile, a local serve)",
    )
    .option("--token <token>", "API key token for --endpoint (default: LUMENSLATE_TOKEN, the login profile)");
}

/** --direct / --proxy (remote put and get): how the file moves, "auto" when neither is given. */
export function transferOptions(command: Command): Command {
  return command
    .option(
      "--direct",
      "remote mode: straight to/from the object store (presigned URLs), never through the service",
    )
    .option("--proxy", "remote mode: through the service, even for a file above 64 MiB");
}

export function parseTransfer(opts: { direct?: boolean; proxy?: boolean }): "auto" | "direct" | "proxy" {
  if (opts.direct && opts.proxy) throw invalid("direct", "Give --direct or --proxy, not both.");
  return opts.direct ? "direct" : opts.proxy ? "proxy" : "auto";
}

/** The remote-mode flags of a command's options. */
export const remoteFlags = (opts: { endpoint?: string; token?: string }) => ({
  endpoint: opts.endpoint,
  token: opts.token,
});

/** --concurrency for tree transfers. */
export const parseConcurrency = (text: string): number => parseInteger(text, "concurrency", 1, 64);
