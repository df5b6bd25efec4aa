import type { StorageService } from "../../src/core/storage-service.ts";
import type { UploadRequest } from "../../src/core/types.ts";

/** What the server-side service did with the uploads of one key (see watchUpload). */
export interface UploadWatch {
  /** The transport handed the upload to the service: the request is in flight on the server. */
  started: Promise<UploadRequest>;
  /** How the service's upload ended. */
  settled: Promise<"stored" | "failed">;
  /** Puts the service's own upload back. */
  restore(): void;
}

/**
 * Server-side events for tests that must act at a known point of an upload (shut down while it
 * runs, cancel once its bytes have arrived) instead of sleeping and hoping the server got there.
 * Wraps `service.upload` (both transports call it on the shared service) for uploads of `key`;
 * the request and its body stream pass through untouched.
 */
export function watchUpload(service: StorageService, key: string): UploadWatch {
  const original = service.upload;
  let start!: (req: UploadRequest) => void;
  let settle!: (outcome: "stored" | "failed") => void;
  const started = new Promise<UploadRequest>((resolve) => {
    start = resolve;
  });
  const settled = new Promise<"stored" | "failed">((resolve) => {
    settle = resolve;
  });
  service.upload = async function (this: StorageService, req: UploadRequest) {
    if (req.key !== key) return original.call(this, req);
    start(req);
    try {
      const info = await original.call(this, req);
      settle("stored");
      return info;
    } catch (err) {
      settle("failed");
      throw err;
    }
  };
  const restore = () => {
    service.upload = original;
  };
  return { started, settled, restore };
}
