import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStore } from "../backends/local/local-store.ts";
import type { ObjectStore } from "../backends/object-store.ts";
import { loadConfig } from "../config/config.ts";
import { type Database, openDatabase } from "../metadata/database.ts";
import { MetadataRepository } from "../metadata/repository.ts";
import { StorageService } from "./storage-service.ts";

describe("StorageService commit edge cases", () => {
  let root: string;
  let db: Database;
  let store: LocalStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "svc-unit-"));
    store = new LocalStore(root);
    await store.createBucket("unit-bucket");
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
  });
  afterAll(async () => {
    await db.destroy();
    await rm(root, { recursive: true, force: true });
  });

  const serviceWith = (s: ObjectStore, index = new MetadataRepository(db)) =>
    new StorageService({
      store: s,
      index,
      settings: loadConfig({}).storage,
      logger: pino({ level: "silent" }),
    });

  it("takes the object back when the caller cancels while it is being committed", async () => {
    const controller = new AbortController();
    const put: ObjectStore["put"] = async (...args) => {
      const result = await store.put(...args);
      controller.abort();
      return result;
    };
    const abortingStore = new Proxy(store, {
      get(target, prop) {
        if (prop === "put") return put;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const service = serviceWith(abortingStore);
    await expect(
      service.upload({
        bucket: "unit-bucket",
        key: "late.txt",
        body: Readable.from(["bytes"]),
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ code: "CANCELLED" });
    await expect(store.head("unit-bucket", "late.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await new MetadataRepository(db).find("unit-bucket", "late.txt")).toBeUndefined();
  });

  it("removes the object again when the index row cannot be written", async () => {
    const brokenIndex = new MetadataRepository(db);
    brokenIndex.recordVersion = async () => {
      throw new Error("database went away");
    };
    const service = serviceWith(store, brokenIndex);
    await expect(
      service.upload({ bucket: "unit-bucket", key: "unindexed.txt", body: Readable.from(["bytes"]) }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(store.head("unit-bucket", "unindexed.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
