import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../src/db/migrate.ts";
import { openPglite } from "../src/db/pglite.ts";
import { openPostgres } from "../src/db/postgres.ts";
import { databaseUrlWithName } from "./database-url.ts";

/**
 * Prepares one migrated database that every test file copies: a PGlite dump file, or a
 * PostgreSQL template database. Torn down when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const kind = project.config.provide.dbKind;
  if (kind === "pglite") {
    const dir = mkdtempSync(join(tmpdir(), "agnt-test-"));
    const db = await openPglite();
    await migrate(db);
    const dump = await db.pglite.dumpDataDir("none");
    await db.close();
    const file = join(dir, "migrated.tar");
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    project.provide("pgliteSnapshot", file);
    return async () => rmSync(dir, { recursive: true, force: true });
  }

  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error("the postgres test project needs TEST_DATABASE_URL");
  const template = `agnt_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const db = openPostgres({ connectionString: databaseUrlWithName(url, template), max: 1 });
  await migrate(db);
  await db.close();
  project.provide("pgTemplate", template);
  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end();
  };
}
