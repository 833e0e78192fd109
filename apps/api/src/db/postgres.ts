import { createHash } from "node:crypto";
import pg from "pg";
import { listenPostgres } from "./pg-listener.ts";
import type { Db, QueryOptions, Tx } from "./types.ts";

const names = new Map<string, string>();

/** A prepared statement's name: the same for the same text, on every connection. */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `agnt_${createHash("sha256").update(sql).digest("base64url").slice(0, 22)}`;
    if (names.size >= 10_000) names.clear();
    names.set(sql, name);
  }
  return name;
}

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
    options?: QueryOptions,
  ) => {
    const values = params as unknown[] | undefined;
    const result = await (options?.prepare
      ? client.query({ name: statementName(sql), text: sql, values })
      : client.query(sql, values));
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  };

  return {
    kind: "postgres",
    query: (sql, params, options) => run(pool, sql, params, options),
    async transaction(fn) {
      const client = await pool.connect();
      // A checked-out client's connection that dies between queries emits `error`; unheard, it
      // would take the process down. The next query fails with it, and the catch below runs.
      const ignore = () => undefined;
      client.on("error", ignore);
      const tx: Tx = {
        query: (sql, params, options) => run(client, sql, params, options),
        exec: async (sql) => {
          await client.query(sql);
        },
      };
      try {
        await client.query("BEGIN");
        const value = await fn(tx);
        await client.query("COMMIT");
        client.off("error", ignore);
        client.release();
        return value;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        client.off("error", ignore);
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
