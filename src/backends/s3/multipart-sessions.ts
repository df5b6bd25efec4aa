import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { isStorageError, type StorageError } from "../../errors.ts";
import {
  type MultipartSessions,
  NULL_VERSION,
  type PresignedPart,
  type PutResult,
  type StoredPart,
} from "../object-store.ts";
import { tlsFailure } from "./client.ts";
import { fromS3Error } from "./errors.ts";

type Target = { bucket: string; key: string; uploadId: string };

const CHECKSUM_HEADER = "x-amz-checksum-sha256";

const failure = (err: unknown, target: { bucket: string; key: string }): StorageError =>
  tlsFailure(err) ?? fromS3Error(err, target);

/**
 * MultipartSessions over S3 with SHA256 checksums. The upload is created with ChecksumAlgorithm
 * SHA256, so the store demands each part's sha256 and checks the body against it; the header is
 * kept out of the query string ("unhoistable") so it is a signed header the client must send as
 * is: a URL for one part's bytes cannot be used for other bytes.
 */
export class S3MultipartSessions implements MultipartSessions {
  readonly #client: S3Client;

  constructor(client: S3Client) {
    this.#client = client;
  }

  async create(
    bucket: string,
    key: string,
    options: { contentType: string; metadata: Record<string, string> },
  ): Promise<string> {
    const out = await this.#client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: options.contentType,
          Metadata: options.metadata,
          ChecksumAlgorithm: "SHA256",
        }),
      )
      .catch((err: unknown) => {
        throw failure(err, { bucket, key });
      });
    if (!out.UploadId) throw failure(new Error("the store returned no upload id"), { bucket, key });
    return out.UploadId;
  }

  async presignPart(
    target: Target,
    part: { partNumber: number; sha256: string },
    expiresInSeconds: number,
  ): Promise<PresignedPart> {
    const command = new UploadPartCommand({
      Bucket: target.bucket,
      Key: target.key,
      UploadId: target.uploadId,
      PartNumber: part.partNumber,
      ChecksumSHA256: part.sha256,
    });
    try {
      const url = await getSignedUrl(this.#client, command, {
        expiresIn: expiresInSeconds,
        unhoistableHeaders: new Set([CHECKSUM_HEADER]),
      });
      return { url, headers: { [CHECKSUM_HEADER]: part.sha256 } };
    } catch (err) {
      throw failure(err, target);
    }
  }

  async listParts(target: Target): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    do {
      const out = await this.#client
        .send(
          new ListPartsCommand({
            Bucket: target.bucket,
            Key: target.key,
            UploadId: target.uploadId,
            PartNumberMarker: marker,
          }),
        )
        .catch((err: unknown) => {
          throw failure(err, target);
        });
      for (const p of out.Parts ?? []) {
        if (p.PartNumber === undefined || !p.ETag) continue;
        parts.push({
          partNumber: p.PartNumber,
          size: p.Size ?? 0,
          etag: p.ETag,
          ...(p.ChecksumSHA256 ? { checksumSha256: p.ChecksumSHA256 } : {}),
        });
      }
      marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
    } while (marker);
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async complete(target: Target, parts: StoredPart[]): Promise<PutResult> {
    const out = await this.#client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: target.uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({
              PartNumber: p.partNumber,
              ETag: p.etag,
              ...(p.checksumSha256 ? { ChecksumSHA256: p.checksumSha256 } : {}),
            })),
          },
        }),
      )
      .catch((err: unknown) => {
        throw failure(err, target);
      });
    return { etag: out.ETag ?? "", versionId: out.VersionId ?? NULL_VERSION };
  }

  async abort(target: Target): Promise<void> {
    await this.#client
      .send(
        new AbortMultipartUploadCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: target.uploadId,
        }),
      )
      .catch((err: unknown) => {
        const mapped = failure(err, target);
        if (!(isStorageError(mapped) && mapped.code === "NOT_FOUND")) throw mapped;
      });
  }
}
