import { describe, expect, it } from "vitest";
import { StorageError } from "../errors.ts";
import { auditQueryFrom, parseAuditTime } from "./audit-query.ts";

const now = new Date("2025-06-01T12:00:00Z");

function refusal(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  throw new Error("expected a StorageError");
}

describe("audit query parsing (shared by the CLI and the admin APIs)", () => {
  it("reads durations back from now and ISO date-times", () => {
    expect(parseAuditTime("24h", "since", undefined, now)).toEqual(new Date("2025-05-31T12:00:00Z"));
    expect(parseAuditTime("15m", "since", undefined, now)).toEqual(new Date("2025-06-01T11:45:00Z"));
    expect(parseAuditTime("2025-01-31T12:00Z", "until", undefined, now)).toEqual(
      new Date("2025-01-31T12:00:00Z"),
    );
  });

  it("names the field as the caller spells it, and refuses what is neither", () => {
    const cli = refusal(() => parseAuditTime("yesterday", "since", (f) => `--${f}`, now));
    expect(cli).toMatchObject({ code: "INVALID_ARGUMENT", details: { field: "since" } });
    expect(cli.message).toMatch(/^--since expects/);
    expect(refusal(() => parseAuditTime("31/01/2025", "until")).message).toMatch(/^until expects/);
  });

  it("builds the query, skipping empty filters, and refuses an unknown source", () => {
    expect(
      auditQueryFrom(
        { since: "1h", until: "", key: "abc", bucket: "", source: "minio", limit: 5 },
        undefined,
        now,
      ),
    ).toEqual({ since: new Date("2025-06-01T11:00:00Z"), keyId: "abc", source: "minio", limit: 5 });
    expect(auditQueryFrom({})).toEqual({});
    expect(refusal(() => auditQueryFrom({ source: "s3" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: { field: "source" },
    });
  });
});
