import { parseDocument } from "yaml";
import { StorageError } from "../../errors.ts";
import type { DocumentFormat, JsonValue } from "./types.ts";

/**
 * Parses a document before it is stored, so a broken one is refused with where it broke (line and
 * column, 1-based) instead of being found broken by the service that reads it.
 */

export interface ParseFailure {
  message: string;
  line: number;
  column: number;
}

const invalid = (what: string, format: DocumentFormat, f: ParseFailure) =>
  new StorageError(
    "INVALID_ARGUMENT",
    `The ${what} is not valid ${format.toUpperCase()}: ${f.message} (line ${f.line}, column ${f.column}).`,
    { field: "content", line: f.line, column: f.column },
  );

export function parseSource(source: string, format: DocumentFormat, what = "document"): JsonValue {
  const result = format === "json" ? parseJson(source) : parseYaml(source);
  if ("failure" in result) throw invalid(what, format, result.failure);
  return result.value;
}

type Result = { value: JsonValue } | { failure: ParseFailure };

function parseYaml(source: string): Result {
  // Duplicate keys are an error, not "last one wins": a silently dropped setting is a bug.
  const doc = parseDocument(source, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const at = error.linePos?.[0] ?? { line: 1, col: 1 };
    // The pretty message repeats the position and quotes the source: keep its first clause.
    const message = error.message.split(/ at line \d+/)[0] ?? error.code;
    return { failure: { message, line: at.line, column: at.col } };
  }
  // Aliases, tags and non-JSON scalars become plain JSON values (dates as ISO strings).
  return { value: JSON.parse(JSON.stringify(doc.toJS({ maxAliasCount: 100 }) ?? null)) as JsonValue };
}

function parseJson(source: string): Result {
  try {
    return { value: JSON.parse(source) as JsonValue };
  } catch (err) {
    const message = (err as Error).message.replace(/ in JSON at position.*$/s, "").split(",")[0] ?? "";
    return { failure: { message, ...lineColumn(source, jsonErrorOffset(source, err as Error)) } };
  }
}

const isEndOfInput = (err: unknown) => (err as Error).message.includes("end of JSON input");

/**
 * JSON.parse names a position for some errors and not others ("Unexpected token"). Where it does
 * not, the offending character is the first whose inclusion makes a prefix fail for a reason other
 * than ending early: every shorter prefix either parses or merely ends too soon (binary search).
 */
function jsonErrorOffset(source: string, err: Error): number {
  const named = /at position (\d+)/.exec(err.message);
  if (named) return Number(named[1]);
  if (isEndOfInput(err)) return source.length;
  let lo = 0;
  let hi = source.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (prefixFails(source.slice(0, mid + 1))) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Fails for a reason other than running out: V8 says "end of input", or names the prefix's end. */
function prefixFails(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return false;
  } catch (err) {
    if (isEndOfInput(err)) return false;
    const named = /at position (\d+)/.exec((err as Error).message);
    return !named || Number(named[1]) < prefix.length;
  }
}

export function lineColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}
