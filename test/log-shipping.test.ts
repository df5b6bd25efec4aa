import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OWN_LOGS, shipOwnLogs } from "../src/observability/self-log.ts";
import type { TestApp } from "./support/app.ts";
import { createCapturedApp, LogCapture } from "./support/grpc.ts";

/**
 * LOG_SHIP_TO_ARCHIVE: the service's own lines reach the logs bucket through the real archive
 * (batched, gzip), stdout keeps every line, and the archive's own lines do not feed back.
 */
describe("shipping the service's own logs to the archive", () => {
  let capture: LogCapture;
  let app: TestApp;

  beforeAll(async () => {
    capture = new LogCapture();
    // The service logger at debug: the store's and the archive's debug lines during a flush
    // would be shipped again (and again) if the guard did not hold.
    app = await createCapturedApp(capture, { LOG_STORAGE_FLUSH_INTERVAL: "1h" });
  });
  afterAll(async () => {
    await app?.dispose();
  });

  it("writes the lines to the logs bucket and stops feeding itself", async () => {
    const shipping = shipOwnLogs(app.logger, app.logArchive, "debug");
    try {
      app.logger.info({ order: 1 }, "own line one");
      app.logger.child({ component: "test" }).warn("own line two");
      await app.logArchive.flush();
      expect(app.logArchive.pendingLines).toBe(0);
      await app.logArchive.flush();
      expect(app.logArchive.pendingLines).toBe(0);
    } finally {
      shipping.detach();
    }
    const date = new Date().toISOString().slice(0, 10);
    const objects = await app.logArchive.list({ service: OWN_LOGS.service, date });
    expect(objects.every((o) => o.filename === "service")).toBe(true);
    expect(objects.length).toBeGreaterThan(0);
    const lines: string[] = [];
    for await (const line of app.logArchive.read({ service: OWN_LOGS.service, date })) lines.push(line);
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(["own line one", "own line two"]);
    expect(shipping.shipped).toBe(2);
    const logged = capture.lines.map((l) => l.msg);
    expect(logged).toContain("own line one");
    expect(logged).toContain("own line two");
  });
});
