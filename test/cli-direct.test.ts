import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/main.ts";
import { runCli } from "./support/cli.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";

/**
 * The CLI's remote put and get of files above 64 MiB: straight to and from MinIO (an upload session
 * the service completes, a presigned GET verified against the recorded sha256) unless --proxy; a
 * service on the local backend has no direct path, and "auto" goes through it instead.
 */

const MiB = 1024 ** 2;

let minio: HttpHarness;
let local: HttpHarness;
let tmp: string;
let big: string;
let bigSha: string;
const bare = () => ({ XDG_CONFIG_HOME: join(tmp, "xdg") });

beforeAll(async () => {
  minio = await startHttp("minio");
  local = await startHttp("local");
  tmp = await mkdtemp(join(tmpdir(), "lumenslate-cli-direct-"));
  big = join(tmp, "weights.bin");
  const data = uploadableBytes(100 * MiB + 123);
  bigSha = sha256Of(data);
  await writeFile(big, data);
});
afterAll(async () => {
  await minio?.close();
  await local?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const remote = (h: HttpHarness, ...argv: string[]) =>
  runCli(bare(), ...argv, "--endpoint", h.base, "--token", h.token);

function parsed(run: { code: number; stdout: string; stderr: string }): Record<string, unknown> {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** The upload sessions the service holds for a key: a direct put leaves one, completed. */
async function sessionsFor(h: HttpHarness, bucket: string, key: string): Promise<string[]> {
  const { rows } = await sql<{ state: string }>`
    select state from upload_sessions where bucket = ${bucket} and key = ${key}`.execute(h.app.db);
  return rows.map((r) => r.state);
}

/** What the service audited for a key since `since`, in order. */
async function audited(h: HttpHarness, bucket: string, key: string, since: Date): Promise<string[]> {
  const records = await h.app.security.audit.query({ since, bucket });
  return records
    .filter((r) => r.key === key && r.result === "OK")
    .map((r) => r.action)
    .sort();
}

describe("remote put and get of a 100 MiB file", () => {
  it("go straight to the object store by default, and the index row has the file's sha256", async () => {
    const bucket = minio.app.config.buckets.temp;
    const key = "direct/weights.bin";
    const since = new Date(Date.now() - 1000);
    const put = parsed(await remote(minio, "put", bucket, key, big, "--json"));
    expect(put).toMatchObject({ bucket, key, size: 100 * MiB + 123, sha256: bigSha });
    expect(await sessionsFor(minio, bucket, key)).toEqual(["completed"]);
    expect((await minio.app.service.stat(bucket, key)).sha256).toBe(bigSha);

    const out = join(tmp, "weights.out");
    const got = parsed(await remote(minio, "get", bucket, key, out, "--json"));
    expect(got).toMatchObject({ sha256: bigSha, written: 100 * MiB + 123, file: out });
    expect(sha256Of(await readFile(out))).toBe(bigSha);
    // The bytes went both ways past the service: a session it completed, a URL it signed; never
    // an upload or a download of the object through it.
    const actions = await audited(minio, bucket, key, since);
    expect(actions).toContain("upload-session-complete");
    expect(actions).toContain("presign");
    expect(actions).not.toContain("upload");
    expect(actions).not.toContain("download");
  });

  it("go through the service with --proxy", async () => {
    const bucket = minio.app.config.buckets.temp;
    const key = "proxied/weights.bin";
    const since = new Date(Date.now() - 1000);
    const put = parsed(await remote(minio, "put", bucket, key, big, "--proxy", "--json"));
    expect(put).toMatchObject({ size: 100 * MiB + 123, sha256: bigSha });
    expect(await sessionsFor(minio, bucket, key)).toEqual([]);
    const out = join(tmp, "proxied.out");
    parsed(await remote(minio, "get", bucket, key, out, "--proxy", "--json"));
    expect(sha256Of(await readFile(out))).toBe(bigSha);
    expect(await audited(minio, bucket, key, since)).not.toContain("presign");
  });

  it("fall back to the service on the local backend, and --direct there names why it cannot", async () => {
    const bucket = local.app.config.buckets.temp;
    const key = "fallback/weights.bin";
    const put = parsed(await remote(local, "put", bucket, key, big, "--json"));
    expect(put).toMatchObject({ size: 100 * MiB + 123, sha256: bigSha });
    const out = join(tmp, "fallback.out");
    parsed(await remote(local, "get", bucket, key, out, "--json"));
    expect(sha256Of(await readFile(out))).toBe(bigSha);

    const forced = await remote(local, "put", bucket, "fallback/forced.bin", big, "--direct");
    expect(forced.code).toBe(EXIT_CODES.UNSUPPORTED_OPERATION);
    expect(forced.stderr).toMatch(/UNSUPPORTED_OPERATION.*S3\/MinIO backend/);
    const missing = await remote(local, "stat", bucket, "fallback/forced.bin");
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  });

  it("refuses --direct with --proxy, and --direct with --range", async () => {
    const bucket = minio.app.config.buckets.temp;
    const both = await remote(minio, "put", bucket, "x/both.bin", big, "--direct", "--proxy");
    expect(both.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
    expect(both.stderr).toMatch(/--direct or --proxy, not both/);
    const ranged = await remote(
      minio,
      "get",
      bucket,
      "direct/weights.bin",
      "-",
      "--direct",
      "--range",
      "0-9",
    );
    expect(ranged.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
    expect(ranged.stderr).toMatch(/--direct cannot be used with --range/);
  });
});
