import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AlertEvent } from "../src/observability/alerts/index.ts";
import type { AlertCheckJson } from "../src/transports/http/routes/stats-schemas.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { runCli } from "./support/cli.ts";
import { bufferStream } from "./support/data.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";
import { type HttpHarness, json, startHttp } from "./support/http.ts";

/** A webhook receiver on a real socket; `answer` decides what each request gets (or holds it). */
async function webhook(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const events: AlertEvent[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (s: string) => (body += s));
    req.on("end", () => {
      events.push(JSON.parse(body) as AlertEvent);
      for (const w of waiters.splice(0)) w();
      answer(req, res);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    events,
    /** Resolves once `n` requests have arrived. */
    received: async (n: number) => {
      while (events.length < n) await new Promise<void>((r) => waiters.push(r));
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const env = (db: OwnDatabase, url: string, extra: Record<string, string> = {}) => ({
  ...db.env,
  ALERT_WEBHOOK_URL: url,
  ALERT_BUCKET_MAX_BYTES: "temp=100",
  ALERT_CHECK_INTERVAL: "off",
  ALERT_MINIO_DEGRADED: "false",
  ...extra,
});

describe("alerts: a bytes threshold fires once and resolves once", () => {
  let db: OwnDatabase;
  let hook: Awaited<ReturnType<typeof webhook>>;
  let h: HttpHarness;
  let other: TestApp | undefined;
  let temp: string;
  const alert = () => `bucket_bytes:${temp}`;

  beforeAll(async () => {
    db = await ownDatabase("alerts");
    hook = await webhook((_req, res) => res.writeHead(204).end());
    h = await startHttp("minio", env(db, hook.url));
    temp = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await other?.dispose();
    await h?.close();
    await hook?.close();
    await db?.drop();
  });

  const put = (key: string, size: number) =>
    h.app.service.upload({ bucket: temp, key, body: bufferStream(Buffer.alloc(size)), owner: "alerts-test" });

  it("stays quiet below the threshold", async () => {
    await put("a.bin", 60);
    const check = await h.app.alerts.check();
    expect(check.events).toEqual([]);
    expect(check.alerts).toEqual([]);
  });

  it("fires exactly once when crossed, across checks, the HTTP and CLI checks and a second instance", async () => {
    await put("b.bin", 50);
    const first = await h.app.alerts.check();
    expect(first.events).toEqual([
      expect.objectContaining({ alert: alert(), state: "firing", value: 110, threshold: 100 }),
    ]);
    await hook.received(1);
    expect(hook.events[0]).toMatchObject({
      alert: alert(),
      state: "firing",
      value: 110,
      service: "lumenslate-storage",
    });

    expect((await h.app.alerts.check()).events).toEqual([]);
    const res = await h.fetch(`${h.base}/v1/admin/alerts/check`, { method: "POST" });
    expect(res.status).toBe(200);
    expect((await json<AlertCheckJson>(res)).events).toEqual([]);
    const cli = await runCli({}, "alerts", "check", "--json", "--endpoint", h.base, "--token", h.token);
    expect(cli.code).toBe(0);
    const viaCli = JSON.parse(cli.stdout) as AlertCheckJson;
    expect(viaCli.events).toEqual([]);
    expect(viaCli.alerts).toEqual([expect.objectContaining({ alert: alert(), state: "firing" })]);

    // Another instance on the same database sees the alert as already firing: no second event.
    other = await createTestApp("minio", {
      ...env(db, hook.url),
      STORAGE_BUCKET_PREFIX: h.app.config.storage.bucketPrefix,
    });
    expect((await other.alerts.check()).events).toEqual([]);

    const list = await h.fetch(`${h.base}/v1/admin/alerts`);
    expect((await json<{ alerts: { alert: string; state: string }[] }>(list)).alerts).toEqual([
      expect.objectContaining({ alert: alert(), state: "firing", value: 110 }),
    ]);
    const metrics = await h.app.metrics.registry.metrics();
    expect(metrics).toContain(`lumenslate_storage_alerts_firing{alert="${alert()}"} 1`);
    expect(metrics).toContain(`lumenslate_storage_alert_events_total{alert="${alert()}",state="firing"} 1`);
  });

  it("resolves exactly once after deletes; the webhook got one firing and one resolved event", async () => {
    await h.app.service.delete(temp, "b.bin");
    const check = await h.app.alerts.check();
    expect(check.events).toEqual([expect.objectContaining({ alert: alert(), state: "resolved", value: 60 })]);
    expect((await h.app.alerts.check()).events).toEqual([]);
    await hook.received(2);
    // Delivered in order, one at a time: a duplicate firing event would have arrived before this one.
    expect(hook.events.map((e) => [e.alert, e.state])).toEqual([
      [alert(), "firing"],
      [alert(), "resolved"],
    ]);
    expect((await h.app.alerts.list())[0]).toMatchObject({ state: "resolved" });
  });

  it("two instances checking a new breach at once announce it once", async () => {
    await put("c.bin", 70);
    const checks = await Promise.all([h.app.alerts.check(), (other as TestApp).alerts.check()]);
    expect(checks.flatMap((c) => c.events).map((e) => [e.alert, e.state])).toEqual([[alert(), "firing"]]);
    await hook.received(3);
    expect(hook.events.map((e) => e.state)).toEqual(["firing", "resolved", "firing"]);
  });
});

describe("alerts: a failing or hanging webhook never holds up storage traffic", () => {
  let db: OwnDatabase | undefined;
  let h: HttpHarness | undefined;
  let hook: Awaited<ReturnType<typeof webhook>> | undefined;
  const held: ServerResponse[] = [];

  // A database per test: each starts with no alert recorded, though the buckets are the suite's.
  afterEach(async () => {
    await h?.close();
    await hook?.close();
    await db?.drop();
    h = undefined;
    hook = undefined;
    db = undefined;
  });

  async function uploadsWhileNotified(extra: Record<string, string>) {
    db = await ownDatabase("alerts_webhook");
    h = await startHttp("minio", env(db, (hook as { url: string }).url, extra));
    const temp = h.app.config.buckets.temp;
    await h.app.service.upload({ bucket: temp, key: "big.bin", body: bufferStream(Buffer.alloc(200)) });
    expect((await h.app.alerts.check()).events).toHaveLength(1);
    await hook?.received(1);
    // The webhook is now holding (or failing) the event; uploads over real sockets go on.
    for (let i = 0; i < 20; i++) {
      const res = await h.fetch(h.objectUrl(temp, `during/${i}.txt`), { method: "PUT", body: `upload ${i}` });
      expect(res.status).toBe(201);
    }
    return h;
  }

  it("hanging: 20 uploads complete while the webhook request is still open", async () => {
    hook = await webhook((_req, res) => held.push(res));
    await uploadsWhileNotified({ ALERT_WEBHOOK_TIMEOUT: "60s" });
    expect(held).toHaveLength(1);
    expect(held[0]?.writableEnded).toBe(false);
    expect(hook.events).toHaveLength(1);
  });

  it("500: uploads complete, failures are counted and the event is retried", async () => {
    hook = await webhook((_req, res) => res.writeHead(500).end());
    const app = (await uploadsWhileNotified({ ALERT_WEBHOOK_RETRIES: "1" })).app;
    await hook.received(2); // the retry, after its backoff
    expect(hook.events.map((e) => e.state)).toEqual(["firing", "firing"]);
    const text = await app.metrics.registry.metrics();
    expect(text).toMatch(/lumenslate_storage_alert_webhook_failures_total [12]\n/);
  });
});
