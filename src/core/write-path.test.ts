import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStore } from "../backends/local/local-store.ts";
import type { ObjectStore } from "../backends/object-store.ts";
import { loadConfig } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { type Database, openDatabase } from "../metadata/database.ts";
import { MetadataRepository } from "../metadata/repository.ts";
import { StorageService } from "./storage-service.ts";

/** How the upload body is wired to the backend (write-path.ts feed): errors, early ends and aborts. */
describe("upload body plumbing", () => {
  const bucket = "plumbing";
  let root: string;
  let db: Database;
  let store: LocalStore;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "write-path-"));
    store = new LocalStore(root);
    await store.createBucket(bucket);
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
  });
  afterAll(async () => {
    await db.destroy();
    await rm(root, { recursive: true, force: true });
  });

  const serviceWith = (put: ObjectStore["put"]) =>
    new StorageService({
      store: new Proxy(store, {
        get(target, prop) {
          if (prop === "put") return put;
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
      index: new MetadataRepository(db),
      settings: loadConfig({}).storage,
      logger: pino({ level: "silent" }),
    });

  /** A body that sends its first bytes and then waits, so the upload is mid-stream. */
  const openBody = () => {
    const body = new PassThrough();
    body.write(Buffer.alloc(8192, 0x61));
    return body;
  };

  it("a backend that fails before reading the body: its error, the body destroyed, nothing stored", async () => {
    const body = openBody();
    const service = serviceWith(async () => {
      throw new StorageError("UNAVAILABLE", "The object store is unavailable.");
    });
    await expect(service.upload({ bucket, key: "early.txt", body })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(body.destroyed).toBe(true);
    await expect(store.head(bucket, "early.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a body that fails mid-stream fails the backend's read with the body's error", async () => {
    const body = openBody();
    const service = serviceWith((...args) => {
      setImmediate(() => body.destroy(new StorageError("INVALID_ARGUMENT", "The body was malformed.")));
      return store.put(...args);
    });
    await expect(service.upload({ bucket, key: "broken.txt", body })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(store.head(bucket, "broken.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a body that ends early without an error is refused, not stored short", async () => {
    const body = openBody();
    const service = serviceWith((...args) => {
      setImmediate(() => body.destroy());
      return store.put(...args);
    });
    await expect(service.upload({ bucket, key: "short.txt", body })).rejects.toBeInstanceOf(StorageError);
    await expect(store.head(bucket, "short.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("the caller's signal cancels the upload", async () => {
    const body = openBody();
    const controller = new AbortController();
    // As a transport's body does when its request is cancelled (a body that never ends would leave
    // peek()'s reader waiting for it).
    controller.signal.addEventListener("abort", () => body.destroy());
    const service = serviceWith((...args) => {
      setImmediate(() => controller.abort());
      return store.put(...args);
    });
    await expect(
      service.upload({ bucket, key: "aborted.txt", body, signal: controller.signal }),
    ).rejects.toMatchObject({ code: "CANCELLED" });
    await expect(store.head(bucket, "aborted.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a body read to its end is stored whole, with its sha256", async () => {
    const service = serviceWith((...args) => store.put(...args));
    const info = await service.upload({ bucket, key: "whole.txt", body: Readable.from(["hello ", "world"]) });
    expect(info.size).toBe(11);
    expect(info.sha256).toBe("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  });
});
