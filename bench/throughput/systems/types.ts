/** The names of the systems the benchmark can drive, in the order they run. */
export const SYSTEM_NAMES = ["agnt", "agnt-steps", "pgboss", "raw", "floor"] as const;
/** One of the systems the benchmark can drive. */
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** Where a system keeps its jobs: a fresh database on a server, or a fresh PGlite directory. */
export type DbTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };
/** postgres (a server) or pglite (in-process). */
export type DbKind = DbTarget["kind"];

/** A job an executor holds: its id and the attempt its calls must carry. */
export interface Claimed {
  id: string;
  attempt: number;
}

/** How the workload drives one system; every call resolves once the system acknowledged it. */
export interface Driver {
  /** Creates one job and resolves with its id. */
  create(buyer: number): Promise<string>;
  /** Takes one job for this executor, or resolves undefined when none was won (after waiting). */
  take(executor: number, signal: AbortSignal): Promise<Claimed | undefined>;
  /** Finishes a job this executor holds; resolves with the next job when one was handed over with it. */
  finish(executor: number, job: Claimed): Promise<Claimed | undefined>;
}

/** Cumulative counters a system keeps while it is driven. */
export interface Counters {
  /** HTTP requests sent (agnt only). */
  httpRequests: number;
  /** Claims lost to another executor (agnt's 409 on accept). */
  conflicts: number;
}

/** A system set up on a fresh database, ready to be driven. */
export interface SystemUnderTest {
  driver: Driver;
  counters(): Counters;
  /** The pid of a separate server process whose CPU time is measured (agnt only). */
  serverPid?: number | undefined;
  /** How many jobs the system's own storage records as finished, and how many it holds in all. */
  countJobs(): Promise<{ finished: number; total: number }>;
  close(): Promise<void>;
}

/** What a system's setup gets to know. */
export interface SystemContext {
  db: DbTarget;
  buyers: number;
  executors: number;
  /** How long an executor of a polling system sleeps when the queue is empty. */
  idleSleepMs: number;
  /** LOG_LEVEL of the agnt server; undefined leaves the server's default. */
  logLevel?: string | undefined;
  /** Extra `node` flags for the agnt server process (e.g. --cpu-prof). */
  serverNodeArgs: string[];
}

/** Sets a system up on a fresh database. */
export type SystemSetup = (context: SystemContext) => Promise<SystemUnderTest>;

/** Thrown by a setup when the system cannot run on the given database at all. */
export class Unsupported extends Error {}

/** Sleeps, waking early (without error) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
