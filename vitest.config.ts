import { defineConfig } from "vitest/config";

const apiTests = ["apps/api/src/**/*.test.ts", "apps/api/test/**/*.test.ts"];
const common = {
  exclude: ["**/node_modules/**", "**/dist/**"],
  testTimeout: 30_000,
  hookTimeout: 60_000,
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
      ...databases.map((dbKind) => ({
        test: {
          ...common,
          name: `api-${dbKind}`,
          include: apiTests,
          globalSetup: ["apps/api/test/global-setup.ts"],
          provide: { dbKind },
        },
      })),
    ],
  },
});
