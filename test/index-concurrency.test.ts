import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type StorageClient } from "../packages/client/src/index.ts";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { type HttpHarness, json, type ListingJson, startHttp } from "./support/http.ts";

const KEYS = 200;
// Two over HTTP, two over gRPC, all at once on every key. Three announce their size, so on
// PostgreSQL they store and record inside the key's lock (WritePath's small bodies); the fourth
// (gRPC, no size) stores first and asks the store under the lock: both kinds race on every key.
const WRITERS = 4;
const WAVE = 50; // keys in flight at once (× WRITERS requests)

/**
 * Many writers racing on the same keys, through both transports of one app: afterwards the index
 * must hold exactly one latest row per key, equal to what the store serves as current (version,
 * ETag and the sha256 of its bytes), and a listing must name every key once. Runs on PostgreSQL
 * when DATABASE_URL is set (where concurrent transactions really interleave), else on PGlite.
 */
describe("the metadata index under concurrent writers to the same keys", () => {
  let h: HttpHarness;
  let grpc: GrpcServer;
  let client: StorageClient;

  beforeAll(async () => {
    // 1,600 requests from one key: the rate limiter would refuse most of them.
    h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false" });
    grpc = await startGrpcServer(h.app, { host: "127.0.0.1", port: 0 });
    client = connect(`127.0.0.1:${grpc.port}`, { token: h.token });
  });
  afterAll(async () => {
    client?.close();
    await grpc?.close(1);
    await h?.close();
  });

  /** Text of a different length per writer, so the uploads finish in no fixed order. */
  const content = (key: string, writer: number) =>
    `// ${key} from writer ${writer}\n// ${randomBytes(16 + ((writer * 7919) % 97) * 40).toString("hex")}\n`;

  const write = async (bucket: string, key: string, writer: number): Promise<void> => {
    const body = content(key, writer);
    if (writer % 2 === 0) {
      const res = await h.fetch(h.objectUrl(bucket, key), {
        method: "PUT",
        body,
        headers: { "content-type": "text/plain" },
      });
      expect(res.status, await res.clone().text()).toBe(201);
    } else {
      await client.upload(Buffer.from(body), {
        bucket,
        objectName: key,
        contentType: "text/plain",
        // A known size lets admission control reserve only that much buffer for the upload.
        ...(writer === 1 ? { expectedSize: Buffer.byteLength(body) } : {}),
      });
    }
  };

  /** Every key's latest rows, compared with the store's current object; and one full listing. */
  async function inspect(bucket: string, keys: string[]) {
    const rows = await h.app.db
      .selectFrom("object_versions")
      .select(["key", "version_id", "etag", "sha256"])
      .where("bucket", "=", bucket)
      .where("is_latest", "=", true)
      .execute();
    const latest = Map.groupBy(rows, (r) => r.key);
    const duplicates = keys.filter((k) => (latest.get(k)?.length ?? 0) > 1);
    const missing = keys.filter((k) => !latest.has(k));
    const mismatched: string[] = [];
    for (let i = 0; i < keys.length; i += 20) {
      await Promise.all(
        keys.slice(i, i + 20).map(async (key) => {
          const head = await h.app.store.head(bucket, key);
          const sha256 = await h.app.service.hashObject(bucket, key, head.versionId);
          const row = latest.get(key)?.[0];
          if (row?.version_id !== head.versionId || row.etag !== head.etag || row.sha256 !== sha256) {
            mismatched.push(key);
          }
        }),
      );
    }
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ recursive: "true", limit: "50", ...(cursor ? { cursor } : {}) });
      const page = await json<ListingJson>(await h.fetch(`${h.base}/v1/buckets/${bucket}/objects?${query}`));
      listed.push(...page.objects.map((o) => o.key));
      cursor = page.nextCursor;
    } while (cursor);
    const listedTwice = listed.filter((k, i) => listed.indexOf(k) !== i);
    return { duplicates, missing, mismatched: mismatched.sort(), listedTwice, listed: listed.length };
  }

  it("a small write is stored and recorded under the key's lock without a HEAD (PostgreSQL); a larger one asks the store", async () => {
    const heads = async () => {
      const { values } = await h.app.metrics.backendCalls.get();
      return values
        .filter((v) => v.labels.operation === "HeadObject" && v.metricName?.endsWith("_count"))
        .reduce((n, v) => n + v.value, 0);
    };
    const bucket = h.app.config.buckets.temp;
    const counted: Record<string, number> = {};
    for (const [name, size] of [
      ["small", 64 * 1024],
      ["large", 1024 * 1024 + 1],
    ] as const) {
      const body = uploadableBytes(size);
      const before = await heads();
      const put = await h.fetch(h.objectUrl(bucket, `lock/${name}.txt`), {
        method: "PUT",
        body,
        headers: { "content-type": "text/plain" },
      });
      expect(put.status, await put.clone().text()).toBe(201);
      counted[name] = (await heads()) - before;
      // Recorded as the store's current object: the verified read serves exactly these bytes.
      const got = await h.fetch(h.objectUrl(bucket, `lock/${name}.txt`));
      expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
      const row = await h.app.index.find(bucket, `lock/${name}.txt`);
      const head = await h.app.store.head(bucket, `lock/${name}.txt`);
      expect(row).toMatchObject({ versionId: head.versionId, etag: head.etag, sha256: sha256Of(body) });
    }
    // PGlite has one connection, so there every write asks the store after storing (one HEAD).
    expect(counted).toEqual(h.app.index.writesUnderLock ? { small: 0, large: 1 } : { small: 1, large: 1 });
    // The races below list the whole bucket.
    for (const name of ["small", "large"]) await h.app.service.delete(bucket, `lock/${name}.txt`);
  });

  it.each([
    ["versioned", "protoFiles", ".proto"],
    ["unversioned", "temp", ".txt"],
  ] as const)(
    `%s bucket: ${KEYS} keys × ${WRITERS} writers end with one latest row per key, equal to the store`,
    async (_kind, name, ext) => {
      const bucket = h.app.config.buckets[name];
      const keys = Array.from({ length: KEYS }, (_, i) => `race/${String(i).padStart(3, "0")}${ext}`);
      // All writers of a key race each other; keys go in waves, so that 1,600 requests at once do
      // not end in object-store queue timeouts, which would test the machine rather than the index.
      for (let i = 0; i < keys.length; i += WAVE) {
        const wave = keys.slice(i, i + WAVE);
        await Promise.all(
          wave.flatMap((key) => Array.from({ length: WRITERS }, (_, w) => write(bucket, key, w))),
        );
      }

      const report = await inspect(bucket, keys);
      expect(report).toEqual({
        duplicates: [],
        missing: [],
        mismatched: [],
        listedTwice: [],
        listed: KEYS,
      });
      if (name === "protoFiles") {
        // Every version stays indexed: the losers of the race are history, not lost rows.
        const count = await h.app.db
          .selectFrom("object_versions")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("bucket", "=", bucket)
          .where("key", "like", "race/%")
          .executeTakeFirstOrThrow();
        expect(Number(count.n)).toBe(KEYS * WRITERS);
      }
    },
  );
});
