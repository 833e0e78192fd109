import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { expectProblem, sleep } from "../../test/expect.ts";
import { useTestEnv } from "../../test/harness.ts";
import { buildApp } from "../app.ts";
import type { Queryable } from "../db/types.ts";
import { KeyCache } from "./key-cache.ts";
import { hashKey } from "./keys.ts";
import { createKey } from "./service.ts";

/** The real database, counting the statements that go through it and able to hold them. */
function counting(db: Queryable) {
  const state = { queries: 0, hold: undefined as Promise<void> | undefined };
  const wrapped: Queryable = {
    async query(sql, params) {
      state.queries += 1;
      if (state.hold) await state.hold;
      return db.query(sql, params);
    },
  };
  return { db: wrapped, state };
}

describe("KeyCache", () => {
  const env = useTestEnv();

  it("reads a key once, then serves it from memory until its time is up", async () => {
    const { db, state } = counting(env.database.db);
    const cache = new KeyCache(db, { ttlMs: 60_000 });
    const hash = hashKey(env.buyer.key);
    for (let i = 0; i < 5; i += 1) {
      expect(await cache.lookup(hash)).toMatchObject({ account_id: env.buyer.accountId });
    }
    expect(state.queries).toBe(1);
    const short = new KeyCache(db, { ttlMs: 50 });
    await short.lookup(hash);
    await sleep(80);
    await short.lookup(hash);
    expect(state.queries).toBe(3);
  });

  it("caches nothing with ttl 0, and no unknown key", async () => {
    const { db, state } = counting(env.database.db);
    const off = new KeyCache(db, { ttlMs: 0 });
    await off.lookup(hashKey(env.buyer.key));
    await off.lookup(hashKey(env.buyer.key));
    expect(state.queries).toBe(2);
    const on = new KeyCache(db, { ttlMs: 60_000 });
    expect(await on.lookup("0".repeat(64))).toBeUndefined();
    expect(await on.lookup("0".repeat(64))).toBeUndefined();
    expect(on.size).toBe(0);
  });

  it("forgets what it holds when told (a revocation) or when notifications were lost", async () => {
    const cache = new KeyCache(env.database.db, { ttlMs: 60_000 });
    const hash = hashKey(env.buyer.key);
    await cache.lookup(hash);
    await cache.lookup(hashKey(env.provider.key));
    expect(cache.size).toBe(2);
    cache.listener.onNotify(hash);
    expect(cache.size).toBe(1);
    cache.listener.onReconnect();
    expect(cache.size).toBe(0);
  });

  it("does not store an answer read while a revocation arrived", async () => {
    const { db, state } = counting(env.database.db);
    const cache = new KeyCache(db, { ttlMs: 60_000 });
    const hash = hashKey(env.buyer.key);
    let release = () => {};
    state.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reading = cache.lookup(hash);
    cache.forget(hash);
    release();
    await reading;
    expect(cache.size).toBe(0);
  });

  it("keeps at most maxEntries keys, forgetting the oldest", async () => {
    const cache = new KeyCache(env.database.db, { ttlMs: 60_000, maxEntries: 2 });
    for (const key of [env.buyer.key, env.buyer2.key, env.provider.key]) {
      await cache.lookup(hashKey(key));
    }
    expect(cache.size).toBe(2);
  });
});

describe("revoking a cached key", () => {
  const env = useTestEnv({ keyCacheSeconds: 3600 });

  const use = (key: string) => env.call("GET", "/v1/jobs", { key });

  it("through the API: refused on the very next request", async () => {
    const created = await createKey(env.database.db, { role: "buyer", name: "soon revoked" });
    expect((await use(created.key)).status).toBe(200);
    const revoked = await env.call("POST", `/v1/admin/keys/${created.key_id}/revoke`, {
      key: env.admin.key,
    });
    expect(revoked.status, revoked.text).toBe(200);
    expectProblem(await use(created.key), "UNAUTHENTICATED");
  });

  it("by hand in SQL: refused once the notification arrives, long before the cache lapses", async () => {
    const created = await createKey(env.database.db, { role: "buyer", name: "revoked in SQL" });
    expect((await use(created.key)).status).toBe(200);
    await env.database.db.query("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", [
      created.key_id,
    ]);
    await expect.poll(async () => (await use(created.key)).status, { timeout: 10_000 }).toBe(401);
  });
});

describe.runIf(inject("dbKind") === "postgres")("revoking a key cached by another process", () => {
  const a = useTestEnv({ keyCacheSeconds: 3600 });
  // Another API instance on the same database, with its own cache and its own listener.
  let b: FastifyInstance;
  let key = "";
  let keyId = "";

  beforeAll(async () => {
    b = await buildApp({
      db: a.database.db,
      store: a.store,
      logLevel: false,
      maintenanceIntervalMs: 0,
      keyCacheSeconds: 3600,
    });
    const created = await createKey(a.database.db, { role: "buyer", name: "shared" });
    key = created.key;
    keyId = created.key_id;
  });
  afterAll(() => b.close());

  it("is refused there within moments of the revocation", async () => {
    const onB = () => b.inject({ url: "/v1/jobs", headers: { authorization: `Bearer ${key}` } });
    expect((await onB()).statusCode).toBe(200);
    const revoked = await a.call("POST", `/v1/admin/keys/${keyId}/revoke`, { key: a.admin.key });
    expect(revoked.status, revoked.text).toBe(200);
    await expect.poll(async () => (await onB()).statusCode, { timeout: 10_000 }).toBe(401);
  });
});
