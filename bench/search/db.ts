import { randomBytes } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import pg from "pg";

/** What the benchmark needs of a database: PostgreSQL through pg, or PGlite in this process. */
export interface BenchDb {
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** Connects to a PostgreSQL database. */
export async function connectPostgres(url: string): Promise<BenchDb> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // Stop-word queries make PostgreSQL send notices; they are expected.
  client.on("notice", () => undefined);
  return {
    query: async (text, values) => (await client.query(text, values)).rows,
    exec: async (script) => {
      await client.query(script);
    },
    close: () => client.end(),
  };
}

/**
 * Opens the embedded database under `<dataDir>/pgdata` the way the API does (with the
 * extensions its migrations use). Only one process may have it open at a time.
 */
export async function openEmbedded(pgdata: string): Promise<BenchDb> {
  const db = new PGlite({ dataDir: pgdata, extensions: { pg_trgm } });
  await db.waitReady;
  return {
    query: async (text, values) => (await db.query(text, values)).rows as never[],
    exec: async (script) => {
      await db.exec(script);
    },
    close: () => db.close(),
  };
}

/** `url` with its database name replaced. */
export function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database with a random name on the server `serverUrl` points at. */
export async function createScratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `agnt_bench_search_${randomBytes(5).toString("hex")}`;
  const admin = await connectPostgres(serverUrl);
  try {
    await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return {
    name,
    url: withDatabaseName(serverUrl, name),
    async drop() {
      const client = await connectPostgres(serverUrl);
      try {
        await client.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.close();
      }
    },
  };
}
