import { execFile } from "node:child_process";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestStream } from "./support/data.ts";
import { type HttpHarness, type ObjectInfoJson, startHttp } from "./support/http.ts";

const MiB = 1024 * 1024;
const SIZE = 300 * MiB;
/**
 * The server's peak RSS growth while it moves the object (the client runs in another process). With
 * the default 16 MiB parts and 4 in flight, the S3 multipart upload alone holds about 100 MiB live;
 * the rest is the garbage collector's slack (measured 115-155 MiB up, 1-110 MiB down). An object
 * held whole in memory would cost at least its 300 MiB.
 */
const RSS_GROWTH_LIMIT = 200 * MiB;

/**
 * The uploading client, run in a child process so that only the server's memory is measured here
 * (and because Node's fetch keeps a streamed request body in memory until the request ends:
 * nodejs/undici#4058). It streams a multipart/form-data body whose file part is generated 1 MiB at a
 * time, and prints the response and the sha256 of what it sent.
 */
const CLIENT = `
import { createHash, randomBytes } from "node:crypto";
const [url, size, key] = process.argv.slice(1);
const token = process.env.LSS_TOKEN;
const boundary = "----lumenslate-large-" + randomBytes(8).toString("hex");
const hash = createHash("sha256");
async function* body() {
  yield Buffer.from("--" + boundary + '\\r\\nContent-Disposition: form-data; name="key"\\r\\n\\r\\n' + key + "\\r\\n");
  yield Buffer.from("--" + boundary + '\\r\\nContent-Disposition: form-data; name="file"; filename="generated.bin"\\r\\n' +
    "Content-Type: application/octet-stream\\r\\n\\r\\n");
  // The file starts with fixed text: the service refuses content whose first bytes look like an
  // executable or a disguised format, and pure random bytes now and then do.
  const prefix = Buffer.from("lumenslate test data\\n");
  for (let sent = 0; sent < Number(size); ) {
    const length = Math.min(1 << 20, Number(size) - sent);
    const chunk = sent === 0 ? Buffer.concat([prefix, randomBytes(length)]).subarray(0, length) : randomBytes(length);
    hash.update(chunk);
    sent += chunk.length;
    yield chunk;
  }
  yield Buffer.from("\\r\\n--" + boundary + "--\\r\\n");
}
const res = await fetch(url, {
  method: "POST",
  headers: { "content-type": "multipart/form-data; boundary=" + boundary, authorization: "Bearer " + token },
  body: body(),
  duplex: "half",
});
console.log(JSON.stringify({ status: res.status, body: await res.json(), sha256: hash.digest("hex") }));
`;

/** Samples RSS every 50 ms until stopped; returns the peak growth over the starting value. */
function watchRss(): () => number {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    return peak - start;
  };
}

/** A 300 MiB file through a streamed multipart/form-data POST and back, with memory flat in the object size. */
describe("HTTP API: large multipart upload", () => {
  let h: HttpHarness;
  let temp: string;

  beforeAll(async () => {
    h = await startHttp("minio");
    temp = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.app.service.delete(temp, "large/300mib.bin").catch(() => {});
    await h?.close();
  });

  it("streams 300 MiB up and down with sha256 equal and RSS growth well under the object size", async () => {
    // One authenticated call first: the key's one-off scrypt verification is not what is measured.
    expect((await h.fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=large/`)).status).toBe(200);
    const stopUpload = watchRss();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", CLIENT, h.objectUrl(temp, "large"), String(SIZE), "300mib.bin"],
      // The API key travels in the environment, not on the command line.
      { maxBuffer: 1024 * 1024, env: { ...process.env, LSS_TOKEN: h.token } },
    );
    const uploadGrowth = stopUpload();
    const sent = JSON.parse(stdout) as {
      status: number;
      body: { objects: ObjectInfoJson[] };
      sha256: string;
    };
    expect(sent.status).toBe(201);
    const expected = sent.sha256;
    expect(sent.body.objects).toMatchObject([{ key: "large/300mib.bin", size: SIZE, sha256: expected }]);

    const stopDownload = watchRss();
    const got = await h.fetch(h.objectUrl(temp, "large/300mib.bin"));
    expect(got.headers.get("content-length")).toBe(String(SIZE));
    expect(got.headers.get("x-checksum-sha256")).toBe(expected);
    const digest = await digestStream(Readable.fromWeb(got.body as never));
    const downloadGrowth = stopDownload();
    expect(digest).toEqual({ sha256: expected, size: SIZE });

    console.info(
      `300 MiB over HTTP: peak RSS growth ${(uploadGrowth / MiB).toFixed(0)} MiB up, ${(downloadGrowth / MiB).toFixed(0)} MiB down`,
    );
    expect(uploadGrowth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(downloadGrowth).toBeLessThan(RSS_GROWTH_LIMIT);
  });
});
