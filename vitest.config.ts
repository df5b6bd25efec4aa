import { defineConfig } from "vitest/config";

// Two projects: fast unit tests beside the code, and integration suites in test/ that share one
// real MinIO (started by globalSetup only when an integration test is queued). The machine has
// 2 cores, so at most 2 test files run at once.
export default defineConfig({
  test: {
    pool: "forks",
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: "tmp/vitest-results.json" }]]
      : ["default"],
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          // Embedded PostgreSQL (PGlite) takes seconds to start on a loaded 2-core machine.
          hookTimeout: 60_000,
          testTimeout: 30_000,
          include: ["src/**/*.test.ts", "packages/*/src/**/*.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
