/**
 * The TypeScript client for the lumenslate-storage gRPC API (@lumenslate/storage-client).
 *
 *   const storage = connect("localhost:50051", { token: process.env.STORAGE_API_KEY });
 *   await storage.uploadFile("./model.bin", { bucket: "model-artifacts", objectName: "m/v1/model.bin" });
 *   const { stream } = await storage.downloadStream({ bucket: "model-artifacts", objectName: "m/v1/model.bin" });
 *
 * Uploads of Buffers, strings and files announce their size and sha256; full downloads are checked
 * against the recorded sha256 (DataCorruptedError) unless `verify: false`. Calls that can be
 * replayed are retried on UNAVAILABLE, RATE_LIMITED and OVERLOADED (RetryPolicy).
 */
export type { UploadBody } from "./calls.ts";
export { type ClientTls, type ConnectOptions, connect, StorageClient } from "./client.ts";
export {
  AlreadyExistsError,
  CancelledError,
  DataCorruptedError,
  DeadlineExceededError,
  ERROR_CODES,
  type ErrorCode,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  PreconditionFailedError,
  RangeNotSatisfiableError,
  RateLimitedError,
  RETRYABLE_CODES,
  StorageClientError,
  TooLargeError,
  toClientError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedOperationError,
  UnsupportedTypeError,
} from "./errors.ts";
export { type RetryEvent, type RetryOptions, RetryPolicy } from "./retry.ts";
export type * from "./types.ts";
