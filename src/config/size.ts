const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Parses sizes like `100MB`, `1.5GiB`, `512k`, `1048576`. Decimal units (MB) are powers of 1000 and
 * binary units (MiB) powers of 1024; a bare `k`/`m`/`g` is read as the binary unit, as most tools do.
 * Returns undefined when the text is not a size.
 */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  let unit = (match[2] ?? "").toLowerCase();
  if (unit === "k" || unit === "m" || unit === "g" || unit === "t") unit = `${unit}ib`;
  const factor = UNITS[unit];
  if (factor === undefined) return undefined;
  const value = Math.round(Number(match[1]) * factor);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Parses durations like `900`, `900s`, `15m`, `24h`, `7d` into seconds. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^\s*(\d+)\s*(s|m|h|d)?\s*$/i.exec(text);
  if (!match) return undefined;
  const factor = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s").toLowerCase() as "s"];
  return Number(match[1]) * factor;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}
