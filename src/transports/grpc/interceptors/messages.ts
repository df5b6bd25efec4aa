import { ServerInterceptingCall, type ServerInterceptor, ServerListenerBuilder } from "@grpc/grpc-js";
import { StorageError } from "../../../errors.ts";
import { toStatus } from "../status.ts";

/**
 * Request messages the server refuses to hand to a handler, answered INVALID_ARGUMENT:
 *
 * - bytes that are not a protobuf message. grpc-js answers a deserializer that throws with
 *   INTERNAL, from below every interceptor (so not even logged as such), blaming the server for the
 *   caller's bytes.
 * - a string field that was not UTF-8. protobufjs decodes such bytes to U+FFFD without a word, and
 *   the server would then store `a\uFFFD.txt` for a name the caller never sent (HTTP refuses the
 *   same bytes). After decoding, a substituted byte and a real U+FFFD look the same, so any string
 *   holding U+FFFD is refused: the character is a decoder's mark of lost bytes, and no name needs
 *   it. This covers every string field of every request (keys, buckets, prefixes, content types,
 *   metadata, tokens), including fields added later, without a schema walk of the wire bytes.
 *
 * A deserializer must not throw to get this answer (grpc-js would say INTERNAL), so the strict one
 * returns a RefusedMessage instead, and refusedMessageInterceptor, which every server built with
 * strict deserializers must install, ends the call with its error before a handler sees it.
 */
export class RefusedMessage {
  readonly error: StorageError;
  constructor(error: StorageError) {
    this.error = error;
  }
}

const REPLACEMENT = "\uFFFD";

/** `header.objectName` → `header.object_name`: callers know the .proto's names. */
const protoName = (path: string[]) =>
  path
    .map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
    .join(".")
    .slice(0, 200);

/** The path of the first string (value or map key) holding U+FFFD in a decoded message, if any. */
export function replacedField(value: unknown, path: string[] = []): string | undefined {
  if (typeof value === "string")
    return value.includes(REPLACEMENT) ? protoName(path) || "message" : undefined;
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return undefined;
  for (const [name, child] of Object.entries(value)) {
    if (name.includes(REPLACEMENT)) return protoName(path) || "message";
    const found = replacedField(child, [...path, name]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Wraps a method's request deserializer: a refused message comes back as a RefusedMessage. */
export function strictDeserializer(
  path: string,
  deserialize: (bytes: Buffer) => unknown,
): (bytes: Buffer) => unknown {
  return (bytes) => {
    let message: unknown;
    try {
      message = deserialize(bytes);
    } catch (err) {
      return new RefusedMessage(
        new StorageError(
          "INVALID_ARGUMENT",
          `The request message is not a valid protobuf encoding of the request of ${path.slice(0, 200)}.`,
          { field: "message" },
          { cause: err },
        ),
      );
    }
    const field = replacedField(message);
    if (field === undefined) return message;
    return new RefusedMessage(
      new StorageError(
        "INVALID_ARGUMENT",
        `The field '${field}' is not valid UTF-8 or contains U+FFFD, which the server refuses ` +
          "(it stands for bytes a decoder could not read); send the name as UTF-8.",
        { field },
      ),
    );
  };
}

/** Ends a call whose message the strict deserializer refused, with that message's error. */
export function refusedMessageInterceptor(onInternal: (err: StorageError) => void): ServerInterceptor {
  return (_descriptor, call) => {
    let intercepting: ServerInterceptingCall | undefined;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMessage((message, next) => {
        if (message instanceof RefusedMessage) intercepting?.sendStatus(toStatus(message.error, onInternal));
        else next(message);
      })
      .build();
    intercepting = new ServerInterceptingCall(call, { start: (next) => next(listener) });
    return intercepting;
  };
}
