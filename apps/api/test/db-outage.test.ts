import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { sleep } from "./expect.ts";
import { run, startServer, stop } from "./server-process.ts";

describe.runIf(inject("dbKind") === "postgres")(
  "the database's connections terminated under load",
  () => {
    let database: TestDatabase | undefined;
    afterAll(async () => database?.drop());

    it("never takes the process down: requests fail with 503 at worst and recover within 5 s", async () => {
      database = await createTestDatabase({ empty: true });
      const env = { DATABASE_URL: database.url as string };
      expect(run(["seed"], env).code).toBe(0);
      const buyer = run(["keys", "create", "--role", "buyer", "--name", "outage"], env).json
        .key as string;
      const server = await startServer(env);
      const headers = { authorization: `Bearer ${buyer}` };
      const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
      const name = new URL(database.url as string).pathname.slice(1);

      const statuses = new Map<number, number>();
      let stopped = false;
      const load = async () => {
        while (!stopped) {
          const response = await fetch(`${server.url}/v1/agents/search?q=review`, { headers });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          await response.arrayBuffer();
        }
      };
      const loops = Array.from({ length: 4 }, load);
      let terminated = 0;
      for (let i = 0; i < 15; i++) {
        const { rowCount } = await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [name],
        );
        terminated += rowCount ?? 0;
        await sleep(100);
      }
      stopped = true;
      await Promise.all(loops).catch((error: unknown) => {
        // A request that got no answer: say whether the server is still there, and what it said.
        throw new Error(
          `a request failed (server exit code ${server.child.exitCode}); its stderr ends:\n${server.stderr().slice(-4000)}`,
          { cause: error },
        );
      });
      await admin.end();

      console.log(
        `terminated ${terminated} backends; responses by status:`,
        Object.fromEntries(statuses),
      );
      expect(terminated).toBeGreaterThan(0);
      expect([...statuses.keys()].filter((status) => status !== 200 && status !== 503)).toEqual([]);
      expect(server.child.exitCode).toBeNull();
      // Recovery: a request succeeds within 5 s of the last termination.
      const deadline = Date.now() + 5000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        ok = (await fetch(`${server.url}/v1/agents/search?q=review`, { headers })).status === 200;
        if (!ok) await sleep(100);
      }
      expect(ok).toBe(true);
      expect(await stop(server)).toBe(0);
    }, 120_000);
  },
);
