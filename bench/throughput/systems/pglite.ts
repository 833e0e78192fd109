import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";

/**
 * A PGlite in this process, keeping its files under `dataDir` (as agnt's embedded mode). It
 * loads pg_trgm, which agnt's migrations create: a database holding it opens only with it.
 */
export async function openPglite(dataDir: string): Promise<PGlite> {
  const db = new PGlite({ dataDir: join(dataDir, "pgdata"), extensions: { pg_trgm } });
  await db.waitReady;
  return db;
}

/**
 * pg-boss's `db` adapter over PGlite. Statements with parameters go through `query`; pg-boss's
 * parameterless scripts (several statements, e.g. its schema) through `exec`, keeping the
 * rows of the last statement.
 */
export function pgbossAdapter(db: PGlite): {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
} {
  return {
    async executeSql(text, values) {
      if (values && values.length > 0) return db.query(text, values);
      const results = await db.exec(text);
      return { rows: results.at(-1)?.rows ?? [] };
    },
  };
}
