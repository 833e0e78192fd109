import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { openPglite } from "./pglite.ts";
import { type Driver, type SystemContext, type SystemUnderTest, sleep } from "./types.ts";

const SCHEMA = `
  CREATE TABLE q (
    id         bigserial   PRIMARY KEY,
    payload    jsonb       NOT NULL,
    status     text        NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX q_pending ON q (id) WHERE status = 'pending';`;
const INSERT = "INSERT INTO q (payload) VALUES ($1) RETURNING id";
const CLAIM = `UPDATE q SET status = 'active'
  WHERE id = (SELECT id FROM q WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id`;
const FINISH = "UPDATE q SET status = 'done' WHERE id = $1 AND status = 'active'";
const COUNT = "SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total FROM q";

type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * The ceiling of a SKIP LOCKED queue: one table, buyers INSERT, executors claim the oldest
 * pending row with one UPDATE and finish it with another; a short sleep when the queue is empty.
 * On a server: a `pg` pool with one connection per loop. On PGlite: one instance in this process.
 */
export async function setupRaw(context: SystemContext): Promise<SystemUnderTest> {
  let query: Query;
  let close: () => Promise<void>;
  if (context.db.kind === "postgres") {
    const pool = new pg.Pool({
      connectionString: context.db.url,
      max: context.buyers + context.executors,
    });
    query = (text, values) => pool.query(text, values);
    close = () => pool.end();
    await pool.query(SCHEMA);
  } else {
    const db: PGlite = await openPglite(context.db.dataDir);
    query = (text, values) => db.query(text, values);
    close = () => db.close();
    await db.exec(SCHEMA);
  }
  const payload = JSON.stringify({ prompt: "bench", params: {} });
  const driver: Driver = {
    async create() {
      const { rows } = await query(INSERT, [payload]);
      return String(rows[0]?.id);
    },
    async take(_executor, signal) {
      const { rows } = await query(CLAIM);
      const id = rows[0]?.id;
      if (id === undefined) {
        await sleep(context.idleSleepMs, signal);
        return undefined;
      }
      return { id: String(id), attempt: 1 };
    },
    async finish(_executor, job) {
      await query(FINISH, [job.id]);
      return undefined;
    },
  };
  return {
    driver,
    counters: () => ({ httpRequests: 0, conflicts: 0 }),
    async countJobs() {
      const { rows } = await query(COUNT);
      return { finished: Number(rows[0]?.done), total: Number(rows[0]?.total) };
    },
    close,
  };
}
