import type { MethodDefinition } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { storageProto } from "../definition.ts";
import { RefusedMessage, replacedField, strictDeserializer } from "./messages.ts";

const upload = storageProto().lumenslate.storage.v1.StorageService.service
  .UploadFile as unknown as MethodDefinition<unknown, unknown>;
const strict = strictDeserializer(upload.path, upload.requestDeserialize);

/** An UploadFile header whose object_name holds `bytes` where the name says `@@`. */
function headerWithNameBytes(bytes: number[]): Buffer {
  const encoded = upload.requestSerialize({ header: { bucket: "temp", objectName: "bad-@@.txt" } });
  const at = encoded.indexOf("@@");
  expect(at).toBeGreaterThan(0);
  Buffer.from(bytes).copy(encoded, at);
  return encoded;
}

const refusal = (message: unknown) => {
  expect(message).toBeInstanceOf(RefusedMessage);
  return (message as RefusedMessage).error;
};

describe("strictDeserializer", () => {
  it("passes a well-formed message through as decoded, non-ASCII names included", () => {
    const name = "données/überweisung-€.txt";
    expect(strict(upload.requestSerialize({ header: { bucket: "temp", objectName: name } }))).toMatchObject({
      payload: "header",
      header: { bucket: "temp", objectName: name },
    });
    expect(
      strict(upload.requestSerialize({ chunk: Buffer.from([0xff, 0xfe, 0xef, 0xbf, 0xbd]) })),
    ).toMatchObject({
      chunk: Buffer.from([0xff, 0xfe, 0xef, 0xbf, 0xbd]),
    });
  });

  it("refuses bytes that are not UTF-8 in a string field, naming the field as the .proto does", () => {
    // The plain deserializer would have stored this name as "bad-\uFFFD\uFFFD.txt".
    expect(upload.requestDeserialize(headerWithNameBytes([0xff, 0xfe]))).toMatchObject({
      header: { objectName: "bad-\uFFFD\uFFFD.txt" },
    });
    const err = refusal(strict(headerWithNameBytes([0xff, 0xfe])));
    expect(err).toMatchObject({ code: "INVALID_ARGUMENT", details: { field: "header.object_name" } });
    expect(err.message).toMatch(/not valid UTF-8/);
    // A lone continuation byte and an overlong encoding of '/', too.
    expect(refusal(strict(headerWithNameBytes([0x80, 0x41]))).code).toBe("INVALID_ARGUMENT");
    expect(refusal(strict(headerWithNameBytes([0xc0, 0xaf]))).code).toBe("INVALID_ARGUMENT");
    expect(refusal(strict(headerWithNameBytes([0xef, 0xbf]))).code).toBe("INVALID_ARGUMENT"); // truncated
  });

  it("refuses a real U+FFFD too: after decoding it cannot be told from a replaced byte", () => {
    const encoded = upload.requestSerialize({ header: { bucket: "temp", objectName: "a\uFFFD.txt" } });
    expect(refusal(strict(encoded)).details.field).toBe("header.object_name");
  });

  it("answers bytes that are not a protobuf message with INVALID_ARGUMENT instead of throwing", () => {
    for (const garbage of [
      Buffer.from([0x0a, 0xff, 0x01]), // field 1, 255 bytes long, 1 present
      Buffer.from([0x0f]), // wire type 7 does not exist
      Buffer.from("\xff".repeat(12), "latin1"), // a varint that never ends
    ]) {
      expect(() => upload.requestDeserialize(garbage)).toThrow();
      const err = refusal(strict(garbage));
      expect(err).toMatchObject({ code: "INVALID_ARGUMENT", details: { field: "message" } });
      expect(err.toPublic().message).toContain(upload.path);
    }
  });
});

describe("replacedField", () => {
  it("finds U+FFFD in nested values and map keys, and ignores bytes", () => {
    expect(replacedField({ header: { metadata: { ok: "fine", tag: "x\uFFFD" } } })).toBe(
      "header.metadata.tag",
    );
    expect(replacedField({ header: { metadata: { "k\uFFFD": "v" } } })).toBe("header.metadata");
    expect(replacedField({ prefixes: ["a", "b\uFFFD"] })).toBe("prefixes.1");
    expect(replacedField({ chunk: Buffer.from("\uFFFD") })).toBeUndefined();
    expect(replacedField({ sourceObjectName: "ok", targetObjectName: "é" })).toBeUndefined();
  });
});
