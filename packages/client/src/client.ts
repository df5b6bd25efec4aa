import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { type CallSetup, downloadCall, type UploadBody, unaryCall, uploadCall } from "./calls.ts";
import { announced, fileSha256, sha256Of } from "./checksums.ts";
import { setCustomerKeyMetadata, storageProto } from "./definition.ts";
import {
  DEFAULT_DIRECT_THRESHOLD,
  type DirectSettings,
  directFail,
  downloadPresigned,
  fallsBack,
  transferPlan,
} from "./direct.ts";
import { toClientError } from "./errors.ts";
import { type SessionCalls, uploadDirect } from "./generated/direct/upload.ts";
import type { FileInfo__Output } from "./generated/lumenslate/storage/v1/FileInfo.ts";
import type { GetFileUrlResponse__Output } from "./generated/lumenslate/storage/v1/GetFileUrlResponse.ts";
import type { ListFilesResponse__Output } from "./generated/lumenslate/storage/v1/ListFilesResponse.ts";
import type { StatFileResponse__Output } from "./generated/lumenslate/storage/v1/StatFileResponse.ts";
import type { StorageServiceClient } from "./generated/lumenslate/storage/v1/StorageService.ts";
import type { UploadSession__Output } from "./generated/lumenslate/storage/v1/UploadSession.ts";
import type { UploadSessionServiceClient } from "./generated/lumenslate/storage/v1/UploadSessionService.ts";
import { AUTHORIZATION_KEY, REQUEST_ID_KEY, USER_ID_KEY } from "./generated/protocol.ts";
import { type RetryOptions, RetryPolicy, retrying } from "./retry.ts";
import type {
  CallOptions,
  CopyResult,
  CustomerKeyOption,
  DeleteResult,
  DownloadOptions,
  DownloadResult,
  FileInfo,
  ListOptions,
  ListPage,
  ObjectRef,
  PresignedUrl,
  StatOptions,
  Transfer,
  UploadOptions,
  UploadResult,
  UrlOptions,
} from "./types.ts";

/** TLS to the server (PEM as Buffers or strings). */
export interface ClientTls {
  /** CA the server's certificate must chain to; omit to trust the system's roots. */
  ca?: Buffer | string;
  /** Client certificate and its key, for a server that requires client certificates. */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** The name the server's certificate must carry, when it is not the host in the address. */
  serverName?: string;
}

export interface ConnectOptions {
  /** The API key (`lss_...`), sent as `authorization: Bearer <token>` with every call. */
  token?: string;
  /** Sent as `x-user-id` with every call (binds `{user_id}` in the key's scopes); a call's own wins. */
  userId?: string;
  /** Connect over TLS. Default: plaintext (inside the cluster; TLS ends at the mesh or proxy). */
  tls?: ClientTls;
  /** Any other channel credentials (instead of `tls`). */
  credentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
  /** Metadata sent with every call. */
  metadata?: Record<string, string>;
  /**
   * Deadline for unary calls without their own `timeoutMs` (default 30 s); streams have none by
   * default. A deadline covers every attempt of a call, retries and their waits included.
   */
  timeoutMs?: number;
  /**
   * Retries of failures that say "try later" (UNAVAILABLE, RATE_LIMITED, OVERLOADED), for calls
   * that can be replayed; default 5 attempts with exponential backoff and full jitter, honouring
   * the service's retry-after. `{ maxAttempts: 1 }` turns retries off. See RetryPolicy.
   */
  retry?: RetryPolicy | RetryOptions;
  /** Upload message size (default 1 MiB; must stay below the server's GRPC_MAX_MESSAGE_SIZE, 4 MiB by default). */
  chunkSize?: number;
  /** How uploadFile and downloadToFile move files (default "auto"); a call's own `transfer` wins. See Transfer. */
  transfer?: Transfer;
  /** Size from which "auto" moves a file straight to or from the object store (default 64 MiB). */
  directThreshold?: number;
  /** Parts in flight at once in a direct upload (default 4). */
  directConcurrency?: number;
}

const MiB = 1024 * 1024;

/** `signal`, also aborted after `timeoutMs` (a direct transfer is many calls under one deadline). */
const timeoutSignal = (signal: AbortSignal | undefined, timeoutMs: number | undefined) =>
  timeoutMs === undefined
    ? signal
    : signal
      ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);

const pem = (value: Buffer | string | undefined) =>
  value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);

/** Channel credentials and options for the connect options' TLS settings. */
function channelSecurity(options: ConnectOptions): {
  credentials: ChannelCredentials;
  channel: ChannelOptions;
} {
  const { tls } = options;
  if (!tls) return { credentials: options.credentials ?? grpcCredentials.createInsecure(), channel: {} };
  if (options.credentials) throw new TypeError("Pass either `tls` or `credentials`, not both.");
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("A client certificate needs its key (`tls.cert` and `tls.key` together).");
  }
  return {
    credentials: grpcCredentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert)),
    channel: tls.serverName
      ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName }
      : {},
  };
}

/** A call's shared settings: its metadata, deadline and signal hold for every attempt. */
interface Call extends CallSetup {
  deadline: number | undefined;
}

const toDate = (ts: { seconds: number; nanos: number } | null | undefined): Date =>
  new Date(ts ? ts.seconds * 1000 + Math.floor(ts.nanos / 1e6) : 0);

const toFileInfo = (file: FileInfo__Output | null | undefined): FileInfo => {
  if (!file) throw toClientError(new Error("The server sent no file info."));
  return { ...file, lastModified: toDate(file.lastModified) };
};

/**
 * Typed client for lumenslate.storage.v1.StorageService. Every method rejects with
 * StorageClientError, whose `code` is the service's stable error code.
 */
export class StorageClient {
  /** The generated grpc-js client, for anything the helpers do not cover. */
  readonly raw: StorageServiceClient;
  /** UploadSessionService on the same channel, for direct uploads. */
  readonly #sessions: UploadSessionServiceClient;
  readonly #options: ConnectOptions;
  readonly #chunkSize: number;
  readonly #retry: RetryPolicy;
  /** Kept private so the client never prints it (inspect, JSON, errors). */
  readonly #authorization: string | undefined;

  constructor(address: string, options: ConnectOptions = {}) {
    const Client = storageProto().lumenslate.storage.v1.StorageService;
    const security = channelSecurity(options);
    this.raw = new Client(address, security.credentials, {
      "grpc.max_receive_message_length": 64 * MiB,
      // HTTP/2's default 64 KiB receive window stalls large downloads on every WINDOW_UPDATE round
      // trip; a few MiB keeps the server sending while bounding what one call can buffer here.
      "grpc-node.flow_control_window": 8 * MiB,
      // After the service restarts, reconnect within seconds (retries are waiting) rather than
      // grpc's default backoff of up to 2 minutes.
      "grpc.max_reconnect_backoff_ms": 5_000,
      ...security.channel,
      ...options.channelOptions,
    });
    const Sessions = storageProto().lumenslate.storage.v1.UploadSessionService;
    this.#sessions = new Sessions(address, security.credentials, { channelOverride: this.raw.getChannel() });
    const { token, ...rest } = options;
    this.#options = rest;
    this.#authorization = token === undefined ? undefined : `Bearer ${token}`;
    this.#chunkSize = options.chunkSize ?? MiB;
    this.#retry = options.retry instanceof RetryPolicy ? options.retry : new RetryPolicy(options.retry);
  }

  /** Resolves once the channel is connected (or rejects after `timeoutMs`). */
  ready(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raw.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(toClientError(err)) : resolve()));
    });
  }

  close(): void {
    this.#sessions.close();
    this.raw.close();
  }

  #direct(options: { transfer?: Transfer | undefined }): DirectSettings {
    return {
      transfer: options.transfer ?? this.#options.transfer ?? "auto",
      threshold: this.#options.directThreshold ?? DEFAULT_DIRECT_THRESHOLD,
    };
  }

  #setup(options: CallOptions & CustomerKeyOption, stream: boolean): Call {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(this.#options.metadata ?? {})) metadata.set(key, value);
    if (this.#authorization) metadata.set(AUTHORIZATION_KEY, this.#authorization);
    const userId = options.userId ?? this.#options.userId;
    if (userId !== undefined) metadata.set(USER_ID_KEY, userId);
    // One id for every attempt, so the server's logs show a retried call as one.
    metadata.set(REQUEST_ID_KEY, options.requestId || randomUUID());
    // After the connect-level metadata, so a call's own key wins.
    if (options.sseCustomerKey) setCustomerKeyMetadata(metadata, options.sseCustomerKey);
    const timeoutMs = options.timeoutMs ?? (stream ? undefined : (this.#options.timeoutMs ?? 30_000));
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    return {
      metadata,
      options: deadline === undefined ? {} : { deadline },
      signal: options.signal,
      deadline,
    };
  }

  /** Runs `attempt` (given a fresh copy of the call's metadata each time) under the retry policy. */
  #retrying<T>(
    method: string,
    call: Call,
    canRetry: () => boolean,
    attempt: (setup: CallSetup) => Promise<T>,
  ) {
    const scope = { canRetry, deadline: call.deadline, signal: call.signal };
    return retrying(method, this.#retry, scope, () => attempt({ ...call, metadata: call.metadata.clone() }));
  }

  /**
   * Streams `body` to bucket/objectName; resolves when the object is stored and indexed. A Buffer
   * or string goes through uploadBytes (size and sha256 announced, sent again on a retryable
   * failure); a stream or iterable is read once, so its upload is never retried, and announces
   * only the `expectedSize` and `sha256` given.
   */
  upload(body: UploadBody, options: UploadOptions): Promise<UploadResult> {
    if (typeof body === "string" || body instanceof Uint8Array) return this.uploadBytes(body, options);
    return this.#upload(() => body, false, options);
  }

  /**
   * Stores `data` (a string as UTF-8) with its size and sha256 announced (computed here unless
   * given, or `checksum: false`), so the service stores it only if every byte arrived as sent.
   * Retried from the start on a retryable failure.
   */
  uploadBytes(data: Uint8Array | string, options: UploadOptions): Promise<UploadResult> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    return this.#upload(
      () => bytes,
      true,
      announced(options, bytes.length, () => sha256Of(bytes)),
    );
  }

  /** `open` gives the bytes for each attempt; `replayable` says whether a second attempt may run. */
  #upload(open: () => UploadBody, replayable: boolean, options: UploadOptions): Promise<UploadResult> {
    const header = {
      bucket: options.bucket,
      objectName: options.objectName,
      contentType: options.contentType ?? "",
      metadata: options.metadata ?? {},
      ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
      ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}),
    };
    return this.#retrying(
      "UploadFile",
      this.#setup(options, true),
      () => replayable,
      (setup) => uploadCall(this.raw, open(), header, setup, this.#chunkSize, options.onProgress),
    );
  }

  /** upload() from a Node Readable (alias, for symmetry with downloadStream). */
  uploadStream(readable: Readable, options: UploadOptions): Promise<UploadResult> {
    return this.upload(readable, options);
  }

  /**
   * Streams a local file up with its size and sha256 announced: the sha256 is computed first, in
   * a streaming pass over the file, unless given (or `checksum: false`), so the service stores the
   * file only if every byte arrived as read (a file changed meanwhile is refused). Retried from
   * the start of the file on a retryable failure.
   */
  async uploadFile(path: string, options: UploadOptions): Promise<UploadResult> {
    const { size } = await stat(path);
    const plan = transferPlan(this.#direct(options), size, options);
    if (plan !== "proxy") {
      try {
        return await this.#uploadDirect(path, size, options);
      } catch (err) {
        if (plan === "direct" || !fallsBack(err)) throw toClientError(err);
      }
    }
    const sha256 = options.sha256 ?? (options.checksum === false ? undefined : await fileSha256(path));
    const open = () => createReadStream(path, { highWaterMark: this.#chunkSize });
    return this.#upload(
      open,
      true,
      announced(options, size, () => sha256),
    );
  }

  /**
   * uploadFile straight to the object store: an upload session whose parts are PUT to presigned
   * URLs; the service completes it (checks the whole sha256, writes the index row once).
   */
  async #uploadDirect(path: string, size: number, options: UploadOptions): Promise<UploadResult> {
    if (options.expectedSize !== undefined && options.expectedSize !== size) {
      throw directFail(
        "PRECONDITION_FAILED",
        `The file has ${size} bytes, not the announced ${options.expectedSize}; nothing was stored.`,
        { field: "expectedSize" },
      );
    }
    const call = { signal: options.signal, userId: options.userId, requestId: options.requestId };
    const signal = timeoutSignal(options.signal, options.timeoutMs);
    const calls: SessionCalls<FileInfo__Output> = {
      create: (req) =>
        this.#unary<UploadSession__Output>("CreateUploadSession", { ...call, signal }, (s, cb) =>
          this.#sessions.createUploadSession(
            {
              bucket: options.bucket,
              objectName: options.objectName,
              contentType: options.contentType ?? "",
              metadata: options.metadata ?? {},
              ...req,
            },
            s.metadata,
            s.options,
            cb,
          ),
        ),
      partUrls: async (id, parts) =>
        (
          await this.#unary<{
            parts: { partNumber: number; url: string; headers: Record<string, string> }[];
          }>("GetUploadPartUrls", { ...call, signal }, (s, cb) =>
            this.#sessions.getUploadPartUrls({ id, parts }, s.metadata, s.options, cb),
          )
        ).parts,
      // Completion reads the object back to verify it: allow a minute plus a second per 10 MiB.
      complete: (id) =>
        this.#unary<FileInfo__Output>(
          "CompleteUploadSession",
          { ...call, signal, timeoutMs: 60_000 + Math.ceil(size / (10 * MiB)) * 1000 },
          (s, cb) => this.#sessions.completeUploadSession({ id }, s.metadata, s.options, cb),
        ),
      abort: async (id) => {
        await this.#unary("AbortUploadSession", call, (s, cb) =>
          this.#sessions.abortUploadSession({ id }, s.metadata, s.options, cb),
        );
      },
    };
    const file = await uploadDirect(path, calls, {
      concurrency: this.#options.directConcurrency,
      sha256: options.sha256,
      signal,
      onProgress: options.onProgress,
      fail: directFail,
    });
    return {
      success: true,
      message: "uploaded directly to the object store",
      objectName: file.objectName,
      bucket: file.bucket,
      size: file.size,
      etag: file.etag,
      sha256: file.sha256,
      versionId: file.versionId,
      contentType: file.contentType,
    };
  }

  /** One DownloadFile call, resolved once its header arrives. */
  async #download(options: DownloadOptions, setup: CallSetup): Promise<DownloadResult> {
    const request = {
      bucket: options.bucket,
      objectName: options.objectName,
      ...(options.versionId !== undefined ? { versionId: options.versionId } : {}),
      ...(options.range ? { range: options.range } : {}),
    };
    const { header, stream } = await downloadCall(this.raw, request, setup, {
      verify: options.verify !== false,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const range = header.range;
    return {
      file: toFileInfo(header.file),
      contentLength: header.contentLength,
      ...(range ? { range: { start: range.start, end: range.end ?? range.start } } : {}),
      stream,
    };
  }

  /**
   * Starts a download and resolves with the header and a Readable of the bytes once the header
   * arrives. Reading slowly slows the server; destroying the stream cancels the call. Retried
   * only until the header arrives: once the stream is yours, a failure is the stream's error.
   * A full read is checked against the sha256 the service recorded unless `verify: false`: on a
   * mismatch the stream ends with DataCorruptedError after its last bytes, so discard what it gave.
   */
  downloadStream(options: DownloadOptions): Promise<DownloadResult> {
    const call = this.#setup(options, true);
    return this.#retrying(
      "DownloadFile",
      call,
      () => true,
      (setup) => this.#download(options, setup),
    );
  }

  /**
   * Downloads to `path` atomically: a temp file beside it is renamed only after a complete read
   * whose sha256 matches the one the service recorded (unless `verify: false`); on any failure,
   * DataCorruptedError included, no file is left. A retryable failure, even mid-stream, starts
   * the download again into an emptied temp file.
   */
  async downloadToFile(path: string, options: DownloadOptions): Promise<FileInfo> {
    const temp = `${path}.partial-${randomBytes(6).toString("hex")}`;
    const settings = this.#direct(options);
    const plan = transferPlan(settings, Number.POSITIVE_INFINITY, options);
    if (plan === "direct") return (await this.#downloadDirect(path, temp, options, settings)) as FileInfo;
    const call = this.#setup(options, true);
    let large: FileInfo | undefined;
    try {
      const file = await this.#retrying(
        "DownloadFile",
        call,
        () => true,
        async (setup) => {
          const download = await this.#download(options, setup);
          // "auto" learns the size from the header (no extra call for small files); a large
          // file's call is cancelled before it carries much, and the store serves it instead.
          if (plan === "auto" && download.file.size >= settings.threshold) {
            download.stream.destroy();
            large = download.file;
            return download.file;
          }
          try {
            await pipeline(download.stream, createWriteStream(temp)); // "w": truncates a failed attempt's bytes
          } catch (err) {
            download.stream.destroy();
            throw err;
          }
          return download.file;
        },
      );
      if (!large) {
        await rename(temp, path);
        return file;
      }
    } catch (err) {
      await rm(temp, { force: true });
      throw toClientError(err);
    }
    const direct = await this.#downloadDirect(path, temp, options, settings, large);
    return direct ?? this.downloadToFile(path, { ...options, transfer: "proxy" });
  }

  /**
   * downloadToFile from a presigned GET for the version `known` names (or StatFile reports),
   * verified against its recorded sha256. Undefined when "auto" should go through the service
   * instead, after a failure that falls back (see fallsBack).
   */
  async #downloadDirect(
    path: string,
    temp: string,
    options: DownloadOptions,
    settings: DirectSettings,
    known?: FileInfo,
  ): Promise<FileInfo | undefined> {
    const call = { signal: options.signal, userId: options.userId, requestId: options.requestId };
    const ref = { bucket: options.bucket, objectName: options.objectName };
    try {
      const file =
        known ??
        (await this.stat({ ...ref, ...(options.versionId ? { versionId: options.versionId } : {}) }, call));
      // "null" is the version of an object written before versioning: the URL needs none.
      const versionId = file.versionId && file.versionId !== "null" ? { versionId: file.versionId } : {};
      const url = await this.presign({ ...ref, ...versionId, ...call });
      await downloadPresigned(url.url, temp, file, {
        verify: options.verify !== false,
        signal: timeoutSignal(options.signal, options.timeoutMs),
        onProgress: options.onProgress,
      });
      await rename(temp, path);
      return file;
    } catch (err) {
      await rm(temp, { force: true });
      if (settings.transfer === "direct" || !fallsBack(err)) throw toClientError(err);
      return undefined;
    }
  }

  /**
   * The object's bytes (or the range's) in memory, verified like downloadToFile. Retried from the
   * start on a retryable failure, even mid-stream.
   */
  downloadBytes(options: DownloadOptions): Promise<Buffer> {
    return this.#retrying(
      "DownloadFile",
      this.#setup(options, true),
      () => true,
      async (setup) => {
        const download = await this.#download(options, setup);
        return Buffer.concat((await download.stream.toArray()) as Buffer[]);
      },
    );
  }

  /** A unary call with this client's metadata and default deadline; every unary call can be replayed. */
  #unary<Res>(
    method: string,
    options: CallOptions & CustomerKeyOption,
    start: (setup: CallSetup, callback: (err: ServiceError | null, res?: Res) => void) => { cancel(): void },
  ): Promise<Res> {
    return this.#retrying(
      method,
      this.#setup(options, false),
      () => true,
      (setup) => unaryCall<Res>((callback) => start(setup, callback), setup.signal),
    );
  }

  async stat(ref: ObjectRef, options: StatOptions = {}): Promise<FileInfo> {
    const res = await this.#unary<StatFileResponse__Output>("StatFile", options, (s, cb) =>
      this.raw.statFile(ref, s.metadata, s.options, cb),
    );
    return toFileInfo(res.file);
  }

  delete(ref: ObjectRef, options: CallOptions = {}): Promise<DeleteResult> {
    return this.#unary<DeleteResult>("DeleteFile", options, (s, cb) =>
      this.raw.deleteFile(ref, s.metadata, s.options, cb),
    );
  }

  async list(options: ListOptions): Promise<ListPage> {
    const request = {
      bucket: options.bucket,
      prefix: options.prefix ?? "",
      recursive: options.recursive ?? false,
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
    };
    const res = await this.#unary<ListFilesResponse__Output>("ListFiles", options, (s, cb) =>
      this.raw.listFiles(request, s.metadata, s.options, cb),
    );
    return {
      files: res.files.map(toFileInfo),
      prefixes: res.prefixes,
      ...(res.nextPageToken ? { nextPageToken: res.nextPageToken } : {}),
    };
  }

  /** Every object under the prefix, page after page. */
  async *listAll(options: Omit<ListOptions, "pageToken">): AsyncGenerator<FileInfo> {
    let pageToken: string | undefined;
    do {
      const page = await this.list({ ...options, ...(pageToken ? { pageToken } : {}) });
      yield* page.files;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /**
   * A presigned URL for a plain HTTP GET (or PUT, with the `contentType` the uploader must send),
   * valid for `expiresInSeconds` (default: the service's).
   */
  async presign(options: UrlOptions): Promise<PresignedUrl> {
    const request = {
      bucket: options.bucket,
      objectName: options.objectName,
      method: options.method === "PUT" ? ("URL_METHOD_PUT" as const) : ("URL_METHOD_GET" as const),
      ...(options.expiresInSeconds !== undefined ? { expiresInSeconds: options.expiresInSeconds } : {}),
      ...(options.versionId !== undefined ? { versionId: options.versionId } : {}),
      ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
    };
    const res = await this.#unary<GetFileUrlResponse__Output>("GetFileUrl", options, (s, cb) =>
      this.raw.getFileUrl(request, s.metadata, s.options, cb),
    );
    return {
      url: res.url,
      method: res.method === "URL_METHOD_PUT" ? "PUT" : "GET",
      expiresAt: toDate(res.expiresAt),
    };
  }

  /** presign() under the name of the gRPC method (GetFileUrl); kept for existing callers. */
  getUrl(options: UrlOptions): Promise<PresignedUrl> {
    return this.presign(options);
  }

  copy(
    source: ObjectRef,
    target: Omit<ObjectRef, "versionId">,
    options: CallOptions = {},
  ): Promise<CopyResult> {
    const request = {
      sourceBucket: source.bucket,
      sourceObjectName: source.objectName,
      ...(source.versionId !== undefined ? { sourceVersionId: source.versionId } : {}),
      targetBucket: target.bucket,
      targetObjectName: target.objectName,
    };
    return this.#unary<CopyResult>("CopyFile", options, (s, cb) =>
      this.raw.copyFile(request, s.metadata, s.options, cb),
    );
  }
}

/** A client for the storage service at `address` ("host:port"). The channel connects lazily. */
export function connect(address: string, options: ConnectOptions = {}): StorageClient {
  return new StorageClient(address, options);
}
