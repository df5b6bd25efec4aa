import { describe, expect, it } from "vitest";
import { checkFilename, fileKey, parseFileKey, userPrefix } from "./keys.ts";

const ID = "0b0e7b8e-4c1f-4f7e-9a53-1d2c3b4a5f60";

describe("user-data keys", () => {
  it("lays files out as users/{userId}/{uploadId}/{filename}", () => {
    expect(userPrefix("alice")).toBe("users/alice/");
    expect(fileKey("alice", ID, "notes.txt")).toBe(`users/alice/${ID}/notes.txt`);
    expect(parseFileKey(`users/alice/${ID}/notes.txt`)).toEqual({
      userId: "alice",
      uploadId: ID,
      filename: "notes.txt",
    });
    expect(parseFileKey(`users/alice/${ID}/a/b.txt`)).toBeUndefined();
    expect(parseFileKey("other/alice/x/y")).toBeUndefined();
  });

  it.each(["", "..", ".x", "a/b", "a b", "x".repeat(129)])("refuses the user id %j", (userId) => {
    expect(() => userPrefix(userId)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", details: { field: "userId" } }),
    );
  });

  it.each(["", ".", "..", "a/b.txt", "a\\b.txt", "tab\there.txt", "x".repeat(256)])(
    "refuses the filename %j",
    (name) => {
      expect(() => checkFilename(name)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", details: { field: "filename" } }),
      );
    },
  );

  it("refuses an upload id that is not a UUID", () => {
    expect(() => fileKey("alice", "../x", "a.txt")).toThrow(
      expect.objectContaining({ details: { field: "uploadId" } }),
    );
  });
});
