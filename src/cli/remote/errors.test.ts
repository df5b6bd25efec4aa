import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode, StorageError } from "../../errors.ts";
import { HTTP_STATUS, problemFor } from "../../transports/http/problem.ts";
import { EXIT_CODES } from "../main.ts";
import { codeForStatus, errorFromFetch, errorFromProblem, errorFromResponse } from "./errors.ts";

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe("service errors in remote mode", () => {
  it("gives every problem document back its code, so the exit status is the local one", () => {
    for (const code of codes) {
      const problem = problemFor(
        new StorageError(code, `message for ${code}`, { field: "f" }),
        "req-1",
        "/v1/x",
      );
      const error = errorFromProblem(problem.status, JSON.parse(JSON.stringify(problem)), "fallback");
      expect(error.code, code).toBe(code);
      expect(EXIT_CODES[error.code]).toBe(EXIT_CODES[code]);
      if (code !== "INTERNAL") {
        expect(error.message).toBe(`message for ${code}`);
        expect(error.details).toMatchObject({ field: "f", requestId: "req-1" });
      }
    }
  });

  it("falls back to the status when there is no problem body (HEAD, a proxy)", () => {
    for (const code of codes) {
      const status = HTTP_STATUS[code];
      // Shared statuses: 503 is UNAVAILABLE first; 502 without a body comes from a gateway.
      const expected = status === 503 || status === 502 ? "UNAVAILABLE" : code;
      expect(codeForStatus(status), code).toBe(expected);
      expect(EXIT_CODES[codeForStatus(status)]).toBe(EXIT_CODES[expected]);
    }
    expect(EXIT_CODES[codeForStatus(404)]).toBe(4);
    expect(EXIT_CODES[codeForStatus(401)]).toBe(5);
    expect(codeForStatus(418)).toBe("INVALID_ARGUMENT");
    expect(codeForStatus(599)).toBe("INTERNAL");
    const unknown = errorFromProblem(404, { code: "SOMETHING_NEW", detail: "gone" }, "fallback");
    expect(unknown).toMatchObject({ code: "NOT_FOUND", message: "gone" });
    expect(errorFromProblem(500, "<html>", "upload failed")).toMatchObject({
      code: "INTERNAL",
      message: "upload failed",
    });
  });

  it("reads a response's problem+json body, and a body-less response by its status", async () => {
    const problem = problemFor(new StorageError("PERMISSION_DENIED", "Not yours."), "r", "/");
    const res = new Response(JSON.stringify(problem), {
      status: 403,
      headers: { "content-type": "application/problem+json; charset=utf-8" },
    });
    expect(await errorFromResponse(res, "upload")).toMatchObject({
      code: "PERMISSION_DENIED",
      message: "Not yours.",
    });
    const head = new Response(null, { status: 404, statusText: "Not Found" });
    expect(await errorFromResponse(head, "stat")).toMatchObject({
      code: "NOT_FOUND",
      message: "stat failed: the service answered 404 Not Found.",
    });
  });

  it("reports an unreachable service as UNAVAILABLE and a stop as CANCELLED", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
    });
    expect(errorFromFetch(refused, "http://h:1")).toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("http://h:1 (ECONNREFUSED)"),
    });
    const aborted = Object.assign(new Error("aborted"), { name: "AbortError" });
    expect(errorFromFetch(aborted, "http://h:1").code).toBe("CANCELLED");
  });
});
