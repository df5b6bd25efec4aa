import type { MethodDefinition, Server } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { storagePackageDefinition } from "../src/transports/grpc/definition.ts";
import { type GrpcHarness, startGrpc, unknownToken } from "./support/grpc.ts";
import { rawCall, storageSnapshot } from "./support/grpc-raw.ts";

/**
 * Deny by default, checked against whatever the server actually serves rather than a list kept
 * by hand: every method of every registered service, except those of the public services named
 * here, must refuse a caller without a valid key, and write nothing. A method added to the
 * .proto (or a service added to the server) is covered the day it appears.
 */

/** The only services open without a key. Widening this list is a security decision. */
const PUBLIC_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];
const isPublic = (path: string) => PUBLIC_SERVICES.some((service) => path.startsWith(`/${service}/`));

/**
 * The paths grpc-js will dispatch: its handler table, whoever registered them (a service added
 * with server.addService directly, around the registry, is in here too). A private field: if a
 * grpc-js upgrade renames it, this fails loudly rather than enumerating nothing.
 */
function dispatchedPaths(server: Server): string[] {
  const handlers = (server as unknown as { handlers?: unknown }).handlers;
  if (!(handlers instanceof Map)) throw new Error("grpc-js Server has no `handlers` map any more");
  return [...handlers.keys()].map(String).sort();
}

/** Every method of every service in the loaded storage package definition. */
const definedPaths = () =>
  Object.values(storagePackageDefinition())
    .filter((entry) => !("format" in entry))
    .flatMap((service) => Object.values(service).map((m: MethodDefinition<unknown, unknown>) => m.path));

describe("gRPC deny by default over every served method", () => {
  let h: GrpcHarness;
  let buckets: string[];
  const seed = "structural/seed.txt";

  beforeAll(async () => {
    // One unknown token from one address for every keyed method: the failed-authentication budgets
    // must outlast the number of methods, or later probes would see RATE_LIMITED instead.
    h = await startGrpc({
      env: {
        RATE_LIMIT_ENABLED: "false",
        AUTH_ADDRESS_FAILURE_LIMIT: "1000",
        AUTH_KEY_FAILURE_LIMIT: "1000",
      },
    });
    buckets = Object.values(h.app.config.buckets);
    await h.client.upload("seed", { bucket: h.app.config.buckets.temp, objectName: seed });
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets([...(h?.secrets ?? []), inject("minio").secretKey]);
  });

  /**
   * Requests that would change the store if they were let through: every string field a request
   * of this API may have, aimed at the seed object (upload over it, delete it, copy it, a PUT URL
   * for it), then one chunk of bytes for request streams. Fields a message lacks are dropped by
   * the encoder.
   */
  function probe(method: MethodDefinition<unknown, unknown>): Buffer[] {
    const bucket = h.app.config.buckets.temp;
    const fields = {
      bucket,
      objectName: seed,
      prefix: "structural/",
      recursive: true,
      sourceBucket: bucket,
      sourceObjectName: seed,
      targetBucket: bucket,
      targetObjectName: "structural/copy.txt",
      method: "URL_METHOD_PUT",
      service: "",
    };
    const first = method.requestSerialize({ ...fields, header: { bucket, objectName: seed } });
    return method.requestStream
      ? [first, method.requestSerialize({ chunk: Buffer.from("overwritten") })]
      : [first];
  }

  const served = () => {
    const registered = new Map(h.server.methods.map((m) => [m.path, m.definition]));
    return { registered, paths: dispatchedPaths(h.server.server) };
  };

  it("serves every method of the .proto, each registered through the access rules", () => {
    const { registered, paths } = served();
    for (const path of definedPaths()) expect(paths).toContain(path);
    // Nothing reached grpc-js around the registry (which refuses methods without an access rule).
    expect([...registered.keys()].sort()).toEqual(paths);
    expect(paths.filter((p) => !isPublic(p)).length).toBeGreaterThanOrEqual(definedPaths().length);
  });

  it("refuses every non-public method without a key or with an unknown one, UNAUTHENTICATED, writing nothing", async () => {
    const { registered, paths } = served();
    const keyed = paths.filter((p) => !isPublic(p));
    const before = await storageSnapshot(h.app, buckets);
    const stranger = unknownToken();
    h.secrets.push(stranger);
    for (const path of keyed) {
      const method = registered.get(path) as MethodDefinition<unknown, unknown>;
      for (const token of [undefined, stranger]) {
        const outcome = await rawCall(h.address, method, probe(method), { token });
        expect({ path, token: token && "unknown", code: outcome.code, errorCode: outcome.errorCode }).toEqual(
          {
            path,
            token: token && "unknown",
            code: "UNAUTHENTICATED",
            errorCode: "UNAUTHENTICATED",
          },
        );
      }
    }
    expect(await storageSnapshot(h.app, buckets)).toBe(before);

    // The same probes with a valid key get past authentication and change the store: the probes
    // do reach the data, so the unchanged snapshot above is the refusal's doing.
    for (const path of keyed) {
      const method = registered.get(path) as MethodDefinition<unknown, unknown>;
      const outcome = await rawCall(h.address, method, probe(method), { token: h.adminToken });
      expect({ path, code: outcome.code }).not.toEqual({ path, code: "UNAUTHENTICATED" });
    }
    expect(await storageSnapshot(h.app, buckets)).not.toBe(before);
  });

  it("answers the public services without a key", async () => {
    const { registered } = served();
    const check = registered.get("/grpc.health.v1.Health/Check") as MethodDefinition<unknown, unknown>;
    expect(await rawCall(h.address, check, [check.requestSerialize({ service: "" })])).toMatchObject({
      code: "OK",
    });
  });
});
