import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { sleep } from "../../test/expect.ts";
import { loadMigrations, migrate, NewerSchemaError } from "./migrate.ts";

describe("database adapter", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await database.db.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  });
  afterAll(() => database.drop());

  it("counts rows the way pg does, on both databases", async () => {
    const { db } = database;
    expect((await db.query("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")).rowCount).toBe(3);
    const select = await db.query<{ id: number }>(
      "SELECT id FROM t WHERE id < $1 ORDER BY id",
      [3],
    );
    expect(select.rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(select.rowCount).toBe(2);
    expect((await db.query("UPDATE t SET v = 'x' WHERE id >= 2")).rowCount).toBe(2);
    expect((await db.query("UPDATE t SET v = 'y' WHERE id = 1 RETURNING id")).rowCount).toBe(1);
    expect((await db.query("SELECT 1 FROM t WHERE id = 99")).rowCount).toBe(0);
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    const { db } = database;
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO t VALUES (10, 'kept')");
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES (11, 'lost')");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const { rows } = await db.query<{ id: number }>("SELECT id FROM t WHERE id >= 10 ORDER BY id");
    expect(rows).toEqual([{ id: 10 }]);
  });

  it.runIf(inject("dbKind") === "postgres")(
    "a transaction whose connection is terminated between queries fails; the process lives on",
    async () => {
      const { db } = database;
      const failed = db.transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        const admin = new pg.Client({ connectionString: database.url });
        await admin.connect();
        await admin.query("SELECT pg_terminate_backend($1)", [rows[0]?.pid]);
        await admin.end();
        // The connection's end arrives while no query runs (unheard, it would crash the process).
        await sleep(300);
        await tx.query("SELECT 1");
      });
      await expect(failed).rejects.toThrow();
      expect((await db.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    },
  );

  it("returns integers as numbers, jsonb as objects, timestamptz as dates", async () => {
    const { rows } = await database.db.query<{ n: number; j: unknown; at: unknown }>(
      `SELECT count(*)::int AS n, '{"a":[1,2]}'::jsonb AS j, now() AS at FROM t`,
    );
    expect(rows[0]?.n).toBe(4);
    expect(rows[0]?.j).toEqual({ a: [1, 2] });
    expect(rows[0]?.at).toBeInstanceOf(Date);
  });

  it("migrates once: a second run applies nothing", async () => {
    const { db } = database;
    expect(await migrate(db)).toEqual([]);
    const { rows } = await db.query<{ version: number }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
  });

  it("refuses a database migrated by a newer release, changing nothing", async () => {
    const { db } = database;
    await db.query(
      "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')",
    );
    try {
      await expect(migrate(db)).rejects.toThrow(NewerSchemaError);
      await expect(migrate(db)).rejects.toThrow(/9999_from_the_future.*knows up to \d{4}/);
      // Code that knows it (the newer release) migrates as usual.
      const newer = [...loadMigrations(), { version: 9999, name: "from_the_future", sql: "" }];
      expect(await migrate(db, newer)).toEqual([]);
    } finally {
      await db.query("DELETE FROM schema_migrations WHERE version = 9999");
    }
    expect(await migrate(db)).toEqual([]);
  });

  it("migrates an empty database from scratch, also from two callers at once", async () => {
    const empty = await createTestDatabase({ empty: true });
    try {
      const results = await Promise.all([migrate(empty.db), migrate(empty.db)]);
      expect(results.flat().sort((a, b) => a - b)).toEqual(loadMigrations().map((m) => m.version));
      const { rows } = await empty.db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        "accounts",
        "agents",
        "api_keys",
        "change_listeners",
        "executor_instances",
        "idempotency_keys",
        "job_events",
        "job_inputs",
        "job_results",
        "jobs",
        "schema_migrations",
      ]);
    } finally {
      await empty.drop();
    }
  });
});
