import { defineConfig } from "vitest/config";

const apiTests = ["apps/api/src/**/*.test.ts", "apps/api/test/**/*.test.ts"];
// Tests that do not depend on which database runs (pure checks, object storage, memory,
// process-level behaviour): they run once, in the PGlite project.
const databaseAgnostic = [
  "apps/api/src/db/batcher.test.ts",
  "apps/api/src/env.test.ts",
  "apps/api/src/log.test.ts",
  "apps/api/src/files/names.test.ts",
  "apps/api/src/files/mime.test.ts",
  "apps/api/src/http/access-log.test.ts",
  "apps/api/src/http/part-counter.test.ts",
  "apps/api/src/http/route.test.ts",
  "apps/api/src/lifecycle/sweeps.test.ts",
  "apps/api/src/files/s3-uploads.test.ts",
  "apps/api/src/storage/**",
  "apps/api/test/early-refusal.test.ts",
  "apps/api/test/memory.test.ts",
  "apps/api/test/unavailable.test.ts",
];
// Generous limits: tests must pass on a slow, busy machine; a broken mechanism still fails
// them (by an assertion, or by hanging past these).
const common = {
  exclude: ["**/node_modules/**", "**/dist/**"],
  testTimeout: 120_000,
  hookTimeout: 180_000,
};

// The API's tests run once per database: PGlite always, a PostgreSQL server when
// TEST_DATABASE_URL names one.
const databases: ("pglite" | "postgres")[] = [
  "pglite",
  ...(process.env.TEST_DATABASE_URL ? (["postgres"] as const) : []),
];

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...common,
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "scripts/**/*.test.ts"],
        },
      },
      // Short smoke runs of the benchmarks: they must finish and produce their numbers.
      {
        test: {
          ...common,
          name: "bench",
          include: ["bench/**/*.test.ts"],
          testTimeout: 300_000,
        },
      },
      ...databases.map((dbKind) => ({
        test: {
          ...common,
          name: `api-${dbKind}`,
          include: apiTests,
          exclude: [...common.exclude, ...(dbKind === "postgres" ? databaseAgnostic : [])],
          globalSetup: ["apps/api/test/global-setup.ts"],
          provide: { dbKind },
        },
      })),
    ],
  },
});
