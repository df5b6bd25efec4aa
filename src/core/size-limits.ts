import type { SizeLimit } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import type { StorageSettings } from "./core-context.ts";

/** The limit that applies in a bucket, with the setting that sets it (for the refusal's message). */
export function sizeLimitFor(settings: StorageSettings, bucket: string): SizeLimit {
  const own = settings.maxFileSizeByBucket?.[bucket];
  if (own) return own;
  return { bytes: settings.maxFileSize, setting: "STORAGE_MAX_FILE_SIZE" };
}

const BINARY = [
  ["TiB", 1024 ** 4],
  ["GiB", 1024 ** 3],
  ["MiB", 1024 ** 2],
  ["KiB", 1024],
] as const;
const DECIMAL = [
  ["TB", 1e12],
  ["GB", 1e9],
  ["MB", 1e6],
  ["kB", 1e3],
] as const;

/**
 * A size as an operator would write it in the setting: the largest unit that divides it exactly
 * ("50 GiB", "100 MB"), else one decimal of the binary unit ("1.5 GiB"), else bytes.
 */
export function formatLimit(bytes: number): string {
  for (const [unit, factor] of [...BINARY, ...DECIMAL]) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor} ${unit}`;
  }
  for (const [unit, factor] of BINARY) {
    if (bytes >= factor) return `${(bytes / factor).toFixed(1)} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** TOO_LARGE naming the limit in human units and the setting to change (details.limit: bytes). */
export function tooLarge(limit: SizeLimit, bucket: string): StorageError {
  const human = formatLimit(limit.bytes);
  // As the setting is written: "STORAGE_MAX_FILE_SIZE=100MB", "STORAGE_MAX_FILE_SIZE_BY_BUCKET logs=1GiB".
  const setting = `${limit.setting}=${human.replace(" ", "")}`;
  return new StorageError(
    "TOO_LARGE",
    `The object is larger than the limit of ${human} for bucket '${bucket}' (set by ${setting}).`,
    { bucket, limit: limit.bytes, setting: limit.setting.split(" ")[0] },
  );
}
