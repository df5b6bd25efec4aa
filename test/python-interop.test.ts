import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";

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
 * .ci/run) against this server, including the 50 MiB round trip, refusal without an API key and
 * the stubs-match-proto check. Python authenticates with a key scoped to the test bucket only.
 */
describe("Python interop (grpcio)", () => {
  let h: GrpcHarness;
  let token: string;

  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    token = await h.issue("python-interop", [`${h.app.config.buckets.temp}:*`]);
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets(h.secrets);
  });

  it("passes the pytest suite against this server", async () => {
    const python = process.env.PYTHON ?? "python3";
    const { code, output } = await run(python, ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"], {
      ...process.env,
      PYTHON: python,
      PYTHONDONTWRITEBYTECODE: "1",
      LUMENSLATE_GRPC_ADDRESS: h.address,
      LUMENSLATE_GRPC_TOKEN: token,
      LUMENSLATE_TEST_BUCKET: h.app.config.buckets.temp,
    });
    if (/No module named (pytest|grpc)/.test(output)) {
      throw new Error(
        `Python test dependencies are missing: pip install -r clients/python/requirements.txt\n${output}`,
      );
    }
    expect(output, output).toMatch(/\b5 passed\b/);
    expect(output).not.toMatch(/skipped|failed|error/i);
    expect(code).toBe(0);
  });
});
