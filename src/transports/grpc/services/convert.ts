import type { ObjectInfo, ObjectSummary } from "../../../core/types.ts";
import type { Timestamp } from "../generated/google/protobuf/Timestamp.ts";
import type { FileInfo } from "../generated/lumenslate/storage/v1/FileInfo.ts";
import type { UploadFileResponse } from "../generated/lumenslate/storage/v1/UploadFileResponse.ts";

/** Core results → API messages. */

export const timestamp = (date: Date): Timestamp => {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
};

export const fileInfo = (info: ObjectInfo): FileInfo => ({
  bucket: info.bucket,
  objectName: info.key,
  versionId: info.versionId,
  size: info.size,
  etag: info.etag,
  sha256: info.sha256 ?? "",
  contentType: info.contentType,
  metadata: info.metadata,
  lastModified: timestamp(info.lastModified),
});

export const summaryInfo = (bucket: string, o: ObjectSummary): FileInfo => ({
  bucket,
  objectName: o.key,
  versionId: o.versionId,
  size: o.size,
  etag: o.etag,
  sha256: o.sha256,
  contentType: o.contentType,
  lastModified: timestamp(o.lastModified),
});

/** The seed's UploadFileResponse fields plus sha256, version id and content type (also CopyFile's). */
export const writeResponse = (info: ObjectInfo, message: string): UploadFileResponse => ({
  success: true,
  message,
  objectName: info.key,
  bucket: info.bucket,
  size: info.size,
  etag: info.etag,
  sha256: info.sha256 ?? "",
  versionId: info.versionId,
  contentType: info.contentType,
});
