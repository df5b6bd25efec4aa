import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Transfer } from "./external-clients.ts";

/**
 * The direct data path for large objects (issue 17, item 3), driven over the service's HTTP API
 * with fetch, as a client would: up through an upload session (POST /v1/uploads, part URLs with
 * each part's sha256 signed in, parts PUT straight to MinIO with `concurrency` in flight, then
 * complete, where the service verifies the whole sha256 and writes the index row), down through a
 * presigned GET (POST /v1/presign). The sha256 pre-pass a client makes before a session (the
 * whole object's and each part's) is timed apart, like the Python client's.
 */

interface Api {
  httpPort: number;
  token: string;
  bucket: string;
}

interface Hashes {
  whole: string;
  parts: string[];
  seconds: number;
}

async function hashFile(file: string, partSize: number): Promise<Hashes> {
  const start = process.hrtime.bigint();
  const whole = createHash("sha256");
  const parts: string[] = [];
  let part = createHash("sha256");
  let inPart = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(partSize - inPart, chunk.length - at);
      part.update(chunk.subarray(at, at + n));
      inPart += n;
      at += n;
      if (inPart === partSize) {
        parts.push(part.digest("hex"));
        part = createHash("sha256");
        inPart = 0;
      }
    }
  }
  if (inPart > 0 || parts.length === 0) parts.push(part.digest("hex"));
  return { whole: whole.digest("hex"), parts, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export function directPath(api: Api, size: number, partSize: number, concurrency: number) {
  const base = `http://127.0.0.1:${api.httpPort}`;
  const auth = { authorization: `Bearer ${api.token}` };
  const hashes = new Map<string, Hashes>();

  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };

  const up = async (key: string, file: string): Promise<Transfer> => {
    let h = hashes.get(file);
    if (!h) {
      h = await hashFile(file, partSize);
      hashes.set(file, h);
    }
    const { whole, parts } = h;
    const start = process.hrtime.bigint();
    const session = await call<{ id: string; partSize: number; partCount: number }>("POST", "/v1/uploads", {
      bucket: api.bucket,
      key,
      size,
      sha256: whole,
      partSize,
    });
    if (session.partSize !== partSize || session.partCount !== parts.length)
      throw new Error(`the session planned ${session.partCount} parts of ${session.partSize} bytes`);
    const { parts: urls } = await call<{
      parts: { partNumber: number; url: string; headers: Record<string, string> }[];
    }>("POST", `/v1/uploads/${session.id}/parts`, {
      parts: parts.map((sha256, i) => ({ partNumber: i + 1, sha256 })),
    });
    const fd = await open(file);
    try {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < urls.length; i = next++) {
          const u = urls[i];
          if (!u) continue;
          const offset = (u.partNumber - 1) * partSize;
          const body = Buffer.allocUnsafe(Math.min(partSize, size - offset));
          await fd.read(body, 0, body.length, offset);
          const res = await fetch(u.url, { method: "PUT", headers: u.headers, body });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`part ${u.partNumber}: HTTP ${res.status} from the store`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      await fd.close();
    }
    const completing = process.hrtime.bigint();
    const info = await call<{ sha256?: string; size: number }>("POST", `/v1/uploads/${session.id}/complete`);
    const end = process.hrtime.bigint();
    const seconds = Number(end - start) / 1e9;
    // The index row must carry the object's sha256, or the direct path lost the service's guarantee.
    if (info.sha256 !== whole || info.size !== size)
      throw new Error(`the completed object reads sha256 ${info.sha256}, size ${info.size}`);
    return { seconds, bytes: size, hashSeconds: h.seconds, completeSeconds: Number(end - completing) / 1e9 };
  };

  const down = async (key: string): Promise<Transfer> => {
    const start = process.hrtime.bigint();
    const signed = await call<{ url: string; headers?: Record<string, string> }>("POST", "/v1/presign", {
      bucket: api.bucket,
      key,
      method: "GET",
    });
    const res = await fetch(signed.url, { headers: signed.headers ?? {} });
    if (!res.ok || !res.body) throw new Error(`presigned GET: HTTP ${res.status}`);
    let bytes = 0;
    for await (const chunk of res.body) bytes += chunk.length;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (bytes !== size) throw new Error(`presigned GET returned ${bytes} of ${size} bytes`);
    return { seconds, bytes };
  };

  /** Why this server has no direct path (no upload-session routes, or a store without presign). */
  const missing = async (): Promise<string | undefined> => {
    const res = await fetch(`${base}/v1/uploads`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: "{}",
    });
    await res.arrayBuffer();
    return res.status === 404 ? "the server has no POST /v1/uploads" : undefined;
  };

  return { up, down, missing };
}
