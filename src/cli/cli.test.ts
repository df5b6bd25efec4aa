import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/config.ts";
import type { BucketReport } from "../core/reconcile.ts";
import type { ObjectInfo } from "../core/types.ts";
import { ERROR_CODES, type ErrorCode, StorageError } from "../errors.ts";
import {
  parseExpires,
  parseHours,
  parseInteger,
  parseMeta,
  parseMethod,
  parseRange,
} from "./commands/args.ts";
import { lsLines } from "./commands/ls.ts";
import { reconcileText } from "./commands/reconcile.ts";
import { logLevelFor } from "./context.ts";
import { describeError, EXIT_CODES, EXIT_CONFIG, main, secretsIn } from "./main.ts";
import { formatFields, formatTable, objectInfoJson, renderJson, toJsonValue } from "./output.ts";
import { mibPerSecond, shouldShowProgress } from "./progress.ts";

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  return undefined;
}

describe("option parsers", () => {
  it("parses repeatable --meta k=v", () => {
    expect(parseMeta([])).toEqual({});
    expect(parseMeta(["a=1", "b=x=y", "empty="])).toEqual({ a: "1", b: "x=y", empty: "" });
    expect(codeOf(() => parseMeta(["novalue"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => parseMeta(["=v"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => parseMeta(["a=1", "a=2"]))).toBe("INVALID_ARGUMENT");
  });

  it("parses --range start-end and start-", () => {
    expect(parseRange("0-99")).toEqual({ start: 0, end: 99 });
    expect(parseRange("100-")).toEqual({ start: 100 });
    expect(parseRange("bytes=5-5")).toEqual({ start: 5, end: 5 });
    for (const bad of ["-5", "9-5", "abc", "1-2-3", "", "1.5-2"]) {
      expect(
        codeOf(() => parseRange(bad)),
        bad,
      ).toBe("INVALID_ARGUMENT");
    }
  });

  it("parses numbers, durations and methods", () => {
    expect(parseInteger("50", "limit", 1, 1000)).toBe(50);
    expect(codeOf(() => parseInteger("0", "limit", 1, 1000))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => parseInteger("2.5", "limit", 1, 1000))).toBe("INVALID_ARGUMENT");
    expect(parseHours("0", "h")).toBe(0);
    expect(parseHours("1.5", "h")).toBe(1.5);
    expect(codeOf(() => parseHours("-1", "h"))).toBe("INVALID_ARGUMENT");
    expect(parseExpires("900")).toBe(900);
    expect(parseExpires("15m")).toBe(900);
    expect(codeOf(() => parseExpires("soon"))).toBe("INVALID_ARGUMENT");
    expect(parseMethod("put")).toBe("PUT");
    expect(codeOf(() => parseMethod("POST"))).toBe("INVALID_ARGUMENT");
  });
});

describe("errors and exit codes", () => {
  it("maps every error code to an exit status", () => {
    expect(Object.keys(EXIT_CODES).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(EXIT_CODES.NOT_FOUND).toBe(4);
    expect(EXIT_CODES.UNAVAILABLE).toBe(3);
    for (const code of [
      "INVALID_ARGUMENT",
      "UNSUPPORTED_TYPE",
      "TOO_LARGE",
      "PRECONDITION_FAILED",
    ] as const) {
      expect(EXIT_CODES[code]).toBe(2);
    }
    expect(EXIT_CODES.INTERNAL).toBe(1);
  });

  it("describes errors in one line, stack only when verbose", () => {
    const notFound = describeError(new StorageError("NOT_FOUND", "No such object."));
    expect(notFound).toEqual({ exitCode: 4, line: "error: NOT_FOUND: No such object." });
    const config = describeError(new ConfigError("Invalid configuration: HTTP_PORT must be a number"));
    expect(config).toEqual({
      exitCode: EXIT_CONFIG,
      line: "error: Invalid configuration: HTTP_PORT must be a number",
    });
    const other = describeError(new TypeError("boom\n  on two lines"));
    expect(other).toEqual({ exitCode: 1, line: "error: INTERNAL: boom on two lines" });
    const verbose = describeError(new Error("outer", { cause: new Error("inner") }), { verbose: true });
    expect(verbose.stack).toContain("caused by: Error: inner");
  });

  it("never prints configured secrets", () => {
    const env = { MINIO_SECRET_KEY: "s3cr3t-value", DATABASE_URL: "postgres://u:p%40ssword@db/x" };
    const secrets = secretsIn(env);
    expect(secrets).toContain("p@ssword");
    const report = describeError(new Error("auth failed for s3cr3t-value and p@ssword"), { secrets });
    expect(report.line).toBe("error: INTERNAL: auth failed for [redacted] and [redacted]");
  });

  it("defaults one-shot commands to warn unless LOG_LEVEL is set", () => {
    const config = { log: { level: "info" } } as Parameters<typeof logLevelFor>[2];
    expect(logLevelFor("one-shot", {}, config)).toBe("warn");
    expect(logLevelFor("one-shot", { LOG_LEVEL: "info" }, config)).toBe("info");
    expect(logLevelFor("serve", {}, config)).toBe("info");
  });
});

describe("output", () => {
  const info: ObjectInfo = {
    bucket: "b",
    key: "k.txt",
    versionId: "v1",
    size: 3,
    etag: '"e"',
    contentType: "text/plain",
    metadata: { z: "1", a: "2" },
    lastModified: new Date("2024-01-02T03:04:05.000Z"),
  };

  it("renders object info with a stable shape", () => {
    const json = objectInfoJson(info);
    expect(Object.keys(json)).toEqual([
      "bucket",
      "key",
      "versionId",
      "size",
      "etag",
      "sha256",
      "contentType",
      "owner",
      "metadata",
      "lastModified",
    ]);
    expect(json.sha256).toBeNull();
    expect(json.owner).toBeNull();
    expect(Object.keys(json.metadata)).toEqual(["a", "z"]);
    expect(JSON.parse(renderJson(json)).lastModified).toBe("2024-01-02T03:04:05.000Z");
  });

  it("turns dates into ISO strings and undefined into null", () => {
    expect(toJsonValue({ d: new Date(0), u: undefined, n: [1, { x: undefined }] })).toEqual({
      d: "1970-01-01T00:00:00.000Z",
      u: null,
      n: [1, { x: null }],
    });
    const text = renderJson([{ a: 1 }]);
    expect(text.endsWith("\n")).toBe(true);
    expect(JSON.parse(text)).toEqual([{ a: 1 }]);
  });

  it("aligns table columns and key: value lines", () => {
    expect(
      formatTable(
        [
          ["a", "1", "x"],
          ["bbb", "100", "y"],
        ],
        ["left", "right"],
      ),
    ).toBe("a      1  x\nbbb  100  y\n");
    expect(
      formatFields([
        ["key", "k"],
        ["versionId", "v"],
      ]),
    ).toBe("key:       k\nversionId: v\n");
  });

  it("keeps ls columns aligned across pages", () => {
    const object = { ...info, sha256: "ab".repeat(32), size: 5 * 1024 * 1024 };
    const a = lsLines({ objects: [object], prefixes: [] });
    const b = lsLines({ objects: [], prefixes: ["dir/"] });
    expect(a.indexOf("abababababab")).toBeGreaterThan(0);
    expect(a.indexOf("k.txt")).toBe(b.indexOf("dir/"));
    expect(a).toContain("5.0 MiB");
  });

  it("reports reconcile totals and says when it was a dry run", () => {
    const report: BucketReport = {
      bucket: "b",
      objects: 2,
      rows: 1,
      rowsWithoutObjects: [],
      objectsWithoutRows: ["lost.txt"],
      mismatched: [],
      staleUploads: [],
      repaired: 0,
    };
    const text = reconcileText([report], false);
    expect(text).toContain("b: object without row: lost.txt\n");
    expect(text).toContain("orphans: 1\n");
    expect(text).toContain("--repair");
    expect(reconcileText([{ ...report, objectsWithoutRows: [] }], false)).not.toContain("--repair");
  });

  it("shows progress only on a terminal and not with --json", () => {
    expect(shouldShowProgress({ json: false, stdout: { isTTY: true } })).toBe(true);
    expect(shouldShowProgress({ json: true, stdout: { isTTY: true } })).toBe(false);
    expect(shouldShowProgress({ json: false, stdout: {} })).toBe(false);
    expect(mibPerSecond(10 * 1024 * 1024, 2000)).toBe("5.0");
    expect(mibPerSecond(1, 0)).toBe("0.0");
  });
});

describe("main", () => {
  function capture() {
    let text = "";
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    return { stream, text: () => text };
  }

  async function run(argv: string[], env: Record<string, string> = {}) {
    const stdout = capture();
    const stderr = capture();
    const code = await main(argv, { env, io: { stdout: stdout.stream, stderr: stderr.stream } });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  }

  it("exits 2 on usage errors and bad option values, before touching any backend", async () => {
    const missing = await run(["get", "bucket"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing required argument/);
    const meta = await run(["put", "b", "k.txt", "f", "--meta", "novalue"]);
    expect(meta).toMatchObject({ code: 2, stdout: "" });
    expect(meta.stderr).toBe("error: INVALID_ARGUMENT: --meta expects key=value, got 'novalue'.\n");
  });

  it("exits 78 with one line on a configuration error", async () => {
    const result = await run(["stat", "b", "k"], { STORAGE_BACKEND: "bogus" });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      "error: Invalid configuration: STORAGE_BACKEND must be local, minio, s3 or gcs\n",
    );
  });

  it("prints the version", async () => {
    const result = await run(["-V"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
