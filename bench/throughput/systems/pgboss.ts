import type { PGlite } from "@electric-sql/pglite";
import PgBoss from "pg-boss";
import { openPglite, pgbossAdapter } from "./pglite.ts";
import { type Driver, type SystemContext, type SystemUnderTest, sleep } from "./types.ts";

const QUEUE = "bench";

/**
 * pg-boss 10.4.2 as its users run it, minus the timers a throughput run does not need
 * (maintenance, cron). Buyers `send`; executors `fetch` one job and `complete` it, sleeping
 * briefly when the queue is empty (pg-boss has no push; `work()` would sleep its whole polling
 * interval after every fetch). On a server: its own pool, one connection per loop. On PGlite:
 * its `db` adapter over one instance in this process.
 */
export async function setupPgBoss(context: SystemContext): Promise<SystemUnderTest> {
  let pglite: PGlite | undefined;
  const common = { supervise: false, schedule: false, migrate: true } as const;
  let boss: PgBoss;
  if (context.db.kind === "postgres") {
    boss = new PgBoss({
      ...common,
      connectionString: context.db.url,
      max: context.buyers + context.executors,
    });
  } else {
    pglite = await openPglite(context.db.dataDir);
    boss = new PgBoss({ ...common, db: pgbossAdapter(pglite) });
  }
  let failure: Error | undefined;
  boss.on("error", (error) => {
    failure ??= error;
  });
  const close = async () => {
    await boss.stop({ graceful: false, wait: true });
    await pglite?.close();
  };
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
  } catch (error) {
    // stop() does nothing for a boss that never started: close its own pool directly.
    const db = boss.getDb() as { close?: () => Promise<void> };
    await db.close?.().catch(() => undefined);
    await pglite?.close();
    throw error;
  }
  const checked = <T>(value: T) => {
    if (failure) throw failure;
    return value;
  };
  const driver: Driver = {
    async create() {
      const id = await boss.send(QUEUE, { prompt: "bench", params: {} });
      if (!id) throw new Error("pg-boss send returned no id");
      return checked(id);
    },
    async take(_executor, signal) {
      const [job] = await boss.fetch(QUEUE);
      if (!job) {
        await sleep(context.idleSleepMs, signal);
        return checked(undefined);
      }
      return checked({ id: job.id, attempt: 1 });
    },
    async finish(_executor, job) {
      await boss.complete(QUEUE, job.id);
      return checked(undefined);
    },
  };
  return {
    driver,
    counters: () => ({ httpRequests: 0, conflicts: 0 }),
    async countJobs() {
      const { rows } = await boss
        .getDb()
        .executeSql(
          "SELECT count(*) FILTER (WHERE state = 'completed') AS done, count(*) AS total FROM pgboss.job WHERE name = $1",
          [QUEUE],
        );
      return { finished: Number(rows[0]?.done), total: Number(rows[0]?.total) };
    },
    close,
  };
}
