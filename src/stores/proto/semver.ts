import { StorageError } from "../../errors.ts";

/**
 * Semantic Versioning 2.0.0, the part a registry needs: strict parsing (no leading "v", no
 * leading zeros) and precedence (build metadata ignored, pre-releases before their release).
 * Small enough to own rather than depend on a package for.
 */

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
  build: string[];
}

const NUMBER = "0|[1-9]\\d*";
const IDENT = "[0-9A-Za-z-]+";
const PATTERN = new RegExp(
  `^(${NUMBER})\\.(${NUMBER})\\.(${NUMBER})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+(${IDENT}(?:\\.${IDENT})*))?$`,
);

export function parseSemVer(text: string): SemVer | undefined {
  if (text.length > 128) return undefined;
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const prerelease = m[4] ? m[4].split(".") : [];
  // Numeric pre-release identifiers must not have leading zeros either (spec item 9).
  if (prerelease.some((p) => /^0\d+$/.test(p))) return undefined;
  const [major, minor, patch] = [m[1], m[2], m[3]].map(Number) as [number, number, number];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease, build: m[5] ? m[5].split(".") : [] };
}

/** The version, or INVALID_ARGUMENT saying what a version must look like. */
export function requireSemVer(text: string): SemVer {
  const parsed = parseSemVer(text);
  if (!parsed) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `'${text.slice(0, 64)}' is not a semantic version: expected MAJOR.MINOR.PATCH such as 1.2.0 or 2.0.0-rc.1 (no leading 'v').`,
      { field: "version" },
    );
  }
  return parsed;
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Precedence per spec item 11: negative when a comes first. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const key of ["major", "minor", "patch"] as const) {
    if (a[key] !== b[key]) return Math.sign(a[key] - b[key]);
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length);
  }
  const n = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < n; i++) {
    const c = compareIdentifiers(a.prerelease[i] as string, b.prerelease[i] as string);
    if (c !== 0) return c;
  }
  return Math.sign(a.prerelease.length - b.prerelease.length);
}

/** Sorts version strings that all parse, ascending by precedence (ties: by text, for a stable order). */
export function compareVersionText(a: string, b: string): number {
  const pa = parseSemVer(a);
  const pb = parseSemVer(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  return compareSemVer(pa, pb) || (a < b ? -1 : a > b ? 1 : 0);
}
