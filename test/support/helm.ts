import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

/**
 * Helm for the offline chart checks (lint and template; no cluster is ever contacted). The binary
 * comes from HELM_BINARY, `helm` on PATH or Go's bin dir, else scripts/ensure-helm.sh builds the
 * pin in tools/helm-version, the same lookup as the MinIO harness.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CHART = join(REPO_ROOT, "deploy/helm/lumenslate-storage");
const run = promisify(execFile);

const isExecutable = (path: string) =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );

async function goBinDir(): Promise<string> {
  try {
    const { stdout } = await run("go", ["env", "GOBIN", "GOPATH"]);
    const [gobin = "", gopath = ""] = stdout.split("\n").map((line) => line.trim());
    if (gobin) return gobin;
    if (gopath) return join(gopath.split(delimiter)[0] ?? gopath, "bin");
  } catch {
    // No Go on PATH: its default GOPATH.
  }
  return join(homedir(), "go", "bin");
}

export async function findHelm(): Promise<string> {
  const given = process.env.HELM_BINARY;
  if (given) {
    if (await isExecutable(given)) return given;
    throw new Error(`HELM_BINARY=${given} is not an executable file`);
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && (await isExecutable(join(dir, "helm")))) return join(dir, "helm");
  }
  const fromGo = join(await goBinDir(), "helm");
  if (await isExecutable(fromGo)) return fromGo;
  // Builds the pin (a minute or two); its progress goes to stderr, the path to stdout.
  const { stdout } = await run("bash", [join(REPO_ROOT, "scripts/ensure-helm.sh")], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const path = stdout.trim().split("\n").pop() ?? "";
  if (!(await isExecutable(path))) throw new Error("scripts/ensure-helm.sh printed no helm binary");
  return path;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; a non-zero exit is a result, not a throw, so tests can assert on refusals. */
export async function helm(binary: string, args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(binary, args, { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are walked by tests
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

// A helm built with `go install` lacks the release build's Kubernetes version stamp and assumes
// v1.20, below the chart's kubeVersion; a release helm assumes its own (newer) one.
export const KUBE_VERSION = "1.31.0";

/** `helm template` with `--set` values, parsed into manifests; throws with helm's message on failure. */
export async function renderChart(binary: string, set: Record<string, string> = {}): Promise<Manifest[]> {
  const args = ["template", "rel", CHART, "--namespace", "storage", "--kube-version", KUBE_VERSION];
  for (const [name, value] of Object.entries(set)) args.push("--set", `${name}=${value}`);
  const result = await helm(binary, args);
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}${result.stdout}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}
