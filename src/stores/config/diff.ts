import { isDeepStrictEqual } from "node:util";
import type { DiffEntry, JsonValue } from "./types.ts";

/**
 * A structural diff of two parsed documents: the JSON Pointer paths added, removed and changed.
 * Objects are compared key by key and arrays index by index; a value whose type changes (an
 * object becoming a list) is one change at its path, not a cascade of additions and removals.
 */

export interface StructuralDiff {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
}

const isObject = (v: JsonValue | undefined): v is { [key: string]: JsonValue } =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const pointer = (path: string, key: string | number) =>
  `${path}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;

export function diffValues(from: JsonValue, to: JsonValue): StructuralDiff {
  const out: StructuralDiff = { added: [], removed: [], changed: [] };
  walk(from, to, "", out);
  return out;
}

function walk(a: JsonValue, b: JsonValue, path: string, out: StructuralDiff): void {
  if (isObject(a) && isObject(b)) {
    for (const key of Object.keys(a)) {
      const at = pointer(path, key);
      if (!Object.hasOwn(b, key)) out.removed.push({ path: at, from: a[key] as JsonValue });
      else walk(a[key] as JsonValue, b[key] as JsonValue, at, out);
    }
    for (const key of Object.keys(b)) {
      if (!Object.hasOwn(a, key)) out.added.push({ path: pointer(path, key), to: b[key] as JsonValue });
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) walk(a[i] as JsonValue, b[i] as JsonValue, pointer(path, i), out);
    for (let i = common; i < a.length; i++)
      out.removed.push({ path: pointer(path, i), from: a[i] as JsonValue });
    for (let i = common; i < b.length; i++) out.added.push({ path: pointer(path, i), to: b[i] as JsonValue });
    return;
  }
  if (!isDeepStrictEqual(a, b)) out.changed.push({ path, from: a, to: b });
}
