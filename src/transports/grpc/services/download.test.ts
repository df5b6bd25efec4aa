import { describe, expect, it } from "vitest";
import { rechunk } from "./download.ts";

const sizes = async (pieces: number[], target: number, max: number) => {
  const source = (async function* () {
    for (const n of pieces) yield Buffer.alloc(n, 1);
  })();
  const out: number[] = [];
  for await (const chunk of rechunk(source, target, max)) out.push(chunk.length);
  return out;
};

describe("rechunk", () => {
  it("gathers small reads into chunks of at least the target", async () => {
    expect(await sizes([10, 10, 10, 10, 10], 25, 100)).toEqual([30, 20]);
  });
  it("splits large reads at the maximum", async () => {
    expect(await sizes([250], 25, 100)).toEqual([100, 100, 50]);
  });
  it("skips empty reads and yields nothing for an empty stream", async () => {
    expect(await sizes([0, 0], 25, 100)).toEqual([]);
  });
});
