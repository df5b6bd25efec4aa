import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../scripts/gen-api-docs.ts", import.meta.url));

// docs/api/http.md and docs/api/grpc.md are what `npm run gen:docs` makes from the OpenAPI
// document and the .proto files now: no hand edits, no drift.
it("the committed API references match the OpenAPI document and the .proto", {
  timeout: 300_000,
}, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, "--check"]);
  expect(stdout).toMatch(/API references up to date \(2 files\)/);
});
