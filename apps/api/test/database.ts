import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { inject } from "vitest";
import { openPglite } from "../src/db/pglite.ts";
import { openPostgres } from "../src/db/postgres.ts";
import type { Db } from "../src/db/types.ts";
import { databaseUrlWithName } from "./database-url.ts";

export interface TestDatabase {
  db: Db;
  kind: "pglite" | "postgres";
  /** Connection URL (PostgreSQL only), for tests that open their own connections. */
  url?: string;
  /** Closes the database and, on a server, drops it. */
  drop(): Promise<void>;
}

/**
 * A fresh database of the project's kind: migrated (a copy of the PGlite snapshot or of the
 * PostgreSQL template) unless `empty` is set.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const kind = inject("dbKind");
  if (kind === "pglite") {
    const db = options.empty
      ? await openPglite()
      : await openPglite({ loadDataDir: new Blob([readFileSync(inject("pgliteSnapshot"))]) });
    return { db, kind, drop: () => db.close() };
  }
  const serverUrl = process.env.TEST_DATABASE_URL as string;
  const name = `agnt_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const template = options.empty ? "template0" : inject("pgTemplate");
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrlWithName(serverUrl, name);
  const db = openPostgres({ connectionString: url, max: 20 });
  return {
    db,
    kind,
    url,
    async drop() {
      await db.close();
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
