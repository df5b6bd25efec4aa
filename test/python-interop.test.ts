import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import { createTestApp, type TestApp } from "./support/app.ts";

const PYTHON_CLIENT = fileURLToPath(new URL("../clients/python", import.meta.url));

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PYTHON_CLIENT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

/**
 * The Python platform's side: pytest with grpcio (clients/python/requirements.txt, installed by
 * .ci/run) against this server, including the 50 MiB round trip and the stubs-match-proto check.
 */
describe("Python interop (grpcio)", () => {
  let app: TestApp;
  let server: GrpcServer;

  beforeAll(async () => {
    app = await createTestApp("minio", { RATE_LIMIT_ENABLED: "false" });
    server = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await server?.close(1);
    await app?.dispose();
  });

  it("passes the pytest suite against this server", async () => {
    const python = process.env.PYTHON ?? "python3";
    const { code, output } = await run(python, ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"], {
      ...process.env,
      PYTHON: python,
      PYTHONDONTWRITEBYTECODE: "1",
      LUMENSLATE_GRPC_ADDRESS: `127.0.0.1:${server.port}`,
      LUMENSLATE_TEST_BUCKET: app.config.buckets.temp,
    });
    if (/No module named (pytest|grpc)/.test(output)) {
      throw new Error(
        `Python test dependencies are missing: pip install -r clients/python/requirements.txt\n${output}`,
      );
    }
    expect(output, output).toMatch(/\b4 passed\b/);
    expect(output).not.toMatch(/skipped|failed|error/i);
    expect(code).toBe(0);
  });
});
