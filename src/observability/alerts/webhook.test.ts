import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { AlertEvent } from "./types.ts";
import { WebhookSender } from "./webhook.ts";

const event = (alert: string): AlertEvent => ({
  alert,
  state: "firing",
  value: 1,
  threshold: 1,
  message: alert,
  details: {},
  at: new Date(0).toISOString(),
  service: "lumenslate-storage",
});

let close: (() => void) | undefined;
afterEach(() => close?.());

/** A receiver answering each request with the next status of `statuses` (then 204). */
async function receiver(statuses: number[]) {
  const got: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (s: string) => (body += s));
    req.on("end", () => {
      got.push((JSON.parse(body) as AlertEvent).alert);
      res.writeHead(statuses.shift() ?? 204).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  close = () => server.close();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got };
}

describe("WebhookSender", () => {
  it("delivers in order, retrying a failed event before the next, and counts each failure", async () => {
    const r = await receiver([500, 503]);
    let failures = 0;
    const sender = new WebhookSender({
      url: r.url,
      timeoutSeconds: 5,
      retries: 3,
      backoffMs: 1,
      logger: pino({ level: "silent" }),
      onFailure: () => failures++,
    });
    sender.enqueue(event("a"));
    sender.enqueue(event("b"));
    await sender.close(); // the grace lets the queue drain
    expect(r.got).toEqual(["a", "a", "a", "b"]);
    expect(failures).toBe(2);
    expect(sender.pending).toBe(0);
  });

  it("drops events beyond the queue bound, counted as failures, without waiting", async () => {
    const r = await receiver([]);
    let failures = 0;
    const sender = new WebhookSender({
      url: r.url,
      timeoutSeconds: 5,
      retries: 0,
      queueSize: 2,
      logger: pino({ level: "silent" }),
      onFailure: () => failures++,
    });
    for (const name of ["a", "b", "c", "d"]) sender.enqueue(event(name));
    expect(failures).toBe(2);
    await sender.close();
    expect(r.got).toEqual(["a", "b"]);
  });
});
