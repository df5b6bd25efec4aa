import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor.ts";

describe("list cursors", () => {
  it("round-trips any entry, including keys outside the BMP", () => {
    for (const entry of ["a", "dir/file.txt", "ключ/𝄞.bin", "x".repeat(1000)]) {
      expect(decodeCursor(encodeCursor(entry))).toBe(entry);
    }
  });

  it("refuses what no encodeCursor produced", () => {
    const valid = encodeCursor("dir/file.txt");
    for (const bad of ["", "***", `${valid}=`, `${valid}$`, "A".repeat(2001), "QQ=", "Q"]) {
      expect(() => decodeCursor(bad), bad).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });
});
