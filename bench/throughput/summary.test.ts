import { describe, expect, it } from "vitest";
import { parseOptions } from "./options.ts";
import { formatTable } from "./report.ts";
import type { BenchOptions, ResultDocument, SystemResult } from "./run.ts";
import { pairWithPgBoss, summarize } from "./summary.ts";
import type { SystemName } from "./systems/types.ts";

/** A result with only what the summary reads set to something meaningful. */
function ok(system: SystemName, round: number, jobsPerSecond: number, total = 5): SystemResult {
  const p = { p50: 1, p99: 2 };
  return {
    system,
    db: "postgres",
    round,
    status: "ok",
    ratioToPgBoss: null,
    wallMs: 1000,
    jobsPerSecond,
    endToEndMs: p,
    pickupMs: p,
    pickedBeforeAck: 0,
    conflictsPerJob: 0,
    httpRequestsPerJob: system === "pgboss" ? null : 2,
    transactionsPerJob: 2,
    rowsWrittenPerJob: 3,
    cpuMsPerJob: {
      api: system === "pgboss" ? null : total / 2,
      postgres: 2,
      bench: 1,
      total,
      others: 0,
    },
    window: { startNs: "0", endNs: "1" },
  };
}

/** agnt and pg-boss in each round: [agnt jobs/s, pg-boss jobs/s, agnt CPU ms per job], paired. */
function rounds(...perRound: [number, number, number?][]): SystemResult[] {
  const results = perRound.flatMap(([agnt, pgboss, total], i) => [
    ok("agnt", i + 1, agnt, total),
    ok("pgboss", i + 1, pgboss),
  ]);
  pairWithPgBoss(results);
  return results;
}

describe("rounds", () => {
  it("runs once unless told, and refuses zero rounds", () => {
    expect(parseOptions([], {}).options.rounds).toBe(1);
    expect(parseOptions(["--rounds", "3"], {}).options.rounds).toBe(3);
    expect(() => parseOptions(["--rounds", "0"], {})).toThrow(/--rounds/);
  });

  it("compares each round with pg-boss in the same round", () => {
    const results = rounds([300, 400], [300, 200]);
    expect(results.map((r) => (r.status === "ok" ? r.ratioToPgBoss : undefined))).toEqual([
      0.75, 1, 1.5, 1,
    ]);
  });

  it("summarizes each system by its medians and the range of its ratio", () => {
    const [agnt, pgboss] = summarize(rounds([300, 400, 6], [200, 400, 5], [360, 300, 4]));
    expect(agnt).toEqual({
      system: "agnt",
      db: "postgres",
      rounds: 3,
      jobsPerSecond: 300,
      ratioToPgBoss: { median: 0.75, min: 0.5, max: 1.2 },
      cpuMsPerJob: { api: 2.5, postgres: 2, total: 5 },
    });
    expect(pgboss?.rounds).toBe(3);
    expect(pgboss?.cpuMsPerJob.api).toBeNull();
    // An even count: the mean of the middle two.
    expect(summarize([ok("raw", 1, 100), ok("raw", 2, 300)])[0]?.jobsPerSecond).toBe(200);
  });

  it("prints every round, then the medians", () => {
    const results = rounds([300, 400], [200, 400]);
    const doc = {
      options: { rounds: 2 } as BenchOptions,
      results,
      summary: summarize(results),
    } as ResultDocument;
    const table = formatTable(doc);
    expect(table).toMatch(/^\| round \| system \|/);
    expect(table).toContain("| 2 | agnt | postgres | 200 | 0.50 |");
    expect(table).toContain("Medians over 2 rounds");
    expect(table).toContain("| agnt | postgres | 2 | 250 | 0.63 (0.50–0.75) |");
  });

  it("says how many jobs an executor held before their order was answered (handed at the order)", () => {
    const handed = { ...ok("agnt", 1, 300), pickedBeforeAck: 30 } as SystemResult;
    const doc = {
      options: { rounds: 1, jobs: 60 } as BenchOptions,
      results: [handed, ok("pgboss", 1, 400)],
      summary: [],
    } as unknown as ResultDocument;
    const [, , agnt, pgboss] = formatTable(doc).split("\n");
    expect(agnt).toContain("| 1.0 / 2.0 | 1.0 / 2.0 (50 % before ack) | 0.00 |");
    expect(pgboss).toContain("| 1.0 / 2.0 | 1.0 / 2.0 | 0.00 |");
  });
});
