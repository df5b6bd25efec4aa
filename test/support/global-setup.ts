import type { TestProject } from "vitest/node";
import { startMinio } from "./minio.ts";

/** What integration tests get from `inject("minio")`: the shared server, one per test run. */
export interface SharedMinio {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    minio: SharedMinio;
  }
}

/**
 * Vitest globalSetup for the integration project: one MinIO shared by every suite (suites keep
 * apart by bucket prefix, see config.ts). Runs only when an integration test is queued.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startMinio();
  project.provide("minio", {
    endpoint: server.endpoint,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
  });
  return async () => {
    await server.stop();
    await server.destroy(); // removes the temp data dir and log
  };
}
