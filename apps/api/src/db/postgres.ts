import pg from "pg";
import { listenPostgres } from "./pg-listener.ts";
import type { Db, Tx } from "./types.ts";

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; default 10. */
  max?: number;
  /**
   * Called when an idle pool connection fails (the pool replaces it), and when a listening
   * connection is lost and reconnecting, unless `listen` was given its own `onError`.
   */
  onError?: (error: Error) => void;
}

/** A PostgreSQL server through a `pg` pool; `listen` uses connections of its own. */
export function openPostgres(options: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
  });
  // Without a listener an idle connection's error (server restart, terminated backend)
  // would crash the process; the pool drops the connection and opens a new one on demand.
  pool.on("error", (error) => options.onError?.(error));
  // Listeners still running when the database is closed are stopped with it.
  const listeners = new Set<() => Promise<void>>();

  const run = async <T>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
  ) => {
    const result = await client.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  };

  return {
    kind: "postgres",
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      const client = await pool.connect();
      const tx: Tx = {
        query: (sql, params) => run(client, sql, params),
        exec: async (sql) => {
          await client.query(sql);
        },
      };
      try {
        await client.query("BEGIN");
        const value = await fn(tx);
        await client.query("COMMIT");
        client.release();
        return value;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        // A connection that failed mid-transaction is not handed out again.
        client.release(error instanceof Error ? error : undefined);
        throw error;
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async listen(channels, handlers) {
      const stopListening = await listenPostgres({
        connectionString: options.connectionString,
        channels: typeof channels === "string" ? [channels] : channels,
        handlers: { ...handlers, onError: handlers.onError ?? options.onError },
      });
      const stop = async () => {
        listeners.delete(stop);
        await stopListening();
      };
      listeners.add(stop);
      return stop;
    },
    async close() {
      await Promise.all([...listeners].map((stop) => stop()));
      if (!pool.ended) await pool.end();
    },
  };
}
