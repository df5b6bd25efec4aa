import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { toClientError } from "../../../packages/client/src/errors.ts";
import { ERROR_CODES, type ErrorCode, StorageError } from "../../errors.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY, GRPC_STATUS, RETRY_AFTER_KEY, toStatus } from "./status.ts";

const noInternal = () => {
  throw new Error("onInternal must only see INTERNAL errors");
};

describe("ErrorCode → gRPC status", () => {
  it("maps every code, as documented", () => {
    const named = Object.fromEntries(Object.entries(GRPC_STATUS).map(([code, s]) => [code, status[s]]));
    expect(named).toEqual({
      INVALID_ARGUMENT: "INVALID_ARGUMENT",
      NOT_FOUND: "NOT_FOUND",
      ALREADY_EXISTS: "ALREADY_EXISTS",
      PRECONDITION_FAILED: "FAILED_PRECONDITION",
      TOO_LARGE: "RESOURCE_EXHAUSTED",
      UNSUPPORTED_TYPE: "INVALID_ARGUMENT",
      RANGE_NOT_SATISFIABLE: "OUT_OF_RANGE",
      PERMISSION_DENIED: "PERMISSION_DENIED",
      UNAUTHENTICATED: "UNAUTHENTICATED",
      RATE_LIMITED: "RESOURCE_EXHAUSTED",
      OVERLOADED: "RESOURCE_EXHAUSTED",
      UNAVAILABLE: "UNAVAILABLE",
      DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
      CANCELLED: "CANCELLED",
      DATA_CORRUPTED: "DATA_LOSS",
      UNSUPPORTED_OPERATION: "UNIMPLEMENTED",
      INTERNAL: "INTERNAL",
    });
    expect(Object.keys(GRPC_STATUS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  // Authentication does not exist yet, so no real call can produce these two: the table is tested here.
  it.each(["UNAUTHENTICATED", "PERMISSION_DENIED", "ALREADY_EXISTS"] as const)(
    "%s keeps its message and stable code, and the client reads both back",
    (code) => {
      const sent = toStatus(new StorageError(code, `no: ${code}`, { bucket: "b" }), noInternal);
      expect(sent.code).toBe(status[code]);
      expect(sent.details).toBe(`no: ${code}`);
      expect(sent.metadata.get(ERROR_CODE_KEY)).toEqual([code]);
      const received = toClientError({ ...sent, message: sent.details });
      expect(received).toMatchObject({ code, grpcCode: status[code], details: { bucket: "b" } });
    },
  );

  it("sends the retry hint of RATE_LIMITED in the trailers", () => {
    const sent = toStatus(
      new StorageError("RATE_LIMITED", "slow down", { retryAfterSeconds: 7 }),
      noInternal,
    );
    expect(sent.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(sent.metadata.get(RETRY_AFTER_KEY)).toEqual(["7"]);
    expect(toClientError(sent).retryAfterSeconds).toBe(7);
  });

  it("turns anything that is not a StorageError into INTERNAL, logging the detail and sending none", () => {
    const seen: StorageError[] = [];
    const sent = toStatus(new TypeError("x is undefined at /srv/app/secret.ts"), (err) => seen.push(err));
    expect(sent.code).toBe(status.INTERNAL);
    expect(sent.details).toBe(ERROR_CODES.INTERNAL);
    expect(sent.metadata.get(ERROR_DETAILS_KEY)).toEqual([]);
    expect(seen[0]?.message).toMatch(/secret\.ts/);
  });

  it("keeps non-ASCII details valid in text metadata", () => {
    const sent = toStatus(new StorageError("NOT_FOUND", "missing", { key: "résumé/ü.txt" }), noInternal);
    const raw = sent.metadata.get(ERROR_DETAILS_KEY)[0] as string;
    expect(raw).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(raw)).toEqual({ key: "résumé/ü.txt" });
  });

  it("gives statuses without a stable code (from grpc-js or a proxy) one from the status", () => {
    const cases: [status, ErrorCode][] = [
      [status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"],
      [status.UNAVAILABLE, "UNAVAILABLE"],
      [status.CANCELLED, "CANCELLED"],
      [status.UNKNOWN, "INTERNAL"],
    ];
    for (const [grpcCode, code] of cases) {
      expect(toClientError({ code: grpcCode, details: "x", metadata: new Metadata() }).code).toBe(code);
    }
  });
});
