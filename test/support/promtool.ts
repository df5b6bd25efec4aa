import { execFile, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * promtool for the offline Prometheus checks. scripts/ensure-promtool.sh does the lookup
 * (PROMTOOL_BINARY, PATH, Go's bin dir) and builds the pin in tools/promtool-version when none is
 * found, as the Helm and MinIO harnesses do.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const run = promisify(execFile);

let found: Promise<string> | undefined;

export function findPromtool(): Promise<string> {
  found ??= run("bash", [join(REPO_ROOT, "scripts/ensure-promtool.sh")], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim());
  return found;
}

export interface PromtoolResult {
  code: number;
  output: string;
}

/** Runs promtool (with `stdin` as its input, for `check metrics`); a non-zero exit is a result, not a throw. */
export async function promtool(args: string[], stdin = ""): Promise<PromtoolResult> {
  const binary = await findPromtool();
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? 1, output }));
    child.stdin.end(stdin);
  });
}

/** Built by Prometheus itself, never in a scrape: `up` per target, `ALERTS` from the rules. */
export const PROMETHEUS_BUILTINS: ReadonlySet<string> = new Set(["up", "ALERTS", "ALERTS_FOR_STATE"]);

/**
 * Every metric a scrape exposes: sample names, and each `# TYPE` family (a labelled series that has
 * no sample yet still exists, and a histogram family covers its _bucket, _sum and _count).
 */
export function exposedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const line of scrape.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type?.[1]) {
      names.add(type[1]);
      if (type[2] === "histogram" || type[2] === "summary") {
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(type[1] + suffix);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression reads, parsed loosely: strings, label matchers, ranges and
 * `by (...)` lists removed, then every identifier not called as a function and not a keyword.
 */
export function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names: string[] = [];
  for (const match of bare.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (!name || call || PROMQL_WORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}
