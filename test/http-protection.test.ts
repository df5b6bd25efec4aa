import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, expectProblem, type HttpHarness, jsonPost, startHttp, streamed } from "./support/http.ts";
import { watchUpload } from "./support/watch.ts";

const KiB = 1024;

/** A body that sends `chunks` chunks of 64 KiB, `intervalMs` apart, then ends, or stalls forever when `stall`. */
function slowBody(chunks: number, intervalMs: number, stall = false) {
  let sent = 0;
  return new Readable({
    read() {
      if (sent === chunks) {
        if (!stall) this.push(null);
        return;
      }
      sent++;
      setTimeout(() => this.push(Buffer.alloc(64 * KiB, 0x61)), sent === 1 ? 0 : intervalMs);
    },
  });
}

/** A raw GET with one oversized header (fetch would refuse to send some of these). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Limits, timeouts and graceful shutdown over real sockets (local backend: these are transport matters). */
describe("HTTP API: protection", () => {
  let h: HttpHarness;
  let temp: string;

  beforeAll(async () => {
    h = await startHttp("local", {
      HTTP_IDLE_TIMEOUT: "1s",
      HTTP_HEADERS_TIMEOUT: "2s",
      HTTP_MAX_HEADER_SIZE: "8KiB",
      RATE_LIMIT_REQUESTS: "15",
      RATE_LIMIT_WINDOW: "60s",
    });
    temp = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("closes a connection that stays idle mid-upload, and stores nothing", async () => {
    const watch = watchUpload(h.app.service, "stalled.bin");
    try {
      const started = Date.now();
      const outcome = await h
        .fetch(h.objectUrl(temp, "stalled.bin"), streamed(slowBody(2, 10, true), { method: "PUT" }))
        .then(
          (res) => res.status,
          (err: Error) => err.name,
        );
      expect(outcome).toBe("TypeError"); // fetch failed: the server closed the socket
      // Not before HTTP_IDLE_TIMEOUT (1 s); how long after depends on the machine, so no upper bound.
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      // The server's side of the upload has ended, and failed: nothing was stored.
      expect(await watch.settled).toBe("failed");
      await expectProblem(await h.fetch(h.objectUrl(temp, "stalled.bin")), 404, "NOT_FOUND");
    } finally {
      watch.restore();
    }
  });

  it("answers 408 when headers trickle in slower than HTTP_HEADERS_TIMEOUT (slowloris)", async () => {
    const { port } = new URL(h.base);
    const socket = connect(Number(port), "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
    });
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    // One header byte every 300 ms keeps the connection from idling out, but never ends the headers.
    // The idle timeout (1 s) never fires, so only the headers timeout can end this (the 408 says
    // which); a server without one would leave it open until the test's own timeout.
    const trickle = setInterval(() => socket.write("X"), 300);
    await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"DEADLINE_EXCEEDED"');
  });

  it("refuses headers over HTTP_MAX_HEADER_SIZE with 431", async () => {
    expect(await rawGet(h.base, "/healthz", { "x-padding": "p".repeat(16 * KiB) })).toBe(431);
    expect(await rawGet(h.base, "/healthz", { "x-padding": "p".repeat(KiB) })).toBe(200);
  });

  it("answers 501 for presigning on a backend that cannot", async () => {
    const url = await h.fetch(
      `${h.base}/v1/presign`,
      jsonPost({ bucket: temp, key: "a.txt", method: "PUT" }),
    );
    await expectProblem(url, 501, "UNSUPPORTED_OPERATION");
    const post = await h.fetch(
      `${h.base}/v1/presign-post`,
      jsonPost({ bucket: temp, key: "a.txt", contentType: "text/plain" }),
    );
    await expectProblem(post, 501, "UNSUPPORTED_OPERATION");
  });

  // Last in this suite: it spends the client address's whole budget.
  it("rate-limits /v1 per key (its own budget) and per client address without a key; never the probes", async () => {
    const list = (init?: RequestInit) => fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=x/`, init);
    // A key with a budget of 3 gets 3 answers, then 429; the admin key's budget is its own.
    const small = { headers: bearer(await h.createKey("small-budget", [`${temp}:list`], 3)) };
    for (let i = 0; i < 3; i++) expect((await list(small)).status).toBe(200);
    const spent = await list(small);
    expect(Number(spent.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectProblem(spent, 429, "RATE_LIMITED");
    expect((await h.fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=x/`)).status).toBe(200);

    // Without a key: 401 while the address has budget (RATE_LIMIT_REQUESTS=15), then 429.
    let limited: Response | undefined;
    let refused = 0;
    for (let i = 0; i < 20 && !limited; i++) {
      const res = await list();
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(401);
        refused++;
        await res.text();
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(15);
    const res = limited as Response;
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const problem = await expectProblem(res, 429, "RATE_LIMITED");
    expect(problem.details?.retryAfterSeconds).toBe(Number(res.headers.get("retry-after")));
    // The spent address does not stop a caller with a key, nor the probes.
    expect((await h.fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=x/`)).status).toBe(200);
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${h.base}/metrics`)).status).toBe(200);
  });
});

describe("HTTP API: graceful shutdown", () => {
  it("lets an in-flight upload finish before close() resolves, and refuses new connections", async () => {
    // A grace period far beyond the test's timeout: close() can only resolve by waiting for the
    // upload, never by running out the grace period.
    const h = await startHttp("local", { SHUTDOWN_GRACE_PERIOD: "1h" });
    const watch = watchUpload(h.app.service, "in-flight.bin");
    try {
      const temp = h.app.config.buckets.temp;
      const upload = h.fetch(
        h.objectUrl(temp, "in-flight.bin"),
        streamed(slowBody(12, 100), { method: "PUT" }),
      );
      await watch.started;
      const events: string[] = [];
      void watch.settled.then((outcome) => events.push(`upload ${outcome}`));
      const closing = h.server.close().then(() => events.push("closed"));
      const late = await h.fetch(`${h.base}/healthz`).then(
        (res) => res.status,
        () => "refused",
      );
      expect([503, "refused"]).toContain(late);
      const res = await upload;
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ key: "in-flight.bin", size: 12 * 64 * KiB });
      await closing;
      // close() was called while the service was storing the upload, and resolved after it had.
      expect(events).toEqual(["upload stored", "closed"]);
    } finally {
      watch.restore();
      await h.close();
    }
  });

  it("cuts requests still running when the grace period is over", async () => {
    const h = await startHttp("local", { SHUTDOWN_GRACE_PERIOD: "1s" });
    const watch = watchUpload(h.app.service, "never-ends.bin");
    try {
      const temp = h.app.config.buckets.temp;
      const upload = h
        .fetch(h.objectUrl(temp, "never-ends.bin"), streamed(slowBody(2, 10, true), { method: "PUT" }))
        .then(
          (res) => res.status,
          () => "cut",
        );
      await watch.started;
      const started = Date.now();
      // The body never ends: close() resolves only because the grace period cut the request.
      await h.server.close();
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(await upload).toBe("cut");
      expect(await watch.settled).toBe("failed");
      await expect(h.app.service.stat(temp, "never-ends.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      watch.restore();
      await h.close();
    }
  });
});
