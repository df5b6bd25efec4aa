import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StorageError } from "../../errors.ts";
import { runBuf, type ToolResult } from "./tools.ts";
import type { BreakingRuleSet } from "./types.ts";

/**
 * Compiling a set and checking it for breaking changes, with the buf CLI (@bufbuild/buf, offline).
 * buf reports problems as one JSON object per line (`--error-format json`) and exits 100 when the
 * input has problems; any other failure is the tool's, not the caller's.
 */

/** One problem buf found, as it reports it. */
interface Annotation {
  path?: string;
  start_line?: number;
  start_column?: number;
  type?: string;
  message?: string;
}

const FILE_ANNOTATIONS_EXIT = 100;

function annotations(result: ToolResult): Annotation[] {
  const out: Annotation[] = [];
  for (const line of `${result.stdout}\n${result.stderr}`.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Annotation);
    } catch {
      // Not an annotation (buf prints nothing else as JSON, but a partial line is possible).
    }
  }
  return out;
}

const where = (a: Annotation) => `${a.path ?? "?"}:${a.start_line ?? 0}:${a.start_column ?? 0}`;

function toolFailed(what: string, result: ToolResult): StorageError {
  return new StorageError(
    "INTERNAL",
    `buf ${what} failed (exit ${result.code}): ${result.stderr.slice(0, 2000)}`,
  );
}

/** The buf.yaml of a set: one module at the root, checked with the given breaking rules. */
export async function writeBufConfig(moduleDir: string, rules: BreakingRuleSet): Promise<void> {
  await writeFile(join(moduleDir, "buf.yaml"), `version: v2\nbreaking:\n  use:\n    - ${rules}\n`);
}

/**
 * Compiles the module in `moduleDir` into `imagePath` (a binary FileDescriptorSet with imports, as
 * `buf breaking --against` wants it). A set that does not compile is INVALID_ARGUMENT naming the
 * first problem's file, line and column; the message lists every problem.
 */
export async function compile(moduleDir: string, imagePath: string, cacheDir: string): Promise<void> {
  const result = await runBuf(["build", "--error-format", "json", "--exclude-source-info", "-o", imagePath], {
    cwd: moduleDir,
    cacheDir,
  });
  if (result.code === 0) return;
  const problems = annotations(result);
  const first = problems[0];
  if (result.code !== FILE_ANNOTATIONS_EXIT || !first) throw toolFailed("build", result);
  const lines = problems.slice(0, 20).map((a) => `${where(a)}: ${a.message ?? "does not compile"}`);
  if (problems.length > 20) lines.push(`... and ${problems.length - 20} more`);
  throw new StorageError("INVALID_ARGUMENT", `The .proto files do not compile: ${lines.join("; ")}`, {
    field: "files",
    file: first.path ?? "",
    line: first.start_line ?? 0,
    column: first.start_column ?? 0,
    problems: problems.length,
  });
}

/**
 * The breaking changes of the module in `moduleDir` against an earlier version's image, under the
 * rules in its buf.yaml: one line per violation ("file:line:column: message [RULE]").
 */
export async function breakingChanges(
  moduleDir: string,
  againstImage: string,
  cacheDir: string,
): Promise<string[]> {
  const result = await runBuf(["breaking", "--against", againstImage, "--error-format", "json"], {
    cwd: moduleDir,
    cacheDir,
  });
  if (result.code === 0) return [];
  const problems = annotations(result);
  if (result.code !== FILE_ANNOTATIONS_EXIT || problems.length === 0) throw toolFailed("breaking", result);
  return problems.map((a) => `${where(a)}: ${a.message ?? "breaking change"} [${a.type ?? "BREAKING"}]`);
}

/** A stored binary image as JSON (google.protobuf.FileDescriptorSet in proto3 JSON form). */
export async function imageToJson(image: Buffer, cwd: string, cacheDir: string): Promise<unknown> {
  const result = await runBuf(["build", "-#format=binpb", "-o", "-#format=json"], {
    cwd,
    cacheDir,
    input: image,
  });
  if (result.code !== 0) throw toolFailed("build (image to JSON)", result);
  return JSON.parse(result.stdout) as unknown;
}
