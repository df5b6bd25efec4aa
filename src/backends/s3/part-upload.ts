import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { StorageError } from "../../errors.ts";
import type { PartBuffers } from "./part-buffers.ts";

/** S3's limit on parts per multipart upload. */
export const MAX_PARTS = 10_000;

export interface PartedPut {
  bucket: string;
  key: string;
  /** On the request that creates the object (PutObject or CreateMultipartUpload). */
  create: { ContentType?: string; Metadata?: Record<string, string> };
  /** On every request, parts and completion included (SSE-C headers must reach each of them). */
  every: { SSECustomerAlgorithm?: string; SSECustomerKey?: string; SSECustomerKeyMD5?: string };
  /** On the request that makes the object visible (PutObject or CompleteMultipartUpload). */
  visible: { IfNoneMatch?: string; IfMatch?: string };
}

export interface PartedPutOptions {
  /** Part-sized buffers (their size is the part size). */
  buffers: PartBuffers;
  /** Parts in flight at once. */
  queueSize: number;
  signal?: AbortSignal;
  /** Bytes stored so far, after each part and at the end. */
  onProgress?: (bytes: number) => void;
}

export interface PartedPutResult {
  ETag?: string | undefined;
  VersionId?: string | undefined;
}

/**
 * Streams a body into S3: one PutObject when it fits in one part, else a multipart upload holding at
 * most `queueSize` parts (in flight, and the one being filled; the body is not read while all are
 * busy). What lib-storage's Upload does, minus a new part-sized buffer per part: the first part
 * gathers the body's own chunks (so a small object never takes a part buffer), and from the second
 * part on each chunk is copied straight into a reused buffer (part-buffers.ts), the one copy a byte
 * makes on its way.
 *
 * On any failure (the body, a part, the completion, a refused condition) the multipart upload is
 * aborted before the error is thrown, so nothing is left behind; `signal` aborts the parts in flight.
 */
export async function putInParts(
  client: S3Client,
  body: AsyncIterable<Buffer>,
  put: PartedPut,
  options: PartedPutOptions,
): Promise<PartedPutResult> {
  const { buffers, queueSize } = options;
  const partSize = buffers.size;
  const base = { Bucket: put.bucket, Key: put.key };
  // Aborts the parts in flight (after a failure, or when the caller gives up). Never the request
  // that makes the object visible: cut off mid-flight, it may still have committed, and the caller
  // could no longer tell; it is left to answer, and a caller that gave up takes the object back.
  const abort = new AbortController();
  const onAbort = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const partOptions = { abortSignal: abort.signal };

  // Before the body passes one part: its chunks as they came.
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  let multipart = false;
  // After: the pooled part being filled.
  let current: Buffer | undefined;
  let filled = 0;

  let uploadId: string | undefined;
  let partNumber = 0;
  let stored = 0;
  let failure: unknown;
  const done: { PartNumber: number; ETag: string }[] = [];
  const inFlight = new Set<Promise<void>>();

  const fail = (err: unknown) => {
    failure ??= err;
    abort.abort();
  };

  /** Sends a part; the buffer is the part's from here on (given back once its request settles). */
  const sendPart = async (buffer: Buffer, length: number, pooled: boolean) => {
    try {
      if (failure !== undefined) throw failure;
      if (uploadId === undefined) {
        const created = await client.send(
          new CreateMultipartUploadCommand({ ...base, ...put.create, ...put.every }),
        );
        if (!created.UploadId) throw new Error("S3 answered CreateMultipartUpload without an UploadId.");
        uploadId = created.UploadId;
      }
      if (partNumber === MAX_PARTS) {
        throw new StorageError(
          "TOO_LARGE",
          `The object needs more than ${MAX_PARTS} parts of ${partSize} bytes, S3's limit for one object.`,
          { bucket: put.bucket, key: put.key },
        );
      }
    } catch (err) {
      if (pooled) buffers.give(buffer);
      throw err;
    }
    const n = ++partNumber;
    const request = client
      .send(
        new UploadPartCommand({
          ...base,
          ...put.every,
          UploadId: uploadId,
          PartNumber: n,
          Body: buffer.subarray(0, length),
          ContentLength: length,
        }),
        partOptions,
      )
      .then((out) => {
        done.push({ PartNumber: n, ETag: out.ETag ?? "" });
        stored += length;
        options.onProgress?.(stored);
      }, fail);
    const settled = request.finally(() => {
      inFlight.delete(settled);
      // The request has settled (sent and answered, or torn down): no view of the buffer remains.
      if (pooled) buffers.give(buffer);
    });
    inFlight.add(settled);
  };

  /**
   * Copies a chunk into pooled part buffers, sending each one that fills while more is coming. At
   * most queueSize part buffers are held (in flight and filling): the body waits for a part to settle.
   */
  const absorb = async (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (current === undefined || filled === partSize) {
        if (current !== undefined) {
          const full = current;
          current = undefined;
          await sendPart(full, partSize, true);
        }
        while (inFlight.size >= queueSize && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) throw failure;
        current = buffers.take();
        filled = 0;
      }
      const copied = chunk.copy(current, filled, at);
      filled += copied;
      at += copied;
    }
  };

  try {
    for await (const chunk of body) {
      if (failure !== undefined) throw failure;
      if (chunk.length === 0) continue;
      if (!multipart) {
        gathered.push(chunk);
        gatheredBytes += chunk.length;
        if (gatheredBytes <= partSize) continue;
        // Past one part: a multipart upload. Part 1 is the first partSize bytes gathered, as they are.
        const first = gathered.length === 1 ? chunk : Buffer.concat(gathered, gatheredBytes);
        gathered = [];
        gatheredBytes = 0;
        multipart = true;
        await sendPart(first, partSize, false);
        await absorb(first.subarray(partSize));
        continue;
      }
      await absorb(chunk);
    }
    if (!multipart) {
      // One part or less: a single PutObject, conditional if asked.
      const whole = gathered.length === 1 ? (gathered[0] as Buffer) : Buffer.concat(gathered, gatheredBytes);
      const out = await client.send(
        new PutObjectCommand({
          ...base,
          ...put.create,
          ...put.every,
          ...put.visible,
          Body: whole,
          ContentLength: whole.length,
        }),
      );
      options.onProgress?.(whole.length);
      return { ETag: out.ETag, VersionId: out.VersionId };
    }
    if (current !== undefined) {
      const last = current;
      current = undefined;
      await sendPart(last, filled, true);
    }
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    done.sort((a, b) => a.PartNumber - b.PartNumber);
    const out = await client.send(
      new CompleteMultipartUploadCommand({
        ...base,
        ...put.every,
        ...put.visible,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
      }),
    );
    return { ETag: out.ETag, VersionId: out.VersionId };
  } catch (err) {
    fail(err);
    await Promise.allSettled(inFlight);
    if (current !== undefined) buffers.give(current);
    if (uploadId !== undefined) {
      // Not under the aborted signal: this request must still go out.
      await client
        .send(new AbortMultipartUploadCommand({ ...base, UploadId: uploadId }))
        .catch(() => undefined);
    }
    throw failure;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
