import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { machineBusyMs, postgresCpuMs, processCpuMs } from "../common/cpu.ts";
import {
  analyzeDatabase,
  createDatabase,
  type DatabaseCounters,
  databaseUrl,
  openCounters,
  serverSettings,
} from "./database.ts";
import type { Percentiles } from "./recorder.ts";
import { pairWithPgBoss, type SystemSummary, summarize } from "./summary.ts";
import { setupAgnt } from "./systems/agnt.ts";
import { setupFloor } from "./systems/floor.ts";
import { setupPgBoss } from "./systems/pgboss.ts";
import { setupRaw } from "./systems/raw.ts";
import {
  type DbKind,
  type DbTarget,
  type SystemName,
  type SystemSetup,
  type SystemUnderTest,
  sleep,
  Unsupported,
} from "./systems/types.ts";
import { runWorkload, type WorkloadShape } from "./workload.ts";

const SETUPS: Record<SystemName, SystemSetup> = {
  agnt: (context) => setupAgnt(context, "claim"),
  "agnt-steps": (context) => setupAgnt(context, "steps"),
  pgboss: setupPgBoss,
  raw: setupRaw,
  floor: setupFloor,
};

/** Everything a benchmark run is told. */
export interface BenchOptions extends WorkloadShape {
  dbs: DbKind[];
  /** The PostgreSQL server (any database on it); fresh databases are created next to it. */
  databaseUrl: string;
  systems: SystemName[];
  /** Jobs run through each system before the timed phase, not counted. */
  warmupJobs: number;
  /** How many times every system runs, interleaved (round 1 of each, then round 2, …). */
  rounds: number;
  /** How long an executor of pg-boss or the raw queue sleeps when the queue is empty. */
  idleSleepMs: number;
  /**
   * How long to wait before reading PostgreSQL's statistics: an idle backend reports its last
   * counts up to 10 s late (PGSTAT_IDLE_INTERVAL).
   */
  statsSettleMs: number;
  logLevel?: string | undefined;
  serverNodeArgs: string[];
}

/** The figures of one system, per job where it says so. */
export interface Measured {
  wallMs: number;
  jobsPerSecond: number;
  endToEndMs: Percentiles;
  pickupMs: Percentiles;
  /** Jobs an executor held before the buyer saw the create acknowledged (pickup counted as 0). */
  pickedBeforeAck: number;
  conflictsPerJob: number;
  httpRequestsPerJob: number | null;
  transactionsPerJob: number | null;
  rowsWrittenPerJob: number | null;
  cpuMsPerJob: {
    api: number | null;
    postgres: number | null;
    bench: number;
    total: number;
    /** Everything else the machine ran meanwhile (other people's work skews the figures). */
    others: number;
  };
  /** The timed phase on the monotonic clock (ns), to cut a CPU profile to it. */
  window: { startNs: string; endNs: string };
}

/** One system on one database in one round: its figures, or why it could not run there. */
export type SystemResult = { system: SystemName; db: DbKind; round: number } & (
  | ({ status: "ok"; ratioToPgBoss: number | null } & Measured)
  | { status: "unsupported"; reason: string }
);

/** The whole run: where, when, with what, and one result per system and database. */
export interface ResultDocument {
  /** When the run started. */
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    kernel: string;
    /** 1-minute load average when the run started and when it ended: others' work skews figures. */
    loadAverage: { start: number; end: number };
  };
  postgres: Record<string, string> | null;
  options: BenchOptions;
  results: SystemResult[];
  /** Per system and database, the medians over the rounds it ran in. */
  summary: SystemSummary[];
}

const perJob = (value: number | undefined, jobs: number) =>
  value === undefined ? null : value / jobs;

/** Warm-up, then the timed phase between CPU readings, then the checks. */
async function measure(
  sut: SystemUnderTest,
  options: BenchOptions,
  server: { database: string; counters: { read: () => Promise<DatabaseCounters> } } | undefined,
): Promise<Measured> {
  const counters = server?.counters;
  const shape = { jobs: options.jobs, buyers: options.buyers, executors: options.executors };
  // Transactions and rows are counted over warm-up and timed jobs together (both settled).
  if (counters) await sleep(options.statsSettleMs);
  const db0 = await counters?.read();
  if (options.warmupJobs > 0) await runWorkload(sut.driver, { ...shape, jobs: options.warmupJobs });
  // The timed phase runs on statistics that describe the warmed-up tables, as in a deployment.
  if (server) await analyzeDatabase(databaseUrl(options.databaseUrl, server.database));

  const before = sut.counters();
  const api0 = sut.serverPid === undefined ? undefined : processCpuMs(sut.serverPid);
  const pg0 = server ? postgresCpuMs(server.database) : undefined;
  const busy0 = machineBusyMs();
  const self0 = process.cpuUsage();
  const run = await runWorkload(sut.driver, shape);
  const self = process.cpuUsage(self0);
  const busy = machineBusyMs() - busy0;
  const pg1 = server ? postgresCpuMs(server.database) : undefined;
  const api1 = sut.serverPid === undefined ? undefined : processCpuMs(sut.serverPid);
  const after = sut.counters();

  if (counters) await sleep(options.statsSettleMs);
  const db1 = await counters?.read();
  const expected = options.warmupJobs + options.jobs;
  const stored = await sut.countJobs();
  if (stored.finished !== expected || stored.total !== expected) {
    throw new Error(
      `the database holds ${stored.total} jobs, ${stored.finished} finished; expected ${expected} finished`,
    );
  }

  const jobs = options.jobs;
  const wallMs = run.endMs - run.startMs;
  const latencies = run.recorder.latencies();
  const cpu = {
    api: perJob(api0 === undefined || api1 === undefined ? undefined : api1 - api0, jobs),
    postgres: perJob(pg0 === undefined || pg1 === undefined ? undefined : pg1 - pg0, jobs),
    bench: (self.user + self.system) / 1000 / jobs,
  };
  const both = expected;
  const total = (cpu.api ?? 0) + (cpu.postgres ?? 0) + cpu.bench;
  return {
    wallMs,
    jobsPerSecond: jobs / (wallMs / 1000),
    endToEndMs: latencies.endToEnd,
    pickupMs: latencies.pickup,
    pickedBeforeAck: latencies.pickedBeforeAck,
    conflictsPerJob: (after.conflicts - before.conflicts) / jobs,
    httpRequestsPerJob:
      after.httpRequests === 0 ? null : (after.httpRequests - before.httpRequests) / jobs,
    transactionsPerJob: db0 && db1 ? (db1.transactions - db0.transactions) / both : null,
    rowsWrittenPerJob: db0 && db1 ? (db1.rowsWritten - db0.rowsWritten) / both : null,
    cpuMsPerJob: { ...cpu, total, others: Math.max(0, busy / jobs - total) },
    window: { startNs: String(run.startNs), endNs: String(run.endNs) },
  };
}

/** Sets one system up on a fresh database, measures it, and removes the database. */
async function runSystem(
  system: SystemName,
  kind: DbKind,
  round: number,
  options: BenchOptions,
): Promise<SystemResult> {
  let target: DbTarget;
  let cleanup: () => Promise<void>;
  let server: { database: string; counters: Awaited<ReturnType<typeof openCounters>> } | undefined;
  if (kind === "postgres") {
    const db = await createDatabase(options.databaseUrl);
    target = { kind, url: db.url };
    cleanup = db.drop;
    server = { database: db.name, counters: await openCounters(options.databaseUrl, db.name) };
  } else {
    const dir = mkdtempSync(join(tmpdir(), `bench-${system}-`));
    target = { kind, dataDir: dir };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  try {
    let sut: SystemUnderTest;
    try {
      sut = await SETUPS[system]({
        db: target,
        buyers: options.buyers,
        executors: options.executors,
        idleSleepMs: options.idleSleepMs,
        logLevel: options.logLevel,
        serverNodeArgs: options.serverNodeArgs,
      });
    } catch (error) {
      if (!(error instanceof Unsupported)) throw error;
      return { system, db: kind, round, status: "unsupported", reason: error.message };
    }
    try {
      return {
        system,
        db: kind,
        round,
        status: "ok",
        ratioToPgBoss: null,
        ...(await measure(sut, options, server)),
      };
    } finally {
      await sut.close();
    }
  } finally {
    await server?.counters.close();
    await cleanup();
  }
}

/**
 * Runs every chosen system on every chosen database, one after the other, `rounds` times
 * (round 1 of every system, then round 2, …: a slow minute of the machine hits all systems).
 */
export async function runBenchmark(
  options: BenchOptions,
  log: (line: string) => void = () => undefined,
): Promise<ResultDocument> {
  const date = new Date().toISOString();
  const loadAtStart = loadavg()[0] ?? 0;
  const results: SystemResult[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const kind of options.dbs) {
      for (const system of options.systems) {
        log(
          `${system} on ${kind}${options.rounds > 1 ? `, round ${round}/${options.rounds}` : ""}: ${options.jobs} jobs, ${options.buyers} buyers, ${options.executors} executors`,
        );
        const result = await runSystem(system, kind, round, options);
        log(
          result.status === "ok"
            ? `  ${result.jobsPerSecond.toFixed(0)} jobs/s`
            : `  unsupported: ${result.reason}`,
        );
        results.push(result);
      }
    }
  }
  pairWithPgBoss(results);
  return {
    date,
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
      kernel: release(),
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    postgres: options.dbs.includes("postgres") ? await serverSettings(options.databaseUrl) : null,
    options,
    results,
    summary: summarize(results),
  };
}
