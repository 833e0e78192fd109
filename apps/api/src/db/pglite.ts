import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import type { Db, Tx } from "./types.ts";

export interface PgliteOptions {
  /** Directory holding the data; omitted: in memory. */
  dataDir?: string;
  /** A dump from `dumpDataDir` to start from (test fixtures). */
  loadDataDir?: Blob | File;
}

/** Extensions the migrations create; PGlite needs their code loaded with the instance. */
const EXTENSIONS = { pg_trgm };

/**
 * PostgreSQL compiled to WebAssembly, in this process. PGlite runs one statement at a time;
 * a transaction holds it until it ends, so other queries wait rather than interleave.
 */
export async function openPglite(options: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  const pglite = new PGlite({
    extensions: EXTENSIONS,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  await pglite.waitReady;

  const run = async <T>(
    target: Pick<PGlite, "query">,
    sql: string,
    params?: readonly unknown[],
  ) => {
    const result = await target.query<T>(sql, params as unknown[] | undefined);
    // PGlite reports 0 affected rows for a SELECT; pg counts the rows returned. Match pg.
    return { rows: result.rows, rowCount: Math.max(result.rows.length, result.affectedRows ?? 0) };
  };

  return {
    kind: "pglite",
    pglite,
    query: (sql, params) => run(pglite, sql, params),
    transaction: (fn) =>
      pglite.transaction((tx) => {
        const wrapped: Tx = {
          query: (sql, params) => run(tx, sql, params),
          exec: async (sql) => {
            await tx.exec(sql);
          },
        };
        return fn(wrapped);
      }),
    async exec(sql) {
      await pglite.exec(sql);
    },
    // One instance, one session: it hears its own notifications, as they commit.
    async listen(channels, handlers) {
      const stops: (() => Promise<void>)[] = [];
      for (const channel of typeof channels === "string" ? [channels] : channels) {
        // PGlite sends the name to LISTEN unquoted.
        if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
        stops.push(
          await pglite.listen(channel, (payload) => {
            try {
              handlers.onNotify(payload ?? "", channel);
            } catch (error) {
              handlers.onError?.(error instanceof Error ? error : new Error(String(error)));
            }
          }),
        );
      }
      if (handlers.onListening) {
        const { rows } = await pglite.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        const pid = rows[0]?.pid;
        if (pid !== undefined) handlers.onListening(pid);
      }
      return async () => {
        if (!pglite.closed) await Promise.all(stops.map((stop) => stop().catch(() => undefined)));
      };
    },
    close: () => pglite.close(),
  };
}
