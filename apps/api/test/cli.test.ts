import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase } from "./database.ts";
import { run, startServer, stop } from "./server-process.ts";

const KEY = /^agnt_[A-Za-z0-9_-]{43}$/;

const get = async (url: string, key: string) => {
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "agnt-cli-"));
  dirs.push(dir);
  return join(dir, "data");
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// Each command starts a process that opens PGlite (seconds on a loaded 2-core machine).
describe.runIf(inject("dbKind") === "pglite")(
  "agnt-server on the embedded database",
  { timeout: 300_000 },
  () => {
    it("prints help with the commands and the one-process rule", () => {
      const result = run(["help"], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("keys create --role");
      expect(result.stdout).toContain("stop the server first");
    });

    it("first start seeds, writes one working key per role, and keeps them across restarts", async () => {
      const dir = dataDir();
      const server = await startServer({ AGNT_DATA_DIR: dir });
      const file = join(dir, "local-keys.json");
      expect(server.stderr()).toContain(file);
      const keys = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
      expect(Object.keys(keys).sort()).toEqual(["admin", "buyer", "provider"]);
      for (const key of Object.values(keys)) expect(key).toMatch(KEY);
      expect(statSync(file).mode & 0o777).toBe(0o600);

      const search = await get(`${server.url}/v1/agents/search?limit=100`, keys.buyer as string);
      expect(search.status).toBe(200);
      expect(search.body.total).toBeGreaterThanOrEqual(8);
      const executor = await get(`${server.url}/v1/executor/jobs`, keys.provider as string);
      expect(executor).toEqual({ status: 200, body: { jobs: [], reserved_until: null } });
      const created = await fetch(`${server.url}/v1/admin/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ role: "buyer", name: "second buyer" }),
      });
      expect(created.status).toBe(201);

      // A one-off command must not open the database while the server holds it.
      const refused = run(["keys", "create", "--role", "buyer", "--name", "x"], {
        AGNT_DATA_DIR: dir,
      });
      expect(refused.code).toBe(1);
      expect(refused.error.error.message).toContain("in use by agnt-server");

      expect(await stop(server)).toBe(0);
      expect(existsSync(join(dir, "server.pid"))).toBe(false);

      const again = await startServer({ AGNT_DATA_DIR: dir });
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(keys);
      expect((await get(`${again.url}/v1/agents/search`, keys.buyer as string)).status).toBe(200);
      await stop(again);
    });

    it("creates keys, seeds and migrates as one-off commands", () => {
      const dir = dataDir();
      const created = run(["keys", "create", "--role", "provider", "--name", "Acme"], {
        AGNT_DATA_DIR: dir,
      });
      expect(created.code).toBe(0);
      expect(created.json).toMatchObject({ role: "provider", key: expect.stringMatching(KEY) });
      expect(created.json.account_id).toMatch(/^[0-9a-f-]{36}$/);
      const seeded = [run(["seed"], { AGNT_DATA_DIR: dir }), run(["seed"], { AGNT_DATA_DIR: dir })];
      expect(seeded.map((r) => r.json.agents)).toEqual([10, 10]);
      expect(run(["migrate"], { AGNT_DATA_DIR: dir }).json).toEqual({ applied: [] });
      // No local keys outside a first start.
      expect(existsSync(join(dir, "local-keys.json"))).toBe(false);
    });

    it("answers usage errors with exit code 2 and a JSON error", () => {
      for (const args of [
        ["keys", "create", "--role", "buyer"],
        ["keys", "create", "--role", "root", "--name", "x"],
        ["nope"],
        ["keys", "create", "--bogus"],
      ]) {
        const result = run(args, { AGNT_DATA_DIR: dataDir() });
        expect(result.code, args.join(" ")).toBe(2);
        expect(result.error.error.code).toBe("USAGE");
      }
    });

    it("refuses to start in production without DATABASE_URL", () => {
      const dir = dataDir();
      const result = run(["start"], { AGNT_DATA_DIR: dir, NODE_ENV: "production" });
      expect(result.code).toBe(1);
      expect(result.error.error.message).toContain("DATABASE_URL");
      expect(existsSync(dir)).toBe(false);
    });
  },
);

describe.runIf(inject("dbKind") === "postgres")(
  "agnt-server on a PostgreSQL server",
  { timeout: 300_000 },
  () => {
    it("starts in production on DATABASE_URL, migrates, and creates no local keys", async () => {
      const database = await createTestDatabase({ empty: true });
      const dir = dataDir();
      try {
        const server = await startServer({
          AGNT_DATA_DIR: dir,
          NODE_ENV: "production",
          DATABASE_URL: database.url as string,
          AGNT_FILE_URL_SECRET: "a-production-secret-of-at-least-32-chars",
        });
        const ready = await fetch(`${server.url}/ready`);
        expect(await ready.json()).toEqual({ status: "ok", database: "ok" });
        expect(existsSync(join(dir, "local-keys.json"))).toBe(false);
        expect(await stop(server)).toBe(0);
        const created = run(["keys", "create", "--role", "admin", "--name", "ops"], {
          DATABASE_URL: database.url as string,
        });
        expect(created.json).toMatchObject({ role: "admin" });
      } finally {
        await database.drop();
      }
    });

    it("refuses to start or migrate a database a newer release migrated, saying so", async () => {
      const database = await createTestDatabase();
      try {
        await database.db.query(
          "INSERT INTO schema_migrations (version, name) VALUES (9000, 'newer_release')",
        );
        const env = { DATABASE_URL: database.url as string };
        for (const command of [["start"], ["migrate"]]) {
          const result = run(command, env);
          expect(result.code, result.stderr).toBe(1);
          expect(result.error.error.message).toContain("9000_newer_release");
          expect(result.error.error.message).toContain("newer release");
        }
      } finally {
        await database.drop();
      }
    });
  },
);
