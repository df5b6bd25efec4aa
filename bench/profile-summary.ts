import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where a CPU profile's time goes, as text to quote: the top functions by self time, and the top
 * files and packages by inclusive time (a file counts once per sample however deep it recurs).
 * Percentages are of the busy time, (idle) excluded, so profiles of loaded and quiet runs compare.
 *
 *   node bench/profile-summary.ts prof/                 # every .cpuprofile in the directory
 *   node bench/profile-summary.ts a.cpuprofile --top 25
 *   node bench/profile-summary.ts a.cpuprofile --callers writev   # who calls a hot function
 *
 * Profiles come from BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" npm run bench.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO_ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** A frame's file, relative to the repository (or node:internal/...), "" for V8's own entries. */
function fileOf(frame: CallFrame): string {
  if (!frame.url) return "";
  const path = frame.url.startsWith("file://") ? fileURLToPath(frame.url) : frame.url;
  return path.startsWith(REPO_ROOT) ? relative(REPO_ROOT, path) : path;
}

/** node_modules/<pkg> (with its scope), src/<dir>/<file>, or the file itself. */
function packageOf(file: string): string {
  const inModules = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (inModules) return inModules[1] ?? file;
  const parts = file.split("/");
  return parts[0] === "src" || parts[0] === "packages" ? parts.slice(0, 3).join("/") : file;
}

/** Node's own JavaScript and native code sit under every stack; the tables by place skip them. */
const isOwnCode = (file: string) => file !== "" && !file.startsWith("node:");

export interface Summary {
  busyMs: number;
  idleMs: number;
  /** Self time per function. */
  self: [string, number][];
  /** Self time per package, Node's internals and native code charged to their nearest caller's. */
  charged: [string, number][];
  /** Inclusive time per file and per package (application and dependency code only). */
  files: [string, number][];
  packages: [string, number][];
}

/** The call paths (innermost JavaScript frames first, Node's included) into functions named `name`. */
export function callersOf(profiles: CpuProfile[], name: string, depth = 12): [string, number][] {
  const paths = new Map<string, number>();
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    profile.samples.forEach((id, i) => {
      if (byId.get(id)?.callFrame.functionName !== name) return;
      const frames: string[] = [];
      for (let at = parent.get(id); at !== undefined && frames.length < depth; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        const file = frame ? fileOf(frame) : "";
        if (frame && file)
          frames.push(`${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`);
      }
      const key = frames.join(" < ") || "(no JavaScript frame)";
      paths.set(key, (paths.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
    });
  }
  return [...paths].sort((a, b) => b[1] - a[1]);
}

export function summarize(profiles: CpuProfile[]): Summary {
  const self = new Map<string, number>();
  const charged = new Map<string, number>();
  const files = new Map<string, number>();
  const packages = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stacks = new Map<number, { files: string[]; packages: string[]; charged: string }>();
    const stackOf = (id: number) => {
      let s = stacks.get(id);
      if (!s) {
        const fs = new Set<string>();
        const ps = new Set<string>();
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const frame = byId.get(at)?.callFrame;
          const file = frame ? fileOf(frame) : "";
          if (!isOwnCode(file)) continue;
          fs.add(file);
          ps.add(packageOf(file));
        }
        const leaf = byId.get(id)?.callFrame;
        // V8's own entries ((garbage collector), (program)) have no caller to charge.
        const v8 = leaf && leaf.url === "" && leaf.functionName.startsWith("(");
        const first = [...ps][0];
        const charged = v8 ? leaf.functionName : (first ?? "Node's internals, no application caller");
        s = { files: [...fs], packages: [...ps], charged };
        stacks.set(id, s);
      }
      return s;
    };
    // timeDeltas[i] is the time before sample i; the time sample i stands for is the next delta.
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
      const frame = byId.get(id)?.callFrame;
      if (!frame) return;
      if (frame.functionName === "(idle)") {
        idle += ms;
        return;
      }
      busy += ms;
      const file = fileOf(frame);
      add(
        self,
        `${frame.functionName || "(anonymous)"} ${file ? `${file}:${frame.lineNumber + 1}` : ""}`.trim(),
        ms,
      );
      const s = stackOf(id);
      add(charged, s.charged, ms);
      for (const f of s.files) add(files, f, ms);
      for (const p of s.packages) add(packages, p, ms);
    });
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    busyMs: busy,
    idleMs: idle,
    self: top(self),
    charged: top(charged),
    files: top(files),
    packages: top(packages),
  };
}

function print(s: Summary, n: number): string {
  const pct = (ms: number) => `${((100 * ms) / s.busyMs).toFixed(1)} %`;
  const table = (title: string, head: string, rows: [string, number][]) => [
    "",
    `### ${title}`,
    "",
    `| ${head} | ms | % of busy |`,
    "| --- | ---: | ---: |",
    ...rows.slice(0, n).map(([k, ms]) => `| ${k.replaceAll("|", "\\|")} | ${ms.toFixed(0)} | ${pct(ms)} |`),
  ];
  return [
    `busy ${(s.busyMs / 1000).toFixed(2)} s, idle ${(s.idleMs / 1000).toFixed(2)} s`,
    ...table("Top functions by self time", "function file:line", s.self),
    ...table("Self time by package, Node's internals charged to their caller", "package / file", s.charged),
    ...table("Top packages by inclusive time (application and dependencies)", "package / file", s.packages),
    ...table("Top files by inclusive time (application and dependencies)", "file", s.files),
  ].join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const n = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
  const callersAt = args.indexOf("--callers");
  const callers = callersAt >= 0 ? args.splice(callersAt, 2)[1] : undefined;
  if (args.length === 0 || !Number.isInteger(n) || n < 1) {
    process.stderr.write(
      "usage: node bench/profile-summary.ts <file.cpuprofile | dir>... [--top N] [--callers NAME]\n",
    );
    process.exitCode = 2;
    return;
  }
  const paths: string[] = [];
  for (const arg of args) {
    if (!(await stat(arg)).isDirectory()) {
      paths.push(arg);
      continue;
    }
    for (const name of await readdir(arg)) if (name.endsWith(".cpuprofile")) paths.push(join(arg, name));
  }
  if (paths.length === 0) throw new Error(`no .cpuprofile files in ${args.join(", ")}`);
  const profiles = await Promise.all(
    paths.map(async (p) => JSON.parse(await readFile(p, "utf8")) as CpuProfile),
  );
  const head = `${paths.length} profile(s): ${paths.join(", ")}\n`;
  if (callers === undefined) {
    process.stdout.write(`${head}${print(summarize(profiles), n)}\n`);
    return;
  }
  const rows = callersOf(profiles, callers).slice(0, n);
  process.stdout.write(
    `${head}\n### Callers of ${callers} (self ms)\n\n${rows.map(([k, ms]) => `- ${ms.toFixed(0)} ms: ${k}`).join("\n")}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
