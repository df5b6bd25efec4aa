import { createHash, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Secret } from "../../config/secret.ts";
import { isStorageError, type StorageError } from "../../errors.ts";
import {
  customerKeyFromMetadata,
  SSE_C_KEY_METADATA,
  SSE_C_MD5_METADATA,
  setCustomerKeyMetadata,
} from "./sse-c.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY, toStatus } from "./status.ts";

const key = randomBytes(32);
const keyBase64 = key.toString("base64");
const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");

const metadataOf = (entries: [string, string][]) => {
  const metadata = new Metadata();
  for (const [name, value] of entries) metadata.add(name, value);
  return metadata;
};

/** The StorageError `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): StorageError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isStorageError(caught), "expected a StorageError").toBe(true);
  return caught as StorageError;
}

/** Refused as the core refuses a bad key, mapped to INVALID_ARGUMENT, and the key appears nowhere. */
function expectInvalid(metadata: Metadata, message: RegExp): void {
  const err = thrown(() => customerKeyFromMetadata(metadata));
  expect(err.code).toBe("INVALID_ARGUMENT");
  expect(err.message).toMatch(message);
  expect(err.details).toMatchObject({ field: "sseCustomerKey", sseCustomerKey: "invalid" });
  const sent = toStatus(err, () => {});
  expect(sent.code).toBe(status.INVALID_ARGUMENT);
  expect(sent.metadata?.get(ERROR_CODE_KEY)).toEqual(["INVALID_ARGUMENT"]);
  const everything = `${err.message} ${inspect(err)} ${JSON.stringify(sent.metadata?.getMap())} ${sent.details}`;
  expect(everything).not.toContain(keyBase64);
  expect(JSON.parse(String(sent.metadata?.get(ERROR_DETAILS_KEY)[0]))).toMatchObject({
    sseCustomerKey: "invalid",
  });
}

describe("customerKeyFromMetadata", () => {
  it("gives no key when the call carries none (an MD5 alone is ignored, as over HTTP)", () => {
    expect(customerKeyFromMetadata(new Metadata())).toEqual({});
    expect(customerKeyFromMetadata(metadataOf([[SSE_C_MD5_METADATA, md5(key)]]))).toEqual({});
  });

  it("wraps a well-formed key in a Secret, with or without its MD5", () => {
    for (const entries of [
      [[SSE_C_KEY_METADATA, keyBase64]],
      [
        [SSE_C_KEY_METADATA, keyBase64],
        [SSE_C_MD5_METADATA, md5(key)],
      ],
    ] as [string, string][][]) {
      const { sseCustomerKey } = customerKeyFromMetadata(metadataOf(entries));
      expect(sseCustomerKey).toBeInstanceOf(Secret);
      expect(sseCustomerKey?.reveal()).toBe(keyBase64);
      expect(inspect(sseCustomerKey)).not.toContain(keyBase64);
      expect(JSON.stringify({ sseCustomerKey })).not.toContain(keyBase64);
    }
  });

  it("refuses a key of the wrong length, in any encoding, and an empty one", () => {
    expectInvalid(metadataOf([[SSE_C_KEY_METADATA, randomBytes(16).toString("base64")]]), /exactly 32 bytes/);
    expectInvalid(metadataOf([[SSE_C_KEY_METADATA, randomBytes(33).toString("base64")]]), /exactly 32 bytes/);
    expectInvalid(metadataOf([[SSE_C_KEY_METADATA, key.toString("hex")]]), /exactly 32 bytes/);
    expectInvalid(metadataOf([[SSE_C_KEY_METADATA, ""]]), /exactly 32 bytes/);
  });

  it("refuses non-canonical base64 (junk the decoder would skip)", () => {
    expectInvalid(
      metadataOf([[SSE_C_KEY_METADATA, `${keyBase64.slice(0, 20)}!${keyBase64.slice(20)}`]]),
      /base64/,
    );
  });

  it("refuses a key whose MD5 does not match, including an empty MD5", () => {
    expectInvalid(
      metadataOf([
        [SSE_C_KEY_METADATA, keyBase64],
        [SSE_C_MD5_METADATA, md5(randomBytes(32))],
      ]),
      /MD5 does not match/,
    );
    expectInvalid(
      metadataOf([
        [SSE_C_KEY_METADATA, keyBase64],
        [SSE_C_MD5_METADATA, ""],
      ]),
      /MD5 does not match/,
    );
  });

  it("refuses a repeated key or MD5 rather than picking one", () => {
    expectInvalid(
      metadataOf([
        [SSE_C_KEY_METADATA, keyBase64],
        [SSE_C_KEY_METADATA, randomBytes(32).toString("base64")],
      ]),
      /at most once/,
    );
    expectInvalid(
      metadataOf([
        [SSE_C_KEY_METADATA, keyBase64],
        [SSE_C_MD5_METADATA, md5(key)],
        [SSE_C_MD5_METADATA, md5(key)],
      ]),
      /at most once/,
    );
  });
});

describe("setCustomerKeyMetadata (client side)", () => {
  it("writes the key and its MD5 under S3's names, which the server reads back", () => {
    const metadata = metadataOf([[SSE_C_KEY_METADATA, "stale"]]);
    setCustomerKeyMetadata(metadata, key);
    expect(metadata.get(SSE_C_KEY_METADATA)).toEqual([keyBase64]);
    expect(metadata.get(SSE_C_MD5_METADATA)).toEqual([md5(key)]);
    expect(customerKeyFromMetadata(metadata).sseCustomerKey?.reveal()).toBe(keyBase64);
  });

  it("sends a wrong-length key as it is, for the server to refuse", () => {
    const metadata = new Metadata();
    setCustomerKeyMetadata(metadata, randomBytes(16));
    expect(() => customerKeyFromMetadata(metadata)).toThrow(/exactly 32 bytes/);
  });
});
