import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode, StorageError } from "../../errors.ts";
import { fromRequestError, HTTP_STATUS, problemFor } from "./problem.ts";

describe("HTTP_STATUS", () => {
  it("maps every error code of the registry to its one status", () => {
    expect(HTTP_STATUS).toEqual({
      INVALID_ARGUMENT: 400,
      UNAUTHENTICATED: 401,
      PERMISSION_DENIED: 403,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      PRECONDITION_FAILED: 412,
      TOO_LARGE: 413,
      UNSUPPORTED_TYPE: 415,
      RANGE_NOT_SATISFIABLE: 416,
      RATE_LIMITED: 429,
      OVERLOADED: 503,
      CANCELLED: 499,
      INTERNAL: 500,
      UNSUPPORTED_OPERATION: 501,
      DATA_CORRUPTED: 502,
      UNAVAILABLE: 503,
      DEADLINE_EXCEEDED: 504,
    });
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("keeps 500 for INTERNAL alone", () => {
    const fiveHundreds = Object.entries(HTTP_STATUS).filter(([, status]) => status === 500);
    expect(fiveHundreds).toEqual([["INTERNAL", 500]]);
  });
});

describe("problemFor", () => {
  it("builds an RFC 9457 body with the code, request id and details", () => {
    const err = new StorageError("PERMISSION_DENIED", "No access to bucket 'b'.", {
      bucket: "b",
      field: undefined,
    });
    expect(problemFor(err, "req-1", "/v1/buckets/b/objects/k")).toEqual({
      type: "urn:lumenslate-storage:problem:PERMISSION_DENIED",
      title: ERROR_CODES.PERMISSION_DENIED,
      status: 403,
      detail: "No access to bucket 'b'.",
      code: "PERMISSION_DENIED",
      requestId: "req-1",
      instance: "/v1/buckets/b/objects/k",
      details: { bucket: "b" },
    });
    expect(problemFor(new StorageError("UNAUTHENTICATED", "Who are you?"), "r", "/").status).toBe(401);
  });

  it("hides the message and details of INTERNAL errors", () => {
    const err = new StorageError("INTERNAL", "pg password=hunter2 failed", { key: "k" });
    const problem = problemFor(err, "r", "/");
    expect(problem).toMatchObject({ status: 500, detail: ERROR_CODES.INTERNAL });
    expect(JSON.stringify(problem)).not.toContain("hunter2");
    expect(problem.details).toBeUndefined();
  });
});

describe("fromRequestError", () => {
  it("keeps StorageErrors and turns aborts into CANCELLED", () => {
    const err = new StorageError("NOT_FOUND", "gone");
    expect(fromRequestError(err)).toBe(err);
    const abort = Object.assign(new Error("aborted"), { name: "AbortError" });
    expect(fromRequestError(abort).code).toBe("CANCELLED");
  });

  it("names the field of a schema validation error", () => {
    const err = Object.assign(new Error("querystring/limit Too small"), {
      statusCode: 400,
      validation: [{ instancePath: "/limit", message: "Too small" }],
      validationContext: "querystring",
    });
    expect(fromRequestError(err)).toMatchObject({ code: "INVALID_ARGUMENT", details: { field: "limit" } });
    const body = Object.assign(new Error("body/source/key Required"), {
      validation: [{ instancePath: "/source/key" }],
      validationContext: "body",
    });
    expect(fromRequestError(body).details.field).toBe("body.source.key");
  });

  it.each<[number, ErrorCode]>([
    [400, "INVALID_ARGUMENT"],
    [401, "UNAUTHENTICATED"],
    [403, "PERMISSION_DENIED"],
    [406, "UNSUPPORTED_TYPE"],
    [413, "TOO_LARGE"],
    [415, "UNSUPPORTED_TYPE"],
    [418, "INVALID_ARGUMENT"],
    [503, "UNAVAILABLE"],
  ])("maps a framework error with status %i to %s", (statusCode, code) => {
    expect(fromRequestError(Object.assign(new Error("x"), { statusCode })).code).toBe(code);
  });

  it("treats anything else as INTERNAL", () => {
    expect(fromRequestError(new TypeError("undefined is not a function")).code).toBe("INTERNAL");
    expect(fromRequestError(Object.assign(new Error("x"), { statusCode: 500 })).code).toBe("INTERNAL");
  });
});
