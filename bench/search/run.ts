import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { datasetSql } from "./dataset.ts";
import { type BenchDb, connectPostgres, createScratchDatabase, openEmbedded } from "./db.ts";
import { type Explained, explainShapes } from "./explain.ts";
import {
  type ConcurrentResult,
  type CpuWatch,
  measureConcurrent,
  measureSerial,
  type SerialResult,
} from "./load.ts";
import {
  createBuyerKey,
  migrateWithServer,
  type RunningServer,
  type ServerEnv,
  startServer,
} from "./server.ts";
import { SHAPES, searchPath } from "./shapes.ts";

export interface BenchOptions {
  db: "postgres" | "pglite";
  /** The PostgreSQL server the scratch database is created on (postgres only). */
  databaseUrl: string;
  agents: number;
  /** Measured requests per shape at one client. */
  requests: number;
  warmup: number;
  clients: number;
  /** Seconds of the concurrent run. */
  duration: number;
  /** Keep the database (and the embedded data dir) instead of dropping it. */
  keep: boolean;
  log?: (line: string) => void;
}

export interface BenchResult {
  options: Omit<BenchOptions, "log">;
  /** Where the data is when kept. */
  kept?: string;
  loadSeconds: number;
  serial: ({ shape: string; goal: boolean } & SerialResult)[];
  concurrent: ConcurrentResult;
  /** The same clients on the cheapest search (the newest agent): the API's own ceiling. */
  floor: ConcurrentResult;
  explained: Explained[];
}

/** Inserts the catalogue, then VACUUM ANALYZE (the state autovacuum reaches on its own). */
async function load(db: BenchDb, agents: number): Promise<number> {
  const started = performance.now();
  await db.exec(datasetSql(agents));
  await db.exec("VACUUM ANALYZE");
  return (performance.now() - started) / 1000;
}

/**
 * The whole benchmark: a fresh database, migrated by `agnt-server migrate`, `agents`
 * generated agents, the API started as its own process, then one client per shape, many
 * clients over the mix, and the plans of every statement.
 */
export async function runSearchBench(options: BenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), "agnt-bench-search-"));
  const scratch =
    options.db === "postgres" ? await createScratchDatabase(options.databaseUrl) : undefined;
  const target: ServerEnv = { databaseUrl: scratch?.url, dataDir };
  let server: RunningServer | undefined;
  try {
    log(`database: ${scratch ? scratch.name : `PGlite in ${dataDir}`}`);
    await migrateWithServer(target);
    // PGlite: one process at a time, so the agents go in before the server starts.
    const db = scratch
      ? await connectPostgres(scratch.url)
      : await openEmbedded(join(dataDir, "pgdata"));
    let loadSeconds: number;
    let explained: Explained[];
    try {
      log(`inserting ${options.agents} agents`);
      loadSeconds = await load(db, options.agents);
      log(`inserted in ${loadSeconds.toFixed(1)} s; explaining`);
      explained = await explainShapes(db);
    } finally {
      await db.close();
    }
    const key = await createBuyerKey(target);
    const api = await startServer(target);
    server = api;
    log(`API at ${api.url}`);

    const serial: BenchResult["serial"] = [];
    for (const shape of SHAPES) {
      const paths = shape.variants.map(searchPath);
      const result = await measureSerial(server.url, key, paths, {
        requests: options.requests,
        warmup: options.warmup,
      });
      log(`${shape.name}: p50 ${result.p50.toFixed(1)} ms, p95 ${result.p95.toFixed(1)} ms`);
      serial.push({ shape: shape.name, goal: shape.goal, ...result });
    }
    // The mix: every variant of every shape, interleaved.
    const mix: string[] = [];
    const longest = Math.max(...SHAPES.map((shape) => shape.variants.length));
    for (let i = 0; i < longest; i += 1) {
      for (const shape of SHAPES) {
        const variant = shape.variants[i];
        if (variant) mix.push(searchPath(variant));
      }
    }
    // PostgreSQL's processes are watched when the server runs on this machine.
    const local =
      scratch &&
      ["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(new URL(scratch.url).hostname);
    const cpu: CpuWatch = {
      serverPid: server.pid,
      database: scratch && local ? new URL(scratch.url).pathname.slice(1) : undefined,
    };
    const run = (paths: string[]) =>
      measureConcurrent(api.url, key, paths, {
        clients: options.clients,
        seconds: options.duration,
        cpu,
      });
    const concurrent = await run(mix);
    log(
      `${options.clients} clients: ${concurrent.reqPerSec.toFixed(0)} req/s, p99 ${concurrent.p99} ms, ${concurrent.errors} errors`,
    );
    const floor = await run([searchPath({ limit: 1 })]);
    log(`${options.clients} clients, newest agent only: ${floor.reqPerSec.toFixed(0)} req/s`);
    const { log: _, ...recorded } = options;
    return {
      options: recorded,
      ...(options.keep ? { kept: scratch?.url ?? dataDir } : {}),
      loadSeconds,
      serial,
      concurrent,
      floor,
      explained,
    };
  } finally {
    await server?.stop();
    if (!options.keep) {
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}
