import { fileURLToPath } from "node:url";
import {
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  loadPackageDefinition,
  makeClientConstructor,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageClient } from "../packages/client/src/index.ts";
import type { TestApp } from "./support/app.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

const REFLECTION_PROTO = fileURLToPath(
  new URL(
    "../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    import.meta.url,
  ),
);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
}
type Reflection = Client & {
  serverReflectionInfo(): ClientDuplexStream<Record<string, unknown>, ReflectionResponse>;
};
type Health = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void): void;
  watch(req: { service: string }): ClientReadableStream<{ status: string }>;
};

/** One request on the reflection stream, as grpcurl sends them. */
function reflect(client: Reflection, request: Record<string, unknown>): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    call.once("data", (response) => {
      resolve(response);
      call.end();
    });
    call.once("error", reject);
    call.write(request);
  });
}

describe("gRPC server reflection and health", () => {
  let minio: MinioServer;
  let h: GrpcHarness;
  let app: TestApp;
  let address: string;
  let reflection: Reflection;
  let health: Health;
  let storage: StorageClient;

  beforeAll(async () => {
    // A private MinIO, so stopping it does not disturb the suites sharing the other one.
    minio = await startMinio();
    h = await startGrpc({
      env: {
        MINIO_ENDPOINT: minio.endpoint,
        MINIO_ACCESS_KEY: minio.accessKey,
        MINIO_SECRET_KEY: minio.secretKey,
      },
      server: { health: { intervalMs: 500, timeoutMs: 1_500 } },
    });
    ({ app, address } = h);
    const reflectionPackage = loadPackageDefinition(
      loadSync(REFLECTION_PROTO, {
        keepCase: false,
        longs: String,
        enums: String,
        defaults: true,
        oneofs: true,
      }),
    ) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (...args: unknown[]) => Reflection } } };
    };
    reflection = new reflectionPackage.grpc.reflection.v1.ServerReflection(
      address,
      credentials.createInsecure(),
    );
    const HealthClient = makeClientConstructor(healthService as unknown as ServiceDefinition, "Health");
    health = new HealthClient(address, credentials.createInsecure()) as unknown as Health;
    storage = h.client;
  });
  afterAll(async () => {
    reflection?.close();
    health?.close();
    await h?.close();
    await minio?.destroy();
    h?.logs.expectNoSecrets([...h.secrets, minio.secretKey]);
  });

  const check = (service: string) =>
    new Promise<string>((resolve, reject) =>
      health.check({ service }, (err, res) => (err ? reject(err) : resolve(res?.status ?? ""))),
    );

  it("lists the services and describes StorageService, as `grpcurl list` / `describe` do", async () => {
    const listed = await reflect(reflection, { listServices: "*" });
    const names = (listed.listServicesResponse?.service ?? []).map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "lumenslate.storage.v1.StorageService",
        "lumenslate.storage.v1.AdminService",
        "lumenslate.storage.v1.ProtoStorageService",
        "lumenslate.storage.v1.TempStorageService",
        "lumenslate.storage.v1.UserDataService",
        "lumenslate.storage.v1.ConfigService",
        "lumenslate.storage.v1.LogStorageService",
        "grpc.health.v1.Health",
      ]),
    );

    const described = await reflect(reflection, {
      fileContainingSymbol: "lumenslate.storage.v1.StorageService",
    });
    const files = (described.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) =>
      b.toString("latin1"),
    );
    // protoc's descriptors: the file keeps its name, its import and its map entries, so grpcurl
    // can resolve every type (proto-loader's own descriptors lose all three).
    const storageFile = files.find((f) => f.includes("lumenslate/storage/v1/storage.proto")) ?? "";
    for (const method of [
      "UploadFile",
      "DownloadFile",
      "StatFile",
      "DeleteFile",
      "ListFiles",
      "GetFileUrl",
      "CopyFile",
    ]) {
      expect(storageFile).toContain(method);
    }
    expect(storageFile).toContain("google/protobuf/timestamp.proto");
    expect(storageFile).toContain("MetadataEntry");
    expect(files.some((f) => f.includes("google.protobuf") && f.includes("Timestamp"))).toBe(true);

    const admin = await reflect(reflection, { fileContainingSymbol: "lumenslate.storage.v1.AdminService" });
    const adminFile = (admin.fileDescriptorResponse?.fileDescriptorProto ?? [])
      .map((b) => b.toString("latin1"))
      .find((f) => f.includes("lumenslate/storage/v1/admin.proto"));
    for (const method of ["CreateKey", "ListKeys", "RotateKey", "RevokeKey", "QueryAudit", "Reconcile"]) {
      expect(adminFile).toContain(method);
    }
  });

  it("answers SERVING, then NOT_SERVING (and UNAVAILABLE) while MinIO is down, then SERVING again", async () => {
    expect(await check("")).toBe("SERVING");
    expect(await check("lumenslate.storage.v1.StorageService")).toBe("SERVING");
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: status.NOT_FOUND });

    const watch = health.watch({ service: "lumenslate.storage.v1.StorageService" });
    const seen: string[] = [];
    watch.on("data", (res: { status: string }) => seen.push(res.status));
    watch.on("error", () => {});

    await minio.stop();
    try {
      expect(await check("")).toBe("NOT_SERVING");
      expect(await check("lumenslate.storage.v1.StorageService")).toBe("NOT_SERVING");
      const err = await storage.stat({ bucket: app.config.buckets.temp, objectName: "a.txt" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "UNAVAILABLE", grpcCode: status.UNAVAILABLE });
    } finally {
      await minio.start();
    }
    expect(await check("")).toBe("SERVING");
    // Watchers were told both changes without polling.
    expect(seen).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
    watch.cancel();
  });
});
