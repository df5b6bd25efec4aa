import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { StorageError } from "../errors.ts";

/**
 * MinIO's own view of its cluster, for readiness. S3 calls cannot tell a healthy cluster from one
 * that serves on its last margin; MinIO's unauthenticated health API can:
 *
 * - `GET /minio/health/cluster`: 200 while the cluster has write quorum, 503 when it lost it.
 * - `GET /minio/health/cluster?maintenance=true`: the same question with the answering node's own
 *   drives counted as gone; 412 means "take this node away and writes stop". On an erasure-coded
 *   cluster that could lose a node before, that is the cluster running degraded (a node or drives
 *   down, redundancy used up).
 *
 * A single-drive MinIO (write quorum 1, in the `x-minio-write-quorum` header) never has a node to
 * spare, so its 412 means nothing and it is always "ok". MinIO-only: S3 and GCS have no such API.
 */

export type ClusterHealth = "ok" | "degraded";

export interface MinioHealthOptions {
  /** http(s)://host:port of the MinIO server (the S3 endpoint). */
  endpoint: string;
  /** PEM CA bundle for a MinIO on TLS with a private CA. */
  ca?: Buffer;
}

interface Answer {
  status: number;
  writeQuorum: number | undefined;
}

export class MinioHealth {
  readonly #base: URL;
  readonly #ca: Buffer | undefined;

  constructor(options: MinioHealthOptions) {
    this.#base = new URL(options.endpoint);
    this.#ca = options.ca;
  }

  /**
   * "ok" or "degraded" while the cluster can take writes; UNAVAILABLE once it lost write quorum.
   * A health API that does not answer as MinIO's does (a proxy that forwards S3 paths only) says
   * nothing either way: "ok", since the S3 ping decides reachability.
   */
  async check(signal?: AbortSignal): Promise<ClusterHealth> {
    const cluster = await this.#get("/minio/health/cluster", signal);
    if (cluster.status === 503) {
      throw new StorageError("UNAVAILABLE", "The object store cluster has lost write quorum.");
    }
    if (cluster.status !== 200 || cluster.writeQuorum === undefined || cluster.writeQuorum <= 1) return "ok";
    const maintenance = await this.#get("/minio/health/cluster?maintenance=true", signal);
    return maintenance.status === 412 ? "degraded" : "ok";
  }

  #get(path: string, signal: AbortSignal | undefined): Promise<Answer> {
    const url = new URL(path, this.#base);
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: "GET", ...(signal ? { signal } : {}), ...(this.#ca ? { ca: this.#ca } : {}) },
        (res) => {
          res.resume(); // no body worth reading; free the socket
          const quorum = Number(res.headers["x-minio-write-quorum"]);
          resolve({
            status: res.statusCode ?? 0,
            writeQuorum: Number.isInteger(quorum) ? quorum : undefined,
          });
        },
      );
      req.once("error", (err) =>
        reject(new StorageError("UNAVAILABLE", "The object store could not be reached.", {}, { cause: err })),
      );
      req.end();
    });
  }
}
