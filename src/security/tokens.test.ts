import { describe, expect, it } from "vitest";
import { hashSecret, verifySecret } from "./hashing.ts";
import { redact, redactTokens } from "./redact.ts";
import { bearerToken, formatToken, generateKeyId, generateSecret, isKeyId, parseToken } from "./tokens.ts";

const FAST = { N: 1024, r: 8, p: 1 };

describe("tokens", () => {
  it("round-trips id and secret, even when the secret holds '_' and '-'", () => {
    for (let i = 0; i < 50; i++) {
      const id = generateKeyId();
      const secret = generateSecret();
      expect(isKeyId(id)).toBe(true);
      expect(secret).toHaveLength(43);
      expect(parseToken(formatToken(id, secret))).toEqual({ id, secret });
    }
    const tricky = `_-${"a".repeat(39)}_-`;
    expect(parseToken(`lss_abcdefgh12345678_${tricky}`)).toEqual({ id: "abcdefgh12345678", secret: tricky });
  });

  it.each([
    "",
    "lss_",
    "lss_short_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    `lss_ABCDEFGH12345678_${"a".repeat(43)}`,
    `lss_abcdefgh12345678_${"a".repeat(42)}`,
    `lss_abcdefgh12345678_${"a".repeat(44)}`,
    `xyz_abcdefgh12345678_${"a".repeat(43)}`,
    ` lss_abcdefgh12345678_${"a".repeat(43)}`,
    `lss_abcdefgh12345678_${"a".repeat(42)}=`,
  ])("refuses %j", (text) => {
    expect(parseToken(text)).toBeUndefined();
  });

  it("reads bearer credentials only", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc  ")).toBe("abc");
    expect(bearerToken("BEARER abc")).toBe("abc");
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken("Basic dXNlcjpwdw==")).toBeUndefined();
    expect(bearerToken("Bearer")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken("abc")).toBeUndefined();
  });
});

describe("hashing", () => {
  it("verifies the right secret only, with a per-key salt", async () => {
    const secret = generateSecret();
    const a = await hashSecret(secret, FAST);
    const b = await hashSecret(secret, FAST);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(a).not.toContain(secret);
    expect(await verifySecret(secret, a)).toBe(true);
    expect(await verifySecret(secret, b)).toBe(true);
    expect(await verifySecret(`${secret}x`, a)).toBe(false);
    expect(await verifySecret(generateSecret(), a)).toBe(false);
  });

  it("uses the default (slow) parameters unless told otherwise", async () => {
    const stored = await hashSecret("s");
    expect(stored.startsWith("scrypt$16384$8$1$")).toBe(true);
    expect(await verifySecret("s", stored)).toBe(true);
  });

  it.each([
    "",
    "bcrypt$x",
    "scrypt$1000$8$1$AAAA$AAAA",
    "scrypt$1048576000$8$1$AAAA$AAAA",
    "scrypt$1024$0$1$AAAA$AAAA",
    "scrypt$1024$8$1$AAAA$short",
    "scrypt$1024$8$1$AAAA$AAAA$extra",
  ])("treats a malformed stored hash %j as a mismatch", async (stored) => {
    expect(await verifySecret("s", stored)).toBe(false);
  });
});

describe("redaction", () => {
  it("keeps a token's id and drops its secret", () => {
    const token = formatToken("abcdefgh12345678", generateSecret());
    const text = `failed for Bearer ${token}, again: ${token}.`;
    const out = redactTokens(text);
    expect(out).not.toContain(token.slice(22));
    expect(out).toBe(
      "failed for Bearer lss_abcdefgh12345678_[redacted], again: lss_abcdefgh12345678_[redacted].",
    );
  });

  it("redacts literal secrets of 4+ characters", () => {
    expect(redact("pw=hunter2 x=abc", ["hunter2", "abc"])).toBe("pw=[redacted] x=abc");
  });
});
