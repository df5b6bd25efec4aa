import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { expect } from "vitest";
import type { AppContext } from "../../src/app.ts";
import type { Problem } from "../../src/transports/http/problem.ts";
import { type HttpServer, startHttpServer } from "../../src/transports/http/server.ts";
import { createTestApp, type TestApp } from "./app.ts";
import { issueToken } from "./auth-matrix.ts";

export interface HttpHarness {
  app: TestApp;
  server: HttpServer;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The token of an admin key (`*:admin`) created for this harness. */
  token: string;
  /** fetch() that sends the admin key unless the request carries its own Authorization header. */
  fetch: typeof fetch;
  /** Creates an API key with these scopes (`bucket[/prefix]:actions`) and returns its token. */
  createKey(service: string, scopes: string[], rateLimit?: number): Promise<string>;
  /** The URL of an object, each key segment percent-encoded. */
  objectUrl(bucket: string, key: string, query?: Record<string, string>): string;
  close(): Promise<void>;
}

export const keyPath = (key: string) => key.split("/").map(encodeURIComponent).join("/");

/** `Authorization: Bearer <token>` as a header record. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Creates an API key on an app's key store and returns its token (revealed: tests must send it). */
export const createKey = (app: AppContext, service: string, scopes: string[], rateLimit?: number) =>
  issueToken(app, service, scopes, rateLimit);

/** fetch() that adds `Authorization: Bearer <token>` unless the request sets Authorization itself. */
export function fetchWithKey(token: string): typeof fetch {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

/**
 * A wired app (see createTestApp) behind the real HTTP server, listening on 127.0.0.1 on a free
 * port, for requests over real sockets with fetch; `h.fetch` authenticates as an admin key.
 */
export async function startHttp(
  backend: "minio" | "local" = "minio",
  overrides: Record<string, string> = {},
): Promise<HttpHarness> {
  const app = await createTestApp(backend, { HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", ...overrides });
  let server: HttpServer;
  let token: string;
  try {
    token = await createKey(app, "test-admin", ["*:admin"]);
    server = await startHttpServer(app);
  } catch (err) {
    await app.dispose();
    throw err;
  }
  const base = server.address;
  return {
    app,
    server,
    base,
    token,
    fetch: fetchWithKey(token),
    createKey: (service, scopes, rateLimit) => createKey(app, service, scopes, rateLimit),
    objectUrl: (bucket, key, query) => {
      const qs = query ? `?${new URLSearchParams(query)}` : "";
      return `${base}/v1/buckets/${bucket}/objects/${keyPath(key)}${qs}`;
    },
    close: async () => {
      await server.close();
      await app.dispose();
    },
  };
}

export type FormPart =
  | { name: string; value: string }
  | { name: string; filename: string; contentType?: string; data: Buffer | Readable };

/**
 * A multipart/form-data body produced as a stream, part after part, so a file part can be any
 * size without ever being held in memory.
 */
export function multipartBody(parts: FormPart[]): { body: Readable; contentType: string } {
  const boundary = `----lumenslate-${randomBytes(12).toString("hex")}`;
  async function* generate() {
    for (const part of parts) {
      if ("value" in part) {
        yield Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`,
        );
        continue;
      }
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
          `Content-Type: ${part.contentType ?? "application/octet-stream"}\r\n\r\n`,
      );
      if (Buffer.isBuffer(part.data)) yield part.data;
      else for await (const chunk of part.data) yield chunk as Buffer;
      yield Buffer.from("\r\n");
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return {
    body: Readable.from(generate(), { objectMode: false }),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** fetch() options for a streamed request body. */
export const streamed = (body: Readable, init: RequestInit = {}): RequestInit =>
  ({ ...init, body: body as unknown as RequestInit["body"], duplex: "half" }) as RequestInit;

/** Asserts a problem+json response with this status and code, and returns its body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get("content-type"), text }).toMatchObject({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
  });
  const problem = JSON.parse(text) as Problem;
  expect(problem).toMatchObject({ status, code, requestId: res.headers.get("x-request-id") });
  return problem;
}

export const jsonPost = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export type { ListingJson } from "../../src/transports/http/routes/listing.ts";
export type { ObjectInfoJson } from "../../src/transports/http/schemas.ts";

/** The JSON body of a response, typed by the caller. */
export const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

/** What a raw GET received: a download that breaks mid-way shows as `complete: false`. */
export interface Received {
  status: number;
  contentLength: number;
  bytes: Buffer;
  complete: boolean;
}

/** GET over a real socket, counting what arrives until the end or the connection breaks. */
export function download(url: string, token: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      const done = (complete: boolean) =>
        resolve({
          status: res.statusCode ?? 0,
          contentLength: Number(res.headers["content-length"] ?? -1),
          bytes: Buffer.concat(chunks),
          complete,
        });
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => done(res.complete));
      res.on("error", () => done(false));
      res.on("aborted", () => done(false));
    });
    req.on("error", reject);
    req.end();
  });
}
