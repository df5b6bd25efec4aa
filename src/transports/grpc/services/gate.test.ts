import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { StorageError } from "../../../errors.ts";
import type { AccessRequest, AuditEvent, CallInfo, Security } from "../../../security/index.ts";
import { addressFromPeer } from "../interceptors/rate-limit.ts";
import type { ServerCallLike } from "./call-scope.ts";
import { CallGate } from "./gate.ts";

const TOKEN = `lss_abcdefghij012345_${"s".repeat(43)}`;

/** A Security whose check allows writes only, recording what it was asked and what was audited. */
function fakeSecurity() {
  const checks: { call: CallInfo; access: AccessRequest }[] = [];
  const audited: AuditEvent[] = [];
  const security = {
    async check(call: CallInfo, access: AccessRequest) {
      checks.push({ call, access });
      if (access.action !== "write") {
        audited.push({ action: access.operation ?? "?", result: "PERMISSION_DENIED" });
        throw new StorageError("PERMISSION_DENIED", "no");
      }
      return { keyId: "abcdefghij012345", service: "svc", scopes: [] };
    },
    async recordAudit(event: AuditEvent) {
      audited.push(event);
    },
  } as unknown as Security;
  return { security, checks, audited };
}

function fakeCall(entries: Record<string, string>): ServerCallLike {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return {
    metadata,
    cancelled: false,
    getDeadline: () => Infinity,
    getPath: () => "/x",
    getPeer: () => "::ffff:10.0.0.7:51234",
    once: () => undefined,
    removeListener: () => undefined,
  };
}

describe("CallGate", () => {
  it("checks with the call's key, address, request id and x-user-id binding", async () => {
    const { security, checks } = fakeSecurity();
    const gate = new CallGate(
      security,
      fakeCall({ authorization: `Bearer ${TOKEN}`, "x-user-id": "alice" }),
      "req-1",
    );
    await gate.allow({ action: "write", bucket: "b", key: "users/alice/a.txt", operation: "upload" });
    expect(checks[0]).toEqual({
      call: {
        authorization: `Bearer ${TOKEN}`,
        clientAddress: "10.0.0.7",
        protocol: "grpc",
        requestId: "req-1",
      },
      access: {
        action: "write",
        bucket: "b",
        key: "users/alice/a.txt",
        operation: "upload",
        bindings: { user_id: "alice" },
      },
    });
  });

  it("audits a mutation once with its outcome, and nothing more after a refusal", async () => {
    const { security, audited } = fakeSecurity();
    const gate = new CallGate(security, fakeCall({ authorization: `Bearer ${TOKEN}` }), "req-2");
    await gate.mutation("upload", async (facts) => {
      await gate.allow({ action: "write", bucket: "b", key: "k" });
      Object.assign(facts, { bucket: "b", key: "k", bytes: 3 });
    });
    await expect(
      gate.mutation("upload", async () => {
        throw new StorageError("PRECONDITION_FAILED", "sha256");
      }),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    expect(audited).toEqual([
      expect.objectContaining({ action: "upload", result: "OK", keyId: "abcdefghij012345", bytes: 3 }),
      expect.objectContaining({ action: "upload", result: "PRECONDITION_FAILED", requestId: "req-2" }),
    ]);

    const refusedGate = new CallGate(security, fakeCall({}), "req-3");
    await expect(
      refusedGate.mutation("copy", () => refusedGate.allow({ action: "read", operation: "copy" })),
    ).rejects.toMatchObject({ code: "PERMISSION_DENIED" });
    expect(audited.slice(2)).toEqual([{ action: "copy", result: "PERMISSION_DENIED" }]);
  });
});

describe("addressFromPeer", () => {
  it("strips the port and unwraps IPv4-mapped IPv6", () => {
    expect(addressFromPeer("127.0.0.1:5000")).toBe("127.0.0.1");
    expect(addressFromPeer("::ffff:10.1.2.3:443")).toBe("10.1.2.3");
    expect(addressFromPeer("::1:5000")).toBe("::1");
  });
});
