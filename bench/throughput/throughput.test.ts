import { describe, expect, it } from "vitest";
import { parseOptions } from "./options.ts";
import { runBenchmark, type SystemResult } from "./run.ts";

// A short run of every system through the same code as `npm run bench:throughput`: it must
// finish and produce its numbers. Speed is never asserted (the machine may be slow and busy).
const SMALL = ["--jobs", "60", "--buyers", "2", "--executors", "2", "--warmup", "10"];

/**
 * Commits and row writes per job at least: create, claim and finish each commit at least once
 * (three of each); agnt's completion that takes the next job is one commit for both, and orders
 * may share an INSERT; the floor's order and its hand-off are one INSERT.
 */
const LEAST_PER_JOB: Record<string, { transactions: number; rows: number }> = {
  agnt: { transactions: 1, rows: 3 },
  floor: { transactions: 2, rows: 2 },
};

function expectNumbers(result: SystemResult, kind: "pglite" | "postgres"): void {
  expect(result.status, JSON.stringify(result)).toBe("ok");
  if (result.status !== "ok") return;
  expect(Number.isFinite(result.jobsPerSecond)).toBe(true);
  expect(result.jobsPerSecond).toBeGreaterThan(0);
  for (const p of [result.endToEndMs, result.pickupMs]) {
    expect(Number.isFinite(p.p50) && Number.isFinite(p.p99)).toBe(true);
    expect(p.p99).toBeGreaterThanOrEqual(p.p50);
  }
  expect(result.cpuMsPerJob.bench).toBeGreaterThan(0);
  if (result.system === "floor") {
    // The order, the poll that is handed (or takes) the job, the completion.
    expect(result.httpRequestsPerJob).toBeGreaterThanOrEqual(3);
    expect(result.cpuMsPerJob.api).toBeGreaterThan(0);
    expect(result.conflictsPerJob).toBe(0);
  } else if (result.system === "agnt" || result.system === "agnt-steps") {
    // The buyer's create and a completion that takes the next job (plus polls when the queue
    // is empty), or poll, accept, start and complete.
    expect(result.httpRequestsPerJob).toBeGreaterThanOrEqual(result.system === "agnt" ? 2 : 5);
    expect(result.cpuMsPerJob.api).toBeGreaterThan(0);
  } else {
    expect(result.conflictsPerJob).toBe(0);
  }
  if (kind === "postgres") {
    const least = LEAST_PER_JOB[result.system] ?? { transactions: 3, rows: 3 };
    expect(result.transactionsPerJob).toBeGreaterThanOrEqual(least.transactions);
    expect(result.rowsWrittenPerJob).toBeGreaterThanOrEqual(least.rows);
    expect(result.cpuMsPerJob.postgres).not.toBeNull();
  }
}

describe("throughput benchmark, smoke run", () => {
  it("runs agnt (both flows), pg-boss and the raw queue on PGlite; the floor says it needs a server", async () => {
    const { options } = parseOptions([...SMALL, "--db", "pglite"], {});
    const doc = await runBenchmark(options);
    expect(doc.results.map((r) => r.system)).toEqual([
      "agnt",
      "agnt-steps",
      "pgboss",
      "raw",
      "floor",
    ]);
    for (const result of doc.results) {
      if (result.system === "floor") expect(result.status).toBe("unsupported");
      else expectNumbers(result, "pglite");
    }
  });

  it.runIf(process.env.TEST_DATABASE_URL)(
    "runs agnt (both flows), pg-boss, the raw queue and the HTTP floor on the PostgreSQL server",
    async () => {
      const { options } = parseOptions([...SMALL, "--db", "postgres"], {
        BENCH_DATABASE_URL: process.env.TEST_DATABASE_URL,
      });
      const doc = await runBenchmark(options);
      expect(doc.postgres?.server_version).toBeTruthy();
      expect(doc.results.map((r) => r.system)).toContain("floor");
      for (const result of doc.results) expectNumbers(result, "postgres");
    },
  );
});
