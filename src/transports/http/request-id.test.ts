import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { requestIdFor } from "./request-id.ts";

const req = (id?: string) => ({ headers: id === undefined ? {} : { "x-request-id": id } }) as IncomingMessage;

describe("requestIdFor", () => {
  it("honours a sane x-request-id and replaces anything else with a UUID", () => {
    expect(requestIdFor(req("abc-123.def:ghi"))).toBe("abc-123.def:ghi");
    for (const bad of [undefined, "", "has space", "x".repeat(200), "line\nbreak", "{json}"]) {
      expect(requestIdFor(req(bad))).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    }
  });
});
