import { createHash } from "node:crypto";
import path from "node:path";
import { StorageError } from "../../errors.ts";

/**
 * Where things live under the local root. Object paths derive from sha256(key), never from the key
 * text: S3 lets `a` and `a/b` coexist (a filesystem cannot), and key text must never steer a path.
 *
 *   <root>/<bucket>/<h[0..2]>/<h>/meta.json + data-<uuid>
 *   <root>/.tmp/                 temp files, on the same filesystem so rename is atomic
 */

// Stricter than needed on purpose: the core validates names too, this is defence in depth.
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const SHARD_RE = /^[0-9a-f]{2}$/;
export const HASH_RE = /^[0-9a-f]{64}$/;
export const DATA_FILE_RE = /^data-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const META_FILE = "meta.json";
export const TMP_DIR = ".tmp";

export function assertLocalBucket(bucket: string): void {
  if (!BUCKET_RE.test(bucket) || bucket.includes("..")) {
    throw new StorageError("INVALID_ARGUMENT", "Invalid bucket name.", { field: "bucket" });
  }
}

export function assertLocalKey(bucket: string, key: string): void {
  if (typeof key !== "string" || key.length === 0) {
    throw new StorageError("INVALID_ARGUMENT", "The object key must not be empty.", { bucket, field: "key" });
  }
}

export class Layout {
  readonly root: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.tmpDir = path.join(this.root, TMP_DIR);
  }

  bucketDir(bucket: string): string {
    assertLocalBucket(bucket);
    return this.inside(path.join(this.root, bucket));
  }

  /** The shard dir (parent) and the object's own dir. */
  objectDirs(bucket: string, key: string): { shardDir: string; objectDir: string } {
    const h = createHash("sha256").update(key, "utf8").digest("hex");
    const shardDir = path.join(this.bucketDir(bucket), h.slice(0, 2));
    return { shardDir: this.inside(shardDir), objectDir: this.inside(path.join(shardDir, h)) };
  }

  dataPath(objectDir: string, dataFile: string): string {
    // dataFile comes from meta.json on disk; never trust it to be a plain file name.
    if (!DATA_FILE_RE.test(dataFile)) {
      throw new StorageError("DATA_CORRUPTED", "Object metadata names an invalid data file.");
    }
    return this.inside(path.join(objectDir, dataFile));
  }

  tmpPath(name: string): string {
    return this.inside(path.join(this.tmpDir, name));
  }

  /** Every computed path must stay strictly below the resolved root. */
  inside(p: string): string {
    const resolved = path.resolve(p);
    if (!resolved.startsWith(this.root + path.sep)) {
      throw new StorageError("INTERNAL", "Computed storage path escapes the storage root.");
    }
    return resolved;
  }
}
