import { describe, expect, it } from "vitest";
import { conditionFailure, conditionParams } from "./write-condition.ts";

const at = { bucket: "b", key: "k" };
const sdkError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe("S3 conditional writes", () => {
  it("sends If-None-Match: * and a quoted If-Match", () => {
    expect(conditionParams(undefined)).toEqual({});
    expect(conditionParams({ ifNoneMatch: "*" })).toEqual({ IfNoneMatch: "*" });
    expect(conditionParams({ ifMatch: "abc" })).toEqual({ IfMatch: '"abc"' });
    expect(conditionParams({ ifMatch: '"abc-2"' })).toEqual({ IfMatch: '"abc-2"' });
  });

  it.each([
    ["PreconditionFailed", 412, { ifNoneMatch: "*" as const }, "if-none-match"],
    ["ConditionalRequestConflict", 409, { ifNoneMatch: "*" as const }, "if-none-match"],
    ["NoSuchKey", 404, { ifMatch: '"e"' }, "if-match"],
  ])("maps %s (%i) to PRECONDITION_FAILED", (name, status, condition, which) => {
    const err = sdkError(name, status);
    const mapped = conditionFailure(err, condition, at);
    expect(mapped).toMatchObject({ code: "PRECONDITION_FAILED", details: { ...at, condition: which } });
    expect(mapped?.cause).toBe(err);
  });

  it("leaves other failures, and writes without a condition, to the general mapping", () => {
    expect(conditionFailure(sdkError("NoSuchBucket", 404), { ifMatch: '"e"' }, at)).toBeUndefined();
    expect(conditionFailure(sdkError("NoSuchKey", 404), { ifNoneMatch: "*" }, at)).toBeUndefined();
    expect(conditionFailure(sdkError("SlowDown", 503), { ifNoneMatch: "*" }, at)).toBeUndefined();
    expect(conditionFailure(sdkError("PreconditionFailed", 412), undefined, at)).toBeUndefined();
  });
});
