import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../src/errors.ts";
import { createTestApp, type TestApp } from "./support/app.ts";

/**
 * The config store (stores/config) on the shared MinIO and on the local backend: parse-before-store
 * refusals with line and column, versions with history, structural diff and rollback, JSON Schema
 * checks, concurrent writers that lose no version, and feature flags.
 */

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    return err as StorageError;
  }
  throw new Error("expected a rejection");
}

describe.each(["minio", "local"] as const)("config store (%s)", (backend) => {
  let app: TestApp;
  const unique = (base: string) => `${base}-${randomUUID().slice(0, 8)}`;
  const put = (name: string, source: string, format: "json" | "yaml" = "yaml", expectedVersion?: number) =>
    app.configStore.put({
      name,
      source,
      format,
      author: "config-test",
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    });

  beforeAll(async () => {
    app = await createTestApp(backend);
  });

  afterAll(async () => {
    await app?.dispose();
  });

  it("refuses invalid YAML with the error's line and column, and stores nothing", async () => {
    const name = unique("svc/broken");
    const err = await rejection(put(name, "server:\n  port: 8080\n  hosts: [a, b\nlimits: {}\n"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.details).toMatchObject({ field: "content", line: 4, column: 1 });
    expect(err.message).toMatch(/line 4, column 1/);
    expect((await rejection(app.configStore.history(name))).code).toBe("NOT_FOUND");
  });

  it("refuses invalid JSON with the line and column", async () => {
    const err = await rejection(put(unique("svc/json"), '{\n  "a": 1,\n  "b": [1, 2,]\n}', "json"));
    expect(err.details).toMatchObject({ line: 3, column: 14 });
  });

  it("keeps three versions, diffs them, and rolls back to the first as a fourth", async () => {
    const name = unique("billing/settings");
    const v1 = await put(name, "# first\nretries: 3\nendpoints: [a]\n");
    const v2 = await put(name, "retries: 5\nendpoints: [a, b]\n");
    const v3 = await put(name, '{"retries": 5, "timeout": 30}', "json");
    expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3]);
    expect((await app.configStore.get(name)).value).toEqual({ retries: 5, timeout: 30 });

    expect(await app.configStore.diff(name, 1, 3)).toEqual({
      name,
      from: 1,
      to: 3,
      added: [{ path: "/timeout", to: 30 }],
      removed: [{ path: "/endpoints", from: ["a"] }],
      changed: [{ path: "/retries", from: 3, to: 5 }],
    });

    const v4 = await app.configStore.rollback(name, 1, "operator");
    expect(v4).toMatchObject({ version: 4, restoredFrom: 1, format: "yaml", author: "operator" });
    const latest = await app.configStore.get(name);
    expect(latest.source).toBe("# first\nretries: 3\nendpoints: [a]\n");
    expect(latest.value).toEqual({ retries: 3, endpoints: ["a"] });
    expect(latest.sha256).toBe(v1.sha256);

    const history = await app.configStore.history(name);
    expect(history.map((h) => [h.version, h.format, h.author])).toEqual([
      [1, "yaml", "config-test"],
      [2, "yaml", "config-test"],
      [3, "json", "config-test"],
      [4, "yaml", "operator"],
    ]);
    expect((await app.configStore.get(name, 2)).value).toEqual({ retries: 5, endpoints: ["a", "b"] });
    expect(await app.configStore.names()).toContain(name);
  });

  it("refuses a put that does not follow the version the caller read", async () => {
    const name = unique("cas");
    await put(name, "a: 1\n", "yaml", 0);
    const err = await rejection(put(name, "a: 2\n", "yaml", 0));
    expect(err.code).toBe("PRECONDITION_FAILED");
    expect(err.details).toMatchObject({ latest: 1 });
    expect((await put(name, "a: 2\n", "yaml", 1)).version).toBe(2);
  });

  it("loses no version when writers race for the next number", async () => {
    const name = unique("race");
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => put(name, `writer: ${i}\n`)));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
    const values = await Promise.all(
      [1, 2, 3, 4].map(async (v) => (await app.configStore.get(name, v)).value),
    );
    expect(values.map((v) => (v as { writer: number }).writer).sort()).toEqual([0, 1, 2, 3]);
  });

  it("checks documents against the JSON Schema stored beside them", async () => {
    const name = unique("schema");
    await put(name, "port: 80\n");
    const schema = {
      type: "object",
      properties: { port: { type: "integer", maximum: 65535 } },
      required: ["port"],
    };
    // The current document breaks a schema requiring "host": refused, so puts stay possible.
    const strict = { ...schema, required: ["port", "host"] };
    const refused = await rejection(app.configStore.putSchema(name, JSON.stringify(strict), "json", "t"));
    expect(refused.code).toBe("INVALID_ARGUMENT");
    expect(refused.message).toMatch(/host/);

    await app.configStore.putSchema(name, JSON.stringify(schema), "json", "t");
    expect((await app.configStore.getSchema(name)).schema).toEqual(schema);
    const bad = await rejection(put(name, "port: 70000\n"));
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toMatch(/\/port must be <= 65535/);
    expect((await app.configStore.history(name)).length).toBe(1);
    expect((await put(name, "port: 8080\n")).version).toBe(2);

    const uncompilable = await rejection(app.configStore.putSchema(name, '{"type": 12}', "json", "t"));
    expect(uncompilable.message).toMatch(/does not compile/);
  });

  it("evaluates a flag stably, near its rollout over 10,000 subjects, and sees a change at once", async () => {
    const flag = unique("new-checkout");
    await put(`flags/${flag}`, "enabled: true\nrollout: 30\nallow: [vip]\ndeny: [banned]\n");
    let on = 0;
    const first: boolean[] = [];
    for (let i = 0; i < 10_000; i++) {
      const e = await app.configStore.evaluateFlag(flag, `user-${i}`);
      first.push(e.enabled);
      if (e.enabled) on++;
    }
    expect(Math.abs(on / 100 - 30)).toBeLessThanOrEqual(2);
    for (let i = 0; i < 500; i++) {
      expect((await app.configStore.evaluateFlag(flag, `user-${i}`)).enabled).toBe(first[i]);
    }
    expect(await app.configStore.evaluateFlag(flag, "vip")).toMatchObject({
      enabled: true,
      reason: "allowed",
    });
    expect(await app.configStore.evaluateFlag(flag, "banned")).toMatchObject({
      enabled: false,
      reason: "denied",
    });

    // The default TTL is seconds long: a change through this instance must not wait for it.
    await put(`flags/${flag}`, "enabled: false\n");
    expect(await app.configStore.evaluateFlag(flag, "vip")).toMatchObject({
      enabled: false,
      reason: "disabled",
      version: 2,
    });
    await app.configStore.rollback(`flags/${flag}`, 1, "t");
    expect(await app.configStore.evaluateFlag(flag, "vip")).toMatchObject({ enabled: true, version: 3 });
  });

  it("refuses a malformed flag document and an unknown flag", async () => {
    const flag = unique("bad-flag");
    const err = await rejection(put(`flags/${flag}`, "enabled: yes please\n"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/enabled/);
    expect((await rejection(app.configStore.evaluateFlag(flag, "u"))).code).toBe("NOT_FOUND");
  });

  it("refuses bad names and reserved segments", async () => {
    for (const name of ["", "a//b", "../x", "a/_v/1", "a/_schema", "/abs", "x".repeat(201)]) {
      expect((await rejection(put(name, "a: 1\n"))).code).toBe("INVALID_ARGUMENT");
    }
  });
});
