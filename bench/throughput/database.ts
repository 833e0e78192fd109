import { randomBytes } from "node:crypto";
import pg from "pg";

/** The local server the benchmark uses when no URL is given. */
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, empty database on the server; `drop` removes it (closing its connections). */
export async function createDatabase(
  serverUrl: string,
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `bench_throughput_${randomBytes(6).toString("hex")}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrl(serverUrl, name),
    drop: async () => {
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Runs `fn` on a short-lived connection. */
export async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Gathers the planner's statistics of every table of the database at `url`. A deployment's
 * tables are analyzed by autovacuum within a minute of changing this much; a round lasts
 * seconds, so without this every system would run on plans made for the empty tables the
 * warm-up started from, kept because nothing tells the prepared statements to plan again.
 */
export async function analyzeDatabase(url: string): Promise<void> {
  await withClient(url, (c) => c.query("ANALYZE"));
}

/** The server's version and durability settings, for the record. */
export async function serverSettings(serverUrl: string): Promise<Record<string, string>> {
  return withClient(serverUrl, async (c) => {
    const { rows } = await c.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings
       WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}

/** Statistics of one database, read through connections held for the whole run. */
export interface DatabaseCounters {
  /** Committed transactions in the database (pg_stat_database.xact_commit). */
  transactions: number;
  /** Rows inserted, updated and deleted in its tables (pg_stat_user_tables). */
  rowsWritten: number;
}

/**
 * Reads a benchmark database's counters. The transaction count is read from the server's
 * maintenance database, so the reading itself is not counted; the row counts need a connection
 * to the benchmark database (its reads write no rows).
 */
export async function openCounters(
  serverUrl: string,
  name: string,
): Promise<{ read: () => Promise<DatabaseCounters>; close: () => Promise<void> }> {
  const admin = new pg.Client({ connectionString: serverUrl });
  const local = new pg.Client({ connectionString: databaseUrl(serverUrl, name) });
  await admin.connect();
  await local.connect();
  return {
    async read() {
      const xact = await admin.query<{ n: string }>(
        "SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1",
        [name],
      );
      const rows = await local.query<{ n: string | null }>(
        "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS n FROM pg_stat_user_tables",
      );
      return {
        transactions: Number(xact.rows[0]?.n ?? 0),
        rowsWritten: Number(rows.rows[0]?.n ?? 0),
      };
    },
    async close() {
      await Promise.all([admin.end(), local.end()]);
    },
  };
}
