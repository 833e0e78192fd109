import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { until } from "../../test/expect.ts";
import { LISTENER_APPLICATION_NAME } from "./pg-listener.ts";
import { openPostgres } from "./postgres.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("listen", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it("hears notifications when they commit, in order, never rolled-back ones, until stopped", async () => {
    const { db } = database;
    const heard: string[] = [];
    const stop = await db.listen("agnt_test", { onNotify: (payload) => heard.push(payload) });
    await db.query("SELECT pg_notify('agnt_test', 'one')");
    await until(() => heard.length === 1);
    await expect(
      db.transaction(async (tx) => {
        await tx.query("SELECT pg_notify('agnt_test', 'lost')");
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    await db.transaction(async (tx) => {
      await tx.query("SELECT pg_notify('agnt_test', 'two')");
      await tx.query("SELECT pg_notify('agnt_other', 'elsewhere')");
      await tx.query("SELECT pg_notify('agnt_test', 'three')");
    });
    await until(() => heard.length === 3);
    expect(heard).toEqual(["one", "two", "three"]);

    await stop();
    await db.query("SELECT pg_notify('agnt_test', 'after')");
    await sleep(100);
    expect(heard).toEqual(["one", "two", "three"]);
    await stop();
  });

  it("never rejects for an unreachable server: it reports, retries with backoff, and stops", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const db = openPostgres({ connectionString: `postgres://agnt@127.0.0.1:${port}/agnt` });
    const errors: Error[] = [];
    let reconnects = 0;
    const stop = await db.listen("agnt_test", {
      onNotify: () => {},
      onError: (error) => errors.push(error),
      onReconnect: () => reconnects++,
    });
    expect(errors).toHaveLength(1);
    // 50–100 ms, then 100–200 ms, … between attempts.
    await until(() => errors.length >= 3, 3000);
    await stop();
    const after = errors.length;
    await sleep(500);
    expect(errors.length).toBe(after);
    expect(reconnects).toBe(0);
    await db.close();
  });
});

describe.runIf(inject("dbKind") === "postgres")("listen on PostgreSQL", () => {
  let database: TestDatabase;
  let admin: pg.Client;
  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await database.drop();
  });

  const listenerPids = async () =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1
            AND state = 'idle' AND query LIKE 'LISTEN %'`,
        [LISTENER_APPLICATION_NAME],
      )
    ).rows.map((row) => row.pid);

  it("uses one connection of its own, outside the pool", async () => {
    const stop = await database.db.listen("agnt_test", { onNotify: () => {} });
    expect(await listenerPids()).toHaveLength(1);
    await stop();
    await until(async () => (await listenerPids()).length === 0);
  });

  it("survives pg_terminate_backend: reports, reconnects once, and hears what comes after", async () => {
    const heard: string[] = [];
    const errors: Error[] = [];
    let reconnects = 0;
    const stop = await database.db.listen("agnt_test", {
      onNotify: (payload) => heard.push(payload),
      onError: (error) => errors.push(error),
      onReconnect: () => reconnects++,
    });
    const [before] = await listenerPids();
    expect(before).toBeDefined();

    for (let round = 1; round <= 3; round++) {
      const [pid] = await listenerPids();
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await until(() => reconnects === round);
      expect(errors.length).toBeGreaterThanOrEqual(round);
      const pids = await listenerPids();
      expect(pids).toHaveLength(1);
      expect(pids[0]).not.toBe(pid);
      await database.db.query("SELECT pg_notify('agnt_test', $1)", [`after ${round}`]);
      await until(() => heard.length === round);
    }
    expect(heard).toEqual(["after 1", "after 2", "after 3"]);
    await sleep(300);
    expect(reconnects).toBe(3);
    await stop();
    await until(async () => (await listenerPids()).length === 0);
  });

  it("closing the database stops its listeners", async () => {
    const other = await createTestDatabase();
    const errors: Error[] = [];
    await other.db.listen("agnt_test", { onNotify: () => {}, onError: (e) => errors.push(e) });
    await other.drop();
    await sleep(300);
    expect(errors).toEqual([]);
  });
});
