import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageService } from "../src/core/storage-service.ts";
import { StorageError } from "../src/errors.ts";
import type { MetadataRepository } from "../src/metadata/repository.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { bufferStream, sha256Of, uploadableBytes } from "./support/data.ts";

/**
 * A write whose index row cannot be recorded takes back exactly what it stored: its own version
 * in a versioned bucket, its own ETag in an unversioned one. An object another writer stored under
 * the same key meanwhile survives, with its row; and a row left describing bytes that are gone is
 * dropped, so the index and the store agree afterwards.
 */

type Hook = (key: string) => Promise<void>;

/**
 * The app's index, except that recording a watched key runs its hook and then fails: recordVersion
 * (a write that stored first), and recordWrite (a small announced body, stored under the key's
 * lock) after its store write. Every small announced body takes recordWrite here, on PGlite too.
 */
function failingIndex(index: MetadataRepository, watched: Map<string, Hook>): MetadataRepository {
  return new Proxy(index, {
    get(target, prop) {
      if (prop === "writesUnderLock") return true;
      if (prop === "recordWrite") {
        return async (...args: Parameters<MetadataRepository["recordWrite"]>) => {
          const [, key, write] = args;
          const hook = watched.get(key);
          if (!hook) return target.recordWrite(...args);
          watched.delete(key);
          // Stored, then the row fails; no lock is held here, so the hook's rival need not wait.
          await write();
          await hook(key);
          throw new StorageError("UNAVAILABLE", "the index is down (test)");
        };
      }
      if (prop === "recordVersion") {
        return async (...args: Parameters<MetadataRepository["recordVersion"]>) => {
          const hook = watched.get(args[0].key);
          if (hook) {
            watched.delete(args[0].key);
            await hook(args[0].key);
            throw new StorageError("UNAVAILABLE", "the index is down (test)");
          }
          return target.recordVersion(...args);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe.each(["minio", "local"] as const)("compensation after a failed index write (%s)", (backend) => {
  let app: TestApp;
  let service: StorageService;
  const watched = new Map<string, Hook>();

  beforeAll(async () => {
    app = await createTestApp(backend);
    service = new StorageService({
      store: app.store,
      index: failingIndex(app.index, watched),
      settings: app.config.storage,
      logger: pino({ level: "silent" }),
    });
  });

  afterAll(async () => {
    await app?.dispose();
  });

  const buckets = () =>
    backend === "minio"
      ? [
          { name: app.config.buckets.temp, versioned: false },
          { name: app.config.buckets.protoFiles, versioned: true },
        ]
      : [{ name: app.config.buckets.temp, versioned: false }];

  // A body of unknown size is stored, then recorded; an announced small one is stored and recorded
  // in one locked section (WritePath): both take back what they stored when the row fails.
  const paths = [
    { path: "stored first", announce: false },
    { path: "held under the lock", announce: true },
  ];

  it.each(paths)(
    "keeps another writer's object that replaced ours before the rollback ($path)",
    async ({ announce }) => {
      for (const { name: bucket, versioned } of buckets()) {
        const key = `comp/race-${versioned ? "v" : "u"}${announce ? "-held" : ""}.proto`;
        const theirs = uploadableBytes(1000);
        watched.set(key, async () => {
          // The other writer stores (and records) its object while our row insert is failing.
          await app.service.upload({ bucket, key, body: bufferStream(theirs) });
        });
        await expect(
          service.upload({
            bucket,
            key,
            body: bufferStream(uploadableBytes(1000)),
            ...(announce ? { expectedSize: 1000 } : {}),
          }),
        ).rejects.toMatchObject({
          code: "UNAVAILABLE",
        });
        const got = await app.service.download(bucket, key);
        const chunks: Buffer[] = [];
        for await (const c of got.body) chunks.push(c as Buffer);
        expect(sha256Of(Buffer.concat(chunks)), bucket).toBe(sha256Of(theirs));
        const row = await app.index.find(bucket, key);
        expect(row).toMatchObject({ sha256: sha256Of(theirs), etag: got.info.etag, isLatest: true });
      }
    },
  );

  it.each(paths)(
    "without a rival, leaves the store and the index agreeing on what was there ($path)",
    async ({ announce }) => {
      for (const { name: bucket, versioned } of buckets()) {
        const key = `comp/alone-${versioned ? "v" : "u"}${announce ? "-held" : ""}.proto`;
        const first = uploadableBytes(500);
        await app.service.upload({ bucket, key, body: bufferStream(first) });
        watched.set(key, async () => {});
        await expect(
          service.upload({
            bucket,
            key,
            body: bufferStream(uploadableBytes(500)),
            ...(announce ? { expectedSize: 500 } : {}),
          }),
        ).rejects.toMatchObject({
          code: "UNAVAILABLE",
        });
        if (versioned) {
          // Our version is gone; the first is current again, and its row is still the latest.
          const info = await app.service.stat(bucket, key);
          expect(info.sha256).toBe(sha256Of(first));
          expect((await app.index.find(bucket, key))?.sha256).toBe(sha256Of(first));
        } else {
          // The overwrite replaced the first object's bytes: taken back, the key is empty, and the
          // row that described the first object (whose bytes are gone) is dropped too.
          await expect(app.store.head(bucket, key)).rejects.toMatchObject({ code: "NOT_FOUND" });
          expect(await app.index.find(bucket, key)).toBeUndefined();
        }
      }
    },
  );

  it.each(paths)(
    "a caller that gives up while its object is committed gets CANCELLED, and neither the object nor a row stays ($path)",
    async ({ announce }) => {
      const bucket = app.config.buckets.temp;
      const key = `comp/cancel${announce ? "-held" : ""}.txt`;
      const giveUp = new AbortController();
      // The store commits the PUT, and the caller gives up just as it answers.
      const store = new Proxy(app.store, {
        get(target, prop) {
          if (prop === "put") {
            return async (...args: Parameters<typeof target.put>) => {
              const stored = await target.put(...args);
              giveUp.abort();
              return stored;
            };
          }
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const cancelling = new StorageService({
        store,
        index: failingIndex(app.index, new Map()),
        settings: app.config.storage,
        logger: pino({ level: "silent" }),
      });
      const body = uploadableBytes(700);
      await expect(
        cancelling.upload({
          bucket,
          key,
          body: bufferStream(body),
          signal: giveUp.signal,
          ...(announce ? { expectedSize: body.length } : {}),
        }),
      ).rejects.toMatchObject({ code: "CANCELLED" });
      await expect(app.store.head(bucket, key)).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await app.index.find(bucket, key)).toBeUndefined();
    },
  );

  it("withdraw refuses to remove an unversioned object that is no longer the caller's", async () => {
    const bucket = app.config.buckets.temp;
    const mine = await app.service.upload({ bucket, key: "comp/withdraw.txt", body: bufferStream("mine") });
    const theirs = await app.service.upload({
      bucket,
      key: "comp/withdraw.txt",
      body: bufferStream("theirs!"),
    });
    await app.service.withdraw(mine);
    expect((await app.service.stat(bucket, "comp/withdraw.txt")).etag).toBe(theirs.etag);
    expect((await app.index.find(bucket, "comp/withdraw.txt"))?.sha256).toBe(sha256Of("theirs!"));
    await app.service.withdraw(theirs);
    await expect(app.store.head(bucket, "comp/withdraw.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await app.index.find(bucket, "comp/withdraw.txt")).toBeUndefined();
  });

  it("the store's conditional delete refuses another ETag and deletes nothing", async () => {
    const bucket = app.config.buckets.temp;
    const stored = await app.service.upload({ bucket, key: "comp/cond.txt", body: bufferStream("x") });
    await expect(
      app.store.delete(bucket, "comp/cond.txt", undefined, { ifMatch: '"0123456789abcdef0123456789abcdef"' }),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    expect((await app.store.head(bucket, "comp/cond.txt")).etag).toBe(stored.etag);
    await app.store.delete(bucket, "comp/cond.txt", undefined, { ifMatch: stored.etag });
    await expect(app.store.head(bucket, "comp/cond.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
