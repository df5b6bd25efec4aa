import { randomBytes, randomInt } from "node:crypto";

/**
 * API key tokens: `lss_<id>_<secret>`. The id (16 chars of a-z0-9) is public — it names the key in
 * listings and audit records — and contains no `_`, so the token splits unambiguously even though
 * the secret (32 random bytes, base64url: 43 chars) may. The `lss_` prefix lets secret scanners
 * and the log redactor recognise a token anywhere.
 */

export const TOKEN_PREFIX = "lss";
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 16;
const SECRET_BYTES = 32;

export const TOKEN_PATTERN = /^lss_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** A token (or the start of one) anywhere in a text: used to redact. */
export const TOKEN_IN_TEXT = /\blss_([a-z0-9]{16})_[A-Za-z0-9_-]+/g;

export interface ParsedToken {
  id: string;
  secret: string;
}

export function generateKeyId(): string {
  let id = "";
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET.charAt(randomInt(ID_ALPHABET.length));
  return id;
}

export const generateSecret = (): string => randomBytes(SECRET_BYTES).toString("base64url");

export const formatToken = (id: string, secret: string): string => `${TOKEN_PREFIX}_${id}_${secret}`;

export const isKeyId = (text: string): boolean => /^[a-z0-9]{16}$/.test(text);

/** The id and secret of a well-formed token, else undefined (never throws: input is untrusted). */
export function parseToken(text: string): ParsedToken | undefined {
  const match = TOKEN_PATTERN.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  return { id: match[1], secret: match[2] };
}

/**
 * The token from an `Authorization` header value (HTTP) or `authorization` metadata value (gRPC):
 * `Bearer <token>`, scheme case-insensitive. Undefined when absent or not a bearer credential.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
