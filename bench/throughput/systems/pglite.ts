import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";

/** A fresh PGlite in this process, keeping its files under `dataDir` (as agnt's embedded mode). */
export async function openPglite(dataDir: string): Promise<PGlite> {
  const db = new PGlite({ dataDir: join(dataDir, "pgdata") });
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
