import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "./support/data.ts";
import { expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

interface Presigned {
  url: string;
  method: string;
  expiresAt: string;
  headers: Record<string, string>;
}

interface PostPolicy {
  url: string;
  fields: Record<string, string>;
  maxSize: number;
  expiresAt: string;
}

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

  const presign = (body: Record<string, unknown>) => fetch(`${h.base}/v1/presign`, jsonPost(body));
  const presignPost = (body: Record<string, unknown>) => fetch(`${h.base}/v1/presign-post`, jsonPost(body));

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
    const viaApi = await fetch(h.objectUrl(temp, "signed/put.txt"));
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
});
