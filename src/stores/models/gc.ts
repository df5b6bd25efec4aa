import type { Logger } from "pino";
import { StorageError } from "../../errors.ts";
import { BLOB_PREFIX, type Blobs, STAGING_PREFIX } from "./blobs.ts";
import type { Registry } from "./registry.ts";
import type { GcReport } from "./types.ts";

/**
 * Garbage collection: blobs that no version's manifest references, and staged uploads a crash left
 * behind, once older than the grace period (so an upload whose manifest is still on its way is
 * not taken). A dry run only reports; bytes are what the blobs take in the store.
 *
 * Each blob's references are read again just before it is deleted. What remains is a window of
 * one round trip in which a publish of a blob older than the grace period can race its deletion;
 * reads would then fail with NOT_FOUND and the version needs pushing again.
 */

export const DEFAULT_GRACE_SECONDS = 3600;
/** A report names at most this many keys (counts cover them all). */
const MAX_KEYS_REPORTED = 1000;
const MAX_GRACE_SECONDS = 10 * 365 * 24 * 3600;

interface Candidate {
  key: string;
  size: number;
  sha256?: string;
}

export async function collectGarbage(
  deps: { blobs: Blobs; registry: Registry; logger: Logger },
  options: { dryRun: boolean; graceSeconds?: number },
): Promise<GcReport> {
  const grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  if (!Number.isSafeInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    throw new StorageError("INVALID_ARGUMENT", "The grace period is a whole number of seconds, 0 or more.", {
      field: "graceSeconds",
    });
  }
  const cutoff = new Date(Date.now() - grace * 1000);
  const report: GcReport = { blobs: 0, bytes: 0, deleted: !options.dryRun, keys: [] };

  const settle = async (page: Candidate[]) => {
    const candidates = await unreferenced(deps.registry, page);
    for (const c of candidates) {
      if (!options.dryRun) {
        if (c.sha256 && (await deps.registry.referenced([c.sha256])).size > 0) continue;
        await deps.blobs.remove(c.key, cutoff);
      }
      report.blobs++;
      report.bytes += c.size;
      if (report.keys.length < MAX_KEYS_REPORTED) report.keys.push(c.key);
    }
  };

  let page: Candidate[] = [];
  for (const prefix of [BLOB_PREFIX, STAGING_PREFIX]) {
    for await (const o of deps.blobs.walk(prefix)) {
      if (o.lastModified > cutoff) continue;
      const sha256 = prefix === BLOB_PREFIX ? o.key.slice(BLOB_PREFIX.length) : undefined;
      page.push({ key: o.key, size: o.size, ...(sha256 ? { sha256 } : {}) });
      if (page.length >= MAX_KEYS_REPORTED) {
        await settle(page);
        page = [];
      }
    }
  }
  await settle(page);
  deps.logger.info(
    { dryRun: options.dryRun, graceSeconds: grace, blobs: report.blobs, bytes: report.bytes },
    options.dryRun ? "model gc: dry run" : "model gc: unreferenced blobs deleted",
  );
  return report;
}

/** Staged leftovers always; blobs only when no manifest references their sha256. */
async function unreferenced(registry: Registry, page: Candidate[]): Promise<Candidate[]> {
  const hexes = page.flatMap((c) => (c.sha256 ? [c.sha256] : []));
  const used = await registry.referenced(hexes);
  return page.filter((c) => !c.sha256 || !used.has(c.sha256));
}
