import type { SystemResult } from "./run.ts";
import type { DbKind, SystemName } from "./systems/types.ts";

/** A system's figures over its rounds: medians, and the range of the ratio to pg-boss. */
export interface SystemSummary {
  system: SystemName;
  db: DbKind;
  rounds: number;
  jobsPerSecond: number;
  /** Each round's ratio is to pg-boss in the same round. */
  ratioToPgBoss: { median: number; min: number; max: number } | null;
  cpuMsPerJob: { api: number | null; postgres: number | null; total: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const medianOrNull = (values: (number | null)[]) =>
  values.some((value) => value === null) ? null : median(values as number[]);

/** The medians of each system and database over the rounds it ran in. */
export function summarize(results: SystemResult[]): SystemSummary[] {
  const summaries: SystemSummary[] = [];
  for (const first of results) {
    if (first.round !== 1) continue;
    const runs = results.filter(
      (r): r is Extract<SystemResult, { status: "ok" }> =>
        r.system === first.system && r.db === first.db && r.status === "ok",
    );
    if (runs.length === 0) continue;
    const ratios = runs.flatMap((r) => (r.ratioToPgBoss === null ? [] : [r.ratioToPgBoss]));
    summaries.push({
      system: first.system,
      db: first.db,
      rounds: runs.length,
      jobsPerSecond: median(runs.map((r) => r.jobsPerSecond)),
      ratioToPgBoss:
        ratios.length === runs.length
          ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
          : null,
      cpuMsPerJob: {
        api: medianOrNull(runs.map((r) => r.cpuMsPerJob.api)),
        postgres: medianOrNull(runs.map((r) => r.cpuMsPerJob.postgres)),
        total: median(runs.map((r) => r.cpuMsPerJob.total)),
      },
    });
  }
  return summaries;
}

/** Sets each result's ratio to pg-boss's jobs/s on the same database in the same round. */
export function pairWithPgBoss(results: SystemResult[]): void {
  for (const result of results) {
    const peer = results.find(
      (r) => r.db === result.db && r.round === result.round && r.system === "pgboss",
    );
    if (result.status === "ok" && peer?.status === "ok") {
      result.ratioToPgBoss = result.jobsPerSecond / peer.jobsPerSecond;
    }
  }
}
