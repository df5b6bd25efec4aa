import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Of } from "./support/data.ts";
import { expectProblem, fetchWithKey, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";
import { pe } from "./support/polyglots.ts";

/**
 * /v1/users/{userId}/... over real sockets on the shared MinIO and PostgreSQL (DATABASE_URL) or
 * PGlite: uploads under a service-made upload id, quotas refused before a byte is read (nothing
 * stored, usage unchanged), the STORAGE_* content rules, scoped keys confined to their user, and
 * delete-all leaving nothing under the user's prefix.
 */

interface FileJson {
  userId: string;
  uploadId: string;
  filename: string;
  key: string;
  size: number;
  sha256: string;
}
interface UsageJson {
  bytes: number;
  objects: number;
  reservedBytes: number;
  reservedObjects: number;
  quota: { bytes: number; objects: number };
}

describe("user data over HTTP", () => {
  let h: HttpHarness;
  let bucket: string;
  const run = Date.now().toString(36);
  const user = (name: string) => `${name}-${run}`;

  beforeAll(async () => {
    h = await startHttp("minio");
    bucket = h.app.config.buckets.userData;
  });
  afterAll(async () => {
    await h?.close();
  });

  const upload = (userId: string, filename: string, body: Buffer, f: typeof fetch = h.fetch) =>
    f(`${h.base}/v1/users/${userId}/files/${encodeURIComponent(filename)}`, { method: "POST", body });
  const usage = async (userId: string) =>
    json<UsageJson>(await h.fetch(`${h.base}/v1/users/${userId}/usage`));
  const setQuota = async (userId: string, quota: { bytes?: number; objects?: number }) => {
    const res = await h.fetch(`${h.base}/v1/users/${userId}/quota`, { ...jsonPost(quota), method: "PUT" });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  /** What the backend itself holds under the user's prefix (not the service's index). */
  const stored = async (userId: string) =>
    (await h.app.store.list(bucket, { prefix: `users/${userId}/` })).objects;

  it("stores an upload under users/{userId}/{uploadId}/{filename}, lists, downloads and counts it", async () => {
    const alice = user("alice");
    const body = Buffer.from("quarterly notes\n");
    const res = await upload(alice, "notes.txt", body);
    expect(res.status, await res.clone().text()).toBe(201);
    const file = await json<FileJson>(res);
    expect(file.key).toBe(`users/${alice}/${file.uploadId}/notes.txt`);
    expect(file.uploadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(file.sha256).toBe(sha256Of(body));

    const list = await json<{ files: FileJson[] }>(await h.fetch(`${h.base}/v1/users/${alice}/files`));
    expect(list.files.map((f) => f.key)).toEqual([file.key]);

    const got = await h.fetch(`${h.base}/v1/users/${alice}/files/${file.uploadId}/notes.txt`);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-disposition")).toContain("attachment");
    expect(Buffer.from(await got.arrayBuffer())).toEqual(body);

    expect(await usage(alice)).toMatchObject({ bytes: body.length, objects: 1, reservedBytes: 0 });
  });

  it("refuses an upload over the byte quota before reading its body: nothing stored, usage unchanged", async () => {
    const bob = user("bob");
    await setQuota(bob, { bytes: 1000 });
    expect((await upload(bob, "a.txt", Buffer.alloc(600, "a"))).status).toBe(201);
    const before = await usage(bob);

    // Headers only: the answer must come while the 2000 announced bytes are still unsent.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${h.base}/v1/users/${bob}/files/b.txt`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${h.token}`,
          "content-length": "2000",
          "content-type": "text/plain",
        },
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        });
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(answer.status).toBe(413);
    const problem = JSON.parse(answer.body) as { code: string; details: Record<string, unknown> };
    expect(problem.code).toBe("TOO_LARGE");
    expect(problem.details).toMatchObject({
      quota: "bytes",
      limit: 1000,
      remainingBytes: 400,
      remainingObjects: 9999,
    });

    expect((await stored(bob)).map((o) => o.key.split("/").at(-1))).toEqual(["a.txt"]);
    expect(await usage(bob)).toEqual(before);
  });

  it("refuses the upload past the object quota with the remaining allowance", async () => {
    const carol = user("carol");
    await setQuota(carol, { objects: 2 });
    for (const name of ["1.txt", "2.txt"])
      expect((await upload(carol, name, Buffer.from(name))).status).toBe(201);
    const problem = await expectProblem(await upload(carol, "3.txt", Buffer.from("3")), 413, "TOO_LARGE");
    expect(problem.details).toMatchObject({ quota: "objects", limit: 2, remainingObjects: 0 });
    expect(await stored(carol)).toHaveLength(2);
  });

  it("refuses a disguised executable and gives its reservation back", async () => {
    const dave = user("dave");
    const before = await usage(dave);
    await expectProblem(await upload(dave, "invoice.pdf", pe()), 415, "UNSUPPORTED_TYPE");
    await expectProblem(await upload(dave, "setup.exe", pe()), 415, "UNSUPPORTED_TYPE");
    expect(await stored(dave)).toEqual([]);
    expect(await usage(dave)).toEqual(before);
  });

  it("refuses an upload without Content-Length and bad names", async () => {
    const erin = user("erin");
    const chunked = await h.fetch(`${h.base}/v1/users/${erin}/files/x.txt`, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("hello"));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    const problem = await expectProblem(chunked, 400, "INVALID_ARGUMENT");
    expect(problem.details).toMatchObject({ field: "content-length" });
    for (const bad of [encodeURIComponent("a b"), ".hidden"]) {
      const refused = await expectProblem(
        await upload(bad, "x.txt", Buffer.from("x")),
        400,
        "INVALID_ARGUMENT",
      );
      expect(refused.details).toMatchObject({ field: "userId" });
    }
    await expectProblem(await upload(erin, "a\\b.txt", Buffer.from("x")), 400, "INVALID_ARGUMENT");
    expect(await stored(erin)).toEqual([]);
  });

  it("confines a key scoped user-data/users/{user_id}/ to the user named by x-user-id", async () => {
    const frank = user("frank");
    const grace = user("grace");
    const token = await h.createKey("portal", [`${bucket}/users/{user_id}/:read,write,list,delete`]);
    const asFrank: typeof fetch = (input, init = {}) =>
      fetchWithKey(token)(input, { ...init, headers: { ...(init.headers as object), "x-user-id": frank } });
    expect((await upload(frank, "mine.txt", Buffer.from("mine"), asFrank)).status).toBe(201);
    expect((await asFrank(`${h.base}/v1/users/${frank}/files`)).status).toBe(200);
    await expectProblem(
      await upload(grace, "theirs.txt", Buffer.from("no"), asFrank),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(await asFrank(`${h.base}/v1/users/${grace}/files`), 403, "PERMISSION_DENIED");
    await expectProblem(
      await asFrank(`${h.base}/v1/users/${grace}/files`, { method: "DELETE" }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await asFrank(`${h.base}/v1/users/${frank}/quota`, { ...jsonPost({ bytes: 1 }), method: "PUT" }),
      403,
      "PERMISSION_DENIED",
    );
    expect(await stored(grace)).toEqual([]);
  });

  it("deletes one file and gives its bytes back", async () => {
    const heidi = user("heidi");
    const file = await json<FileJson>(await upload(heidi, "a.txt", Buffer.alloc(300, "a")));
    await upload(heidi, "b.txt", Buffer.alloc(200, "b"));
    const res = await h.fetch(`${h.base}/v1/users/${heidi}/files/${file.uploadId}/a.txt`, {
      method: "DELETE",
    });
    expect(res.status).toBe(200);
    expect(await usage(heidi)).toMatchObject({ bytes: 200, objects: 1 });
    expect((await stored(heidi)).map((o) => o.key.split("/").at(-1))).toEqual(["b.txt"]);
    const again = await h.fetch(`${h.base}/v1/users/${heidi}/files/${file.uploadId}/a.txt`, {
      method: "DELETE",
    });
    await expectProblem(again, 404, "NOT_FOUND");
    expect(await usage(heidi)).toMatchObject({ bytes: 200, objects: 1 });
  });

  it("deletes everything of a user, reports it, and leaves other users alone", async () => {
    const ivan = user("ivan");
    const judy = user("judy");
    const sizes = [10, 20, 30, 40, 50];
    for (const [i, size] of sizes.entries()) {
      expect((await upload(ivan, `f${i}.txt`, Buffer.alloc(size, "x"))).status).toBe(201);
    }
    expect((await upload(judy, "keep.txt", Buffer.from("keep"))).status).toBe(201);

    const res = await h.fetch(`${h.base}/v1/users/${ivan}/files`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      userId: ivan,
      deletedObjects: 5,
      deletedBytes: 150,
      failed: 0,
      errors: [],
    });
    expect(await stored(ivan)).toEqual([]);
    expect(
      (await json<{ files: FileJson[] }>(await h.fetch(`${h.base}/v1/users/${ivan}/files`))).files,
    ).toEqual([]);
    expect(await usage(ivan)).toMatchObject({ bytes: 0, objects: 0 });
    expect(await stored(judy)).toHaveLength(1);

    const audit = await h.app.db
      .withTables<{ audit_events: { action: string; key: string | null; bytes: string | number | null } }>()
      .selectFrom("audit_events")
      .select(["action", "bytes"])
      .where("action", "=", "users.delete-all")
      .where("key", "=", `users/${ivan}/`)
      .execute();
    expect(audit.map((a) => Number(a.bytes))).toEqual([150]);
  });
});
