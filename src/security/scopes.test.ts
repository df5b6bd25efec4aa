import { describe, expect, it } from "vitest";
import { StorageError } from "../errors.ts";
import {
  ACTIONS,
  type Action,
  authorize,
  expandPrefix,
  formatScope,
  isAllowed,
  normaliseScope,
  type Principal,
  parseScope,
  placeholdersOf,
} from "./scopes.ts";

const principal = (...scopes: string[]): Principal => ({
  keyId: "k".repeat(16),
  service: "test",
  scopes: scopes.map(parseScope),
});

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  return undefined;
};

describe("parseScope", () => {
  it.each([
    ["user-data:read", { bucket: "user-data", prefix: "", actions: ["read"] }],
    ["*:admin", { bucket: "*", prefix: "", actions: ["admin"] }],
    ["logs:write,READ, list", { bucket: "logs", prefix: "", actions: ["read", "write", "list"] }],
    ["temp:*", { bucket: "temp", prefix: "", actions: [...ACTIONS] }],
    [
      "user-data/users/{user_id}/:read",
      { bucket: "user-data", prefix: "users/{user_id}/", actions: ["read"] },
    ],
    // A trailing placeholder is closed with '/', so alice never covers alice2/.
    [
      "user-data/users/{user_id}:read",
      { bucket: "user-data", prefix: "users/{user_id}/", actions: ["read"] },
    ],
    ["models/team-a/:read,presign", { bucket: "models", prefix: "team-a/", actions: ["read", "presign"] }],
  ])("%s", (text, scope) => {
    expect(parseScope(text)).toEqual(scope);
  });

  it("round-trips through formatScope", () => {
    for (const text of ["user-data/users/{user_id}/:read,write", "*:admin", "logs:list"]) {
      expect(formatScope(parseScope(text))).toBe(text);
    }
  });

  it.each([
    "user-data",
    ":read",
    "user-data:",
    "user-data:fly",
    "Bad_Bucket:read",
    "user-data//x:read",
    "user-data/../x:read",
    "user-data/a/*/b:read",
    "user-data/a?:read",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy variable, not a template
    "user-data/${aws:username}/:read",
    "user-data/u{user_id}/:read",
    "user-data/{User}/:read",
    "user-data/{user_id:read",
    "user-data/a\u0001b:read",
  ])("refuses %j", (text) => {
    expect(codeOf(() => parseScope(text))).toBe("INVALID_ARGUMENT");
  });

  it("lists placeholders", () => {
    expect(placeholdersOf(parseScope("b1b/t/{tenant}/u/{user_id}/:read"))).toEqual(["tenant", "user_id"]);
    expect(() => normaliseScope({ bucket: "abc", prefix: "", actions: [] })).toThrow(StorageError);
  });
});

describe("expandPrefix", () => {
  it("binds placeholders to safe single segments only", () => {
    expect(expandPrefix("users/{user_id}/", { user_id: "alice" })).toBe("users/alice/");
    expect(expandPrefix("users/{user_id}/", {})).toBeUndefined();
    for (const bad of ["", "..", ".", "a/b", "a b", "../x", "*", "x".repeat(200)]) {
      expect(expandPrefix("users/{user_id}/", { user_id: bad }), bad).toBeUndefined();
    }
    // Inherited properties are not bindings.
    expect(expandPrefix("x/{constructor}/", {})).toBeUndefined();
  });
});

describe("authorize: the matrix", () => {
  // Three keys × three buckets × six actions, with the expected answer for each cell.
  const keys: Record<string, Principal> = {
    reader: principal("model-artifacts:read,list"),
    uploader: principal("user-data:read,write,list,presign", "temp:write,delete"),
    admin: principal("*:admin"),
  };
  const buckets = ["model-artifacts", "user-data", "temp"];
  const allowed: Record<string, Record<string, Action[]>> = {
    reader: { "model-artifacts": ["read", "list"], "user-data": [], temp: [] },
    uploader: {
      "model-artifacts": [],
      "user-data": ["read", "write", "list", "presign"],
      temp: ["write", "delete"],
    },
    admin: { "model-artifacts": [...ACTIONS], "user-data": [...ACTIONS], temp: [...ACTIONS] },
  };
  const cells = Object.keys(keys).flatMap((k) =>
    buckets.flatMap((b) => ACTIONS.map((a) => [k, b, a, allowed[k]?.[b]?.includes(a) ?? false] as const)),
  );
  it.each(cells)("%s %s %s → %s", (key, bucket, action, expected) => {
    const p = keys[key] as Principal;
    expect(isAllowed(p, action, bucket, "some/key.txt")).toBe(expected);
    expect(codeOf(() => authorize(p, action, bucket, "some/key.txt"))).toBe(
      expected ? undefined : "PERMISSION_DENIED",
    );
  });

  it("service-wide operations need admin on * without a prefix", () => {
    expect(isAllowed(keys.admin as Principal, "admin")).toBe(true);
    expect(isAllowed(principal("user-data:admin"), "admin")).toBe(false);
    expect(isAllowed(principal("*/x/:admin"), "admin")).toBe(false);
    expect(isAllowed(keys.uploader as Principal, "list")).toBe(false);
  });
});

describe("authorize: prefixes and bindings", () => {
  const p = principal("user-data/users/{user_id}/:read,write,list", "model-artifacts/public/:read");

  it("allows inside the bound prefix only", () => {
    const alice = { user_id: "alice" };
    expect(isAllowed(p, "read", "user-data", "users/alice/cv.pdf", alice)).toBe(true);
    expect(isAllowed(p, "list", "user-data", "users/alice/", alice)).toBe(true);
    expect(isAllowed(p, "read", "user-data", "users/bob/cv.pdf", alice)).toBe(false);
    expect(isAllowed(p, "read", "user-data", "users/alice2/cv.pdf", alice)).toBe(false);
    // Listing the parent would reveal other users' names.
    expect(isAllowed(p, "list", "user-data", "users/", alice)).toBe(false);
    expect(isAllowed(p, "list", "user-data", undefined, alice)).toBe(false);
    // No binding, or an unsafe one: nothing matches.
    expect(isAllowed(p, "read", "user-data", "users/alice/cv.pdf")).toBe(false);
    expect(isAllowed(p, "read", "user-data", "users/../x", { user_id: ".." })).toBe(false);
    expect(isAllowed(p, "delete", "user-data", "users/alice/cv.pdf", alice)).toBe(false);
  });

  it("fixed prefixes need no binding", () => {
    expect(isAllowed(p, "read", "model-artifacts", "public/m.bin")).toBe(true);
    expect(isAllowed(p, "read", "model-artifacts", "private/m.bin")).toBe(false);
  });

  it("requires every action of a combined check (presign + the underlying action)", () => {
    const q = principal("user-data:read,presign", "temp:presign");
    expect(isAllowed(q, ["presign", "read"], "user-data", "a")).toBe(true);
    expect(isAllowed(q, ["presign", "write"], "user-data", "a")).toBe(false);
    expect(isAllowed(q, ["presign", "read"], "temp", "a")).toBe(false);
  });

  it("refuses with a message that says nothing about the object", () => {
    let error: StorageError | undefined;
    try {
      authorize(p, "delete", "user-data", "users/alice/secret.pdf", { user_id: "alice" });
    } catch (err) {
      error = err as StorageError;
    }
    expect(error?.code).toBe("PERMISSION_DENIED");
    expect(error?.message).toBe("The API key may not delete at this key.");
    expect(error?.details).toEqual({ action: "delete", bucket: "user-data", key: "users/alice/secret.pdf" });
  });
});
