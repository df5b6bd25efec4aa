import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionStatePath } from "../src/cli/remote/model-session.ts";
import type { ObjectInfo } from "../src/core/types.ts";
import { blobKey } from "../src/stores/models/index.ts";
import { runCli } from "./support/cli.ts";
import { sha256Of } from "./support/data.ts";
import { expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

/**
 * Large model files through resumable upload sessions, on a real MinIO: a session opened by the
 * model route at `blobs/sha256/<hex>` (the client never names the bucket), parts PUT straight to
 * MinIO, a connection cut after some parts and a new client resuming from the session's part list,
 * completion checking the declared sha256 (and the content, as a proxied upload's is checked), and
 * the blob then published in a version and pulled back with a matching sha256. Bytes are generated
 * part by part (AES-CTR keystream), never held whole; pulls are hashed as they stream.
 */

const MiB = 1024 ** 2;
const run = randomBytes(3).toString("hex");
/** A text prefix on part 1, so that random bytes never happen to look like a known format. */
const PREFIX = Buffer.from("lumenslate model session test\n");

function partBytes(seed: string, partNumber: number, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(partNumber, 0);
  const bytes = createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(size));
  if (partNumber === 1) PREFIX.copy(bytes, 0, 0, Math.min(PREFIX.length, size));
  return bytes;
}

/** A planned file: its parts' sizes, each part's sha256 and the whole file's. */
function planObject(seed: string, size: number, partSize: number) {
  const count = Math.max(1, Math.ceil(size / partSize));
  const sizeOf = (n: number) => (n < count ? partSize : size - partSize * (count - 1));
  const whole = createHash("sha256");
  const partSha: string[] = [];
  for (let n = 1; n <= count; n++) {
    const bytes = partBytes(seed, n, sizeOf(n));
    whole.update(bytes);
    partSha.push(createHash("sha256").update(bytes).digest("hex"));
  }
  return { seed, size, partSize, count, sizeOf, partSha, sha256: whole.digest("hex") };
}
type Planned = ReturnType<typeof planObject>;

interface SessionJson {
  id: string;
  bucket: string;
  key: string;
  size: number;
  partSize: number;
  partCount: number;
  state: string;
}
interface BlobJson {
  sha256: string;
  size: number;
  deduplicated: boolean;
}
interface PartUrlJson {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
}

let h: HttpHarness;
let bucket: string;
/** The CLI tests' files and config directories. */
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "model-sessions-"));
  h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false" });
  bucket = h.app.config.buckets.modelArtifacts;
});
afterAll(async () => {
  await h?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const models = (path: string) => `${h.base}/v1/models${path}`;
const openBlobSession = (body: Record<string, unknown>) => h.fetch(models("/blobs/uploads"), jsonPost(body));
const status = async (id: string) =>
  json<SessionJson & { parts: { partNumber: number }[] }>(await h.fetch(`${h.base}/v1/uploads/${id}`));
const complete = (id: string) => h.fetch(`${h.base}/v1/uploads/${id}/complete`, { method: "POST" });
const publish = (type: string, version: string, files: { path: string; sha256: string }[]) =>
  h.fetch(models(`/${type}/${version}`), { ...jsonPost({ files }), method: "PUT" });

async function partUrls(id: string, object: Planned, numbers: number[]): Promise<PartUrlJson[]> {
  const body = { parts: numbers.map((n) => ({ partNumber: n, sha256: object.partSha[n - 1] })) };
  const res = await h.fetch(`${h.base}/v1/uploads/${id}/parts`, jsonPost(body));
  expect(res.status).toBe(200);
  return (await json<{ parts: PartUrlJson[] }>(res)).parts;
}

/** PUTs parts straight to MinIO, one part in memory at a time. */
async function putParts(urls: PartUrlJson[], object: Planned): Promise<void> {
  for (const u of urls) {
    const res = await fetch(u.url, {
      method: "PUT",
      headers: u.headers,
      body: partBytes(object.seed, u.partNumber, object.sizeOf(u.partNumber)),
    });
    expect(res.status, await res.text()).toBe(200);
  }
}

/** sha256 and length of a response body, hashed as it streams. */
async function digestBody(res: Response): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

describe("model blobs through resumable upload sessions (real MinIO)", () => {
  it("a 1 GiB model in 64 MiB parts, cut after 5 of 16 parts, resumed, completed, published and pulled back", async () => {
    const type = `big-${run}`;
    const path = "weights/model.safetensors";
    const object = planObject(`one-gib-${run}`, 1024 * MiB, 64 * MiB);
    const t0 = Date.now();
    const opened = await openBlobSession({
      sha256: object.sha256,
      size: object.size,
      path,
      partSize: 64 * MiB,
    });
    expect(opened.status, await opened.clone().text()).toBe(201);
    const session = await json<SessionJson>(opened);
    expect(opened.headers.get("location")).toBe(`/v1/uploads/${session.id}`);
    expect(session).toMatchObject({ bucket, key: blobKey(object.sha256), partCount: 16, state: "open" });

    // The first client uploads five parts, then its connection is gone.
    const all = Array.from({ length: object.count }, (_, i) => i + 1);
    await putParts((await partUrls(session.id, object, all)).slice(0, 5), object);
    // Until the session completes there is no blob to publish.
    await expectProblem(
      await publish(type, "1.0.0", [{ path, sha256: object.sha256 }]),
      412,
      "PRECONDITION_FAILED",
    );

    // A new client knows only the session id: the store lists the parts it holds.
    const seen = await status(session.id);
    expect(seen.parts.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5]);
    const missing = all.filter((n) => n > 5);
    await putParts(await partUrls(session.id, object, missing), object);
    const t1 = Date.now();
    const done = await complete(session.id);
    expect(done.status, await done.clone().text()).toBe(200);
    expect(await json<ObjectInfo>(done)).toMatchObject({
      bucket,
      key: blobKey(object.sha256),
      size: object.size,
      sha256: object.sha256,
    });
    const t2 = Date.now();

    // The blob is stored: a second session for it is answered with the blob, a wrong size refused.
    const again = await openBlobSession({ sha256: object.sha256, size: object.size, path });
    expect(again.status).toBe(200);
    expect(await json<BlobJson>(again)).toMatchObject({
      sha256: object.sha256,
      size: object.size,
      deduplicated: true,
    });
    await expectProblem(
      await openBlobSession({ sha256: object.sha256, size: object.size - 1, path }),
      412,
      "PRECONDITION_FAILED",
    );

    const published = await publish(type, "1.0.0", [{ path, sha256: object.sha256 }]);
    expect(published.status, await published.clone().text()).toBe(201);
    expect((await json<{ files: unknown[] }>(published)).files).toEqual([
      { path, size: object.size, sha256: object.sha256, storedSize: object.size, encoding: "identity" },
    ]);
    const pulled = await h.fetch(models(`/${type}/latest/files/${path}`));
    expect(pulled.status).toBe(200);
    expect(await digestBody(pulled)).toEqual({ sha256: object.sha256, size: object.size });
    const t3 = Date.now();
    console.info(
      `1 GiB model session: 16 parts of 64 MiB, 5 before the cut and 11 resumed; parts ${((t1 - t0) / 1000).toFixed(1)}s, ` +
        `complete (read back and verified) ${((t2 - t1) / 1000).toFixed(1)}s, publish and pull ${((t3 - t2) / 1000).toFixed(1)}s`,
    );
  }, 900_000);

  it("refuses a session completed with a wrong declared digest: no blob, nothing to publish", async () => {
    const object = planObject(`liar-${run}`, 6 * MiB, 5 * MiB);
    const declared = planObject(`other-${run}`, 6 * MiB, 5 * MiB).sha256;
    const opened = await openBlobSession({
      sha256: declared,
      size: object.size,
      path: "m.bin",
      partSize: 5 * MiB,
    });
    expect(opened.status).toBe(201);
    const session = await json<SessionJson>(opened);
    await putParts(await partUrls(session.id, object, [1, 2]), object);
    const refused = await expectProblem(await complete(session.id), 412, "PRECONDITION_FAILED");
    expect(refused.detail).toMatch(/sha256 does not match/);
    expect((await status(session.id)).state).toBe("aborted");
    expect((await h.fetch(models(`/blobs/${declared}`), { method: "HEAD" })).status).toBe(404);
    await expect(h.app.store.head(bucket, blobKey(declared))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expectProblem(
      await publish(`liar-${run}`, "1", [{ path: "m.bin", sha256: declared }]),
      412,
      "PRECONDITION_FAILED",
    );
  });

  it("needs read as well as write on blobs/ (a declared digest references a blob), and refuses bad input", async () => {
    const object = planObject(`scoped-${run}`, 1024, 5 * MiB);
    const writeOnly = await h.createKey("blob-writer", [`${bucket}/blobs/:write`]);
    const body = { sha256: object.sha256, size: object.size, path: "m.bin" };
    await expectProblem(
      await fetch(models("/blobs/uploads"), {
        ...jsonPost(body),
        headers: { "content-type": "application/json", authorization: `Bearer ${writeOnly}` },
      }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(await openBlobSession({ ...body, sha256: "nothex" }), 400, "INVALID_ARGUMENT");
    await expectProblem(await openBlobSession({ ...body, path: "../escape.bin" }), 400, "INVALID_ARGUMENT");
    await expectProblem(await openBlobSession({ ...body, partSize: 1024 }), 400, "INVALID_ARGUMENT");
    await expectProblem(await openBlobSession({ ...body, size: 60 * 1024 ** 4 }), 413, "TOO_LARGE");
    expect(
      (await h.app.store.listIncompleteUploads(bucket)).filter((u) => u.key === blobKey(object.sha256)),
    ).toEqual([]);
  });

  it("checks a session's content at completion as a proxied upload's: a .pdf that is no PDF is refused", async () => {
    const temp = h.app.config.buckets.temp;
    const text = Buffer.from("not a PDF at all, only text\n".repeat(100));
    const res = await h.fetch(
      `${h.base}/v1/uploads`,
      jsonPost({ bucket: temp, key: `sessions/${run}/fake.pdf`, size: text.length, sha256: sha256Of(text) }),
    );
    expect(res.status).toBe(201);
    const session = await json<SessionJson>(res);
    const [url] = await partUrls(session.id, { partSha: [sha256Of(text)] } as Planned, [1]);
    if (!url) throw new Error("no part URL");
    expect((await fetch(url.url, { method: "PUT", headers: url.headers, body: text })).status).toBe(200);
    const refused = await expectProblem(await complete(session.id), 415, "UNSUPPORTED_TYPE");
    expect(refused.detail).toMatch(/not a \.pdf file/);
    expect((await status(session.id)).state).toBe("aborted");
    await expect(h.app.store.head(temp, `sessions/${run}/fake.pdf`)).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});

describe("model push through sessions from the CLI", () => {
  it("resumes a cut session from its state file and sends only the missing parts", async () => {
    const dir = join(scratch, "resume");
    const xdg = join(dir, "xdg");
    await mkdir(join(dir, "model"), { recursive: true });
    const object = planObject(`cli-${run}`, 12 * MiB + 5, 5 * MiB);
    const file = join(dir, "model", "weights.bin");
    await writeFile(file, Buffer.concat([1, 2, 3].map((n) => partBytes(object.seed, n, object.sizeOf(n)))));
    // An earlier push that was cut after part 1: its session, and the state file it left.
    const opened = await openBlobSession({
      sha256: object.sha256,
      size: object.size,
      path: "weights.bin",
      partSize: 5 * MiB,
    });
    const session = await json<SessionJson>(opened);
    await putParts(await partUrls(session.id, object, [1]), object);
    const stateDir = join(xdg, "lumenslate-storage", "uploads");
    await mkdir(stateDir, { recursive: true });
    await writeFile(
      sessionStatePath(stateDir, object.sha256),
      JSON.stringify({ base: h.base, id: session.id, size: object.size }),
    );

    const type = `cli-${run}`;
    const env = { XDG_CONFIG_HOME: xdg };
    const remote = ["--endpoint", h.base, "--token", h.token];
    const pushed = await runCli(
      env,
      "model",
      "push",
      join(dir, "model"),
      "--type",
      type,
      "--version",
      "1",
      "--session-threshold",
      "1MiB",
      ...remote,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain("resumed weights.bin: 1 parts were uploaded already");
    expect(await status(session.id)).toMatchObject({ state: "completed" });
    expect(await readdir(stateDir)).toEqual([]);

    const out = join(dir, "pulled");
    const pulled = await runCli(env, "model", "pull", type, "1", "--out", out, "--json", ...remote);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout).files).toMatchObject([
      { path: "weights.bin", size: object.size, sha256: object.sha256 },
    ]);
  });

  it("starts a new session when its state file names one that is gone, and leaves no state behind", async () => {
    const dir = join(scratch, "stale");
    const xdg = join(dir, "xdg");
    await mkdir(dir, { recursive: true });
    const object = planObject(`stale-${run}`, 6 * MiB, 5 * MiB);
    const file = join(dir, "weights.bin");
    await writeFile(file, Buffer.concat([1, 2].map((n) => partBytes(object.seed, n, object.sizeOf(n)))));
    const stateDir = join(xdg, "lumenslate-storage", "uploads");
    await mkdir(stateDir, { recursive: true });
    const gone = "00000000-0000-4000-8000-000000000000";
    await writeFile(
      sessionStatePath(stateDir, object.sha256),
      JSON.stringify({ base: h.base, id: gone, size: object.size }),
    );
    const pushed = await runCli(
      { XDG_CONFIG_HOME: xdg },
      ...["model", "push", file, "--type", `stale-${run}`, "--version", "1", "--session-threshold", "1MiB"],
      ...["--json", "--endpoint", h.base, "--token", h.token],
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout).files).toMatchObject([
      { path: "weights.bin", size: object.size, sha256: object.sha256, encoding: "identity" },
    ]);
    expect(await readdir(stateDir)).toEqual([]);
    // The bytes went through a new session (not streamed through the service), now completed.
    const { rows } = await sql<{ state: string }>`
      select state from upload_sessions where bucket = ${bucket} and key = ${blobKey(object.sha256)}`.execute(
      h.app.db,
    );
    expect(rows).toEqual([{ state: "completed" }]);
  });

  it("falls back to a streamed upload when the service has no sessions (local backend)", async () => {
    const local = await startHttp("local");
    try {
      const dir = join(scratch, "local");
      await mkdir(dir, { recursive: true });
      const data = Buffer.concat([PREFIX, randomBytes(2 * MiB)]);
      await writeFile(join(dir, "weights.bin"), data);
      const pushed = await runCli(
        { XDG_CONFIG_HOME: join(dir, "xdg") },
        "model",
        "push",
        join(dir, "weights.bin"),
        "--type",
        "fallback",
        "--version",
        "1",
        "--session-threshold",
        "1MiB",
        "--json",
        "--endpoint",
        local.base,
        "--token",
        local.token,
      );
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(JSON.parse(pushed.stdout).files).toMatchObject([
        { path: "weights.bin", size: data.length, sha256: sha256Of(data) },
      ]);
      const refused = await local.fetch(
        `${local.base}/v1/models/blobs/uploads`,
        jsonPost({ sha256: sha256Of("x"), size: 1, path: "x" }),
      );
      await expectProblem(refused, 501, "UNSUPPORTED_OPERATION");
    } finally {
      await local.close();
    }
  });
});
