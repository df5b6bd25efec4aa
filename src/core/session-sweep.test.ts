import pino from "pino";
import { describe, expect, it } from "vitest";
import type { SessionRow, UploadSessionTable } from "../metadata/upload-sessions.ts";
import { sweepExpired } from "./session-sweep.ts";

const log = pino({ level: "silent" });
const now = new Date("2026-01-01T00:00:00Z");
const staleBefore = new Date(now.getTime() - 60_000);

/** A table of expired rows: claim() takes a row once, finish()/release() are recorded. */
function fakeTable(count: number) {
  const rows = Array.from({ length: count }, (_, i) => ({ id: `s${i}` }) as SessionRow);
  const claimed = new Set<string>();
  const released: string[] = [];
  const aborted = new Set<string>();
  const table = {
    expired: async (_now: Date, _stale: Date, limit: number) =>
      rows.filter((r) => !aborted.has(r.id) && !claimed.has(r.id)).slice(0, limit),
    claim: async (id: string) => {
      if (claimed.has(id)) return false;
      claimed.add(id);
      return true;
    },
    release: async (id: string) => {
      claimed.delete(id);
      released.push(id);
    },
  } as unknown as UploadSessionTable;
  return { table, released, aborted };
}

describe("sweepExpired", () => {
  it("drops every expired session, batch after batch, and counts them", async () => {
    const { table, aborted } = fakeTable(250);
    const drop = async (row: SessionRow) => {
      aborted.add(row.id);
    };
    expect(await sweepExpired({ table, drop, log, now, staleBefore })).toBe(250);
    expect(aborted.size).toBe(250);
  });

  it("releases a session it could not drop and ends the pass when a batch drops nothing", async () => {
    const { table, released } = fakeTable(3);
    const drop = async () => {
      throw new Error("store down");
    };
    expect(await sweepExpired({ table, drop, log, now, staleBefore })).toBe(0);
    expect(released.sort()).toEqual(["s0", "s1", "s2"]);
  });
});
