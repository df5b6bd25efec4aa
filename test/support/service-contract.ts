import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WriteCondition } from "../../src/backends/object-store.ts";
import type { TestApp } from "./app.ts";
import { bufferStream, collect, digestStream, randomSource, sha256Of } from "./data.ts";

const MiB = 1024 * 1024;

/**
 * One behavioural contract for StorageService, run unchanged against every backend (local and
 * MinIO): whatever the backend, callers must see the same results and the same error codes.
 */
export function describeServiceContract(name: string, makeApp: () => Promise<TestApp>): void {
  describe(`StorageService contract: ${name}`, () => {
    let app: TestApp;
    let bucket: string;
    let other: string;

    beforeAll(async () => {
      app = await makeApp();
      bucket = app.config.buckets.temp;
      other = app.config.buckets.backups;
    });
    afterAll(async () => {
      await app?.dispose();
    });

    const keysIn = async (b: string) =>
      (await app.service.list(b, { recursive: true })).objects.map((o) => o.key);

    it.each([
      ["0 bytes", 0],
      ["1 byte", 1],
      ["5 MiB", 5 * MiB],
      ["40 MiB (multipart on S3)", 40 * MiB],
    ])("round-trips %s with matching sha256", async (_label, size) => {
      const key = `roundtrip/${size}.bin`;
      const source = randomSource(size);
      const info = await app.service.upload({
        bucket,
        key,
        body: source.stream,
        metadata: { origin: "contract" },
      });
      const expected = await source.sha256;
      expect(info).toMatchObject({ bucket, key, size, sha256: expected });
      expect(info.etag).not.toBe("");
      const download = await app.service.download(bucket, key);
      expect(download.contentLength).toBe(size);
      expect(await digestStream(download.body)).toEqual({ sha256: expected, size });
      const stat = await app.service.stat(bucket, key);
      expect(stat).toMatchObject({ size, sha256: expected, metadata: { origin: "contract" } });
    });

    it("serves byte ranges and refuses unsatisfiable ones", async () => {
      const data = Buffer.from("0123456789abcdefghij");
      await app.service.upload({ bucket, key: "ranges.txt", body: bufferStream(data) });
      const part = await app.service.download(bucket, "ranges.txt", { range: { start: 5, end: 9 } });
      expect(part.range).toEqual({ start: 5, end: 9 });
      expect((await collect(part.body)).toString()).toBe("56789");
      const tail = await app.service.download(bucket, "ranges.txt", { range: { start: 15 } });
      expect((await collect(tail.body)).toString()).toBe("fghij");
      await expect(
        app.service.download(bucket, "ranges.txt", { range: { start: 20 } }),
      ).rejects.toMatchObject({
        code: "RANGE_NOT_SATISFIABLE",
      });
    });

    it("sniffs a content type and keeps a declared one", async () => {
      const sniffed = await app.service.upload({
        bucket,
        key: "types/data.json",
        body: bufferStream('{"a":1}'),
      });
      expect(sniffed.contentType).toBe("application/json");
      const declared = await app.service.upload({
        bucket,
        key: "types/blob",
        body: bufferStream("plain"),
        contentType: "text/csv",
      });
      expect((await app.service.stat(bucket, "types/blob")).contentType).toBe(declared.contentType);
    });

    it("lists recursively and by level, with cursor pages that are disjoint and complete", async () => {
      const keys = Array.from(
        { length: 23 },
        (_, i) => `list/${i % 3}/item-${String(i).padStart(2, "0")}.txt`,
      );
      for (const key of [...keys, "list/top.txt"]) {
        await app.service.upload({ bucket, key, body: bufferStream(key) });
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await app.service.list(bucket, { prefix: "list/", recursive: true, limit: 5, cursor });
        expect(page.objects.length).toBeLessThanOrEqual(5);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen).toEqual([...keys, "list/top.txt"].sort());
      const level = await app.service.list(bucket, { prefix: "list/" });
      expect(level.prefixes).toEqual(["list/0/", "list/1/", "list/2/"]);
      expect(level.objects.map((o) => o.key)).toEqual(["list/top.txt"]);
      const firstPage = await app.service.list(bucket, { prefix: "list/", limit: 2 });
      expect(firstPage.prefixes).toEqual(["list/0/", "list/1/"]);
      const secondPage = await app.service.list(bucket, {
        prefix: "list/",
        limit: 2,
        cursor: firstPage.nextCursor,
      });
      expect(secondPage.prefixes).toEqual(["list/2/"]);
      expect(secondPage.objects.map((o) => o.key)).toEqual(["list/top.txt"]);
      expect(secondPage.nextCursor).toBeUndefined();
    });

    it("overwrites, deletes, and reports NOT_FOUND afterwards", async () => {
      await app.service.upload({ bucket, key: "del/a.txt", body: bufferStream("first") });
      await app.service.upload({ bucket, key: "del/a.txt", body: bufferStream("second") });
      expect((await collect((await app.service.download(bucket, "del/a.txt")).body)).toString()).toBe(
        "second",
      );
      await app.service.delete(bucket, "del/a.txt");
      await expect(app.service.stat(bucket, "del/a.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(app.service.download(bucket, "del/a.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(app.service.delete(bucket, "del/a.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await keysIn(bucket)).not.toContain("del/a.txt");
    });

    it("copies within and across buckets", async () => {
      const data = "copy me";
      await app.service.upload({
        bucket,
        key: "copy/src.txt",
        body: bufferStream(data),
        metadata: { k: "v" },
      });
      const within = await app.service.copy({ bucket, key: "copy/src.txt" }, { bucket, key: "copy/dst.txt" });
      const across = await app.service.copy(
        { bucket, key: "copy/src.txt" },
        { bucket: other, key: "copy/dst.txt" },
      );
      for (const info of [within, across]) {
        expect(info.sha256).toBe(sha256Of(data));
        const download = await app.service.download(info.bucket, info.key);
        expect((await collect(download.body)).toString()).toBe(data);
        expect((await app.service.stat(info.bucket, info.key)).metadata).toEqual({ k: "v" });
      }
      await expect(
        app.service.copy({ bucket, key: "copy/none" }, { bucket, key: "x" }),
      ).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    });

    it("a cancelled copy leaves no target object and no index row", async () => {
      await app.service.upload({ bucket, key: "copy/cancel-src.bin", body: bufferStream("x".repeat(4096)) });
      const aborted = new AbortController();
      aborted.abort();
      await expect(
        app.service.copy(
          { bucket, key: "copy/cancel-src.bin" },
          { bucket: other, key: "copy/cancelled.bin" },
          "t",
          {
            signal: aborted.signal,
          },
        ),
      ).rejects.toMatchObject({ code: "CANCELLED" });
      await expect(app.service.stat(other, "copy/cancelled.bin")).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      expect(await app.index.find(other, "copy/cancelled.bin")).toBeUndefined();
      expect(await keysIn(other)).not.toContain("copy/cancelled.bin");
    });

    it("refuses a body that breaks its announced checksum or size, keeping the previous version", async () => {
      await app.service.upload({ bucket, key: "limit/obj.bin", body: bufferStream("old") });
      const source = randomSource(3 * MiB);
      await expect(
        app.service.upload({
          bucket,
          key: "limit/obj.bin",
          body: source.stream,
          expectedSha256: "0".repeat(64),
        }),
      ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
      expect((await collect((await app.service.download(bucket, "limit/obj.bin")).body)).toString()).toBe(
        "old",
      );
      await expect(
        app.service.upload({
          bucket,
          key: "limit/new.bin",
          body: randomSource(2 * MiB).stream,
          expectedSize: MiB,
        }),
      ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
      expect(await keysIn(bucket)).not.toContain("limit/new.bin");
    });

    it("leaves nothing behind when the caller cancels mid-upload", async () => {
      const controller = new AbortController();
      let sent = 0;
      const body = new Readable({
        read() {
          sent += MiB;
          if (sent === 24 * MiB) controller.abort();
          this.push(Buffer.alloc(MiB, 7));
        },
      });
      await expect(
        app.service.upload({ bucket, key: "cancel/big.bin", body, signal: controller.signal }),
      ).rejects.toMatchObject({ code: "CANCELLED" });
      await expect(app.service.stat(bucket, "cancel/big.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await app.store.listIncompleteUploads(bucket)).toEqual([]);
    });

    it("downloads to a file atomically", async () => {
      const dir = await mkdtemp(join(tmpdir(), "contract-dl-"));
      try {
        await app.service.upload({ bucket, key: "file/x.txt", body: bufferStream("to disk") });
        const info = await app.service.downloadToFile(bucket, "file/x.txt", join(dir, "x.txt"));
        expect(await readFile(join(dir, "x.txt"), "utf8")).toBe("to disk");
        expect(info.sha256).toBe(sha256Of("to disk"));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    describe("conditional writes", () => {
      const text = async (key: string) =>
        (await collect((await app.service.download(bucket, key)).body)).toString();
      const storePut = (key: string, body: Readable, condition: WriteCondition) =>
        app.store.put(bucket, key, body, {
          contentType: "application/octet-stream",
          metadata: {},
          condition,
        });
      /** Bigger than one part: S3 stores it with a multipart upload, completed under the condition. */
      const multipartSize = () => app.config.storage.multipart.partSize + MiB;

      it("creates if absent once: the second writer gets PRECONDITION_FAILED and the first's bytes stay", async () => {
        const key = "cond/create.txt";
        const first = await app.service.upload({
          bucket,
          key,
          body: bufferStream("first"),
          ifNoneMatch: "*",
        });
        await expect(
          app.service.upload({ bucket, key, body: bufferStream("second"), ifNoneMatch: "*" }),
        ).rejects.toMatchObject({ code: "PRECONDITION_FAILED", details: { condition: "if-none-match" } });
        expect(await text(key)).toBe("first");
        expect(await app.index.find(bucket, key)).toMatchObject({
          sha256: sha256Of("first"),
          etag: first.etag,
        });
      });

      it("compares and swaps on the ETag: the current one wins, a stale or missing one stores nothing", async () => {
        const key = "cond/cas.txt";
        const v1 = await app.service.upload({ bucket, key, body: bufferStream("v1") });
        const v2 = await app.service.upload({ bucket, key, body: bufferStream("v2"), ifMatch: v1.etag });
        expect(v2.etag).not.toBe(v1.etag);
        expect(await text(key)).toBe("v2");
        await expect(
          app.service.upload({ bucket, key, body: bufferStream("v3"), ifMatch: v1.etag }),
        ).rejects.toMatchObject({ code: "PRECONDITION_FAILED", details: { condition: "if-match" } });
        expect(await text(key)).toBe("v2");
        expect(await app.index.find(bucket, key)).toMatchObject({
          sha256: sha256Of("v2"),
          etag: v2.etag,
        });
        await expect(
          app.service.upload({ bucket, key: "cond/missing.txt", body: bufferStream("x"), ifMatch: v2.etag }),
        ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
        await expect(app.service.stat(bucket, "cond/missing.txt")).rejects.toMatchObject({
          code: "NOT_FOUND",
        });
        expect(await app.index.find(bucket, "cond/missing.txt")).toBeUndefined();
      });

      it("refuses conditions it cannot evaluate before reading a byte", async () => {
        for (const condition of [
          { ifNoneMatch: '"abc"' },
          { ifMatch: "*" },
          { ifMatch: '"a", "b"' },
          { ifMatch: 'W/"a"' },
          { ifMatch: '"a"', ifNoneMatch: "*" },
        ]) {
          await expect(
            app.service.upload({ bucket, key: "cond/bad.txt", body: bufferStream("x"), ...condition }),
          ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
        }
        expect(await keysIn(bucket)).not.toContain("cond/bad.txt");
      });

      it("lets exactly one of 8 concurrent create-if-absent uploads win, and indexes the winner", async () => {
        const key = "cond/race.txt";
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            app.service.upload({ bucket, key, body: bufferStream(`writer-${i}`), ifNoneMatch: "*" }),
          ),
        );
        const winners = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
        const losers = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
        expect(winners).toHaveLength(1);
        expect(losers.map((e) => (e as { code?: string }).code)).toEqual(
          Array(7).fill("PRECONDITION_FAILED"),
        );
        const winner = winners[0] as { sha256?: string; etag: string };
        const stored = await text(key);
        expect(sha256Of(stored)).toBe(winner.sha256);
        expect(await app.index.find(bucket, key)).toMatchObject({
          sha256: winner.sha256,
          etag: winner.etag,
        });
      });

      it("decides concurrent conditional puts in the store itself (no early check to lean on)", async () => {
        const key = "cond/store-race.txt";
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            storePut(key, bufferStream(`store-${i}`), { ifNoneMatch: "*" }),
          ),
        );
        const winners = results.flatMap((r, i) =>
          r.status === "fulfilled" ? [{ i, etag: r.value.etag }] : [],
        );
        expect(winners).toHaveLength(1);
        const losers = results.flatMap((r) =>
          r.status === "rejected" ? [(r.reason as { code?: string }).code] : [],
        );
        expect(losers).toEqual(Array(7).fill("PRECONDITION_FAILED"));
        const got = await app.store.get(bucket, key);
        expect((await collect(got.body)).toString()).toBe(`store-${winners[0]?.i}`);
        expect(got.head.etag).toBe(winners[0]?.etag);
        await app.store.delete(bucket, key);
      });

      it("holds the condition for multipart-size bodies and leaves no parts behind", async () => {
        const key = "cond/big.bin";
        const small = await app.service.upload({ bucket, key, body: bufferStream("small") });
        for (const condition of [
          { ifNoneMatch: "*" as const },
          { ifMatch: '"0123456789abcdef0123456789abcdef"' },
        ]) {
          await expect(storePut(key, randomSource(multipartSize()).stream, condition)).rejects.toMatchObject({
            code: "PRECONDITION_FAILED",
          });
          expect(await text(key)).toBe("small");
        }
        await expect(
          storePut("cond/big-missing.bin", randomSource(multipartSize()).stream, { ifMatch: small.etag }),
        ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
        await expect(app.store.head(bucket, "cond/big-missing.bin")).rejects.toMatchObject({
          code: "NOT_FOUND",
        });
        expect(await app.store.listIncompleteUploads(bucket)).toEqual([]);
        // And the swap itself, through the service, as a multipart upload.
        const source = randomSource(multipartSize());
        const swapped = await app.service.upload({ bucket, key, body: source.stream, ifMatch: small.etag });
        expect(swapped).toMatchObject({ size: multipartSize(), sha256: await source.sha256 });
        expect((await app.service.stat(bucket, key)).etag).toBe(swapped.etag);
      });
    });

    it("presigns GET and PUT where the backend can, and says so where it cannot", async () => {
      await app.service.upload({ bucket, key: "presign/a.txt", body: bufferStream("signed") });
      if (!app.store.capabilities.presign) {
        await expect(app.service.presign(bucket, "presign/a.txt", { method: "GET" })).rejects.toMatchObject({
          code: "UNSUPPORTED_OPERATION",
        });
        return;
      }
      const get = await app.service.presign(bucket, "presign/a.txt", { method: "GET", expiresInSeconds: 60 });
      expect(await (await fetch(get.url)).text()).toBe("signed");
      const put = await app.service.presign(bucket, "presign/b.txt", { method: "PUT", expiresInSeconds: 60 });
      expect((await fetch(put.url, { method: "PUT", body: "via url" })).status).toBe(200);
      expect((await collect((await app.service.download(bucket, "presign/b.txt")).body)).toString()).toBe(
        "via url",
      );
      await expect(
        app.service.presign(bucket, "presign/a.txt", { method: "GET", expiresInSeconds: 10 ** 7 }),
      ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    });
  });
}
