import { describe, expect, it } from "vitest";
import { metadataFromMessage, metadataMessage } from "./model-messages.ts";

describe("model metadata messages", () => {
  it("hands the store only the fields a message set (proto3 sends empty maps and lists)", () => {
    expect(metadataFromMessage({ metrics: {}, tags: [], extra: {} })).toEqual({});
    expect(metadataFromMessage(null)).toEqual({});
    expect(
      metadataFromMessage({
        framework: "",
        metrics: { f1: 0.5 },
        tags: ["a"],
        extra: { k: "v" },
        parentVersion: "1",
      }),
    ).toEqual({ framework: "", metrics: { f1: 0.5 }, tags: ["a"], extra: { k: "v" }, parentVersion: "1" });
  });

  it("round-trips what the store returns", () => {
    const m = { framework: "onnx", metrics: { acc: 1 }, tags: ["t"], description: "d", extra: { a: "b" } };
    expect(
      metadataFromMessage({ ...metadataMessage(m), metrics: m.metrics, tags: m.tags, extra: m.extra }),
    ).toEqual(m);
    expect(metadataMessage({})).toEqual({ metrics: {}, tags: [], extra: {} });
  });
});
