import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "./types.ts";

/** The folder of numbered SQL migrations shipped with the API. */
export const MIGRATIONS_DIR = join(import.meta.dirname, "..", "..", "migrations");

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNNN_name.sql` files in order. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(join(dir, file), "utf8"),
    }));
}

// Any constant works; it only has to be the same for every process that migrates.
const MIGRATION_LOCK = 7_134_002;

/**
 * Applies the migrations not applied yet, each in its own transaction, and returns their
 * versions. Safe to run from several processes at once: an advisory lock serialises them.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<number[]> {
  // Concurrent CREATE TABLE IF NOT EXISTS can still collide, so it also runs under the lock.
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      const { rows } = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [
        migration.version,
      ]);
      if (rows.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
