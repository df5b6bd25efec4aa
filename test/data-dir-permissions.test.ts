import { type ChildProcess, execFile, spawn } from "node:child_process";
import { lstat, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The real server process on the zero-configuration defaults (local objects, embedded PGlite, all
 * under ./data of its working directory), started under `umask 000` as a careless service manager
 * might: the first admin key must reach only its 0600 key file (not stdout or stderr, which a log
 * collector keeps, and neither is a TTY here), and nothing under ./data may be open to group or
 * others — the PGlite files (whose WAL holds key hashes) included.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const BIN = join(ROOT, "bin/lumenslate-storage.js");
const TOKEN_SHAPE = /lss_[a-z0-9]{16}_/;

/** Runs `argv` under `sh` with umask 000, so whatever the process creates is as loose as it allows. */
const UNDER_UMASK_000 = ["-c", 'umask 000; exec "$0" "$@"'];

interface Server {
  child: ChildProcess;
  /** The HTTP base URL, from the "listening" log line. */
  url: string;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `serve` and resolves once both servers listen (or rejects with what it printed if it exits). */
function startServer(cwd: string, env: Record<string, string>): Promise<Server> {
  const child = spawn("sh", [...UNDER_UMASK_000, NODE, BIN, "serve"], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let url: string | undefined;
  return new Promise((done, fail) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
      // Whole lines only: the last one may still be arriving.
      for (const line of err.split("\n").slice(0, -1)) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === "listening") url = entry.address;
        if (entry.msg === "grpc listening" && url) {
          done({ child, url, stdout: () => out, stderr: () => err });
        }
      }
    });
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`serve exited with ${code} before listening:\n${err}`)));
  });
}

/** Every path under `root` (root included) whose mode lets group or others in, and how many were seen. */
async function looseModes(root: string): Promise<{ loose: string[]; files: number; dirs: number }> {
  const loose: string[] = [];
  let files = 0;
  let dirs = 0;
  const visit = async (path: string) => {
    const info = await lstat(path);
    const mode = info.mode & 0o777;
    if (info.isDirectory()) {
      dirs++;
      if (mode !== 0o700) loose.push(`${path} ${mode.toString(8)}`);
      for (const name of await readdir(path)) await visit(join(path, name));
    } else if (info.isFile()) {
      files++;
      if ((mode & 0o077) !== 0) loose.push(`${path} ${mode.toString(8)}`);
    } else if (!info.isSymbolicLink()) {
      loose.push(`${path} (unexpected file type)`);
    }
  };
  await visit(root);
  return { loose, files, dirs };
}

describe("data directory permissions and the first admin key (real server process)", () => {
  let cwd: string;
  let env: Record<string, string>;
  let server: Server | undefined;

  beforeAll(async () => {
    cwd = await realpath(await mkdtemp(join(tmpdir(), "lumenslate-perms-")));
    // Built from scratch so nothing from the test's own environment (DATABASE_URL, MinIO) leaks in:
    // the defaults are what is under test.
    env = {
      PATH: process.env.PATH ?? "",
      HOME: cwd,
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      AUDIT_EXPORT_INTERVAL: "off",
    };
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
    await rm(cwd, { recursive: true, force: true });
  });

  it("the shell really starts its child under umask 000 (else this suite would prove nothing)", async () => {
    const { stdout } = await promisify(execFile)("sh", [
      ...UNDER_UMASK_000,
      NODE,
      "-e",
      "process.stdout.write(String(process.umask()))",
    ]);
    expect(stdout).toBe("0");
  });

  it("writes the key to a 0600 file only, and keeps every file under ./data private", async () => {
    server = await startServer(cwd, env);
    const data = join(cwd, "data");
    const keyFile = join(data, "admin-key");

    const token = (await readFile(keyFile, "utf8")).trim();
    expect(token).toMatch(new RegExp(`^${TOKEN_SHAPE.source}[A-Za-z0-9_-]{43}$`));
    expect((await lstat(keyFile)).mode & 0o777).toBe(0o600);

    // The token works: an upload with it is stored and reads back; without it, 401.
    const object = `${server.url}/v1/buckets/user-data/objects/notes/hello.txt`;
    const auth = { authorization: `Bearer ${token}` };
    const put = await fetch(object, {
      method: "PUT",
      headers: { ...auth, "content-type": "text/plain" },
      body: "hello, private world",
    });
    expect(put.status).toBe(201);
    const get = await fetch(object, { headers: auth });
    expect(get.status).toBe(200);
    expect(await get.text()).toBe("hello, private world");
    expect((await fetch(object)).status).toBe(401);

    const running = await looseModes(data);
    expect(running.loose).toEqual([]);

    // PGlite writes more on shutdown (checkpoint): check again once the process has stopped.
    const exited = new Promise<number | null>((done) => server?.child.once("exit", (code) => done(code)));
    server.child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const stopped = await looseModes(data);
    expect(stopped.loose).toEqual([]);
    // Enough was looked at for the assertion to mean something: the database, the object, the key.
    expect(stopped.files).toBeGreaterThan(20);
    expect(stopped.dirs).toBeGreaterThan(5);

    // stdout and stderr are pipes here (no TTY): they say where the key is, never what it is.
    const printed = server.stdout() + server.stderr();
    expect(server.stderr()).toContain(keyFile);
    expect(printed).not.toContain(token);
    expect(printed).not.toContain(token.slice("lss_".length + 16 + 1)); // the secret part alone
    expect(printed).not.toMatch(TOKEN_SHAPE);
  });
});
