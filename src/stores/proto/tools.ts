import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The command-line tools the registry runs (buf, proto-loader-gen-types, grpc_tools.protoc), each
 * in a private temp directory, with a bounded run time and a minimal environment: a child gets
 * what finds and runs the tool (PATH, HOME, Python's and pyenv's settings), never the service's
 * credentials, which the rest of the environment may hold.
 */

const require = createRequire(import.meta.url);

/** Resolved once, from this package's own node_modules: the server works offline. */
export const BUF_SHIM = require.resolve("@bufbuild/buf/bin/buf");
export const PROTO_LOADER_GEN_TYPES = require.resolve(
  "@grpc/proto-loader/build/bin/proto-loader-gen-types.js",
);

const PASSED_ENV = [
  "PATH",
  "HOME",
  "LANG",
  "TMPDIR",
  "PYENV_ROOT",
  "PYENV_VERSION",
  "VIRTUAL_ENV",
  "PYTHONPATH",
];

function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Compiling or generating one set takes well under a second; a minute means something hangs. */
const TOOL_TIMEOUT_MS = 60_000;
/** What is kept of a tool's output: an image as JSON on stdout, error lines on stderr. */
const MAX_STDOUT = 256 * 1024 * 1024;
const MAX_STDERR = 1024 * 1024;

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  cwd: string;
  input?: Buffer;
  env?: Record<string, string>;
}

export function runTool(command: string, args: string[], options: ToolOptions): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
      timeout: TOOL_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      if (stdout.length < MAX_STDOUT) stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      if (stderr.length < MAX_STDERR) stderr += s;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    // A tool that exits without reading its input closes the pipe: that is not our failure.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** Runs `fn` in a fresh private temp directory that is removed afterwards, whatever happens. */
export async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "lumenslate-proto-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The buf CLI through its npm shim (which starts the platform binary), with a cache directory of
 * the caller's (outside the module being compiled), so it never writes to the service's home.
 */
export function runBuf(args: string[], options: ToolOptions & { cacheDir: string }): Promise<ToolResult> {
  const { cacheDir, ...rest } = options;
  return runTool(process.execPath, [BUF_SHIM, ...args], {
    ...rest,
    env: { BUF_CACHE_DIR: cacheDir, ...rest.env },
  });
}
