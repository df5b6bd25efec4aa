import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../scripts/gen-grpc-types.ts", import.meta.url));

// The committed types in ./generated are what `npm run gen:grpc` makes from the .proto now: no
// hand edits, no drift.
it("generated gRPC types match the .proto", { timeout: 60_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, "--check"]);
  expect(stdout).toMatch(/up to date/);
});
