import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { requestIdFor } from "./request-id.ts";

const req = (id?: string) => ({ headers: id === undefined ? {} : { "x-request-id": id } }) as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("requestIdFor", () => {
  it("honours a safe x-request-id and replaces anything else with a UUID", () => {
    expect(requestIdFor(req("abc-123.def_ghi"))).toBe("abc-123.def_ghi");
    for (const bad of [undefined, "", "has space", "x".repeat(200), "line\nbreak", "{json}", "a:b"]) {
      expect(requestIdFor(req(bad))).toMatch(UUID);
    }
  });

  it("never takes an API key token as the request id", () => {
    expect(requestIdFor(req(`lss_abcdefghijklmnop_${"A".repeat(43)}`))).toMatch(UUID);
  });
});
