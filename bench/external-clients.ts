import { execFile, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * Clients of other languages for the large transfers, each a subprocess that reports the wall time
 * of the transfer alone: the platform's Python package over gRPC (clients/python, from the source
 * tree, so no install is needed) against boto3 straight to MinIO, and curl over HTTP. A client that
 * is missing makes its rows "skipped" with the reason, not a failed benchmark.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PY_SCRIPT = join(REPO_ROOT, "bench/py_transfer.py");
const PY_PACKAGE = join(REPO_ROOT, "clients/python/src");
const run = promisify(execFile);

export interface Transfer {
  seconds: number;
  bytes: number;
  /** Python gRPC upload: the sha256 pre-pass the client makes before sending (not in `seconds`). */
  hashSeconds?: number;
  /** Direct-path upload: the completion call alone (the service's verification), inside `seconds`. */
  completeSeconds?: number;
}

export interface PythonTarget {
  grpcAddress: string;
  token: string;
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  partSize: number;
  concurrency: number;
}

export type PythonOp =
  | "grpc-up"
  | "grpc-down"
  | "pydirect-up"
  | "pydirect-down"
  | "boto3-up"
  | "boto3-down"
  | "boto3-down-file";

function runPython(job: Record<string, unknown>): Promise<Transfer> {
  const python = process.env.BENCH_PYTHON ?? "python3";
  const path = [PY_PACKAGE, process.env.PYTHONPATH].filter(Boolean).join(":");
  return new Promise((done, fail) => {
    const child = spawn(python, [PY_SCRIPT], {
      // No __pycache__ left in the source tree the package is imported from.
      env: {
        ...process.env,
        PYTHONPATH: path,
        PYTHONDONTWRITEBYTECODE: "1",
        BENCH_PY_JOB: JSON.stringify(job),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.once("error", fail);
    child.once("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) done(JSON.parse(last) as Transfer);
      else
        fail(new Error(`${python} bench/py_transfer.py ${String(job.op)} exited ${code}: ${stderr.trim()}`));
    });
  });
}

/** Why the Python rows cannot run here (no python3, grpcio, protobuf or boto3), or undefined. */
export async function pythonMissing(): Promise<string | undefined> {
  try {
    await runPython({ op: "check" });
    return undefined;
  } catch (err) {
    const last = (err instanceof Error ? err.message : String(err)).trim().split("\n").pop();
    return `${last} (pip install -r clients/python/requirements.txt boto3)`;
  }
}

export const pythonTransfer = (
  op: PythonOp,
  target: PythonTarget,
  object: { bucket: string; key: string; file?: string },
) => runPython({ op, ...target, ...object });

/** Why curl cannot run here, or undefined. */
export async function curlMissing(): Promise<string | undefined> {
  return run("curl", ["--version"]).then(
    () => undefined,
    () => "curl not found on PATH",
  );
}

/**
 * `curl -T file` (a PUT) or a plain GET into /dev/null, as the measurement did; the token
 * goes in on stdin (`-K -`), not on the command line. Time is curl's own %{time_total}.
 */
export function curlTransfer(
  direction: "up" | "down",
  url: string,
  token: string,
  size: number,
  file?: string,
): Promise<Transfer> {
  const args = ["-sS", "-K", "-", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url];
  if (direction === "up") args.unshift("-T", file ?? "", "-H", "content-type: application/octet-stream");
  return new Promise((done, fail) => {
    const child = spawn("curl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err += c;
    });
    child.once("error", fail);
    child.once("close", (code) => {
      const [status, seconds] = out.trim().split(" ");
      const expected = direction === "up" ? "201" : "200";
      if (code === 0 && status === expected) done({ seconds: Number(seconds), bytes: size });
      else fail(new Error(`curl ${direction} exited ${code} with HTTP ${status}: ${err.trim()}`));
    });
    child.stdin.end(`header = "authorization: Bearer ${token}"\n`);
  });
}
