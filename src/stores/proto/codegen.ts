import { mkdir, readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { PROTO_LOADER_GEN_TYPES, runTool, type ToolResult } from "./tools.ts";
import type { GeneratedReport } from "./types.ts";

/**
 * Code generated for a published version, with the toolchains the server has: TypeScript types for
 * @grpc/grpc-js + @grpc/proto-loader (proto-loader-gen-types, shipped with @grpc/proto-loader) and
 * Python messages and gRPC stubs (grpcio-tools' protoc). A language that fails is reported, never
 * fatal: the version is published without it.
 */

export type Language = "typescript" | "python";
export const LANGUAGES: readonly Language[] = ["typescript", "python"];

export interface GeneratedFile {
  language: Language;
  /** Relative to the language's output folder (stored under `generated/{language}/`). */
  path: string;
  /** Where it was written on disk. */
  absolute: string;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function command(language: Language, moduleDir: string, out: string, files: string[], python: string) {
  if (language === "typescript") {
    return {
      command: process.execPath,
      // .js specifiers: what both `nodenext` and bundler resolution accept in TypeScript sources.
      args: [
        PROTO_LOADER_GEN_TYPES,
        "--grpcLib=@grpc/grpc-js",
        "--importFileExtension=.js",
        "-I",
        moduleDir,
        "-O",
        out,
        ...files,
      ],
    };
  }
  return {
    command: python,
    args: [
      "-m",
      "grpc_tools.protoc",
      "-I",
      moduleDir,
      `--python_out=${out}`,
      `--pyi_out=${out}`,
      `--grpc_python_out=${out}`,
      ...files,
    ],
  };
}

const failure = (result: ToolResult) =>
  (result.stderr || result.stdout).trim().split("\n").slice(0, 10).join("\n").slice(0, 2000) ||
  `exit ${result.code}`;

/** Generates each language into `{outDir}/{language}`; one report per language, ok or not. */
export async function generate(
  moduleDir: string,
  outDir: string,
  files: string[],
  languages: readonly Language[],
  python: string,
): Promise<{ reports: GeneratedReport[]; files: GeneratedFile[] }> {
  const reports: GeneratedReport[] = [];
  const generated: GeneratedFile[] = [];
  for (const language of languages) {
    const out = join(outDir, language);
    const { command: cmd, args } = command(language, moduleDir, out, files, python);
    try {
      await mkdir(out, { recursive: true });
      const result = await runTool(cmd, args, { cwd: moduleDir });
      if (result.code !== 0) {
        reports.push({ language, ok: false, files: 0, error: failure(result) });
        continue;
      }
      const paths = await filesUnder(out);
      generated.push(...paths.map((path) => ({ language, path, absolute: join(out, path) })));
      reports.push({ language, ok: true, files: paths.length });
    } catch (err) {
      // The toolchain is missing (ENOENT) or could not start: report it, publish anyway.
      reports.push({
        language,
        ok: false,
        files: 0,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return { reports, files: generated };
}
