import { describe, expect, it } from "vitest";
import { formatReport } from "./report.ts";
import { runSearchBench } from "./run.ts";
import { SHAPES } from "./shapes.ts";

const databases = [
  { db: "pglite" as const, databaseUrl: "" },
  ...(process.env.TEST_DATABASE_URL
    ? [{ db: "postgres" as const, databaseUrl: process.env.TEST_DATABASE_URL }]
    : []),
];

describe.each(databases)("bench:search on $db (smoke run)", ({ db, databaseUrl }) => {
  it("finishes and produces its numbers", async () => {
    const result = await runSearchBench({
      db,
      databaseUrl,
      agents: 2000,
      requests: 3,
      warmup: 1,
      clients: 4,
      duration: 1,
      keep: false,
    });
    expect(result.serial.map((row) => row.shape)).toEqual(SHAPES.map((shape) => shape.name));
    for (const row of result.serial) {
      expect(row.p50, row.shape).toBeGreaterThan(0);
      expect(row.p95, row.shape).toBeGreaterThanOrEqual(row.p50);
    }
    expect(result.concurrent.requests).toBeGreaterThan(0);
    expect(result.concurrent.errors).toBe(0);
    expect(result.floor.requests).toBeGreaterThan(0);
    expect(result.concurrent.cpuPerRequest?.server).toBeGreaterThan(0);
    // A local PostgreSQL server's share is measured too (PGlite's is inside the API's).
    if (db === "postgres") expect(result.concurrent.cpuPerRequest?.database).toBeGreaterThan(0);
    expect(result.explained.length).toBeGreaterThanOrEqual(SHAPES.length);
    for (const explained of result.explained) {
      if (explained.statement === "page") {
        expect(explained.scans.length, explained.plan).toBeGreaterThan(0);
      }
      expect(explained.executionMs).toBeGreaterThanOrEqual(0);
    }
    expect(formatReport(result)).toContain("req/s");
  });
});
