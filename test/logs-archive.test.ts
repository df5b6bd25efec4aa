import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../src/errors.ts";
import { createTestApp, type TestApp } from "./support/app.ts";

/**
 * The log archive's store API on the shared MinIO: batching of many small appends into a handful
 * of objects, compaction, a day's read in order with filters, and rotation by the log's date
 * (dry run first) including a partition uploaded late.
 */

const uniq = (name: string) => `${name}-${randomBytes(3).toString("hex")}`;

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

describe("log archive (store API, MinIO)", () => {
  let app: TestApp;
  const keysUnder = async (prefix: string) => {
    const page = await app.service.list(app.config.buckets.logs, { prefix, recursive: true, limit: 1000 });
    return page.objects.map((o) => o.key).sort();
  };

  beforeAll(async () => {
    // A time bound far beyond the test, so the test decides when batches are written (size or flush()).
    app = await createTestApp("minio", {
      LOG_STORAGE_FLUSH_INTERVAL: "1h",
      LOG_STORAGE_FLUSH_BYTES: "256KiB",
    });
  });

  afterAll(async () => {
    await app?.dispose();
  });

  it("turns 10,000 small appends in one hour into a handful of objects, then one after compaction", async () => {
    const service = uniq("checkout");
    const target = { service, date: "2026-12-01", hour: 14, filename: "app" };
    for (let i = 0; i < 10_000; i++) {
      await app.logArchive.append(target, [`{"seq":${i},"msg":"request handled"}`]);
    }
    await app.logArchive.flush();
    const before = await keysUnder(`${service}/`);
    // ~400 KB of lines at a 256 KiB bound: a couple of parts, never thousands.
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.length).toBeLessThanOrEqual(5);
    expect(
      before.every((k) => k.startsWith(`${service}/2026-12-01/14/_parts/app/`) && k.endsWith(".log.gz")),
    ).toBe(true);

    const compacted = await app.logArchive.compact(target);
    expect(compacted).toMatchObject({ objects: 1, parts: before.length, conflicts: 0 });
    expect(await keysUnder(`${service}/`)).toEqual([`${service}/2026-12-01/14/app.log.gz`]);

    // One object of concatenated gzip members, readable by any gunzip.
    const { body } = await app.service.download(
      app.config.buckets.logs,
      `${service}/2026-12-01/14/app.log.gz`,
    );
    const raw = Buffer.concat(await body.toArray());
    const text = gunzipSync(raw).toString().trimEnd().split("\n");
    expect(text).toHaveLength(10_000);

    const lines = await collect(app.logArchive.read({ service, date: "2026-12-01" }));
    expect(lines).toEqual(Array.from({ length: 10_000 }, (_, i) => `{"seq":${i},"msg":"request handled"}`));
  });

  it("reads a day's lines in time order across hours, parts and compacted objects, with filters", async () => {
    const service = uniq("billing");
    const date = "2026-12-02";
    // Written out of order on purpose: hour 09 after hour 10, and a file upload among appends.
    await app.logArchive.append({ service, date, hour: 10 }, ["10-a", "10-b"]);
    await app.logArchive.flush();
    await app.logArchive.compact({ service, date, hour: 10 });
    await app.logArchive.append({ service, date, hour: 10 }, ["10-c ERROR disk"]);
    await app.logArchive.flush();
    await app.logArchive.upload(
      { service, date, hour: "09" },
      Readable.from([Buffer.from("09-a\n09-b ERROR x")]),
    );
    await app.logArchive.upload({ service, date, hour: 23 }, "23-a\n");
    await app.logArchive.append({ service, date: "2026-12-03", hour: 0 }, ["next day"]);
    await app.logArchive.flush();

    expect(await collect(app.logArchive.read({ service, date }))).toEqual([
      "09-a",
      "09-b ERROR x",
      "10-a",
      "10-b",
      "10-c ERROR disk",
      "23-a",
    ]);
    expect(await collect(app.logArchive.read({ service, date, contains: "ERROR" }))).toEqual([
      "09-b ERROR x",
      "10-c ERROR disk",
    ]);
    expect(await collect(app.logArchive.read({ service, date, regex: "^10-[ab]$" }))).toEqual([
      "10-a",
      "10-b",
    ]);
    expect(await collect(app.logArchive.read({ service, date, fromHour: 10, toHour: 22 }))).toEqual([
      "10-a",
      "10-b",
      "10-c ERROR disk",
    ]);
    const listed = await app.logArchive.list({ service, date });
    expect(listed.map((o) => [o.hour, o.part])).toEqual([
      ["09", true],
      ["10", false],
      ["10", true],
      ["23", true],
    ]);
  });

  it("refuses bad targets and filters before writing anything", async () => {
    const service = uniq("refused");
    const cases: Array<[Promise<unknown>, string]> = [
      [app.logArchive.upload({ service: "Bad/Name", date: "2026-12-01", hour: 1 }, "x"), "service"],
      [app.logArchive.upload({ service, date: "2026-02-30", hour: 1 }, "x"), "date"],
      [app.logArchive.upload({ service, date: "2026-12-01", hour: 24 }, "x"), "hour"],
      [app.logArchive.upload({ service, date: "2026-12-01", hour: 1, filename: "../etc" }, "x"), "filename"],
      [collect(app.logArchive.read({ service, date: "2026-12-01", regex: "(" })), "regex"],
      [collect(app.logArchive.read({ service, date: "2026-12-01", fromHour: 5, toHour: 4 })), "fromHour"],
      [app.logArchive.rotate({ service, retentionDays: 0 }), "retentionDays"],
    ];
    for (const [promise, field] of cases) {
      const err = await rejection(promise);
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.details).toMatchObject({ field });
    }
    expect(await keysUnder(`${service}/`)).toEqual([]);
  });

  it("rotates exactly the partitions older than the retention, by the log's date; dry run deletes nothing", async () => {
    const service = uniq("rotate");
    const now = new Date("2026-12-07T12:00:00Z");
    // Cutoff with 30 days: 2026-11-07. Kept: 11-07 and later; rotated: 11-06 and earlier.
    for (const date of ["2026-10-01", "2026-11-06", "2026-11-07", "2026-12-07"]) {
      await app.logArchive.upload({ service, date, hour: 12 }, `line of ${date}\n`);
    }
    // Uploaded today for an old date: judged by its date, so it goes.
    await app.logArchive.upload({ service, date: "2026-09-15", hour: 3, filename: "late" }, "late line\n");
    const other = uniq("other");
    await app.logArchive.upload({ service: other, date: "2026-10-01", hour: 1 }, "other service\n");
    const all = await keysUnder(`${service}/`);

    const dry = await app.logArchive.rotate({ service, retentionDays: 30, now });
    expect(dry).toMatchObject({ dryRun: true, cutoff: "2026-11-07", objects: 3, deleted: 0 });
    expect(dry.partitions.map((p) => p.date)).toEqual(["2026-09-15", "2026-10-01", "2026-11-06"]);
    expect(dry.bytes).toBeGreaterThan(0);
    expect(await keysUnder(`${service}/`)).toEqual(all);

    const done = await app.logArchive.rotate({ service, retentionDays: 30, now, dryRun: false });
    expect(done).toMatchObject({ dryRun: false, objects: 3, deleted: 3, failed: 0, bytes: dry.bytes });
    const left = await keysUnder(`${service}/`);
    expect(left.map((k) => k.split("/")[1])).toEqual(["2026-11-07", "2026-12-07"]);
    expect(await keysUnder(`${other}/`)).toHaveLength(1);
  });

  it("writes buffered lines on close, and compacts only closed hours on the schedule's pass", async () => {
    const service = uniq("shutdown");
    const open = new Date();
    const openHour = open.toISOString().slice(11, 13);
    const today = open.toISOString().slice(0, 10);
    const past = new Date(open.getTime() - 3 * 3_600_000).toISOString();
    const pastTarget = { service, date: past.slice(0, 10), hour: past.slice(11, 13) };
    await app.logArchive.append(pastTarget, ["closed hour line"]);
    await app.logArchive.append({ service }, ["open hour line"]);
    expect(app.logArchive.pendingLines).toBe(2);
    expect(await keysUnder(`${service}/`)).toEqual([]);
    await app.logArchive.close();
    expect(app.logArchive.pendingLines).toBe(0);
    expect(await keysUnder(`${service}/`)).toHaveLength(2);

    const results = await app.logArchive.compactClosed(open);
    expect(results.filter((r) => r.service === service)).toEqual([
      { ...pastTarget, objects: 1, parts: 1, conflicts: 0 },
    ]);
    const keys = await keysUnder(`${service}/`);
    expect(keys).toContain(`${service}/${pastTarget.date}/${pastTarget.hour}/app.log.gz`);
    expect(keys.some((k) => k.startsWith(`${service}/${today}/${openHour}/_parts/app/`))).toBe(true);
  });
});
