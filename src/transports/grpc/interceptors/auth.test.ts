import {
  Metadata,
  type ServerInterceptingCallInterface,
  type ServerMethodDefinition,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { StorageError } from "../../../errors.ts";
import { OPEN_PRINCIPAL } from "../../../security/authenticator.ts";
import type { AuditEvent, Principal, Security } from "../../../security/index.ts";
import type { RateLimiter } from "../../../security/rate-limit.ts";
import { STORAGE_SERVICE_NAME } from "../definition.ts";
import { ERROR_CODE_KEY } from "../status.ts";
import { authInterceptor } from "./auth.ts";

const TOKEN = `lss_abcdefghij012345_${"s".repeat(43)}`;

/**
 * The interceptor on a fake call: what the handler side saw (metadata passed on or not), the
 * status sent, and what the security layer and limiter were asked.
 */
async function run(path: string, principal: Principal | Error) {
  const audited: AuditEvent[] = [];
  const authenticated: (string | undefined)[] = [];
  const charged: string[] = [];
  const security = {
    async authenticate(authorization: string | undefined) {
      authenticated.push(authorization);
      if (principal instanceof Error) throw principal;
      return principal;
    },
    async recordAudit(event: AuditEvent) {
      audited.push(event);
    },
  } as unknown as Security;
  const limiter = {
    async consume(subject: string) {
      charged.push(subject);
    },
  } as unknown as RateLimiter;

  let sent: Partial<StatusObject> | undefined;
  let passed = false;
  let base: Parameters<ServerInterceptingCallInterface["start"]>[0] | undefined;
  const settled = new Promise<void>((resolve) => {
    const call = {
      start: (listener: typeof base) => {
        base = listener;
      },
      sendStatus: (s: Partial<StatusObject>) => {
        sent = s;
        resolve();
      },
      getConnectionInfo: () => ({ remoteAddress: "10.0.0.7", remotePort: 1, localAddress: "", localPort: 0 }),
      getPeer: () => "10.0.0.7:1",
    } as unknown as ServerInterceptingCallInterface;
    const descriptor = { path } as ServerMethodDefinition<unknown, unknown>;
    const intercepted = authInterceptor({ security, limiter, onInternal: () => {} })(descriptor, call);
    intercepted.start({
      onReceiveMetadata: () => {
        passed = true;
        resolve();
      },
      onReceiveMessage: () => {},
      onReceiveHalfClose: () => {},
      onCancel: () => {},
    });
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${TOKEN}`);
    metadata.set("x-request-id", "req-1");
    base?.onReceiveMetadata(metadata);
  });
  await settled;
  return { sent, passed, audited, authenticated, charged };
}

const KEYED: Principal = { keyId: "abcdefghij012345", service: "svc", scopes: [] };

describe("authInterceptor: deny by default", () => {
  for (const path of [
    "/lumenslate.storage.v1.Secrets/Dump",
    `/${STORAGE_SERVICE_NAME}/PurgeEverything`,
    "/grpc.health.v1.HealthExtra/Check",
  ]) {
    it(`refuses ${path}, which has no access rule, without authenticating, and audits it`, async () => {
      const result = await run(path, KEYED);
      expect(result.passed).toBe(false);
      expect(result.authenticated).toEqual([]);
      expect(result.sent?.code).toBe(status.PERMISSION_DENIED);
      expect(result.sent?.details).toContain("has no access rule");
      expect(result.sent?.metadata?.get(ERROR_CODE_KEY)).toEqual(["PERMISSION_DENIED"]);
      expect(result.audited).toEqual([
        expect.objectContaining({
          keyId: "abcdefghij012345",
          protocol: "grpc",
          action: path,
          result: "PERMISSION_DENIED",
          requestId: "req-1",
          clientAddress: "10.0.0.7",
        }),
      ]);
      expect(result.charged).toEqual(["10.0.0.7"]);
    });
  }

  it("refuses an unmapped method with AUTH_DISABLED too (the open principal opens mapped methods only)", async () => {
    const result = await run(`/${STORAGE_SERVICE_NAME}/PurgeEverything`, OPEN_PRINCIPAL);
    expect(result.sent?.code).toBe(status.PERMISSION_DENIED);
    expect(result.passed).toBe(false);
  });

  it("admits a mapped StorageService method once the key authenticates, audited by its operation", async () => {
    const result = await run(`/${STORAGE_SERVICE_NAME}/StatFile`, KEYED);
    expect(result).toMatchObject({
      passed: true,
      sent: undefined,
      audited: [],
      charged: ["key:abcdefghij012345"],
    });
    expect(result.authenticated).toEqual([`Bearer ${TOKEN}`]);
  });

  it("refuses a mapped method whose key does not authenticate, audited under the operation name", async () => {
    const result = await run(
      `/${STORAGE_SERVICE_NAME}/UploadFile`,
      new StorageError("UNAUTHENTICATED", "Unknown API key."),
    );
    expect(result.sent?.code).toBe(status.UNAUTHENTICATED);
    expect(result.audited).toEqual([
      expect.objectContaining({ action: "upload", result: "UNAUTHENTICATED" }),
    ]);
  });

  it("lets the public services through without looking at the metadata", async () => {
    for (const path of [
      "/grpc.health.v1.Health/Check",
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]) {
      const result = await run(path, new StorageError("UNAUTHENTICATED", "must not be asked"));
      expect(result).toMatchObject({ passed: true, sent: undefined, authenticated: [], charged: [] });
    }
  });
});
