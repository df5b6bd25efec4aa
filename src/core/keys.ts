import { StorageError } from "../errors.ts";

export const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;

/**
 * Validates and normalises an object key. Keys are NFC-normalised so that the same name typed on
 * different systems (macOS decomposes accents) addresses the same object. Refused: empty keys,
 * a leading '/', backslashes, '.' or '..' segments, empty segments ('//'), control characters
 * (including NUL and DEL), invisible formatting characters (see INVISIBLE) and keys over 1024 bytes
 * of UTF-8.
 */
export function validateKey(raw: string, field = "key"): string {
  if (typeof raw !== "string" || raw.length === 0) {
    throw invalid(field, "The object key must not be empty.");
  }
  if (raw.isWellFormed && !raw.isWellFormed()) {
    throw invalid(field, "The object key is not valid Unicode (lone surrogate).");
  }
  const key = raw.normalize("NFC");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `The object key is longer than ${MAX_KEY_BYTES} bytes of UTF-8.`,
      {
        field,
        limit: MAX_KEY_BYTES,
      },
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) {
    throw invalid(field, "The object key must not contain control characters.");
  }
  const hidden = INVISIBLE.exec(key)?.[0];
  if (hidden !== undefined) {
    const what = field === "prefix" ? "The prefix" : "The object key";
    const named = codePoint(hidden);
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${what} must not contain ${named} (an invisible bidi or zero-width character, which lets one ` +
        "name pass for another); remove it.",
      { field, codePoint: named },
    );
  }
  if (key.includes("\\")) throw invalid(field, "The object key must not contain backslashes; use '/'.");
  if (key.startsWith("/")) throw invalid(field, "The object key must not start with '/'.");
  for (const segment of key.split("/").slice(0, -1)) {
    if (segment === "") throw invalid(field, "The object key must not contain empty segments ('//').");
  }
  for (const segment of key.split("/")) {
    if (segment === "." || segment === "..") {
      throw invalid(field, "The object key must not contain '.' or '..' segments.");
    }
  }
  return key;
}

/**
 * Characters that render as nothing or reorder the text around them, so a key holding one can look
 * exactly like another key (or show `gpj.exe` as `exe.jpg`): bidi embeddings, overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069), the marks LRM, RLM and ALM (U+200E, U+200F, U+061C), zero-width
 * space, joiners and no-break space (U+200B-U+200D, U+2060, U+FEFF) and the invisible operators
 * (U+2061-U+2064). This also refuses emoji sequences built with U+200D, a price worth paying.
 */
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/** "U+202E": how the messages name a character that cannot be shown. */
const codePoint = (char: string) =>
  `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/** A prefix for listing: the same rules as a key, except that it may be empty and end with '/'. */
export function validatePrefix(raw: string | undefined): string {
  if (raw === undefined || raw === "") return "";
  return validateKey(raw, "prefix");
}

/**
 * S3 bucket naming rules: 3-63 characters of lowercase letters, digits, '.' and '-', starting and
 * ending with a letter or digit, no '..', not shaped like an IP address, none of the reserved
 * prefixes and suffixes.
 */
export function validateBucket(bucket: string, field = "bucket"): string {
  const why = bucketProblem(bucket);
  if (why) throw new StorageError("INVALID_ARGUMENT", `Invalid bucket name: ${why}`, { field });
  return bucket;
}

function bucketProblem(b: string): string | undefined {
  if (typeof b !== "string" || b.length < 3 || b.length > 63) return "it must be 3 to 63 characters long.";
  if (!/^[a-z0-9.-]+$/.test(b)) return "only lowercase letters, digits, '.' and '-' are allowed.";
  if (!/^[a-z0-9]/.test(b) || !/[a-z0-9]$/.test(b)) return "it must start and end with a letter or digit.";
  if (b.includes("..") || b.includes(".-") || b.includes("-."))
    return "it must not contain '..', '.-' or '-.'.";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(b)) return "it must not look like an IP address.";
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(b) || /(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(b)) {
    return "it uses a prefix or suffix that S3 reserves.";
  }
  return undefined;
}

/**
 * User metadata travels as S3 headers (x-amz-meta-*): names are lowercase ASCII tokens, values
 * printable ASCII (callers encode anything else), and S3 caps the whole set at 2 KiB.
 */
export function validateMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [rawName, value] of Object.entries(metadata ?? {})) {
    const name = rawName.toLowerCase();
    if (!/^[a-z0-9][a-z0-9_-]{0,127}$/.test(name)) {
      throw invalid(
        "metadata",
        `Metadata name '${rawName.slice(0, 64)}' must be letters, digits, '-' or '_'.`,
      );
    }
    if (typeof value !== "string" || !/^[\x20-\x7e]*$/.test(value)) {
      throw invalid("metadata", `Metadata value of '${name}' must be printable ASCII text.`);
    }
    bytes += name.length + value.length;
    out[name] = value;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new StorageError("INVALID_ARGUMENT", `User metadata is larger than ${MAX_METADATA_BYTES} bytes.`, {
      field: "metadata",
      limit: MAX_METADATA_BYTES,
    });
  }
  return out;
}

/** The lowercase extension of the key's last segment, without the dot ("" when none). */
export function extensionOf(key: string): string {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });
