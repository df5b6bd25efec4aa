import { describe, expect, it } from "vitest";
import { evaluatePreconditions, hasPreconditions, quoteEtag, rangeApplies } from "./conditional.ts";

const object = { etag: '"abc"', lastModified: new Date("2026-01-02T03:04:05.678Z") };
const at = (iso: string) => new Date(iso).toUTCString();

describe("evaluatePreconditions", () => {
  it("If-Match: strong comparison, * matches, a miss fails", () => {
    expect(evaluatePreconditions("GET", { "if-match": '"abc"' }, object)).toBe("proceed");
    expect(evaluatePreconditions("GET", { "if-match": '"x", "abc"' }, object)).toBe("proceed");
    expect(evaluatePreconditions("GET", { "if-match": "*" }, object)).toBe("proceed");
    expect(evaluatePreconditions("GET", { "if-match": 'W/"abc"' }, object)).toBe("failed");
    expect(evaluatePreconditions("DELETE", { "if-match": '"x"' }, object)).toBe("failed");
  });

  it("If-None-Match: weak comparison; 304 for GET/HEAD, failed otherwise", () => {
    expect(evaluatePreconditions("GET", { "if-none-match": 'W/"abc"' }, object)).toBe("not-modified");
    expect(evaluatePreconditions("HEAD", { "if-none-match": "*" }, object)).toBe("not-modified");
    expect(evaluatePreconditions("GET", { "if-none-match": '"x"' }, object)).toBe("proceed");
    expect(evaluatePreconditions("PUT", { "if-none-match": "*" }, object)).toBe("failed");
  });

  it("dates compare in whole seconds and only when no ETag condition is given", () => {
    const same = at("2026-01-02T03:04:05Z");
    const before = at("2026-01-02T03:04:04Z");
    expect(evaluatePreconditions("GET", { "if-modified-since": same }, object)).toBe("not-modified");
    expect(evaluatePreconditions("GET", { "if-modified-since": before }, object)).toBe("proceed");
    expect(evaluatePreconditions("GET", { "if-unmodified-since": before }, object)).toBe("failed");
    expect(evaluatePreconditions("GET", { "if-unmodified-since": same }, object)).toBe("proceed");
    expect(evaluatePreconditions("GET", { "if-none-match": '"x"', "if-modified-since": same }, object)).toBe(
      "proceed",
    );
    expect(evaluatePreconditions("GET", { "if-match": '"abc"', "if-unmodified-since": before }, object)).toBe(
      "proceed",
    );
    expect(evaluatePreconditions("GET", { "if-modified-since": "not a date" }, object)).toBe("proceed");
  });

  it("knows when there is anything to evaluate", () => {
    expect(hasPreconditions({})).toBe(false);
    expect(hasPreconditions({ "if-none-match": "*" })).toBe(true);
  });
});

describe("rangeApplies", () => {
  it("honours a Range while the If-Range validator matches", () => {
    expect(rangeApplies({}, object)).toBe(true);
    expect(rangeApplies({ "if-range": '"abc"' }, object)).toBe(true);
    expect(rangeApplies({ "if-range": '"old"' }, object)).toBe(false);
    expect(rangeApplies({ "if-range": 'W/"abc"' }, object)).toBe(false);
    expect(rangeApplies({ "if-range": at("2026-01-02T03:04:05Z") }, object)).toBe(true);
    expect(rangeApplies({ "if-range": at("2026-01-01T00:00:00Z") }, object)).toBe(false);
  });
});

describe("quoteEtag", () => {
  it("quotes bare tags and leaves quoted ones", () => {
    expect(quoteEtag("abc")).toBe('"abc"');
    expect(quoteEtag('"abc"')).toBe('"abc"');
    expect(quoteEtag('W/"abc"')).toBe('W/"abc"');
  });
});
