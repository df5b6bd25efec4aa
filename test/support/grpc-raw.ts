import {
  Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  type MethodDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { ERROR_CODE_KEY } from "../../src/transports/grpc/status.ts";
import type { TestApp } from "./app.ts";

/**
 * gRPC calls below the typed client: any method of any service, by its definition, with messages
 * given as raw bytes (hand-made garbage, strings that are not UTF-8) so that tests can send what
 * no well-behaved client would. Plus a snapshot of what the store and the index hold, to show
 * that a refused call wrote nothing.
 */

export interface RawOutcome {
  /** The status code name ("OK", "UNAUTHENTICATED", ...). */
  code: string;
  /** The service's stable code from the `x-error-code` trailer, when there is one. */
  errorCode: string | undefined;
  details: string;
}

const raw = (bytes: Buffer) => bytes;

function outcomeOf(err: ServiceError | null): RawOutcome {
  if (!err) return { code: "OK", errorCode: undefined, details: "" };
  const errorCode = err.metadata?.get(ERROR_CODE_KEY)[0];
  return {
    code: status[err.code] ?? String(err.code),
    errorCode: typeof errorCode === "string" ? errorCode : undefined,
    details: err.details,
  };
}

/** Reads a response stream to its end; its status is the outcome (responses are not looked at). */
const drained = (stream: ClientReadableStream<unknown>) =>
  new Promise<RawOutcome>((resolve) => {
    stream.on("data", () => {});
    stream.on("error", (err: ServiceError) => resolve(outcomeOf(err)));
    stream.on("end", () => resolve(outcomeOf(null)));
  });

/**
 * Calls `method` on `address` with `messages` as the request bytes: the first one alone for a
 * method that takes one message, all of them in order for a request stream. `token` goes in
 * `authorization` as `Bearer <token>`, `requestId` in `x-request-id`.
 */
export async function rawCall(
  address: string,
  method: MethodDefinition<unknown, unknown>,
  messages: readonly Buffer[],
  options: { token?: string | undefined; requestId?: string } = {},
): Promise<RawOutcome> {
  const client = new Client(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (options.token !== undefined) metadata.set("authorization", `Bearer ${options.token}`);
  if (options.requestId !== undefined) metadata.set("x-request-id", options.requestId);
  const deserialize = method.responseDeserialize;
  const [first = Buffer.alloc(0)] = messages;
  try {
    if (!method.requestStream && !method.responseStream) {
      return await new Promise((resolve) => {
        client.makeUnaryRequest(method.path, raw, deserialize, first, metadata, (err) =>
          resolve(outcomeOf(err)),
        );
      });
    }
    if (!method.requestStream) {
      return await drained(client.makeServerStreamRequest(method.path, raw, deserialize, first, metadata));
    }
    if (!method.responseStream) {
      return await new Promise((resolve) => {
        const call = client.makeClientStreamRequest(method.path, raw, deserialize, metadata, (err) =>
          resolve(outcomeOf(err)),
        );
        for (const message of messages) call.write(message);
        call.end();
      });
    }
    const call = client.makeBidiStreamRequest(method.path, raw, deserialize, metadata);
    const outcome = drained(call);
    for (const message of messages) call.write(message);
    call.end();
    return await outcome;
  } finally {
    client.close();
  }
}

/**
 * Everything the store and the index hold in `buckets` (keys with etags and versions, and
 * unfinished multipart uploads), as one comparable string.
 */
export async function storageSnapshot(app: TestApp, buckets: readonly string[]): Promise<string> {
  const parts: unknown[] = [];
  for (const bucket of buckets) {
    const stored = await app.store.list(bucket, { limit: 1000 });
    const indexed = await app.service.list(bucket, { recursive: true, limit: 1000 });
    const uploads = await app.store.listIncompleteUploads(bucket);
    parts.push({
      bucket,
      stored: stored.objects.map((o) => `${o.key}@${o.etag}`),
      indexed: indexed.objects.map((o) => `${o.key}@${o.versionId}@${o.sha256}`),
      uploads: uploads.map((u) => u.key),
    });
  }
  return JSON.stringify(parts);
}
