import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type AppContext, createApp } from "../../src/app.ts";
import { testConfig } from "./config.ts";

export interface TestApp extends AppContext {
  /** Closes the app and removes its temp dirs. */
  dispose(): Promise<void>;
}

/**
 * A fully wired app for an integration test, with its buckets bootstrapped.
 * backend "minio" uses the shared test MinIO; "local" a fresh temp directory. Both use PostgreSQL
 * when DATABASE_URL is set (CI), else an in-memory PGlite.
 */
export async function createTestApp(
  backend: "minio" | "local" = "minio",
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const root = backend === "local" ? await mkdtemp(join(tmpdir(), "lumenslate-local-")) : undefined;
  const config = testConfig({
    ...(backend === "local" ? { STORAGE_BACKEND: "local", STORAGE_LOCAL_ROOT: root as string } : {}),
    ...overrides,
  });
  const app = await createApp(config, pino({ level: "silent" }));
  await app.bootstrap();
  return {
    ...app,
    dispose: async () => {
      await app.close();
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}
