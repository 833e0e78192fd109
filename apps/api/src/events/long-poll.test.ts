import type { FastifyInstance } from "fastify";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";
import { sleep, until } from "../../test/expect.ts";
import {
  agentInput,
  orderJob,
  setStatus,
  type TestEnv,
  tempLocalStore,
  useTestEnv,
} from "../../test/harness.ts";
import { createKey } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import { buildApp } from "../app.ts";
import { LISTENER_APPLICATION_NAME } from "../db/pg-listener.ts";
import { openPostgres } from "../db/postgres.ts";
import type { Db } from "../db/types.ts";
import { ChangeFeed, JOB_CHANNEL, topics } from "./feed.ts";

/**
 * Polls wait this long; a woken poll must answer within WAKE_BOUND_MS of the change. The bound
 * holds on a slow, busy machine yet fails when the wake-up is missing (the poll would answer
 * only when its wait ends). Precise pickup latencies are measured by bench/throughput.
 */
const POLL_WAIT_SECONDS = 30;
const WAKE_BOUND_MS = 5_000;

const onPostgres = inject("dbKind") === "postgres";

/** A request, with the time its response arrived. */
async function timed<T>(request: Promise<T>): Promise<{ value: T; at: number }> {
  const value = await request;
  return { value, at: performance.now() };
}

/** Inserts a pending job with plain SQL: nothing in the API process hears of it but the trigger. */
async function insertJob(db: Db, env: { buyer: string; provider: string; agentId: string }) {
  const { rows } = await db.query<{ job_id: string }>(
    `INSERT INTO jobs (agent_id, buyer_account_id, provider_account_id, prompt, params)
     VALUES ($1, $2, $3, 'from elsewhere', '{"language":"go"}') RETURNING job_id`,
    [env.agentId, env.buyer, env.provider],
  );
  return rows[0]?.job_id as string;
}

describe("long-polls wake on job changes", () => {
  const feed = new ChangeFeed();
  const env = useTestEnv({ feed });

  const poll = (agentId: string, wait = POLL_WAIT_SECONDS) =>
    env.app.inject({
      method: "GET",
      url: `/v1/executor/jobs?agent_id=${agentId}&wait=${wait}`,
      headers: { authorization: `Bearer ${env.provider.key}` },
    });

  it("an executor's long-poll returns as soon as a job is ordered", async () => {
    const agentId = await env.addAgent();
    const started = performance.now();
    const polling = timed(poll(agentId));
    await until(() => feed.waiting === 1);
    const ordered = await timed(orderJob(env, { agent_id: agentId }));
    const { value: res, at } = await polling;
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().jobs.map((job: { job_id: string }) => job.job_id)).toEqual([
      ordered.value.job_id,
    ]);
    expect(at - ordered.at).toBeLessThan(WAKE_BOUND_MS);
    expect(at - started).toBeLessThan(POLL_WAIT_SECONDS * 1000);
  });

  it("a buyer's long-poll returns promptly after the executor completes the job", async () => {
    const jobId: string = (await orderJob(env)).job_id;
    expect((await setStatus(env, jobId, { status: "accepted" })).status).toBe(200);
    expect((await setStatus(env, jobId, { status: "running", attempt: 1 })).status).toBe(200);
    const waiting = timed(
      env.call("GET", `/v1/jobs/${jobId}?wait=${POLL_WAIT_SECONDS}`, { key: env.buyer.key }),
    );
    await until(() => feed.waiting === 1);
    const completed = await timed(
      env.call("POST", `/v1/executor/jobs/${jobId}/complete`, {
        key: env.provider.key,
        body: { attempt: 1 },
      }),
    );
    expect(completed.value.status, completed.value.text).toBe(200);
    const { value: res, at } = await waiting;
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    expect(at - completed.at).toBeLessThan(WAKE_BOUND_MS);
  });

  it("a change made with plain SQL (no publish in this process) wakes the poll through NOTIFY", async () => {
    const agentId = await env.addAgent();
    const polling = timed(poll(agentId));
    await until(() => feed.waiting === 1);
    const jobId = await insertJob(env.database.db, {
      agentId,
      buyer: env.buyer.accountId,
      provider: env.provider.accountId,
    });
    const inserted = performance.now();
    const { value: res, at } = await polling;
    expect(res.json().jobs.map((job: { job_id: string }) => job.job_id)).toEqual([jobId]);
    expect(at - inserted).toBeLessThan(WAKE_BOUND_MS);
  });

  it("notifies a small payload on insert and on status, attempt or progress changes only (while watched)", async () => {
    const heard: unknown[] = [];
    const stop = await env.database.db.listen(JOB_CHANNEL, {
      onNotify: (payload) => heard.push(JSON.parse(payload)),
    });
    // Changes that are not to pending are told only while some process watches (listeners.test.ts).
    const watching = feed.watch([topics.any]);
    await watching.ready;
    try {
      const agentId = await env.addAgent();
      const ids = { agentId, buyer: env.buyer.accountId, provider: env.provider.accountId };
      const jobId = await insertJob(env.database.db, ids);
      const expected = (status: string) => ({
        job_id: jobId,
        agent_id: agentId,
        provider_account_id: env.provider.accountId,
        status,
        // The writing transaction, so that the process that made the change knows its echo.
        xid: expect.stringMatching(/^[1-9][0-9]*$/),
      });
      await until(() => heard.length === 1);
      expect(heard).toEqual([expected("pending")]);
      // Bookkeeping that no waiter looks at stays silent.
      await env.database.db.query("UPDATE jobs SET updated_at = now() WHERE job_id = $1", [jobId]);
      await env.database.db.query(
        "UPDATE jobs SET status = 'accepted', accepted_at = now() WHERE job_id = $1",
        [jobId],
      );
      await env.database.db.query("UPDATE jobs SET progress = 10 WHERE job_id = $1", [jobId]);
      await until(() => heard.length === 3);
      await sleep(50);
      expect(heard).toEqual([expected("pending"), expected("accepted"), expected("accepted")]);
    } finally {
      watching.stop();
      await stop();
    }
  });
});

describe("executors long-polling one agent together", () => {
  const env = useCountedApp();
  const { feed } = env;
  const reservations = () =>
    env.statements.filter((sql) => sql.includes("FOR UPDATE SKIP LOCKED")).length;

  it("each new job wakes one of them, which takes it; the others do not even look", async () => {
    const EXECUTORS = 8;
    const answered: string[][] = [];
    const polls = Array.from({ length: EXECUTORS }, () =>
      env.app
        .inject({
          method: "GET",
          url: `/v1/executor/jobs?agent_id=${env.agentId}&limit=1&wait=${POLL_WAIT_SECONDS}`,
          headers: { authorization: `Bearer ${env.providerKey}` },
        })
        .then((res) => {
          answered.push(res.json().jobs.map((job: { job_id: string }) => job.job_id));
        }),
    );
    await until(() => feed.waiting === EXECUTORS);
    const before = reservations();
    const ordered: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const res = await env.app.inject({
        method: "POST",
        url: "/v1/jobs",
        headers: { authorization: `Bearer ${env.buyerKey}` },
        payload: { agent_id: env.agentId, prompt: "Port it", params: { language: "go" } },
      });
      expect(res.statusCode, res.body).toBe(201);
      ordered.push(res.json().job_id);
      await until(() => answered.length === n && feed.waiting === EXECUTORS - n);
    }
    expect(answered).toEqual(ordered.map((jobId) => [jobId]));
    // One reservation statement per job: no other poll woke, and none woke twice (this
    // process's own change, heard again through NOTIFY, is recognised).
    await sleep(200);
    expect(reservations() - before).toBe(3);
    expect(feed.waiting).toBe(EXECUTORS - 3);
    await feed.close();
    await Promise.all(polls);
  });
});

interface Instance {
  app: FastifyInstance;
  db: Db;
  feed: ChangeFeed;
}

/** The pids of the listening connections to a database (the client's own by default). */
async function listenerPids(admin: pg.Client, dbName?: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = coalesce($2, current_database()) AND application_name = $1
        AND state = 'idle' AND query LIKE 'LISTEN %'`,
    [LISTENER_APPLICATION_NAME, dbName ?? null],
  );
  return rows.map((row) => row.pid);
}

describe.runIf(onPostgres)("two API processes on one database", () => {
  let database: TestDatabase;
  let admin: pg.Client;
  let a: Instance;
  let b: Instance;
  let buyer: { key: string; accountId: string };
  let provider: { key: string; accountId: string };
  let agentId: string;

  async function instance(url: string): Promise<Instance> {
    const db = openPostgres({ connectionString: url, max: 5 });
    const feed = new ChangeFeed();
    const app = await buildApp({
      db,
      store: (await tempLocalStore()).store,
      logLevel: false,
      maintenanceIntervalMs: 0,
      feed,
    });
    return { app, db, feed };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const url = database.url as string;
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    a = await instance(url);
    b = await instance(url);
    const buyerKey = await createKey(database.db, { role: "buyer", name: "Buyer" });
    const providerKey = await createKey(database.db, { role: "provider", name: "Provider" });
    buyer = { key: buyerKey.key, accountId: buyerKey.account_id };
    provider = { key: providerKey.key, accountId: providerKey.account_id };
    agentId = await upsertAgent(database.db, agentInput(provider.accountId));
  }, 60_000);

  afterAll(async () => {
    for (const each of [a, b]) {
      await each?.app.close();
      await each?.db.close();
    }
    await admin?.end();
    await database?.drop();
  });

  const pollOn = (on: Instance) =>
    timed(
      on.app.inject({
        method: "GET",
        url: `/v1/executor/jobs?agent_id=${agentId}&wait=${POLL_WAIT_SECONDS}`,
        headers: { authorization: `Bearer ${provider.key}` },
      }),
    );
  const orderOn = (on: Instance) =>
    timed(
      on.app.inject({
        method: "POST",
        url: "/v1/jobs",
        headers: { authorization: `Bearer ${buyer.key}` },
        payload: { agent_id: agentId, prompt: "Port it", params: { language: "go" } },
      }),
    );
  /** Takes the job off the queue, so the next poll waits again. */
  const accept = async (jobId: string) => {
    const res = await a.app.inject({
      method: "POST",
      url: `/v1/executor/jobs/${jobId}/status`,
      headers: { authorization: `Bearer ${provider.key}` },
      payload: { status: "accepted" },
    });
    expect(res.statusCode, res.body).toBe(200);
  };

  /** Orders through A while B long-polls; returns ms from the order's response to the poll's. */
  async function orderThroughAWakesB(): Promise<number> {
    const polling = pollOn(b);
    await until(() => b.feed.waiting === 1);
    const ordered = await orderOn(a);
    expect(ordered.value.statusCode, ordered.value.body).toBe(201);
    const jobId = ordered.value.json().job_id;
    const { value: res, at } = await polling;
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().jobs.map((job: { job_id: string }) => job.job_id)).toEqual([jobId]);
    await accept(jobId);
    return at - ordered.at;
  }

  it("each process holds one LISTEN connection of its own", async () => {
    expect(await listenerPids(admin)).toHaveLength(2);
  });

  it("a job ordered through A wakes an executor long-polling B at once", async () => {
    const latencies: number[] = [];
    for (let round = 0; round < 10; round++) latencies.push(await orderThroughAWakesB());
    if (process.env.AGNT_TEST_REPORT) console.info("A→B wake latency, ms:", latencies);
    for (const ms of latencies) expect(ms).toBeLessThan(WAKE_BOUND_MS);
  });

  it("survives pg_terminate_backend of its listener and still wakes long-polls promptly", async () => {
    const before = await listenerPids(admin);
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [before]);
    // Both processes reconnect (backoff from 50–100 ms) with new connections.
    await until(async () => {
      const pids = await listenerPids(admin);
      return pids.length === 2 && pids.every((pid) => !before.includes(pid));
    });
    const latency = await orderThroughAWakesB();
    if (process.env.AGNT_TEST_REPORT) console.info("wake latency after reconnect, ms:", latency);
    expect(latency).toBeLessThan(WAKE_BOUND_MS);
  });

  it("a change while the listener is away is not lost: the reconnection wakes every waiter", async () => {
    const polling = pollOn(b);
    await until(() => b.feed.waiting === 1);
    const before = await listenerPids(admin);
    // Cut both listeners and order at once: B cannot hear of the job, only re-read on reconnect.
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [before]);
    const ordered = await orderOn(a);
    const jobId = ordered.value.json().job_id;
    const { value: res, at } = await polling;
    expect(res.json().jobs.map((job: { job_id: string }) => job.job_id)).toEqual([jobId]);
    expect(at - ordered.at).toBeLessThan(WAKE_BOUND_MS);
    await accept(jobId);
    await until(async () => (await listenerPids(admin)).length === 2);
  });
});

describe.runIf(onPostgres)("idle long-polls cost the database nothing", () => {
  const feed = new ChangeFeed();
  // The sweeper runs too, every 100 ms: with nothing that can fall due it must sleep, not poll.
  const env: TestEnv = useTestEnv({ feed, sweepIntervalMs: 100 });
  const POLLS = 200;
  const WINDOW_MS = 10_000;

  it(`${POLLS} executor long-polls (wait=10) run no query for ${WINDOW_MS / 1000} s`, async () => {
    const serverUrl = process.env.TEST_DATABASE_URL as string;
    const dbName = new URL(env.database.url as string).pathname.slice(1);
    // Measured from the server's maintenance database: these queries count elsewhere.
    const stats = new pg.Client({ connectionString: serverUrl });
    await stats.connect();
    try {
      const clientBackends = async () =>
        (
          await stats.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
              WHERE datname = $1 AND backend_type = 'client backend' AND application_name <> $2`,
            [dbName, LISTENER_APPLICATION_NAME],
          )
        ).rows.map((row) => row.pid);
      // A backend keeps counts for up to 10 s before reporting them; one that exits reports
      // at once. Ending the pool's connections (the pool opens new ones on demand) makes the
      // counts complete; the listener has nothing pending.
      const flush = async () => {
        await stats.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [
          await clientBackends(),
        ]);
        await until(async () => (await clientBackends()).length === 0);
        await sleep(300);
      };
      const transactions = async () => {
        await stats.query("SELECT pg_stat_clear_snapshot()");
        const { rows } = await stats.query<{ n: string }>(
          "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1",
          [dbName],
        );
        return Number(rows[0]?.n);
      };

      const agentId = await env.addAgent();
      // The listener's LISTEN ran when the app was built; a backend reports what it did less
      // than a second after its previous report only 10 s later. Let that report land first.
      const [listener] = await listenerPids(stats, dbName);
      const { rows: idle } = await stats.query<{ ms: number }>(
        "SELECT extract(epoch FROM now() - state_change) * 1000 AS ms FROM pg_stat_activity WHERE pid = $1",
        [listener],
      );
      await sleep(Math.max(0, 10_500 - Number(idle[0]?.ms ?? 0)));

      const started = performance.now();
      const polls = Array.from({ length: POLLS }, () =>
        env.app.inject({
          method: "GET",
          url: `/v1/executor/jobs?agent_id=${agentId}&wait=10`,
          headers: { authorization: `Bearer ${env.provider.key}` },
        }),
      );
      // Each poll reads once (key, agent, jobs) before it waits: that is allowed. The sweeper,
      // with nothing that can fall due, waits on the feed too.
      await until(() => feed.waiting >= POLLS);
      const allWaiting = performance.now() - started;
      await flush();
      const before = await transactions();
      const windowStart = performance.now();
      await sleep(WINDOW_MS);
      const responses = await Promise.all(polls);
      const backendsOpened = (await clientBackends()).length;
      await flush();
      const after = await transactions();
      const [listenerAfter] = await listenerPids(stats, dbName);
      if (process.env.AGNT_TEST_REPORT) {
        console.info(
          `${POLLS} polls waiting after ${Math.round(allWaiting)} ms; window ${Math.round(
            performance.now() - windowStart,
          )} ms; transactions in the test database: ${before} → ${after}`,
        );
      }

      expect(after - before).toBe(0);
      expect(backendsOpened).toBe(0);
      expect(listenerAfter).toBe(listener);
      for (const res of responses) {
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ jobs: [], reserved_until: null });
      }
      // Every poll has returned; only the sweeper still waits for a change.
      expect(feed.waiting).toBe(1);
    } finally {
      await stats.end();
    }
  }, 90_000);
});
