import { createHash } from "node:crypto";
import { z } from "zod";
import type { ProtoVersion } from "./types.ts";

/**
 * manifest.json, the record of one version and the commit point of its publication: a version
 * exists once its manifest is "committed". While a publisher writes the version's objects the
 * manifest is "pending" (its claim, written create-if-absent, so one publisher at a time), and
 * readers do not see the version. Besides the public ProtoVersion it pins the object version of
 * every file it lists, so reads return exactly what was published.
 */

const StoredObject = z.object({
  size: z.number().int().nonnegative(),
  sha256: z.string(),
  /** The store's version id ("null" on an unversioned bucket). */
  versionId: z.string(),
});

const ManifestSchema = z.object({
  schema: z.literal(1),
  state: z.enum(["pending", "committed"]),
  service: z.string(),
  version: z.string(),
  createdAt: z.string(),
  digest: z.string(),
  uploader: z.string(),
  breakingRules: z.string(),
  breakingOverridden: z.boolean(),
  breakingViolations: z.array(z.string()),
  generated: z.array(
    z.object({
      language: z.string(),
      ok: z.boolean(),
      files: z.number().int(),
      error: z.string().optional(),
    }),
  ),
  files: z.array(StoredObject.extend({ filename: z.string() })),
  image: StoredObject.optional(),
  generatedFiles: z.array(StoredObject.extend({ language: z.string(), path: z.string() })),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestFile = Manifest["files"][number];
export type ManifestGeneratedFile = Manifest["generatedFiles"][number];

export const MANIFEST = "manifest.json";
export const IMAGE = "image.binpb";

export const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/**
 * The set's identity: sha256 over "<sha256>  <filename>\n" lines (sha256sum's format) sorted by
 * file name, so the same files in any order give the same digest.
 */
export function setDigest(files: ReadonlyArray<{ filename: string; sha256: string }>): string {
  const lines = files
    .map((f) => `${f.sha256}  ${f.filename}\n`)
    .sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : a.slice(66) > b.slice(66) ? 1 : 0));
  return sha256Hex(lines.join(""));
}

export function parseManifest(text: string): Manifest {
  return ManifestSchema.parse(JSON.parse(text));
}

export function toProtoVersion(m: Manifest): ProtoVersion {
  return {
    service: m.service,
    version: m.version,
    createdAt: new Date(m.createdAt),
    digest: m.digest,
    uploader: m.uploader,
    files: m.files.map(({ filename, size, sha256 }) => ({ filename, size, sha256 })),
    breakingOverridden: m.breakingOverridden,
    breakingViolations: m.breakingViolations,
    generated: m.generated.map((g) => ({ ...g })),
  };
}
