import { randomBytes } from "node:crypto";
import { once } from "node:events";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogShipper } from "../src/observability/log-shipper.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";

/** The pino destination that ships a service's logs to a running service's log archive. */

describe("log shipper (pino destination → /v1/logs append)", () => {
  let h: HttpHarness;

  beforeAll(async () => {
    h = await startHttp("minio", { LOG_STORAGE_FLUSH_INTERVAL: "1h", RATE_LIMIT_ENABLED: "false" });
  });

  afterAll(async () => {
    await h?.close();
  });

  async function day(service: string): Promise<Array<Record<string, unknown>>> {
    await h.app.logArchive.flush();
    const today = new Date().toISOString().slice(0, 10);
    const out: Array<Record<string, unknown>> = [];
    for await (const line of h.app.logArchive.read({ service, date: today })) out.push(JSON.parse(line));
    return out;
  }

  it("ships pino's lines in order, in batches, and the rest on end()", async () => {
    const service = `shipper-${randomBytes(3).toString("hex")}`;
    const token = await h.createKey("shipper", [`${h.app.config.buckets.logs}/${service}/:write`]);
    const shipper = createLogShipper({
      endpoint: h.base,
      token,
      service,
      maxLines: 40,
      intervalMs: 3_600_000,
    });
    const logger = pino({ base: { svc: service } }, shipper);
    for (let i = 0; i < 100; i++) logger.info({ i }, "request handled");
    shipper.end();
    await once(shipper, "finish");
    const lines = await day(service);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(lines[0]).toMatchObject({ msg: "request handled", svc: service, level: 30 });
  });

  it("keeps lines the service refused and reports the error", async () => {
    const service = `shipper-${randomBytes(3).toString("hex")}`;
    const errors: Error[] = [];
    const shipper = createLogShipper({
      endpoint: h.base,
      token: await h.createKey("elsewhere", [`${h.app.config.buckets.logs}/other/:write`]),
      service,
      intervalMs: 3_600_000,
      onError: (err) => errors.push(err),
    });
    shipper.write('{"msg":"kept"}\n');
    await expect(shipper.flush()).rejects.toThrow(/403/);
    expect(errors[0]?.message).toMatch(/403/);
    expect(await day(service)).toEqual([]);
  });
});
