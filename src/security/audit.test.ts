import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../metadata/database.ts";
import { AuditLog } from "./audit.ts";

/** Counts INSERT statements that reach the database. */
class CountInserts implements KyselyPlugin {
  inserts = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === "InsertQueryNode") this.inserts++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe("AuditLog group commit (embedded PGlite)", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
  });
  afterAll(() => db?.destroy());

  it("stores every record of a burst, in call order, in far fewer statements than records", async () => {
    const counter = new CountInserts();
    const audit = new AuditLog(db.withPlugin(counter) as Database);
    const calls = Array.from({ length: 200 }, (_, i) =>
      audit.record({ action: "upload", result: "OK", key: `burst/${i}`, protocol: "http" }),
    );
    await Promise.all(calls);
    const stored = await audit.query({ limit: 1000 });
    expect(stored.filter((r) => r.key?.startsWith("burst/")).map((r) => r.key)).toEqual(
      Array.from({ length: 200 }, (_, i) => `burst/${i}`),
    );
    expect(counter.inserts).toBeGreaterThanOrEqual(2);
    expect(counter.inserts).toBeLessThan(20);
  });

  it("resolves only after the row is stored, and a lone call is written at once", async () => {
    const audit = new AuditLog(db);
    await audit.record({ action: "delete", result: "OK", key: "lone" });
    const stored = await audit.query({ limit: 1000 });
    expect(stored.some((r) => r.key === "lone")).toBe(true);
  });

  it("a row the database refuses fails only its own call; the rest of its group is stored", async () => {
    const audit = new AuditLog(db);
    const first = audit.record({ action: "upload", result: "OK", key: "group/first" });
    const calls = [
      audit.record({ action: "upload", result: "OK", key: "group/a" }),
      audit.record({ action: "upload", result: "OK", key: "group/bad", time: new Date(Number.NaN) }),
      audit.record({ action: "upload", result: "OK", key: "group/b" }),
    ];
    const outcomes = await Promise.allSettled([first, ...calls]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const keys = (await audit.query({ limit: 1000 })).map((r) => r.key);
    expect(keys).toEqual(expect.arrayContaining(["group/first", "group/a", "group/b"]));
    expect(keys).not.toContain("group/bad");
  });

  it("refuses an event without action or result before queueing it", async () => {
    const audit = new AuditLog(db);
    await expect(audit.record({ action: "", result: "OK" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});
