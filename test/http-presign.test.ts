import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "./support/data.ts";
import { bearer, expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

interface Presigned {
  url: string;
  method: string;
  expiresAt: string;
  headers: Record<string, string>;
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  actions: string[];
}

/** The S3 error name a call fails with, or undefined when it succeeds. */
async function s3Error(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    return (err as { name?: string }).name;
  }
  return undefined;
}

interface PostPolicy {
  url: string;
  fields: Record<string, string>;
  maxSize: number;
  expiresAt: string;
}

const jsonHeaders = { "content-type": "application/json" };

/** The form a browser would send: the policy's fields first, the file last. */
function policyForm(policy: PostPolicy, file: Blob, extra: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...policy.fields, ...extra })) form.append(name, value);
  form.append("file", file, "upload.bin");
  return form;
}

/** Presigned URLs and POST policies, used with plain HTTP straight against MinIO. */
describe("HTTP API: presigned flows", () => {
  let h: HttpHarness;
  let temp: string;

  beforeAll(async () => {
    h = await startHttp("minio", { STORAGE_MAX_FILE_SIZE: "64KiB", STORAGE_PRESIGN_MAX_EXPIRY: "1h" });
    temp = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
  });

  const presign = (body: Record<string, unknown>) => h.fetch(`${h.base}/v1/presign`, jsonPost(body));
  const presignPost = (body: Record<string, unknown>) => h.fetch(`${h.base}/v1/presign-post`, jsonPost(body));

  it("presigns a PUT and a GET that work with plain HTTP", async () => {
    const put = await json<Presigned>(
      await presign({
        bucket: temp,
        key: "signed/put.txt",
        method: "PUT",
        contentType: "text/plain",
        expiresInSeconds: 300,
      }),
    );
    expect(put).toMatchObject({ method: "PUT", headers: { "content-type": "text/plain" } });
    expect(Date.parse(put.expiresAt) - Date.now()).toBeGreaterThan(290_000);
    const uploaded = await fetch(put.url, {
      method: "PUT",
      headers: put.headers,
      body: "sent around the service",
    });
    expect(uploaded.status).toBe(200);

    // Not indexed yet (reconcile adopts it), but served through the API all the same.
    const viaApi = await h.fetch(h.objectUrl(temp, "signed/put.txt"));
    expect(await viaApi.text()).toBe("sent around the service");

    const get = await json<Presigned>(await presign({ bucket: temp, key: "signed/put.txt", method: "GET" }));
    const downloaded = await fetch(get.url);
    expect(downloaded.status).toBe(200);
    expect(await downloaded.text()).toBe("sent around the service");
  });

  it("bounds the expiry and refuses GETs of missing objects", async () => {
    const long = await presign({ bucket: temp, key: "a.txt", method: "GET", expiresInSeconds: 7200 });
    expect((await expectProblem(long, 400, "INVALID_ARGUMENT")).details).toMatchObject({ limit: 3600 });
    await expectProblem(await presign({ bucket: temp, key: "nothing.txt", method: "GET" }), 404, "NOT_FOUND");
  });

  it("issues a POST policy that MinIO honours for a real multipart/form-data upload", async () => {
    const policy = await json<PostPolicy>(
      await presignPost({ bucket: temp, key: "browser/exact.txt", contentType: "text/plain", maxSize: 1024 }),
    );
    expect(policy.fields).toMatchObject({ key: "browser/exact.txt", "Content-Type": "text/plain" });
    expect(policy.maxSize).toBe(1024);
    const res = await fetch(policy.url, {
      method: "POST",
      body: policyForm(policy, new Blob(["posted by a form"], { type: "text/plain" })),
    });
    expect(res.status).toBe(204);
    const info = await h.app.service.stat(temp, "browser/exact.txt");
    expect(info).toMatchObject({ size: 16, contentType: "text/plain" });
    const download = await h.app.service.download(temp, "browser/exact.txt");
    expect((await collect(download.body)).toString()).toBe("posted by a form");
  });

  it("is refused by MinIO when the file breaks the size or the content-type condition", async () => {
    const policy = await json<PostPolicy>(
      await presignPost({
        bucket: temp,
        key: "browser/small.bin",
        contentTypePrefix: "image/",
        maxSize: 1024,
      }),
    );
    expect(policy.fields["Content-Type"]).toBeUndefined();
    const tooBig = await fetch(policy.url, {
      method: "POST",
      body: policyForm(policy, new Blob([new Uint8Array(4096)]), { "Content-Type": "image/png" }),
    });
    expect(tooBig.status).toBe(400);
    expect(await tooBig.text()).toMatch(/EntityTooLarge|too large/i);
    const wrongType = await fetch(policy.url, {
      method: "POST",
      body: policyForm(policy, new Blob([new Uint8Array(16)]), { "Content-Type": "text/plain" }),
    });
    expect(wrongType.status).toBe(403);
    await wrongType.text();
    await expect(h.app.service.stat(temp, "browser/small.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });

    const fits = await fetch(policy.url, {
      method: "POST",
      body: policyForm(policy, new Blob([new Uint8Array(16)]), { "Content-Type": "image/png" }),
    });
    expect(fits.status).toBe(204);
  });

  it("validates policy requests: size ceiling, one content-type condition, key rules and extensions", async () => {
    const tooBig = await presignPost({
      bucket: temp,
      key: "x.bin",
      contentType: "text/plain",
      maxSize: 10 * 65536,
    });
    expect((await expectProblem(tooBig, 400, "INVALID_ARGUMENT")).details).toMatchObject({ limit: 65536 });
    await expectProblem(await presignPost({ bucket: temp, key: "x.bin" }), 400, "INVALID_ARGUMENT");
    await expectProblem(
      await presignPost({ bucket: temp, key: "../x.bin", contentType: "text/plain" }),
      400,
      "INVALID_ARGUMENT",
    );
    const exe = await presignPost({
      bucket: h.app.config.buckets.userData,
      key: "tool.exe",
      contentTypePrefix: "",
    });
    await expectProblem(exe, 415, "UNSUPPORTED_TYPE");
  });

  it("refuses presigned URLs whose path or expiry was tampered with, and expired ones (MinIO checks)", async () => {
    for (const key of ["signed/a.txt", "signed/b.txt"]) {
      expect((await h.fetch(h.objectUrl(temp, key), { method: "PUT", body: key })).status).toBe(201);
    }
    const signed = await json<Presigned>(
      await presign({ bucket: temp, key: "signed/a.txt", method: "GET", expiresInSeconds: 300 }),
    );
    const good = await fetch(signed.url);
    expect(await good.text()).toBe("signed/a.txt");

    const otherPath = new URL(signed.url);
    otherPath.pathname = otherPath.pathname.replace("signed/a.txt", "signed/b.txt");
    const pathTampered = await fetch(otherPath);
    expect(pathTampered.status).toBe(403);
    expect(await pathTampered.text()).toContain("SignatureDoesNotMatch");

    const longer = new URL(signed.url);
    expect(longer.searchParams.get("X-Amz-Expires")).toBe("300");
    longer.searchParams.set("X-Amz-Expires", "3000");
    const expiryTampered = await fetch(longer);
    expect(expiryTampered.status).toBe(403);
    expect(await expiryTampered.text()).toContain("SignatureDoesNotMatch");

    const brief = await json<Presigned>(
      await presign({ bucket: temp, key: "signed/a.txt", method: "GET", expiresInSeconds: 1 }),
    );
    await new Promise((done) => setTimeout(done, 2_000));
    const expired = await fetch(brief.url);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/AccessDenied|expired/i);
  });

  it("only presigns inside the key's scope (presign plus the action the URL performs)", async () => {
    const token = await h.createKey("presigner", [`${temp}/shared/:presign,read`]);
    const as = (body: Record<string, unknown>) =>
      fetch(`${h.base}/v1/presign`, { ...jsonPost(body), headers: { ...jsonHeaders, ...bearer(token) } });
    expect((await h.fetch(h.objectUrl(temp, "shared/x.txt"), { method: "PUT", body: "x" })).status).toBe(201);
    expect((await as({ bucket: temp, key: "shared/x.txt", method: "GET" })).status).toBe(200);
    // No write action: no PUT URL; outside the prefix: nothing, whether or not the object exists.
    await expectProblem(
      await as({ bucket: temp, key: "shared/y.txt", method: "PUT" }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await as({ bucket: temp, key: "signed/a.txt", method: "GET" }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await as({ bucket: temp, key: "nothing.txt", method: "GET" }),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("issues temporary S3 credentials that work inside their prefix and fail outside it", async () => {
    const token = await h.createKey("direct-uploader", [`${temp}/users/{user_id}/:read,write,list,presign`]);
    const ask = (body: Record<string, unknown>, userId = "alice") =>
      fetch(`${h.base}/v1/credentials`, {
        ...jsonPost(body),
        headers: { ...jsonHeaders, ...bearer(token), "x-user-id": userId },
      });
    const res = await ask({ bucket: temp, prefix: "users/alice/" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const creds = await json<Credentials>(res);
    expect(creds).toMatchObject({ bucket: temp, prefix: "users/alice/", actions: ["read", "write", "list"] });
    const lifetime = (Date.parse(creds.expiration) - Date.now()) / 1000;
    expect(lifetime).toBeGreaterThan(800);
    expect(lifetime).toBeLessThanOrEqual(900);

    const s3 = new S3Client({
      endpoint: creds.endpoint,
      region: creds.region,
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      },
    });
    try {
      await s3.send(new PutObjectCommand({ Bucket: temp, Key: "users/alice/direct.bin", Body: "direct" }));
      const got = await s3.send(new GetObjectCommand({ Bucket: temp, Key: "users/alice/direct.bin" }));
      expect(await got.Body?.transformToString()).toBe("direct");
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: temp, Prefix: "users/alice/" }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual(["users/alice/direct.bin"]);
      const denied = async (run: () => Promise<unknown>) => expect(await s3Error(run)).toBe("AccessDenied");
      await denied(() => s3.send(new PutObjectCommand({ Bucket: temp, Key: "users/bob/x.bin", Body: "x" })));
      await denied(() => s3.send(new GetObjectCommand({ Bucket: temp, Key: "signed/a.txt" })));
      await denied(() => s3.send(new ListObjectsV2Command({ Bucket: temp })));
      await denied(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: h.app.config.buckets.userData,
            Key: "users/alice/x.txt",
            Body: "x",
          }),
        ),
      );
    } finally {
      s3.destroy();
    }

    // Another user's prefix, a wider one, or no user bound: refused by the service itself.
    await expectProblem(await ask({ bucket: temp, prefix: "users/bob/" }), 403, "PERMISSION_DENIED");
    await expectProblem(await ask({ bucket: temp, prefix: "users/" }), 403, "PERMISSION_DENIED");
    await expectProblem(await ask({ bucket: temp, prefix: "users/alice/" }, ""), 403, "PERMISSION_DENIED");
    await expectProblem(
      await ask({ bucket: temp, prefix: "users/alice/", durationSeconds: 60 }),
      400,
      "INVALID_ARGUMENT",
    );
  });
});
