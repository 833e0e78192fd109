import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { until } from "../../test/expect.ts";
import { startAutovacuum } from "../maintenance.ts";
import { vacuumDueTables } from "./autovacuum.ts";

/**
 * The embedded database has no autovacuum: the API vacuums and analyzes its tables itself when
 * autovacuum would. (On the server the tables are made with autovacuum off, so that the
 * server's own workers do not get there first.)
 */
describe("vacuuming the tables that are due", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ empty: true });
    for (const table of ["churned", "grown", "quiet", "later"]) {
      await database.db.exec(
        `CREATE TABLE ${table} (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)`,
      );
    }
  });
  afterAll(() => database.drop());

  /** Writes, then has the statistics flushed, so that the next pass sees them. */
  const write = (statements: string[]) =>
    database.db.transaction(async (tx) => {
      for (const sql of statements) await tx.query(sql);
      await tx.query("SELECT pg_stat_force_next_flush()");
    });
  const stats = async (table: string) =>
    (
      await database.db.query<{
        dead: number;
        changed: number;
        vacuumed: boolean;
        analyzed: boolean;
        rows: number;
      }>(
        `SELECT s.n_dead_tup::int AS dead, s.n_mod_since_analyze::int AS changed,
           s.last_vacuum IS NOT NULL AS vacuumed, s.last_analyze IS NOT NULL AS analyzed,
           c.reltuples::int AS rows
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = $1`,
        [table],
      )
    ).rows[0];
  const ours = (names: string[]) => names.filter((n) => /(churned|grown|quiet|later)$/.test(n));

  it("vacuums and analyzes a table full of dead rows, and leaves a quiet one alone", async () => {
    await write([
      "INSERT INTO churned SELECT g, 0 FROM generate_series(1, 2000) g",
      "UPDATE churned SET v = 1 WHERE id <= 1000",
      "INSERT INTO quiet SELECT g, 0 FROM generate_series(1, 10) g",
    ]);
    await until(async () => (await stats("churned"))?.dead === 1000);
    expect(await stats("churned")).toMatchObject({ vacuumed: false, analyzed: false, rows: -1 });

    const pass = await vacuumDueTables(database.db);
    expect(ours(pass.vacuumed)).toEqual(["public.churned"]);
    expect(ours(pass.analyzed)).toEqual([]);
    expect(await stats("churned")).toMatchObject({
      dead: 0,
      vacuumed: true,
      analyzed: true,
      rows: 2000,
    });
    expect(await stats("quiet")).toMatchObject({ vacuumed: false, analyzed: false });

    // Nothing is due right after.
    const again = await vacuumDueTables(database.db);
    expect(ours([...again.vacuumed, ...again.analyzed])).toEqual([]);
  });

  it("only analyzes a table whose new rows change its statistics but leave nothing to vacuum", async () => {
    await write(["INSERT INTO grown SELECT g, 0 FROM generate_series(1, 2000) g"]);
    await until(async () => (await stats("grown"))?.changed === 2000);
    // 2,000 inserted rows into a table never vacuumed: due for both.
    expect(ours((await vacuumDueTables(database.db)).vacuumed)).toContain("public.grown");
    // 500 more: past the analyze threshold (50 + 10 % of 2,000), not the insert one
    // (1,000 + 20 %), and no dead rows.
    await write(["INSERT INTO grown SELECT g, 0 FROM generate_series(2001, 2500) g"]);
    await until(async () => (await stats("grown"))?.changed === 500);
    const pass = await vacuumDueTables(database.db);
    expect(ours(pass.vacuumed)).toEqual([]);
    expect(ours(pass.analyzed)).toEqual(["public.grown"]);
    expect(await stats("grown")).toMatchObject({ changed: 0, rows: 2500 });
  });

  it("runs on its own timer in the API (startAutovacuum) and logs what it did", async () => {
    await write([
      "INSERT INTO later SELECT g, 0 FROM generate_series(1, 1000) g",
      "DELETE FROM later WHERE id <= 500",
    ]);
    await until(async () => (await stats("later"))?.dead === 500);
    const lines: { object: object; message: string }[] = [];
    const record = (object: object, message: string) => void lines.push({ object, message });
    const stop = startAutovacuum(database.db, { info: record, warn: record, error: record }, 20);
    // The line comes once the whole pass is done (other tables may be due as well, after
    // this one): wait for it, not for this table's statistics.
    const logged = () => lines.find((line) => JSON.stringify(line.object).includes("public.later"));
    try {
      await until(() => logged() !== undefined);
    } finally {
      stop();
    }
    expect(logged()?.message).toBe("embedded database: tables vacuumed");
    expect(await stats("later")).toMatchObject({ dead: 0, vacuumed: true, rows: 500 });
  });
});
