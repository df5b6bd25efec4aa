import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

/**
 * Part planning and hashing for uploads straight to the object store through an upload session
 * (the service's /v1/uploads and UploadSessionService). A leaf on node: built-ins only: the CLI
 * imports it, and scripts/gen-client-shared.ts copies it into the npm client.
 *
 * The session is created with the whole object's sha256 and every part URL carries its part's
 * sha256, so both are computed before the first byte leaves: in one pass over the file, which
 * fixes the part size first (the client picks it and tells the service, rather than learning it
 * after the sha256 is already needed).
 */

const MiB = 1024 ** 2;
/** S3's multipart rules (the service checks the same): 5 MiB to 5 GiB a part, at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;
/** Big enough that per-part requests cost little, small enough that a retried part costs little. */
export const DEFAULT_PART_SIZE = 16 * MiB;

export interface PartPlan {
  size: number;
  partSize: number;
  partCount: number;
}

export interface HashedPart {
  partNumber: number;
  /** Byte offset of the part in the file. */
  start: number;
  size: number;
  /** Hex sha256 of the part's bytes. */
  sha256: string;
}

/** `preferred` grown in whole MiB until the object fits in 10,000 parts, within S3's bounds. */
export function planParts(size: number, preferred: number = DEFAULT_PART_SIZE): PartPlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Not a file size: ${size}`);
  const needed = Math.ceil(Math.ceil(size / MAX_PARTS) / MiB) * MiB;
  const partSize = Math.min(Math.max(preferred, MIN_PART_SIZE, needed), MAX_PART_SIZE);
  return { size, partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

/** Offset and size of part `n` (1-based): every part is partSize but the last, the remainder. */
export function partRange(n: number, plan: PartPlan): { start: number; size: number } {
  const start = (n - 1) * plan.partSize;
  return { start, size: n < plan.partCount ? plan.partSize : plan.size - start };
}

/**
 * One streaming pass over `path`: each part's sha256 and the whole file's. Fails when the file
 * does not hold exactly `plan.size` bytes (it changed since it was measured).
 */
export async function hashParts(
  path: string,
  plan: PartPlan,
  options: { signal?: AbortSignal | undefined; onBytes?: (read: number) => void } = {},
): Promise<{ sha256: string; parts: HashedPart[] }> {
  const whole = createHash("sha256");
  const parts: HashedPart[] = [];
  let part: Hash = createHash("sha256");
  let inPart = 0;
  let read = 0;
  const closePart = () => {
    const n = parts.length + 1;
    parts.push({ partNumber: n, ...partRange(n, plan), sha256: part.digest("hex") });
    part = createHash("sha256");
    inPart = 0;
  };
  const stream = createReadStream(path, { highWaterMark: MiB, signal: options.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    let at = 0;
    // A chunk may end one part and start the next: split it at the boundary.
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, plan.partSize - inPart);
      part.update(chunk.subarray(at, at + take));
      inPart += take;
      at += take;
      if (inPart === plan.partSize && parts.length + 1 < plan.partCount) closePart();
    }
    read += chunk.length;
    options.onBytes?.(read);
  }
  if (read !== plan.size) {
    throw new Error(`${path} changed while it was read: ${read} bytes, not the ${plan.size} measured.`);
  }
  closePart();
  return { sha256: whole.digest("hex"), parts };
}
