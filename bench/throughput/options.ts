import { parseArgs } from "node:util";
import { DEFAULT_DATABASE_URL } from "./database.ts";
import type { BenchOptions } from "./run.ts";
import { type DbKind, SYSTEM_NAMES, type SystemName } from "./systems/types.ts";

/** The command line's usage text. */
export const USAGE = `npm run bench:throughput -- [options]

  --jobs N              jobs in the timed phase, per system (default 3000)
  --executors N         executor loops taking jobs one at a time (default 4)
  --buyers N            buyer loops creating jobs (default 4)
  --db KIND             postgres | pglite | both (default postgres)
  --database-url URL    PostgreSQL server (default BENCH_DATABASE_URL, DATABASE_URL, or
                        ${DEFAULT_DATABASE_URL})
  --systems LIST        comma-separated: ${SYSTEM_NAMES.join(",")} (default all)
  --warmup N            uncounted jobs before the timed phase, so that the servers' JIT
                        has compiled their hot paths (default 2000)
  --rounds N            run every system N times, interleaved, and report the medians: one
                        run moves ±15–25 % on a busy machine (default 1)
  --idle-sleep-ms N     pg-boss and raw executors' sleep on an empty queue (default 50)
  --log-level LEVEL     LOG_LEVEL of the agnt server (default: the server's own default)
  --server-node-arg A   extra node flag for the agnt server, repeatable
                        (e.g. --server-node-arg=--cpu-prof --server-node-arg=--cpu-prof-dir=DIR)
  --json                print the result document as JSON instead of the table
  --out FILE            also write the result document to FILE
  --help`;

const count = (name: string, text: string, min: number) => {
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new Error(`--${name} must be a whole number ≥ ${min}`);
  }
  return Number(text);
};

/** Parses the command line into benchmark options plus output choices; throws on bad input. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
): { options: BenchOptions; json: boolean; out?: string | undefined; help: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      jobs: { type: "string", default: "3000" },
      executors: { type: "string", default: "4" },
      buyers: { type: "string", default: "4" },
      db: { type: "string", default: "postgres" },
      "database-url": { type: "string" },
      systems: { type: "string", default: SYSTEM_NAMES.join(",") },
      warmup: { type: "string", default: "2000" },
      rounds: { type: "string", default: "1" },
      "idle-sleep-ms": { type: "string", default: "50" },
      "log-level": { type: "string" },
      "server-node-arg": { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const dbs: Record<string, DbKind[]> = {
    postgres: ["postgres"],
    pglite: ["pglite"],
    both: ["postgres", "pglite"],
  };
  const db = dbs[values.db];
  if (!db) throw new Error("--db must be postgres, pglite or both");
  const systems = values.systems.split(",").map((s) => s.trim());
  for (const s of systems) {
    if (!(SYSTEM_NAMES as readonly string[]).includes(s)) {
      throw new Error(`--systems: unknown system ${s} (known: ${SYSTEM_NAMES.join(", ")})`);
    }
  }
  return {
    options: {
      jobs: count("jobs", values.jobs, 1),
      executors: count("executors", values.executors, 1),
      buyers: count("buyers", values.buyers, 1),
      dbs: db,
      databaseUrl:
        values["database-url"] ??
        env.BENCH_DATABASE_URL ??
        env.DATABASE_URL ??
        DEFAULT_DATABASE_URL,
      systems: SYSTEM_NAMES.filter((s) => systems.includes(s)) as SystemName[],
      warmupJobs: count("warmup", values.warmup, 0),
      rounds: count("rounds", values.rounds, 1),
      idleSleepMs: count("idle-sleep-ms", values["idle-sleep-ms"], 0),
      statsSettleMs: 10_500,
      logLevel: values["log-level"],
      serverNodeArgs: values["server-node-arg"],
    },
    json: values.json,
    out: values.out,
    help: values.help,
  };
}
