import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, type HttpHarness, startHttp } from "./support/http.ts";

/**
 * The log archive over HTTP (real sockets, MinIO, PostgreSQL when DATABASE_URL is set): upload,
 * batched append, a day's read with filters, compaction, rotation (dry run first), the audit
 * records of the mutations, and scopes confining a key to its service's prefix.
 */

const uniq = (name: string) => `${name}-${randomBytes(3).toString("hex")}`;
const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

describe("log archive (HTTP)", () => {
  let h: HttpHarness;
  const service = uniq("orders");

  beforeAll(async () => {
    h = await startHttp("minio", { LOG_STORAGE_FLUSH_INTERVAL: "1h" });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("uploads, appends, reads a day in order with filters, and compacts an hour", async () => {
    const up = await h.fetch(`${h.base}/v1/logs/${service}/2026-12-01/08/api`, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "first line\nsecond ERROR line\n",
    });
    expect(up.status).toBe(201);
    const info = (await up.json()) as { key: string; size: number };
    expect(info.key).toMatch(new RegExp(`^${service}/2026-12-01/08/_parts/api/\\d+-[0-9a-f]+\\.log\\.gz$`));

    const appended = await h.fetch(
      `${h.base}/v1/logs/${service}/append`,
      json({ date: "2026-12-01", hour: "09", filename: "api", lines: ["third", "fourth ERROR"] }),
    );
    expect(appended.status).toBe(202);
    expect(await appended.json()).toEqual({
      file: { service, date: "2026-12-01", hour: "09", filename: "api" },
      accepted: 2,
    });
    // Buffered until a flush: shutdown, size, age; here an explicit one.
    await h.app.logArchive.flush();

    const compact = await h.fetch(`${h.base}/v1/logs/${service}/2026-12-01/08/compact`, { method: "POST" });
    expect(await compact.json()).toMatchObject({ objects: 1, parts: 1 });

    const objects = await h.fetch(`${h.base}/v1/logs/${service}/2026-12-01/objects`);
    const listed = (await objects.json()) as { objects: Array<{ key: string; part: boolean }> };
    expect(listed.objects.map((o) => [o.key.split("/").slice(2, 4).join("/"), o.part])).toEqual([
      ["08/api.log.gz", false],
      ["09/_parts", true],
    ]);

    const day = await h.fetch(`${h.base}/v1/logs/${service}/2026-12-01`);
    expect(day.status).toBe(200);
    expect(day.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await day.text()).toBe("first line\nsecond ERROR line\nthird\nfourth ERROR\n");
    const errors = await h.fetch(`${h.base}/v1/logs/${service}/2026-12-01?contains=ERROR&fromHour=09`);
    expect(await errors.text()).toBe("fourth ERROR\n");
  });

  it("refuses bad input with a problem response and stores nothing", async () => {
    const other = uniq("refused");
    const badDate = await h.fetch(`${h.base}/v1/logs/${other}/2026-13-01/08/api`, {
      method: "PUT",
      body: "x",
    });
    expect(badDate.status).toBe(400);
    expect(await badDate.json()).toMatchObject({ code: "INVALID_ARGUMENT" });
    const badRegex = await h.fetch(`${h.base}/v1/logs/${other}/2026-12-01?regex=(`);
    expect(badRegex.status).toBe(400);
    expect(await badRegex.json()).toMatchObject({ code: "INVALID_ARGUMENT" });
    const noLines = await h.fetch(`${h.base}/v1/logs/${other}/append`, json({ lines: [] }));
    expect(noLines.status).toBe(400);
    const page = await h.app.service.list(h.app.config.buckets.logs, {
      prefix: `${other}/`,
      recursive: true,
    });
    expect(page.objects).toEqual([]);
  });

  it("rotates by the log's date, dry run by default, and audits it", async () => {
    const svc = uniq("rotate");
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
    const today = new Date().toISOString().slice(0, 10);
    for (const date of [old, today]) {
      const r = await h.fetch(`${h.base}/v1/logs/${svc}/${date}/01/app`, {
        method: "PUT",
        body: `on ${date}\n`,
      });
      expect(r.status).toBe(201);
    }
    const dry = await h.fetch(`${h.base}/v1/logs/${svc}/rotate`, json({ retentionDays: 30 }));
    expect(await dry.json()).toMatchObject({
      dryRun: true,
      objects: 1,
      deleted: 0,
      partitions: [{ date: old }],
    });
    expect(await (await h.fetch(`${h.base}/v1/logs/${svc}/${old}`)).text()).toBe(`on ${old}\n`);

    const done = await h.fetch(`${h.base}/v1/logs/${svc}/rotate`, json({ retentionDays: 30, dryRun: false }));
    expect(await done.json()).toMatchObject({ dryRun: false, objects: 1, deleted: 1 });
    expect(await (await h.fetch(`${h.base}/v1/logs/${svc}/${old}`)).text()).toBe("");
    expect(await (await h.fetch(`${h.base}/v1/logs/${svc}/${today}`)).text()).toBe(`on ${today}\n`);

    const audit = (await (
      await h.fetch(`${h.base}/v1/admin/audit?bucket=${h.app.config.buckets.logs}`)
    ).json()) as {
      records: Array<{ action: string; result: string; details: Record<string, unknown> }>;
    };
    const rotations = audit.records.filter((r) => r.action === "logs.rotate");
    expect(rotations.map((r) => r.details.dryRun).sort()).toEqual([false, true]);
    expect(audit.records.some((r) => r.action === "logs.upload" && r.result === "OK")).toBe(true);
  });

  it("confines a key scoped to one service's prefix to that service", async () => {
    const mine = uniq("mine");
    const token = await h.createKey("shipper", [`${h.app.config.buckets.logs}/${mine}/:read,write`]);
    const own = await fetch(`${h.base}/v1/logs/${mine}/append`, {
      ...json({ lines: ["ok"] }),
      headers: { ...bearer(token), "content-type": "application/json" },
    });
    expect(own.status).toBe(202);
    const foreign = await fetch(`${h.base}/v1/logs/${uniq("theirs")}/append`, {
      ...json({ lines: ["no"] }),
      headers: { ...bearer(token), "content-type": "application/json" },
    });
    expect(foreign.status).toBe(403);
    const rotate = await fetch(`${h.base}/v1/logs/${mine}/rotate`, {
      ...json({}),
      headers: { ...bearer(token), "content-type": "application/json" },
    });
    expect(rotate.status).toBe(403);
  });
});
