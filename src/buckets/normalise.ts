import type { BucketPolicy, LifecycleRule } from "../backends/bucket-admin.ts";

/**
 * Normal forms for comparing a bucket's current settings with the desired ones. Backends hand back
 * equivalent documents in different spellings (MinIO stores `"Principal": "*"` as
 * `{"AWS": ["*"]}`, single strings as one-element arrays, statements in any order), so comparing raw
 * JSON would rewrite settings on every run.
 */

/** Only the fields bootstrap sets, in a fixed key order, rules sorted by id. */
export function normaliseLifecycle(rules: readonly LifecycleRule[]): LifecycleRule[] {
  return rules
    .map((r) => {
      const out: LifecycleRule = { id: r.id, prefix: r.prefix };
      if (r.expirationDays !== undefined) out.expirationDays = r.expirationDays;
      if (r.noncurrentDays !== undefined) out.noncurrentDays = r.noncurrentDays;
      if (r.abortIncompleteDays !== undefined) out.abortIncompleteDays = r.abortIncompleteDays;
      return out;
    })
    .sort((a, b) => compare(a.id, b.id) || compare(JSON.stringify(a), JSON.stringify(b)));
}

export function sameLifecycle(a: readonly LifecycleRule[], b: readonly LifecycleRule[]): boolean {
  return JSON.stringify(normaliseLifecycle(a)) === JSON.stringify(normaliseLifecycle(b));
}

// Fields the policy grammar allows only as one string; every other string may be a list.
const SCALAR_KEYS = new Set(["Version", "Id", "Sid", "Effect"]);
const PRINCIPAL_KEYS = new Set(["Principal", "NotPrincipal"]);

/**
 * Canonical JSON value of a policy: object keys sorted, single strings turned into one-element
 * arrays, arrays sorted, `Principal: "*"` spelled `{ AWS: ["*"] }`. Version and the other scalar
 * fields are kept as they are, so a different Version still counts as a difference.
 */
export function canonicalPolicy(policy: BucketPolicy): unknown {
  return canonical(policy, undefined);
}

export function samePolicy(a: BucketPolicy, b: BucketPolicy): boolean {
  return JSON.stringify(canonicalPolicy(a)) === JSON.stringify(canonicalPolicy(b));
}

function canonical(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && PRINCIPAL_KEYS.has(key) && value === "*") return { AWS: ["*"] };
  if (typeof value === "string") return key !== undefined && SCALAR_KEYS.has(key) ? value : [value];
  if (Array.isArray(value)) {
    return value
      .map((item) => (typeof item === "string" ? item : canonical(item, undefined)))
      .sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compare(a, b));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v, k)]));
  }
  return value;
}

// Plain code-unit order: locale-independent, so the normal form is the same on every machine.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
