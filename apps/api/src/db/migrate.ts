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

/** The database was migrated by a newer release than this one. */
export class NewerSchemaError extends Error {
  override readonly name = "NewerSchemaError";
}

/**
 * Applies the migrations not applied yet, each in its own transaction, and returns their
 * versions. Safe to run from several processes at once: an advisory lock serialises them.
 * Refuses (NewerSchemaError) a database that has migrations this code does not know: during a
 * rolling deploy an old release must not run on a newer schema.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<number[]> {
  const known = Math.max(0, ...migrations.map((migration) => migration.version));
  // Concurrent CREATE TABLE IF NOT EXISTS can still collide, so it also runs under the lock.
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number; name: string }>(
      "SELECT version, name FROM schema_migrations WHERE version > $1 ORDER BY version",
      [known],
    );
    if (rows.length > 0) {
      const unknown = rows.map((row) => `${String(row.version).padStart(4, "0")}_${row.name}`);
      throw new NewerSchemaError(
        `The database has migrations this agnt-server does not know (${unknown.join(", ")}; it knows up to ${String(known).padStart(4, "0")}): a newer release migrated it. Run that release, or restore a backup taken before it migrated.`,
      );
    }
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
